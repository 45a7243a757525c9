#!/usr/bin/env bash
# The identity collectors' speed targets (issue 13), each benchmark once,
# with the CPU split between the collector and the vendor fake it talks to:
#   - Graph delta repeat, 200 tenants x 500 users      (target <= 3 s)
#   - Graph full collection, 200 x 500                  (target <= 15 s)
#   - Okta full collection, 200 orgs x 500 users        (target <= 15 s)
#   - Google Workspace, 200 customers x 500 users       (target <= 15 s)
# Every fake call waits 50 ms (the injected latency); throttling as each
# benchmark documents. Not part of `go test`.
#
# usage: bench/identity.sh [WORKDIR]       (default /tmp/firebreak-identity-bench)
#
# For each benchmark it prints the load average before and after, the
# benchmark's own line (wall s/run, calls, cpu-s(client+fake)), GNU time's
# user+sys for the whole process, and `go tool pprof -tags`: the fake's
# goroutines carry side=fake (internal/connector/connectortest), the Graph
# repeat's phase=repeat; the unlabelled rest is the collector plus the Go
# runtime (GC, scheduler). Wall time is only meaningful on a quiet machine
# (load average well under the 2 cores); the CPU split holds under load.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/firebreak-identity-bench}
mkdir -p "$W"
run() { # name package bench
	local name=$1 pkg=$2 bench=$3
	go test -c -o "$W/$name.test" "./$pkg"
	echo "== $name ($bench)   load: $(cut -d' ' -f1-3 /proc/loadavg)"
	(cd "$pkg" && /usr/bin/time -f 'process: %U user + %S sys CPU-s, %e s wall, %M KiB max RSS' \
		"$W/$name.test" -test.run '^$' -test.bench "$bench" -test.benchtime 1x -test.cpuprofile "$W/$name.cpu") 2>&1 |
		grep -E '^Benchmark|^process:'
	go tool pprof -tags "$W/$name.test" "$W/$name.cpu" 2>/dev/null | grep -E 'Total|fake|repeat' || true
	echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}
run graph-delta internal/collect/graph 'DeltaRepeat200x500'
run graph-full internal/collect/graph 'Collect200x500$'
run okta internal/collect/okta 'Collect200x500'
run google internal/collect/google 'Collect200'
