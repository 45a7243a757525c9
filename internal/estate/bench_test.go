package estate

import (
	"flag"
	"testing"
)

var benchFull = flag.Bool("bench-full", false, "run BenchmarkLoadValidate at the issue's size (2,000 tenants, 100k identities, 200k grants, 200k assets)")

// BenchmarkLoadValidate loads and validates a generated estate written as
// YAML + CSV imports. By default it uses a tenth of the size so a
// -bench run stays short; -bench-full uses the full size.
func BenchmarkLoadValidate(b *testing.B) {
	o := GenOptions{Tenants: 200, Identities: 10_000, Grants: 20_000, Assets: 20_000, Seed: 1}
	if *benchFull {
		o = GenOptions{Tenants: 2000, Identities: 100_000, Grants: 200_000, Assets: 200_000, Seed: 1}
	}
	dir := b.TempDir()
	if err := WriteDir(dir, Generate(o), WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for b.Loop() {
		e, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		if len(e.Grants) != o.Grants {
			b.Fatalf("grants = %d", len(e.Grants))
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
}

// BenchmarkLoadYAMLBulk is the same estate with the bulk sections as YAML,
// to show why gen-estate writes CSV by default.
func BenchmarkLoadYAMLBulk(b *testing.B) {
	o := GenOptions{Tenants: 200, Identities: 10_000, Grants: 20_000, Assets: 20_000, Seed: 1}
	dir := b.TempDir()
	if err := WriteDir(dir, Generate(o), WriteOptions{Bulk: "yaml"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for b.Loop() {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		Generate(GenOptions{Tenants: 200, Identities: 10_000, Grants: 20_000, Assets: 20_000, Seed: 1})
	}
}
