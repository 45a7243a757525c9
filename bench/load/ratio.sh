#!/usr/bin/env bash
# HTTP ingest after vs before: builds this tree's bench/load driver against
# BEFORE's server code and against this tree's, then runs them in
# alternating pairs, each for exactly REQUESTS ingest requests of 5,000
# lines (the same work in every run), and prints events/s, the process's
# CPU per event and the load average of each run and the ratio per pair.
# Run it in a quiet window; the CPU per event is the figure that holds
# under load.
#
#   bash bench/load/ratio.sh                       # BEFORE=main~N? set it: the rev to compare with
#   BEFORE=c955569 PAIRS=3 REQUESTS=200 bash bench/load/ratio.sh
#   STORES="sqlite postgres" DATABASE=postgres://postgres@127.0.0.1:5432/test?sslmode=disable bash bench/load/ratio.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
before=${BEFORE:?set BEFORE to the git revision to compare with}
pairs=${PAIRS:-3}
requests=${REQUESTS:-200}
stores=${STORES:-sqlite}
database=${DATABASE:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/before" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/before" "$before" >/dev/null
# The same driver for both: only the server code differs.
cp bench/load/*.go "$work/before/bench/load/"
(cd "$work/before" && go build -o "$work/load-before" ./bench/load)
go build -o "$work/load-after" ./bench/load
flags=(-events 20000 -page-requests 1 -api-clients 1 -api-time 1s -ingest-requests "$requests")
run() { # which store -> "events/s cpu-µs/event load"
  local db=()
  [ "$2" = postgres ] && db=(-database "$database")
  "$work/load-$1" "${flags[@]}" "${db[@]}" 2>&1 | grep '^ingest:' |
    sed -E 's/.*= ([0-9]+) events\/s.*CPU ([0-9.]+) µs\/event, load avg ([0-9.]+).*/\1 \2 \3/'
}
printf '%-9s %4s  %-30s %-30s %6s %6s\n' store pair 'before ev/s (µs/ev, load)' 'after ev/s (µs/ev, load)' ratio cpu
for store in $stores; do
  for p in $(seq 1 "$pairs"); do
    # Alternate which runs first, so a load trend does not favour one side.
    if [ $((p % 2)) -eq 1 ]; then b=$(run before "$store"); a=$(run after "$store"); else a=$(run after "$store"); b=$(run before "$store"); fi
    read -r br bc bl <<<"$b"
    read -r ar ac al <<<"$a"
    printf '%-9s %4s  %-30s %-30s %6s %6s\n' "$store" "$p" "$br ($bc, $bl)" "$ar ($ac, $al)" \
      "$(awk -v a="$ar" -v b="$br" 'BEGIN { printf "%.2f", a / b }')" "$(awk -v a="$ac" -v b="$bc" 'BEGIN { printf "%.2f", b / a }')"
  done
done
echo "ratio: events/s after / before; cpu: CPU per event before / after (>= 0.95 is the target for both)"
