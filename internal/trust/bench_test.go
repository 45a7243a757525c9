package trust

import (
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// The scale the issue asks for: 5,000 tenants, 50,000 identities and about
// 1,000,000 edges.
func scaleEstate() *estate.Estate {
	return estate.Generate(estate.GenOptions{Tenants: 5000, Identities: 50000, Grants: 450000, Assets: 150000, Seed: 1})
}

func benchGraph(b *testing.B) *Graph {
	b.Helper()
	e := scaleEstate()
	g, err := Build(e, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(g.Edges)), "edges")
	b.ReportMetric(float64(len(g.Nodes)), "nodes")
	return g
}

// BenchmarkBuild measures turning the estate into the graph.
func BenchmarkBuild(b *testing.B) {
	e := scaleEstate()
	c0 := cpuTime()
	for b.Loop() {
		if _, err := Build(e, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, c0)
}

// reportCPU adds the CPU time per operation (all threads, GC included).
func reportCPU(b *testing.B, c0 time.Duration) {
	if c := cpuTime(); c > 0 && b.N > 0 {
		b.ReportMetric(float64((c-c0).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}

// BenchmarkRanking measures the full ranking of every node (four threshold
// passes), including the per-edge condition evaluation.
func BenchmarkRanking(b *testing.B) {
	g := benchGraph(b)
	c0 := cpuTime()
	for b.Loop() {
		// Evaluate every edge's conditions afresh, then the four passes.
		rk := g.rankFrom(g.reachAllEff(g.computeEff(false, nil)), Query{})
		if len(rk.Ranks) == 0 {
			b.Fatal("empty ranking")
		}
	}
	reportCPU(b, c0)
}

// BenchmarkBlastFrom measures one --from query from a technician.
func BenchmarkBlastFrom(b *testing.B) {
	g := benchGraph(b)
	i, err := g.NodeIndex("tech-0001")
	if err != nil {
		// Fall back to the node with the widest reach among identities.
		for k := range g.Nodes {
			if g.Nodes[k].Kind == KindIdentity && g.Nodes[k].Home == estate.MSP {
				i = int32(k)
				break
			}
		}
	}
	g.effective(false)
	var n int
	c0 := cpuTime()
	for b.Loop() {
		n = len(g.Blast(i, Query{}).Tenants)
	}
	reportCPU(b, c0)
	b.ReportMetric(float64(n), "tenants")
}

// BenchmarkFacts measures the summary the assess engine receives.
func BenchmarkFacts(b *testing.B) {
	g := benchGraph(b)
	c0 := cpuTime()
	for b.Loop() {
		_ = FactsOf(g)
	}
	reportCPU(b, c0)
}

// BenchmarkSummaryMSP measures the default `firebreak blast` screen
// (ranking, entry points, the fix-first plan) on the estate `gen-estate`
// writes by default: 2,000 tenants, 100,000 identities, 200,000 grants,
// 200,000 assets (about 300,000 nodes and 950,000 edges), with the access
// facts as blast builds them. Before the plan's candidate list was built
// once per node it did not finish in 50 minutes.
func BenchmarkSummaryMSP(b *testing.B) {
	e := estate.Generate(estate.GenOptions{Tenants: 2000, Identities: 100000, Grants: 200000, Assets: 200000, Seed: 1})
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	g, err := Build(e, Options{Now: now, Access: access.Compute(e, access.Options{Now: now})})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(g.Edges)), "edges")
	var steps int
	c0 := cpuTime()
	for b.Loop() {
		r, err := NewReport(g, ReportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		steps = len(r.Plan.Steps)
	}
	reportCPU(b, c0)
	b.ReportMetric(float64(steps), "steps")
}
