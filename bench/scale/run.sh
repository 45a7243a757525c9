#!/usr/bin/env bash
# Split deployment against one process on loopback (issue 12), bounded in
# count (LINES generated sshd lines) and time (TIMEOUT seconds per wait).
# Every phase sends the same log, in order, over one syslog TCP connection
# and prints CPU seconds (user+sys, from /proc, over the timed part only)
# per process and per event:
#
#   single    `firebreak serve` (every role, SQLite)
#   split     1 api + 1 ingest + 2 detect + 1 worker, each `serve --roles …`,
#             on PostgreSQL (127.0.0.1:5432) and a nats-server of the
#             script's own; its incidents must equal (rule, key, tenant,
#             count, first and last time) those of `firebreak detect` over
#             the same file, else the script exits 1
#   detect-1, detect-2
#             detector throughput: 1, then 2 detect processes
#             (GOMAXPROCS=1 each) on a larger log stopped (SIGSTOP) while
#             ingest fills the stream, continued, and timed from the first
#             event detected until every partition is read. The log is the
#             authentication lines of a THR_LINES (default 2,000,000) line
#             log, about 225,000 events, repeated for THR_DAYS (default 5)
#             consecutive days: about 1.1 M events. A detector reads
#             ~450,000 events/s, so a phase of the 225,000 alone lasted
#             ~0.5 s and the polling (0.1 s, one HTTPS metrics read per
#             detector) and the stopped processes' new pulls made most of
#             it: 2 detectors measured 0.78× one.
#
# and the three targets: split end-to-end rate ≥ 70% of single, 2 detectors
# ≥ 1.7× one, p99 ingest-to-incident (firebreak_detect_alert_latency_seconds
# of the split detectors) ≤ 2 s. PostgreSQL's server CPU is not in the
# totals (its background writers are shared with other work); the backends
# serving the five processes (application_name fbscale_<pid>) are printed
# apart.
#
#   LINES=500000 bench/scale/run.sh      # 55,954 authentication events
#   THR_ONLY=1 bench/scale/run.sh        # the detect-1 and detect-2 phases only
#
# The throughput phases also print each process's CPU seconds per event
# (the detectors, nats-server, and the PostgreSQL backends serving them).
# THR_LOG reuses a log made by `gen-logs --lines THR_LINES --seed 8 --estate
# examples/harbourview`.
set -euo pipefail
cd "$(dirname "$0")/../.."
LINES=${LINES:-500000}
THR_LINES=${THR_LINES:-2000000} # the detector-throughput phases' log: seconds of work, not fixed delays
THR_DAYS=${THR_DAYS:-5}
TIMEOUT=${TIMEOUT:-120}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
W=$(mktemp -d /tmp/fbscale.XXXX)
ID=$$
BIN=$W/firebreak
pids=()
schemas=()
cleanup() {
  # serve runs in $(…): its pids are in a file, not in pids.
  [ -f "$W/pids" ] && mapfile -t -O "${#pids[@]}" pids <"$W/pids"
  [ -f "$W/schemas" ] && mapfile -t schemas <"$W/schemas" # likewise newschema
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $W and schemas ${schemas[*]}"; return; fi
  for s in "${schemas[@]}"; do psql "$PG" -qc "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
  rm -rf "$W"
}
trap cleanup EXIT
go build -o "$BIN" ./cmd/firebreak
waitport() { for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }
# The stream's subjects may belong to another stream on a shared server:
# this nats-server is the script's own.
nats-server -js -a 127.0.0.1 -p 14222 -sd "$W/js" >"$W/nats.log" 2>&1 &
NATSPID=$!
pids+=($NATSPID)
waitport 14222
NATS=nats://127.0.0.1:14222
THR_ONLY=${THR_ONLY:-}
if [ -z "$THR_ONLY" ]; then
"$BIN" gen-logs --lines "$LINES" --seed 7 --estate examples/harbourview -o "$W/auth.log" -q
"$BIN" detect -q --estate examples/harbourview --format json "$W/auth.log" >"$W/single.json" || true
E=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["input"]["Parsed"])' "$W/single.json")
fi
export FIREBREAK_ESTATE=examples/harbourview FIREBREAK_SECRET_KEY=$(printf '07%.0s' $(seq 32))
cpu() { # CPU seconds (user+sys) of the given pids
  local t=0
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t $(getconf CLK_TCK)" | awk '{printf "%.2f", $1 / $2}'
}
now() { date +%s.%N; }
metric() { # port name [label filter]: the sum of a metric's samples
  curl -sk --max-time 5 "https://127.0.0.1:$1/metrics" | awk -v n="$2" -v f="${3:-}" '$1 ~ "^"n"({|$)" && (f == "" || index($1, f)) {s += $NF} END {printf "%d", s}'
}
send() { cat "${2:-$W/auth.log}" >/dev/tcp/127.0.0.1/$1; }
serve() { # name roles port [syslog-port] [env…]: start one process, print its pid
  local name=$1 roles=$2 port=$3 sys=${4:-}
  shift 4 || shift $#
  mkdir -p "$W/$name"
  env "$@" FIREBREAK_SYSLOG_TCP=${sys:+127.0.0.1:$sys} "$BIN" serve -q -c "$W/fb.yaml" --roles "$roles" --listen "127.0.0.1:$port" --data-dir "$W/$name" >"$W/$name.log" 2>&1 &
  echo $! >>"$W/pids"
  echo $!
}
stopall() { for p in "$@"; do kill -INT "$p" 2>/dev/null || true; done; for p in "$@"; do wait "$p" 2>/dev/null || true; done; }
until_true() { # seconds 'command' [interval]: poll every 0.1 s
  local deadline=$(( $(date +%s) + $1 ))
  until eval "$2"; do [ "$(date +%s)" -lt "$deadline" ] || { echo "timed out: $2" >&2; return 1; }; sleep "${3:-0.1}"; done
}
newschema() { local s=fbscale_${ID}_$1; psql "$PG" -qc "CREATE SCHEMA $s"; echo "$s" >>"$W/schemas"; echo "$PG&search_path=$s&application_name=fbscale_$ID"; }
pgpids() { # the PostgreSQL backends serving this script's processes
  psql "$PG" -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'fbscale_$ID'" | tr '\n' ' '
}
pgcpu() { # CPU seconds of backends, by pid: "pid:seconds …"
  local p
  for p in $(pgpids); do [ -r "/proc/$p/stat" ] && echo "$p:$(cpu "$p")"; done | tr '\n' ' '
}
config() { # stream: the config file of a split phase
  printf 'bus: {stream: FBSCALE_%s_%s, subject: fbscale.%s.%s, partitions: 8}\n' "$ID" "$1" "$ID" "$1" >"$W/fb.yaml"
}
lagzero() { # detector ports…: every partition read and nothing queued
  local p
  for p in "$@"; do
    curl -sk --max-time 5 "https://127.0.0.1:$p/metrics" | awk '/^firebreak_detect_consumer_lag\{/ && $NF != 0 {bad=1} /^firebreak_detect_queue_depth / && $NF != 0 {bad=1} END {exit bad}' || return 1
  done
}
shared() { # n ports…: n detectors own every partition of both stages, each some
  local n=$1; shift
  local p t1=0 t2=0 o1 o2
  for p in "$@"; do
    o1=$(metric "$p" firebreak_detect_partitions_owned)
    o2=$(curl -sk --max-time 5 "https://127.0.0.1:$p/metrics" | grep -c '^firebreak_detect_partition_owned{partition="cross-' || true)
    [ "$o1" -gt 0 ] && [ "$o2" -gt 0 ] || return 1
    t1=$((t1 + o1)); t2=$((t2 + o2))
  done
  [ "$t1" -eq 8 ] && [ "$t2" -eq 8 ]
}
stored() { PGOPTIONS="-c search_path=fbscale_${ID}_$1" psql "$PG" -Atc "SELECT count(*) FROM events"; }
detected() { local s=0 p; for p in "$@"; do s=$((s + $(metric "$p" firebreak_events_detected_total))); done; echo $s; }

