#!/usr/bin/env bash
# Nightly-style fuzzing: runs every native fuzz target in the repository (the
# parsers of outside input: log formats, syslog framing, estate, config,
# rules, passkey responses, policies, passwords, ...) for FUZZTIME each
# (default 60s), one at a time, and prints one line per target with its exec
# count. Each package's instrumented test binary is built once
# (`go test -c -fuzz=.`) and run once per target, so the time is bounded by
# one build per package plus FUZZTIME per target. A target that finds a
# failure leaves the input in its package's testdata/fuzz/ (commit it as a
# regression case) and makes the script exit 1.
#
#   bash bench/fuzz.sh                                   # every target, 60 s each
#   FUZZTIME=10s bash bench/fuzz.sh ./internal/ingest/...
#   FUZZTIME=5s FUZZ_PARALLEL=1 bash bench/fuzz.sh       # a quick pass on a busy machine
#
# FUZZ_PARALLEL: fuzz workers per target (default 1, so the exec counts of
# two runs compare); FUZZ_MINIMIZE: time spent minimizing each input that
# fails or adds coverage (default 1s). Go minimizes every new-coverage input
# before it counts it, and its exec counter leaves those runs out: with the
# 16 KB .evtx seeds a 10 s minimization ate the whole minute (FuzzReader
# showed 9 execs while its worker had run 900,000 inputs minimizing), so
# keep it short; a failing input is saved whether or not it is minimal.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
fuzztime=${FUZZTIME:-60s}
parallel=${FUZZ_PARALLEL:-1}
minimize=${FUZZ_MINIMIZE:-1s}
pkgs=("${@:-./...}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache=$(go env GOCACHE)/fuzz
failed=0
printf '%-28s %-26s %12s %10s %8s  %s\n' package target execs execs/s new result
for pkg in $(go list "${pkgs[@]}"); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u)
  [ -n "$targets" ] || continue
  short=${pkg#github.com/firebreak-msp/firebreak/}
  bin=$work/$(tr / _ <<<"$short").test
  if ! go test -c -fuzz=. -o "$bin" "$pkg" >"$work/build.log" 2>&1; then
    printf '%-28s %-26s %12s %10s %8s  %s\n' "$short" '(build)' - - - FAIL
    sed 's/^/    /' "$work/build.log" | head -5
    failed=1
    continue
  fi
  for target in $targets; do
    # The binary runs in the package directory (testdata/fuzz is relative)
    # with the go command's fuzz cache, as `go test -fuzz` would run it.
    out=$(cd "$dir" && "$bin" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$fuzztime" \
      -test.parallel "$parallel" -test.fuzzminimizetime "$minimize" -test.fuzzcachedir "$cache/$pkg" 2>&1)
    rc=$?
    last=$(grep -o 'elapsed: [0-9hms.]*, execs: [0-9]*' <<<"$out" | tail -1)
    interesting=$(grep -o 'new interesting: [0-9]*' <<<"$out" | tail -1 | grep -o '[0-9]*$')
    execs=$(sed -E 's/.*execs: ([0-9]+)/\1/' <<<"$last")
    secs=$(sed -E 's/elapsed: ([0-9hms.]+),.*/\1/' <<<"$last")
    rate=$(awk -v e="${execs:-0}" -v d="$secs" 'BEGIN { s = 0; if (match(d, /[0-9]+m/)) s += 60 * substr(d, RSTART, RLENGTH - 1); if (match(d, /[0-9.]+s/)) s += substr(d, RSTART, RLENGTH - 1); if (s > 0) printf "%d", e / s; else print "?" }')
    result=ok
    # No execs line: FUZZTIME ran out while the seed corpus was run for
    # baseline coverage (a busy machine, or big seeds); give it longer.
    [ -n "$last" ] || result='ok (baseline only: raise FUZZTIME)'
    if [ $rc -ne 0 ]; then result=FAIL; failed=1; fi
    printf '%-28s %-26s %12s %10s %8s  %s\n' "$short" "$target" "${execs:-?}" "${rate:-?}" "${interesting:-?}" "$result"
    if [ $rc -ne 0 ]; then grep -E 'Failing input|--- FAIL|panic' <<<"$out" | head -5 | sed 's/^/    /'; fi
  done
done
exit $failed
