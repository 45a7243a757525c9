#!/usr/bin/env bash
# sshd end to end against the floor: `wc -l`, firebreak detect (this tree
# and, if given, an older binary) and fail2ban-regex if installed, on the
# same generated 2,000,000-line day, one core. Issue 9's target: detect
# within 5x the CPU time of `wc -l`. Also the Windows Winlogbeat JSON file
# (300,000 records) and the same records as event XML for the per-file
# comparison. Not part of `go test`; about 2 minutes at PAIRS=3 on a quiet
# machine (plus building OLD_REV once).
#
# usage: bench/sshd.sh [WORKDIR]        (default /tmp/firebreak-sshd-bench)
#
# Environment:
#   OLD=path      an older firebreak binary, run alternately with this tree's
#   OLD_REV=rev   or a commit to build it from (git archive), e.g. 1abbc4d
#                 (the main before issue 9) for the Windows "no regression"
#   PAIRS=3       alternating rounds
#   LINES=2000000 sshd lines (gen-logs --seed 7)
#   F2B=1         also time fail2ban-regex once (minutes per million lines)
#
# Prints CPU seconds (user+sys, from rusage) per run with the load average:
# on a shared machine wall time measures the scheduler, not the code. Ends
# with the medians and the ratios of this run: detect sshd / wc -l (target
# <= 5) and new / old per file (Windows target: <= 1).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
W=${1:-/tmp/firebreak-sshd-bench}
PAIRS=${PAIRS:-3}
LINES=${LINES:-2000000}
mkdir -p "$W"
go build -o "$W/firebreak" ./cmd/firebreak
NEW="$W/firebreak"
if [ -z "${OLD:-}" ] && [ -n "${OLD_REV:-}" ]; then
  OLD="$W/firebreak-$OLD_REV"
  if [ ! -x "$OLD" ]; then
    rm -rf "$W/src-$OLD_REV" && mkdir -p "$W/src-$OLD_REV"
    git archive "$OLD_REV" | tar -x -C "$W/src-$OLD_REV"
    (cd "$W/src-$OLD_REV" && go build -o "$OLD" ./cmd/firebreak)
  fi
fi
LOG="$W/auth-$LINES.log"
WIN="$W/windows-300000.json"
[ -s "$LOG" ] || "$NEW" gen-logs --format sshd --lines "$LINES" --seed 7 -o "$LOG" --truth "$W/truth.jsonl" >/dev/null 2>&1
[ -s "$WIN" ] || "$NEW" gen-logs --format windows --lines 300000 --seed 7 -o "$WIN" --truth "$W/w-truth.jsonl" >/dev/null 2>&1
XML="$W/windows-300000.xml" # the same records as rendered event XML (wevtutil qe /f:xml)
[ -s "$XML" ] || python3 bench/winxml.py "$WIN" "$XML"
# an old binary that cannot read event XML (before issue 9) is not timed on it
OLDXML=0
head -n 3 "$XML" >"$W/probe.xml"
if [ -n "${OLD:-}" ] && "$OLD" detect -q --input-format xml "$W/probe.xml" >/dev/null 2>&1 </dev/null; then OLDXML=1; fi
PIN=(env GOMAXPROCS=1)
command -v taskset >/dev/null && PIN+=(taskset -c 1)
cpu() { # NAME CMD...: prints "NAME cpu-seconds (load)"
  # user+sys of the command and its children from rusage (microseconds;
  # GNU time prints hundredths, 3% of a 0.3 s run)
  local name=$1; shift
  local c; c=$(python3 -c 'import os, sys
out = [(os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_WRONLY, 0) for fd in (1, 2)]
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ, file_actions=out)
_, _, r = os.wait4(pid, 0)
print(round(r.ru_utime + r.ru_stime, 4))' "$@")
  printf '%-26s %7.4f CPU-s  (load %s)\n' "$name" "$c" "$(cut -d' ' -f1 /proc/loadavg)"
  printf '%s\t%s\n' "$name" "$c" >>"$W/cpu.tsv"
}
: >"$W/cpu.tsv"
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
  [ "$OLDXML" = 1 ] && cpu "old detect windows xml" "${PIN[@]}" "$OLD" "${det[@]}" "$XML"
  cpu "new detect windows xml" "${PIN[@]}" "$NEW" "${det[@]}" "$XML"
done
if [ "${F2B:-0}" = 1 ] && command -v fail2ban-regex >/dev/null; then
  cpu "fail2ban-regex" "${PIN[@]}" fail2ban-regex "$LOG" /etc/fail2ban/filter.d/sshd.conf
fi
python3 - "$W/cpu.tsv" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, c = line.rstrip("\n").split("\t")
    runs.setdefault(name, []).append(float(c))
med = {k: statistics.median(v) for k, v in runs.items()}
print("# medians (CPU-s): " + ", ".join(f"{k} {v:.3f}" for k, v in med.items()))
def ratio(label, a, b, target):
    if a in med and b in med and med[b] > 0:
        per = [x / y for x, y in zip(runs[a], runs[b]) if y > 0]
        print(f"RATIO {label}: {med[a] / med[b]:.2f} (median of runs; per round {', '.join(f'{r:.2f}' for r in per)}; target {target})")
ratio("new detect sshd / wc -l", "new detect sshd", "wc -l", "<= 5")
ratio("old detect sshd / wc -l", "old detect sshd", "wc -l", "-")
ratio("new / old detect sshd", "new detect sshd", "old detect sshd", "-")
ratio("new / old detect windows json", "new detect windows", "old detect windows", "<= 1")
ratio("new / old detect windows xml", "new detect windows xml", "old detect windows xml", "<= 1")
PY