if [ -z "$THR_ONLY" ]; then
echo "log: $LINES lines, $E authentication events (firebreak detect); load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- one process -----------------------------------------------------------
echo 'bus: {}' >"$W/fb.yaml"
single=$(FIREBREAK_DATABASE= serve single api,ingest,detect,worker 18600 16600)
waitport 16600
until_true "$TIMEOUT" 'test "$(metric 18600 firebreak_detect_replaying)" = 0'
c0=$(cpu "$single"); t0=$(now)
send 16600
until_true "$TIMEOUT" 'test "$(metric 18600 firebreak_events_detected_total)" -ge "$E"'
t1=$(now); c1=$(cpu "$single")
single_s=$(echo "$t1 $t0" | awk '{print $1 - $2}')
single_cpu=$(echo "$c1 $c0" | awk '{print $1 - $2}')
curl -sk "https://127.0.0.1:18600/metrics" | grep '^firebreak_detect_alert_latency_seconds_bucket' >"$W/single.lat" || true
stopall "$single"

# --- five processes --------------------------------------------------------
export FIREBREAK_BUS_URL=$NATS
config split
export FIREBREAK_DATABASE=$(newschema split)
worker=$(serve worker worker 18610 "")
# The worker migrates the schema first.
until_true "$TIMEOUT" 'curl -sk --max-time 2 -o /dev/null https://127.0.0.1:18610/healthz'
api=$(serve api api 18611 "")
ingest=$(serve ingest ingest 18612 16612)
d1=$(serve detect-1 detect 18613 "")
d2=$(serve detect-2 detect 18614 "")
waitport 16612
until_true "$TIMEOUT" 'shared 2 18613 18614'
all=("$worker" "$api" "$ingest" "$d1" "$d2" "$NATSPID")
declare -A c0s
for p in "${all[@]}"; do c0s[$p]=$(cpu "$p"); done
pg0=$(pgcpu)
t0=$(now)
send 16612
q() { PGOPTIONS="-c search_path=fbscale_${ID}_split" psql "$PG" -Atc "$1"; }
until_true "$TIMEOUT" 'test "$(stored split)" -ge "$E"'
until_true "$TIMEOUT" 'lagzero 18613 18614'
t1=$(now)
declare -A c1s
for p in "${all[@]}"; do c1s[$p]=$(cpu "$p"); done
pg1=$(pgcpu)
# Backends present at the end, less what they had used at the start.
pg_cpu=$(python3 -c 'import sys
a = dict(x.split(":") for x in sys.argv[1].split())
print(round(sum(float(v) - float(a.get(p, 0)) for p, v in (x.split(":") for x in sys.argv[2].split())), 2))' "$pg0" "$pg1")
split_s=$(echo "$t1 $t0" | awk '{print $1 - $2}')
sleep 3 # the detectors' incident sync (once a second)
for p in 18613 18614; do curl -sk "https://127.0.0.1:$p/metrics" | grep '^firebreak_detect_alert_latency_seconds_bucket' || true; done >"$W/split.lat"
q "SELECT rule, key_json, tenant, count, first_ts, last_ts FROM incidents" >"$W/split.incidents"
stopall "$d1" "$d2" "$ingest" "$api" "$worker"
cpuline() { echo "$1 ${c1s[$2]} ${c0s[$2]}" | awk -v e="$E" '{d = $2 - $3; printf "  %-9s %6.2f CPU-s  %6.1f µs/event\n", $1, d, d * 1e6 / e}'; }
split_cpu=0
for p in "$worker" "$api" "$ingest" "$d1" "$d2" "$NATSPID"; do split_cpu=$(echo "$split_cpu ${c1s[$p]} ${c0s[$p]}" | awk '{print $1 + $2 - $3}'); done

fi

# --- detector throughput: 1, then 2 processes of GOMAXPROCS=1 -------------
export FIREBREAK_BUS_URL=$NATS
if [ -n "${THR_LOG:-}" ]; then ln -s "$(realpath "$THR_LOG")" "$W/thr-day.log"; else
"$BIN" gen-logs --lines "$THR_LINES" --seed 8 --estate examples/harbourview -o "$W/thr-day.log" -q
fi
# Only the lines that are events (the rest is noise the parser skips) and
# the day repeated: seconds of detection, not of generating and ingesting.
grep -E 'sshd\[[0-9]+\]: (Accepted|Failed|Invalid user|pam_unix\(sshd:auth\): authentication failure)' "$W/thr-day.log" >"$W/thr1.log"
for d in $(seq 1 "$THR_DAYS"); do
  day=$(date -u -d "2026-11-26 +$((d - 1)) days" '+%b %e')
  sed "s/^Nov 26/$day/" "$W/thr1.log"
done >"$W/thr.log"
"$BIN" detect -q --estate examples/harbourview --format json "$W/thr.log" >"$W/thr.json" || true
TE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["input"]["Parsed"])' "$W/thr.json")
declare -A thr thrcpu
for n in 1 2; do
  config "t$n"
  export FIREBREAK_DATABASE=$(newschema "t$n")
  w=$(serve "tw$n" worker $((18620 + 10 * n)) "")
  until_true "$TIMEOUT" 'curl -sk --max-time 2 -o /dev/null "https://127.0.0.1:$((18620 + 10 * n))/healthz"'
  in=$(serve "ti$n" ingest $((18621 + 10 * n)) $((16621 + 10 * n)))
  ds=() ports=()
  for k in $(seq "$n"); do
    port=$((18622 + 10 * n + k))
    ds+=($(serve "td$n-$k" detect "$port" "" GOMAXPROCS=1))
    ports+=("$port")
  done
  waitport $((16621 + 10 * n))
  until_true "$TIMEOUT" 'shared "$n" "${ports[@]}"'
  for p in "${ds[@]}"; do kill -STOP "$p"; done
  send $((16621 + 10 * n)) "$W/thr.log"
  until_true "$TIMEOUT" 'test "$(stored t$n)" -ge "$TE"'
  sleep 1 # the last publish
  for p in "${ds[@]}"; do kill -CONT "$p"; done
  # Timed from the first event detected: a stopped process's pull expired
  # and its client reconnects first (a fixed delay, not throughput).
  until_true "$TIMEOUT" 'test "$(detected "${ports[@]}")" -gt 0' 0.05
  t0=$(now)
  tc0=() pg0=$(pgcpu)
  for p in "${ds[@]}" "$NATSPID"; do tc0+=("$(cpu "$p")"); done
  until_true "$TIMEOUT" 'test "$(detected "${ports[@]}")" -ge "$TE"' 0.05
  until_true "$TIMEOUT" 'lagzero "${ports[@]}"' 0.05
  t1=$(now)
  tc1=() pg1=$(pgcpu)
  for p in "${ds[@]}" "$NATSPID"; do tc1+=("$(cpu "$p")"); done
  thr[$n]=$(echo "$TE $t1 $t0" | awk '{printf "%.0f", $1 / ($2 - $3)}')
  # Where the CPU went while the detectors read the stream.
  thrcpu[$n]=$(python3 -c 'import sys
te, secs = int(sys.argv[1]), float(sys.argv[2])
names, c0, c1, pg0, pg1, counts = (x.split() for x in sys.argv[3:9])
pga = dict(x.split(":") for x in pg0)
pg = sum(float(v) - float(pga.get(p, 0)) for p, v in (x.split(":") for x in pg1))
out, total, det = [], pg, 0.0
for name, a, b, k in zip(names, c0, c1, counts + [""]):
    d = float(b) - float(a); total += d
    det += d if k else 0
    out.append(f"  {name:12s} {d:6.2f} CPU-s ({d / secs:4.0%} of {secs:.2f} s)  {d * 1e6 / te:5.2f} µs/event" + (f", {int(k):,} events" if k else ""))
out.append("  %-12s %6.2f CPU-s  %5.2f µs/event (backends of these processes)" % ("postgres", pg, pg * 1e6 / te))
out.append("  %-12s %6.2f CPU-s  %5.2f µs/event" % ("all", total, total * 1e6 / te))
open(sys.argv[9], "w").write(f"{det * 1e6 / te} {(total - det) * 1e6 / te}\n")
print("\n".join(out))' "$TE" "$(echo "$t1 $t0" | awk '{print $1 - $2}')" "$(for k in $(seq "$n"); do printf 'detect-%s ' "$k"; done)nats-server" "${tc0[*]}" "${tc1[*]}" "$pg0" "$pg1" "$(for p in "${ports[@]}"; do metric "$p" firebreak_events_detected_total; printf ' '; done)" "$W/thrcpu$n")
  stopall "${ds[@]}" "$in" "$w"
done
echo "detector throughput on $TE events (GOMAXPROCS=1 each), CPU over the timed part; load average $(cut -d' ' -f1-3 /proc/loadavg):"
for n in 1 2; do echo " $n detector(s): ${thr[$n]} events/s"; echo "${thrcpu[$n]}"; done
echo "${thr[1]} ${thr[2]}" | awk '{printf "  2 detectors / 1 detector  %.2f× (≥ 1.7×)\n", $2 / $1}'
# The most two detectors can give, from the one-detector phase's CPU per
# event: d in the detector, s in nats-server and PostgreSQL. n detectors
# of one core each read at most min(n/d, cores/(d+s)) events/s.
read -r d s <"$W/thrcpu1"
echo "$d $s $(nproc)" | awk 'function lo(a, b) { return a < b ? a : b }
  function ratio(c) { return lo(2 / $1, c / ($1 + $2)) / lo(1 / $1, c / ($1 + $2)) }
  {printf "  from the one-detector phase (%.2f µs/event in the detector, %.2f in nats-server and PostgreSQL): two detectors can reach at most %.2f× one on %d cores, %.2f× on 4\n", $1, $2, ratio($3), $3, ratio(4)}'
[ -z "$THR_ONLY" ] || exit 0

echo "$E $single_s $single_cpu $split_s $split_cpu" | awk '{printf "single process: %.0f events/s (%.2f s), %.2f CPU-s = %.1f µs/event\nfive processes: %.0f events/s (%.2f s), %.2f CPU-s = %.1f µs/event (nats-server included, PostgreSQL server not)\n", $1/$2, $2, $3, $3*1e6/$1, $1/$4, $4, $5, $5*1e6/$1}'
echo "five-process CPU over the timed part, per process:"
i=0
for name in worker api ingest detect-1 detect-2 nats-server; do cpuline "$name" "${all[$i]}"; i=$((i + 1)); done
echo "$pg_cpu" | awk -v e="$E" '{printf "  %-9s %6.2f CPU-s  %6.1f µs/event (its backends for these processes; not in the total above)\n", "postgres", $1, $1 * 1e6 / e}'
python3 - "$W" "$E" "$single_s" "$split_s" "${thr[1]}" "${thr[2]}" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
w, E, single_s, split_s, thr1, thr2, load = sys.argv[1:]
E, single_s, split_s, thr1, thr2 = int(E), float(single_s), float(split_s), int(thr1), int(thr2)
def p99(path):
    buckets = {}
    for line in open(path):
        le = line.split('le="')[1].split('"')[0]
        buckets[float(le)] = buckets.get(float(le), 0) + float(line.split()[-1])
    total = buckets.get(float("inf"), 0)
    for le in sorted(buckets):
        if total and buckets[le] >= 0.99 * total:
            return le, int(total)
    return None, 0
print(f"detector throughput (GOMAXPROCS=1 each, THR_LINES log): 1 process {thr1:,} events/s, 2 processes {thr2:,} events/s")
lat, alerts = p99(w + "/split.lat")
slat, salerts = p99(w + "/single.lat")
print(f"alert latency p99 (histogram bucket bound): five processes ≤ {lat} s over {alerts} alerts; single ≤ {slat} s over {salerts} alerts")
# Incidents: the split deployment's against `firebreak detect` over the same file.
split = {}
dups = 0
for line in open(w + "/split.incidents"):
    rule, key, tenant, count, first, last = line.rstrip("\n").split("|")
    k = (rule, json.dumps(json.loads(key), sort_keys=True), tenant)
    dups += k in split
    split[k] = (int(count), int(first), int(last))
single = {}
from datetime import datetime
def us(t):
    return int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1e6)
