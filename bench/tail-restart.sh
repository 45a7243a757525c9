#!/usr/bin/env bash
# serve's folder tail across SIGTERM and restart, as real processes
# (issue 9: serve's file tail pointed at a folder of real logs gets what
# detect gets). Each run starts `firebreak serve` (SQLite) tailing an empty
# folder and, FILES times: waits DROP seconds, drops a back-dated sshd log
# into the folder (written under a temporary name outside it, then mv),
# waits a random 0..HOLD seconds and stops serve with SIGTERM, then starts
# it again. A last start reads what is left. The events stored must equal
# the events `firebreak detect` parses from the same files, and every
# file's saved offset must be its size; a run that differs is a loss (or
# duplicates) and is printed with its folder kept. PAR runs go in
# parallel (several serves on one machine, as the loss was first seen).
#
#   RUNS=12 PAR=4 bench/tail-restart.sh
#   BIN=/tmp/old/firebreak RUNS=12 PAR=4 bench/tail-restart.sh   # another build
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-12}
PAR=${PAR:-4}
FILES=${FILES:-3}
DROP=${DROP:-4}
HOLD=${HOLD:-2}
LINES=${LINES:-3000}
W=$(mktemp -d /tmp/fbtail.XXXX)
cleanup() {
  for f in "$W"/run*/pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -z "${KEEP:-}" ] && ! grep -qs LOST "$W/result"; then rm -rf "$W"; else echo "kept $W"; fi
}
trap cleanup EXIT
if [ -z "${BIN:-}" ]; then
  BIN=$W/firebreak
  go build -o "$BIN" ./cmd/firebreak
fi
export FIREBREAK_SECRET_KEY=$(printf '07%.0s' $(seq 32))
# the logs: back-dated sshd days, one per file
for i in $(seq "$FILES"); do
  "$BIN" gen-logs --format sshd --lines "$LINES" --seed "$i" --estate examples/harbourview \
    --start "$(date -u -d "-$((3 + i)) days" +%Y-%m-%dT00:00:00Z)" --span 6h -o "$W/src$i.log" -q
done
mkdir -p "$W/all" && cp "$W"/src*.log "$W/all/"
WANT=$("$BIN" detect -q --estate examples/harbourview --format json "$W/all" 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["input"]["Parsed"])' || true)
[ -n "$WANT" ] || { echo "detect gave no event count" >&2; exit 1; }

stored() { sqlite3 "$1/data/firebreak.db" 'select count(*) from events' 2>/dev/null || echo -1; }
serve() { # dir: starts serve in the background, its pid in dir/pid
  "$BIN" serve -q --config "$1/serve.yaml" >>"$1/serve.log" 2>&1 &
  echo $! >"$1/pid"
}
stop() { local p; p=$(cat "$1/pid"); kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; }
onerun() { # n
  local d=$W/run$1 i
  mkdir -p "$d/logs" "$d/data" "$d/tmp"
  cat >"$d/serve.yaml" <<YAML
data_dir: $d/data
listen: 127.0.0.1:0
estate:
  paths: [examples/harbourview]
ingest:
  files:
    - path: $d/logs
YAML
  for i in $(seq "$FILES"); do
    serve "$d"
    sleep "$DROP"
    cp "$W/src$i.log" "$d/tmp/host$i.log" && mv "$d/tmp/host$i.log" "$d/logs/"
    sleep "$(python3 -c "import random; print(round(random.uniform(0, $HOLD), 2))")"
    stop "$d"
  done
  serve "$d" # the last start reads what is left
  local last=-2 now same=0
  for _ in $(seq 120); do
    sleep 1
    now=$(stored "$d")
    if [ "$now" = "$WANT" ]; then break; fi
    if [ "$now" = "$last" ]; then same=$((same + 1)); [ $same -ge 15 ] && break; else same=0; fi
    last=$now
  done
  stop "$d"
  now=$(stored "$d")
  if [ "$now" = "$WANT" ]; then
    echo "run $1: ok ($now events)"
  else
    echo "run $1: LOST $((WANT - now)) of $WANT events (stored $now; kept $d; tail state: $(cat "$d"/data/tail-*.json 2>/dev/null))"
  fi
}
echo "detect parses $WANT events from $FILES files; $RUNS runs, $PAR at a time, load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $(seq "$RUNS"); do
  onerun "$n" | tee -a "$W/result" &
  if (( n % PAR == 0 )); then wait; fi
done
wait
echo "$(grep -c LOST "$W/result" || true) of $RUNS runs lost events"
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
