#!/bin/sh
# Issue 11: the 2,000-tenant estate (gen-estate defaults: 2,000 tenants,
# 100,000 identities, 200,000 grants, 200,000 assets) through
#   - validate,
#   - assess with the trust graph (the default) to JSON, with the phase
#     split that -v logs: wall ("assess timing") and process CPU ("assess
#     cpu": load, index incl. the trust graph, principals, evaluate,
#     finish, render),
#   - blast --tenant (graph + access matrix + one column),
#   - the default blast summary (ranking, entry points, fix-first plan),
# each with wall, user+sys CPU and peak RSS (GNU time) and the load average
# beside it. Targets (issue 11): validate + assess <= 10 s wall and <= 2 GiB
# on the 2-core machine; the blast summary in seconds.
#
# Run on a quiet machine; pass two binaries to measure a before/after pair
# in one run (alternating, ROUNDS rounds, default 2):
#   bench/assess-big.sh ./firebreak-before ./firebreak-after
# The estate is generated once into $DIR (default /tmp/firebreak-big). About
# 2 minutes per binary and round on a quiet 2-core machine.
set -eu
DIR=${DIR:-/tmp/firebreak-big}
ROUNDS=${ROUNDS:-2}
# The summary of a binary from before the plan fix never finishes: it is
# stopped after BLAST_TIMEOUT seconds ("exit 124").
BLAST_TIMEOUT=${BLAST_TIMEOUT:-60}
first=$1
[ -d "$DIR" ] || "$first" gen-estate --tenants 2000 --identities 100000 --grants 200000 --assets 200000 -o "$DIR" >/dev/null
load() { cut -d' ' -f1-3 /proc/loadavg; }
# run NAME CMD...: one line "NAME: wall W s, cpu C s (user U, sys S), peak RSS M MiB, load L".
run() {
	name=$1
	shift
	out=$(mktemp)
	rc=0
	/usr/bin/time -o "$out" -f "%e %U %S %M" "$@" || rc=$?
	set -- $(tail -n 1 "$out")
	rm -f "$out"
	awk -v n="$name" -v w="$1" -v u="$2" -v s="$3" -v m="$4" -v l="$(load)" -v rc="$rc" 'BEGIN {
		printf "%s: wall %.2f s, cpu %.2f s (user %.2f, sys %.2f), peak RSS %d MiB, load %s%s\n", n, w, u+s, u, s, m/1024, l, (rc != 0 && rc != 1 ? ", exit " rc : "") }'
}
for round in $(seq "$ROUNDS"); do
	for b in "$@"; do
		echo "== $b round $round, load $(load)"
		run "validate" sh -c '"$1" validate "$2" >/dev/null' sh "$b" "$DIR"
		run "assess" sh -c '"$1" assess "$2" --now 2026-11-27 --format json -o "$2.out.json" -v 2>"$2.assess.log"' sh "$b" "$DIR"
		grep -E 'assess (timing|cpu)' "$DIR.assess.log" | sed 's/^time=[^ ]* level=DEBUG msg=/  /' || true
		run "blast --tenant" "$b" blast "$DIR" --now 2026-11-27 --no-kev --tenant t00001 -f json -o "$DIR.tenant.json"
		run "blast (summary)" timeout -k 5 "$BLAST_TIMEOUT" "$b" blast "$DIR" --now 2026-11-27 --no-kev -o "$DIR.summary.txt"
	done
done
