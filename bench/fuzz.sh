#!/usr/bin/env bash
# Nightly-style fuzzing: runs every native fuzz target in the repository (the
# parsers of outside input: log formats, syslog framing, estate, config,
# rules, CBOR, policies, passwords, ...) for FUZZTIME each (default 60s), one
# at a time, and prints one line per target with its exec count. A target
# that finds a failure leaves the input in its package's testdata/fuzz/ (commit
# it as a regression case) and makes the script exit 1.
#
#   bash bench/fuzz.sh                 # every target, 60 s each
#   FUZZTIME=10s bash bench/fuzz.sh ./internal/ingest/...
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
fuzztime=${FUZZTIME:-60s}
pkgs=("${@:-./...}")
failed=0
printf '%-28s %-26s %12s %10s  %s\n' package target execs execs/s result
for pkg in $(go list "${pkgs[@]}"); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" 2>&1)
    rc=$?
    last=$(grep -o 'elapsed: [0-9hms.]*, execs: [0-9]*' <<<"$out" | tail -1)
    execs=$(sed -E 's/.*execs: ([0-9]+)/\1/' <<<"$last")
    secs=$(sed -E 's/elapsed: ([0-9hms.]+),.*/\1/' <<<"$last")
    rate=$(awk -v e="${execs:-0}" -v d="$secs" 'BEGIN { s = 0; if (match(d, /[0-9]+m/)) s += 60 * substr(d, RSTART, RLENGTH - 1); if (match(d, /[0-9.]+s/)) s += substr(d, RSTART, RLENGTH - 1); if (s > 0) printf "%d", e / s; else print "?" }')
    result=ok
    if [ $rc -ne 0 ]; then result=FAIL; failed=1; fi
    printf '%-28s %-26s %12s %10s  %s\n' "${pkg#github.com/firebreak-msp/firebreak/}" "$target" "${execs:-?}" "${rate:-?}" "$result"
    if [ $rc -ne 0 ]; then grep -E 'Failing input|--- FAIL|panic' <<<"$out" | head -5 | sed 's/^/    /'; fi
  done
done
exit $failed
