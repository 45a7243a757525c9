package assess

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// BenchmarkAssess evaluates the full catalog on a generated estate of the
// size the issue sets (2,000 tenants, 100,000 identities, 200,000 grants,
// 200,000 assets). Generation is outside the timed loop; loading and
// rendering are measured by the estate and report benchmarks and by
// `firebreak assess -v` (see docs/usage.md "Performance").
func BenchmarkAssess(b *testing.B) {
	cat, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	// The real 2025-08-25 snapshot the kev package tests with (1,404
	// entries), else this package's small test catalog.
	kc, err := kev.Load("../collect/kev/testdata/known_exploited_vulnerabilities-2025.08.25.json.gz")
	if err != nil {
		if kc, err = kev.Load("testdata/kev.json"); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	e := estate.Generate(estate.GenOptions{Tenants: 2000, Identities: 100_000, Grants: 200_000, Assets: 200_000, Seed: 1, Now: now})
	en, err := New(cat, Options{Clock: func() time.Time { return now }, KEV: kc})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var rep *Report
	var cpu time.Duration
	for b.Loop() {
		c0 := cpuTime()
		rep, err = en.Run(context.Background(), e)
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(len(rep.Results)), "results")
	b.ReportMetric(rep.Timing.Index.Seconds(), "index-s")
	b.ReportMetric(rep.Timing.Evaluate.Seconds(), "eval-s")
	b.ReportMetric(rep.Timing.Finish.Seconds(), "finish-s")
}

// cpuTime is the process's user+system CPU time: on the shared development
// machine wall time varies with other work, CPU time much less.
func cpuTime() time.Duration { return ProcessCPU() }
