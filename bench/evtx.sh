#!/usr/bin/env bash
# EVTX benchmark and cross-check. Not part of `go test`.
#
# usage: bench/evtx.sh [WORKDIR]        (default /tmp/firebreak-evtx)
#
#   1. cross-check: every value of firebreak's .evtx reader against Debian's
#      python3-evtx on ../shared/data/evtx/*.evtx and a generated file
#      (bench/evtx_compare.py; exits non-zero on a difference);
#   2. speed: `firebreak detect` with the built-in pack on a generated
#      Security log (RECORDS records), one core (GOMAXPROCS=1, taskset -c 0),
#      against `evtx_dump.py` on SMALL records (python-evtx is ~400 records/s,
#      so it gets the smaller file; both rates are per record);
#   3. memory: peak RSS of `firebreak detect` on a ~1 GB file (BIG records).
#
# Environment: RECORDS=300000 SMALL=20000 BIG=1900000 FIREBREAK=path SKIP_COMPARE=1
# Needs: go, /usr/bin/python3 with python3-evtx (apt-get install -y python3-evtx),
# GNU time. Throughput is given per wall second and per CPU second (user+sys):
# on a shared machine the CPU figure is the stable one.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/firebreak-evtx}
RECORDS=${RECORDS:-300000}
SMALL=${SMALL:-20000}
BIG=${BIG:-1900000}
mkdir -p "$W"
FB="$W/firebreak"
if [ -n "${FIREBREAK:-}" ]; then cp "$FIREBREAK" "$FB"; else go build -o "$FB" ./cmd/firebreak; fi
go build -o "$W/evtxdump" ./bench/evtxdump
go build -o "$W/evtxgen" ./bench/evtxgen
PIN=(env GOMAXPROCS=1)
if command -v taskset >/dev/null; then PIN+=(taskset -c 0); fi
timed() { # timed NAME CMD... -> WALL CPU RSS_MB
  local name=$1; shift
  /usr/bin/time -o "$W/$name.time" -f '%e %U %S %M' "$@"
  read -r WALL U S RSS <"$W/$name.time"
  CPU=$(python3 -c "print(round($U+$S,3))"); RSS_MB=$(python3 -c "print(round($RSS/1024,1))")
}
rate() { python3 -c "print(int($1/max($2,1e-9)))"; }
echo "# firebreak evtx benchmark $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

for n in "$SMALL" "$RECORDS" "$BIG"; do
  [ -s "$W/security-$n.evtx" ] || "$W/evtxgen" -records "$n" -o "$W/security-$n.evtx"
done

echo "## cross-check against python-evtx"
[ -n "${SKIP_COMPARE:-}" ] || /usr/bin/python3 bench/evtx_compare.py "$W/evtxdump" ../shared/data/evtx/*.evtx "$W/security-$SMALL.evtx" | grep -E '^total|differ$' | tail -7

echo "## speed, one core"
F="$W/security-$RECORDS.evtx"
timed fb "${PIN[@]}" "$FB" detect -q --format json "$F" >"$W/fb.json"
echo "firebreak detect, $RECORDS records ($(du -mL "$F" | cut -f1) MB): wall ${WALL}s cpu ${CPU}s rss ${RSS_MB}MB -> $(rate "$RECORDS" "$WALL") records/s wall, $(rate "$RECORDS" "$CPU") per cpu-s"
FBW=$(rate "$RECORDS" "$WALL"); FBC=$(rate "$RECORDS" "$CPU")
SF="$W/security-$SMALL.evtx"
timed fbs "${PIN[@]}" "$FB" detect -q --format json "$SF" >/dev/null
echo "firebreak detect, $SMALL records: wall ${WALL}s cpu ${CPU}s"
timed py taskset -c 0 /usr/bin/python3 /usr/bin/evtx_dump.py "$SF" >"$W/py.xml"
PYW=$(rate "$SMALL" "$WALL"); PYC=$(rate "$SMALL" "$CPU")
echo "evtx_dump.py, $SMALL records: wall ${WALL}s cpu ${CPU}s -> $PYW records/s wall, $PYC per cpu-s"
echo "ratio firebreak detect / evtx_dump.py: $(python3 -c "print(round($FBW/$PYW))")x wall, $(python3 -c "print(round($FBC/$PYC))")x cpu"

echo "## memory"
B="$W/security-$BIG.evtx"
timed big "${PIN[@]}" "$FB" detect -q --format json "$B" >/dev/null
echo "firebreak detect, $BIG records ($(du -mL "$B" | cut -f1) MB): wall ${WALL}s cpu ${CPU}s peak RSS ${RSS_MB}MB -> $(rate "$BIG" "$CPU") records per cpu-s"