for i in json.load(open(w + "/single.json")).get("incidents", []):
    fb = i["firebreak"]
    tenant = (i.get("organization") or {}).get("id", "")
    k = (i["rule"]["id"], json.dumps(fb.get("key", {}), sort_keys=True), tenant)
    single[k] = (fb.get("count"), us(i["event"]["start"]), us(i["event"]["end"]))
missing, extra = set(single) - set(split), set(split) - set(single)
differ = [k for k in set(single) & set(split) if single[k] != split[k]]
print(f"incidents: five processes {len(split)}, one process {len(single)}; duplicates {dups}, missing {len(missing)}, extra {len(extra)}, differing (count, first, last) {len(differ)}")
for k in sorted(missing)[:10]: print("  missing", k, single[k])
for k in sorted(extra)[:10]: print("  extra", k, split[k])
for k in sorted(differ)[:10]: print("  differ", k, "one process", single[k], "split", split[k])
ok = not (dups or missing or extra or differ)
ratio, scale = (E / split_s) / (E / single_s), thr2 / max(thr1, 1)
print("targets:")
print(f"  split rate / single rate  {ratio:6.0%}  (≥ 70%)  {'met' if ratio >= 0.7 else 'NOT met'}")
print(f"  2 detectors / 1 detector  {scale:6.2f}× (≥ 1.7×)  {'met' if scale >= 1.7 else 'NOT met'}")
print(f"  p99 ingest-to-incident    ≤ {lat} s (≤ 2 s)  {'met' if lat is not None and lat <= 2 else 'NOT met'}")
print(f"  incidents equal one process: {'yes' if ok else 'NO'}")
print("load average at the end:", load)
sys.exit(0 if ok else 1)
PY
