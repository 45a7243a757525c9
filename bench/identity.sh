#!/usr/bin/env bash
# The identity collectors' speed targets (issue 13), each benchmark once:
#   - Graph delta repeat, 200 tenants x 500 users      (target <= 3 s)
#   - Graph full collection, 200 x 500                  (target <= 15 s)
#   - Okta full collection, 200 orgs x 500 users        (target <= 15 s)
#   - Google Workspace, 200 customers x 500 users       (target <= 15 s)
# Every fake call waits 50 ms (the injected latency); throttling as each
# benchmark documents (Graph: 429 + Retry-After: 1 every 50th request,
# batched ones included, and CA's first call of every tenant 429 without
# Retry-After; Google: 429 without Retry-After every 100th). Not part of
# `go test`. Takes about 1 minute on a quiet 2-core machine after the build.
#
# usage: bench/identity.sh [WORKDIR]       (default /tmp/firebreak-identity-bench)
#
# For each benchmark it prints one line of figures:
#   wall      the collection's wall time (the target's figure: only
#             meaningful with the load average well under the 2 cores)
#   cpu       user+sys CPU of the collection, collector and fake together
#             (they share the process); steady under load
#   calls     HTTP requests the collector sent (token requests included)
#   429s      throttled answers it met ($batch items included for Graph)
# then the load average before/after, GNU time's figures for the whole
# process, and the CPU profile split by `go tool pprof -tags`: the fake's
# goroutines carry side=fake (internal/connector/connectortest), the Graph
# repeat's own goroutines phase=repeat; the unlabelled rest is the collector
# plus the Go runtime (GC, scheduler).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/firebreak-identity-bench}
mkdir -p "$W"
figures() { # label target: reads a benchmark line, prints its figures
	awk -v label="$1" -v target="$2" '/^Benchmark/ {
		for (i = 3; i < NF; i += 2) m[$(i+1)] = $i
		wall = ("wall-s" in m) ? m["wall-s"] : m["s/run"]
		thr = ("429s" in m) ? m["429s"] : m["throttled"]
		printf "%-22s wall %6.2f s (target <= %s s) | cpu %6.2f s (client+fake) | calls %6d | 429s %4d", label, wall, target, m["cpu-s(client+fake)"], m["calls"], thr
		printf "\n"
	}'
}
run() { # name label target package bench
	local name=$1 label=$2 target=$3 pkg=$4 bench=$5
	go test -c -o "$W/$name.test" "./$pkg"
	local before
	before=$(cut -d' ' -f1-3 /proc/loadavg)
	(cd "$pkg" && /usr/bin/time -o "$W/$name.time" -f 'process: %U user + %S sys CPU-s, %e s wall, %M KiB max RSS' \
		"$W/$name.test" -test.run '^$' -test.bench "$bench" -test.benchtime 1x -test.cpuprofile "$W/$name.cpu") >"$W/$name.out" 2>&1 ||
		{ cat "$W/$name.out"; exit 1; }
	grep -E '^Benchmark' "$W/$name.out" | figures "$label" "$target"
	echo "    load $before -> $(cut -d' ' -f1-3 /proc/loadavg); $(cat "$W/$name.time")"
	go tool pprof -tags "$W/$name.test" "$W/$name.cpu" 2>/dev/null | grep -E 'Total|fake|repeat' | sed 's/^/    /' || true
}
run graph-delta 'Graph delta repeat' 3 internal/collect/graph 'DeltaRepeat200x500'
run graph-full 'Graph full' 15 internal/collect/graph 'Collect200x500$'
run okta 'Okta full' 15 internal/collect/okta 'Collect200x500'
run google 'Google Workspace' 15 internal/collect/google 'Collect200'
