package assess_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// BenchmarkAssessTrust is BenchmarkAssess as `firebreak assess` runs it by
// default: the trust graph is built and its facts (input.trust) feed the
// FB-TRUST controls. Building the graph and the facts is inside the timed
// loop, as it is part of every assessment.
func BenchmarkAssessTrust(b *testing.B) {
	cat, err := catalog.Load()
	if err != nil {
		b.Fatal(err)
	}
	kc, err := kev.Load("../collect/kev/testdata/known_exploited_vulnerabilities-2025.08.25.json.gz")
	if err != nil {
		if kc, err = kev.Load("testdata/kev.json"); err != nil {
			b.Fatal(err)
		}
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	e := estate.Generate(estate.GenOptions{Tenants: 2000, Identities: 100_000, Grants: 200_000, Assets: 200_000, Seed: 1, Now: now})
	runtime.GC()
	var rep *assess.Report
	var cpu, tTrust time.Duration
	for b.Loop() {
		c0 := benchCPU()
		t0 := time.Now()
		acc := access.Compute(e, access.Options{Now: now, KEV: kc}) // shared, as the CLI does
		g, err := trust.Build(e, trust.Options{Now: now, Access: acc})
		if err != nil {
			b.Fatal(err)
		}
		facts := trust.FactsOf(g)
		tTrust += time.Since(t0)
		en, err := assess.New(cat, assess.Options{Clock: func() time.Time { return now }, KEV: kc, Access: acc,
			Trust: func() (*trust.FactsDoc, error) { return facts, nil }})
		if err != nil {
			b.Fatal(err)
		}
		rep, err = en.Run(context.Background(), e)
		if err != nil {
			b.Fatal(err)
		}
		cpu += benchCPU() - c0
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(len(rep.Results)), "results")
	b.ReportMetric(tTrust.Seconds()/float64(b.N), "trust-s")
	b.ReportMetric(rep.Timing.Index.Seconds(), "index-s")
	b.ReportMetric(rep.Timing.Evaluate.Seconds(), "eval-s")
}

func benchCPU() time.Duration { return assess.ProcessCPU() }
