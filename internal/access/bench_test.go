package access

import (
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// BenchmarkCompute derives the access facts of the 2,000-tenant generated
// estate (what assess and blast share).
func BenchmarkCompute(b *testing.B) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	e := estate.Generate(estate.GenOptions{Tenants: 2000, Identities: 100_000, Grants: 200_000, Assets: 200_000, Seed: 1, Now: now})
	b.ReportAllocs()
	for b.Loop() {
		Compute(e, Options{Now: now})
	}
}
