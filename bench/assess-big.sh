#!/bin/sh
# Issue 11: the 2,000-tenant estate through assess and blast --tenant, CPU
# time, wall and peak RSS (GNU time), with the load average beside them.
# Run on a quiet machine; pass two binaries to measure a before/after pair
# in one run (alternating):
#   bench/assess-big.sh ./firebreak-before ./firebreak-after
# The estate is generated once into $DIR (default /tmp/firebreak-big).
set -eu
DIR=${DIR:-/tmp/firebreak-big}
first=$1
[ -d "$DIR" ] || "$first" gen-estate --tenants 2000 --identities 100000 --grants 200000 --assets 200000 -o "$DIR" >/dev/null
for round in 1 2; do
	for b in "$@"; do
		echo "== $b round $round, load $(cut -d' ' -f1-3 /proc/loadavg)"
		/usr/bin/time -f "assess: user %U s, sys %S s, wall %e s, peak RSS %M KB" \
			"$b" assess "$DIR" --now 2026-11-27 --format json -o "$DIR.out.json" -v 2>&1 | grep -E 'assess timing|assess:'
		/usr/bin/time -f "blast --tenant: user %U s, sys %S s, wall %e s, peak RSS %M KB" \
			"$b" blast "$DIR" --now 2026-11-27 --no-kev --tenant t00001 -f json -o "$DIR.tenant.json" 2>&1 | tail -1 || true
	done
done
