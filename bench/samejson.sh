#!/usr/bin/env bash
# Compares `detect --format json` of two firebreak binaries on the same
# inputs: the documents must be byte-identical apart from "seconds" (the
# run's duration). Used to check a change to reading, detection or output
# that must not change what is found.
#
# usage: bench/samejson.sh OLD NEW INPUT...   (an input may be a folder)
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2
shift 2
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
rc=0
for in in "$@"; do
  "$old" detect -q --estate examples/harbourview --format json "$in" >"$t/old.json" 2>/dev/null || true
  "$new" detect -q --estate examples/harbourview --format json "$in" >"$t/new.json" 2>/dev/null || true
  if cmp -s <(grep -v '^  "seconds": ' "$t/old.json") <(grep -v '^  "seconds": ' "$t/new.json"); then
    echo "same: $in ($(wc -c <"$t/new.json") bytes)"
  else
    echo "DIFFERENT: $in"
    diff <(grep -v '^  "seconds": ' "$t/old.json") <(grep -v '^  "seconds": ' "$t/new.json") | head -20
    rc=1
  fi
done
exit $rc
