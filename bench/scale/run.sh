#!/usr/bin/env bash
# Five-process load on loopback (issue 12): ingest x2, detect x2, worker
# (scheduler) x1, on NATS JetStream and PostgreSQL (127.0.0.1:5432,
# database test), each process its own
# `firebreak serve --roles …`. Bounded in count (LINES generated sshd
# lines, sent half to each ingest's syslog TCP listener) and in time
# (TIMEOUT seconds of waiting for detection). Prints events/s into the
# store, the time from the last line sent to the last incident stored,
# the CPU time (user+sys) of each process, the load average, and checks
# that the incidents equal, by id and each once, those of a one-process
# `firebreak detect` over the same file.
#
#   LINES=200000 bench/scale/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES=${LINES:-200000}
TIMEOUT=${TIMEOUT:-180}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
# NATS: a nats-server of its own (JetStream in the work dir), because the
# stream's subjects (firebreak.events.*) may already belong to another
# stream on a shared server; NATS=nats://… uses that server instead.
NATS=${NATS:-}
W=$(mktemp -d /tmp/fbscale.XXXX)
SCHEMA=fbscale_$$
STREAM=FBSCALE_$$
BIN=$W/firebreak
pids=() procs=()
# Each pid is /usr/bin/time's (or nats-server's); signals go to its child.
stop() { pkill "-$1" -P "$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null || true; }
cleanup() {
  for p in "${pids[@]}"; do stop TERM "$p"; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $W and schema $SCHEMA" || psql "$PG" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
}
trap cleanup EXIT
go build -o "$BIN" ./cmd/firebreak
if [ -z "$NATS" ]; then
  nats-server -js -a 127.0.0.1 -p 14222 -sd "$W/js" >"$W/nats.log" 2>&1 &
  pids+=($!)
  NATS=nats://127.0.0.1:14222
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/14222) 2>/dev/null && break; sleep 0.2; done
fi
"$BIN" gen-logs --lines "$LINES" --seed 7 --estate examples/harbourview -o "$W/auth.log" --truth "$W/truth.jsonl" -q
psql "$PG" -qc "CREATE SCHEMA $SCHEMA"
DB="$PG&search_path=$SCHEMA"
cat > "$W/fb.yaml" <<YAML
bus: {stream: $STREAM, partitions: 8}
YAML
export FIREBREAK_DATABASE="$DB" FIREBREAK_BUS_URL="$NATS" FIREBREAK_ESTATE=examples/harbourview
export FIREBREAK_SECRET_KEY=$(printf '07%.0s' $(seq 32))
start() { # name roles port [syslog]
  local name=$1 roles=$2 port=$3 sys=${4:-}
  mkdir -p "$W/$name"
  FIREBREAK_SYSLOG_TCP=$sys /usr/bin/time -f "$name cpu_user=%U cpu_sys=%S maxrss_kb=%M" -o "$W/$name.time" \
    "$BIN" serve -q -c "$W/fb.yaml" --roles "$roles" --listen "127.0.0.1:$port" --data-dir "$W/$name" >"$W/$name.log" 2>&1 &
  pids+=($!) procs+=($!)
}
start worker worker 18610
sleep 3 # the worker migrates the schema first
start detect-1 detect 18611
start detect-2 detect 18612
start ingest-1 ingest 18613 127.0.0.1:16514
start ingest-2 ingest 18614 127.0.0.1:16515
for port in 16514 16515; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
done
half=$(( $(wc -l <"$W/auth.log") / 2 ))
head -n "$half" "$W/auth.log" >"$W/a.log"; tail -n +"$((half + 1))" "$W/auth.log" >"$W/b.log"
lines=$(wc -l <"$W/auth.log")
t0=$(date +%s.%N)
cat "$W/a.log" >/dev/tcp/127.0.0.1/16514 &
s1=$!
[ -n "${SEQUENTIAL:-}" ] && wait $s1
cat "$W/b.log" >/dev/tcp/127.0.0.1/16515 &
s2=$!
wait $s1 $s2
t_sent=$(date +%s.%N)
q() { PGOPTIONS="-c search_path=$SCHEMA" psql "$PG" -Atc "$1"; }
# Wait until the stored events stop growing and the incidents are stable for 10 s.
prev=-1; stable=0; deadline=$(( $(date +%s) + TIMEOUT ))
while [ "$(date +%s)" -lt "$deadline" ]; do
  cur=$(q "SELECT (SELECT count(*) FROM events) || '/' || (SELECT count(*) FROM incidents) || '/' || (SELECT coalesce(max(updated), 0) FROM incidents)")
  if [ "$cur" = "$prev" ]; then stable=$((stable + 1)); else stable=0; prev=$cur; fi
  [ "$stable" -ge 10 ] && break
  sleep 1
