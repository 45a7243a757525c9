package assess

import (
	"context"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// BenchmarkTenantEval measures one tenant's evaluation (the unit of work
// that BenchmarkAssess repeats per tenant) on a generated estate with the
// full-size per-tenant shape (50 identities, 100 grants, 100 assets).
func BenchmarkTenantEval(b *testing.B) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	e := estate.Generate(estate.GenOptions{Tenants: 20, Identities: 1000, Grants: 2000, Assets: 2000, Seed: 1, Now: now})
	en, err := New(loadCatalog(b), Options{Clock: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	x := newIndex(e, now, nil, nil)
	st := x.static(obj(f("loaded", boolean(false)), f("missing", str("x"))), nil)
	st.principals = ast.NewTerm(ast.NewObject())
	in := x.input(st, e.Tenants[1].ID)
	for b.Loop() {
		if _, err := en.pq.Eval(context.Background(), rego.EvalParsedInput(in)); err != nil {
			b.Fatal(err)
		}
	}
}
