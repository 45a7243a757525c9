#!/usr/bin/env bash
# sshd end to end against the floor: `wc -l`, firebreak detect (this tree
# and, if given, an older binary) and fail2ban-regex if installed, on the
# same generated 2,000,000-line day, one core. Issue 9's target: detect
# within 5x the CPU time of `wc -l`. Also the Windows Winlogbeat JSON file
# (300,000 records) for the per-file comparison. Not part of `go test`.
#
# usage: bench/sshd.sh [WORKDIR]        (default /tmp/firebreak-sshd-bench)
#
# Environment:
#   OLD=path      an older firebreak binary, run alternately with this tree's
#   PAIRS=3       alternating rounds
#   LINES=2000000 sshd lines (gen-logs --seed 7)
#   F2B=1         also time fail2ban-regex once (minutes per million lines)
#
# Prints CPU seconds (user+sys, GNU time) per run with the load average:
# on a shared machine wall time measures the scheduler, not the code.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
W=${1:-/tmp/firebreak-sshd-bench}
PAIRS=${PAIRS:-3}
LINES=${LINES:-2000000}
mkdir -p "$W"
go build -o "$W/firebreak" ./cmd/firebreak
NEW="$W/firebreak"
LOG="$W/auth-$LINES.log"
WIN="$W/windows-300000.json"
[ -s "$LOG" ] || "$NEW" gen-logs --format sshd --lines "$LINES" --seed 7 -o "$LOG" --truth "$W/truth.jsonl" >/dev/null 2>&1
[ -s "$WIN" ] || "$NEW" gen-logs --format windows --lines 300000 --seed 7 -o "$WIN" --truth "$W/w-truth.jsonl" >/dev/null 2>&1
PIN=(env GOMAXPROCS=1)
command -v taskset >/dev/null && PIN+=(taskset -c 1)
cpu() { # NAME CMD...: prints "NAME cpu-seconds (load)"
  local name=$1; shift
  /usr/bin/time -o "$W/t" -f '%U %S' "$@" >/dev/null 2>&1
  read -r u s <"$W/t"
  printf '%-22s %6.3f CPU-s  (load %s)\n' "$name" "$(python3 -c "print($u+$s)")" "$(cut -d' ' -f1 /proc/loadavg)"
}
det=(detect -q --estate examples/harbourview --format json)
echo "# $(date -u +%FT%TZ), $(nproc) cores; sshd $(wc -l <"$LOG") lines $(du -mL "$LOG" | cut -f1) MB"
for i in $(seq "$PAIRS"); do
  cpu "wc -l" "${PIN[@]}" wc -l "$LOG"
  [ -n "${OLD:-}" ] && cpu "old detect sshd" "${PIN[@]}" "$OLD" "${det[@]}" "$LOG"
  cpu "new detect sshd" "${PIN[@]}" "$NEW" "${det[@]}" "$LOG"
  cpu "new detect sshd -f table" "${PIN[@]}" "$NEW" detect -q --estate examples/harbourview "$LOG"
  cpu "new version (start-up)" "${PIN[@]}" "$NEW" version
  [ -n "${OLD:-}" ] && cpu "old detect windows" "${PIN[@]}" "$OLD" "${det[@]}" "$WIN"
  cpu "new detect windows" "${PIN[@]}" "$NEW" "${det[@]}" "$WIN"
done
if [ "${F2B:-0}" = 1 ] && command -v fail2ban-regex >/dev/null; then
  cpu "fail2ban-regex" "${PIN[@]}" fail2ban-regex "$LOG" /etc/fail2ban/filter.d/sshd.conf
fi
