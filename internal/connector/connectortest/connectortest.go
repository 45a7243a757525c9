// Package connectortest starts the vendor fakes of the connector tests
// and benchmarks (oktatest, graphtest, googletest) so that their CPU can be
// told apart from the collector's: every goroutine of a fake's server (the
// accept loop, each connection's reads, writes and handler) carries the
// profiler label side=fake, inherited from the goroutine that starts it.
// A benchmark run with -test.cpuprofile then splits its CPU with
//
//	go tool pprof -tags BINARY PROFILE
//
// ("side: fake" against the unlabelled rest: the collector, plus the
// runtime's own work such as garbage collection, which belongs to neither
// alone). Imported by the fakes, and by the connector tests that check a
// fake and a connector against an excerpt of the vendor's published API
// description (Schemas).
package connectortest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"syscall"
	"time"
)

// Label is the profiler label key and FakeSide its value on the fake's
// goroutines.
const (
	Label    = "side"
	FakeSide = "fake"
)

// StartFake starts an httptest server for h whose goroutines carry the
// label side=fake. The caller closes it.
func StartFake(h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The connection's goroutine has the label from the start
		// already; the request context carries it too (and a handler's
		// own goroutines inherit it).
		ctx := pprof.WithLabels(r.Context(), pprof.Labels(Label, FakeSide))
		pprof.SetGoroutineLabels(ctx)
		h.ServeHTTP(w, r.WithContext(ctx))
	}))
	pprof.Do(context.Background(), pprof.Labels(Label, FakeSide), func(context.Context) { srv.Start() })
	return srv
}

// ProcessCPU is the process's user+system CPU time so far. The collector
// and its fake share the benchmark's process, so a difference of two
// readings is both sides' CPU (the profile's side=fake label splits it).
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