done
events=$(q "SELECT count(*) FROM events")
t_ev=$(q "SELECT max(received) FROM events" 2>/dev/null || echo 0)
last_inc=$(q "SELECT coalesce(max(created), 0) FROM incidents")
load=$(cut -d' ' -f1-3 /proc/loadavg)
for p in "${procs[@]}"; do stop INT "$p"; done
for p in "${procs[@]}"; do wait "$p" 2>/dev/null || true; done
"$BIN" detect -q --estate examples/harbourview --format json "$W/auth.log" >"$W/single.json" || true
PGOPTIONS="-c search_path=$SCHEMA" python3 - "$W" "$PG" "$t0" "$t_sent" "$events" "$lines" "$last_inc" "$load" <<'PY'
import json, subprocess, sys
w, db, t0, t_sent, events, lines, last_inc, load = sys.argv[1:]
t0, t_sent, events, lines, last_inc = float(t0), float(t_sent), int(events), int(lines), int(last_inc)
# One incident is one (rule, key): compare those, and each one's count.
out = subprocess.run(["psql", db, "-AtF", "\t", "-c", "SELECT rule, key_json, count FROM incidents"], capture_output=True, text=True).stdout
split, counts = {}, {}
for line in out.splitlines():
    rule, key, count = line.split("\t")
    k = (rule, json.dumps(json.loads(key), sort_keys=True))
    split[k] = split.get(k, 0) + 1
    counts[k] = int(count)
doc = json.load(open(w + "/single.json"))
single = {}
for i in doc.get("incidents", []):
    single[(i["rule"]["id"], json.dumps(i["firebreak"].get("key", {}), sort_keys=True))] = i["firebreak"].get("count")
dups = [i for i, n in split.items() if n > 1]
print(f"lines sent {lines}, events stored {events} ({lines and events/lines:.0%} of lines are auth events)")
print(f"send time {t_sent - t0:.1f} s, events/s into the store over the send ≥ {events / max(t_sent - t0, 1e-9):,.0f}")
if last_inc:
    print(f"last incident stored {last_inc/1e6 - t_sent:+.1f} s after the last line was sent")
print(f"incidents: five-process {len(split)}, one-process detect {len(single)}, duplicates {len(dups)}, "
      f"missing {len(set(single) - set(split))}, extra {len(set(split) - set(single))}")
for name in ["ingest-1", "ingest-2", "detect-1", "detect-2", "worker"]:
    try: print(open(f"{w}/{name}.time").read().strip())
    except OSError: pass
print("load average at the end:", load)
differ = [k for k in set(single) & set(split) if single[k] != counts[k]]
print(f"counts differing from the one-process run: {len(differ)}")
for k in sorted(differ)[:20]: print("  count", k, "one-process", single[k], "split", counts[k])
for k in sorted(set(single) - set(split))[:10]: print("  missing", k, single[k])
for k in sorted(set(split) - set(single))[:10]: print("  extra", k, counts[k])
ok = not dups and set(single) == set(split)
print("exactly once: " + ("yes" if ok else "NO"))
sys.exit(0 if ok else 1)
PY
