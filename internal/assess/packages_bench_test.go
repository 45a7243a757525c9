package assess

import (
	"context"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// BenchmarkPolicyPackages evaluates each built-in package alone on one
// generated tenant, to find the costly policies.
func BenchmarkPolicyPackages(b *testing.B) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	e := estate.Generate(estate.GenOptions{Tenants: 20, Identities: 1000, Grants: 2000, Assets: 2000, Seed: 1, Now: now})
	x := newIndex(e, now, nil, nil)
	st := x.static(obj(f("loaded", boolean(false)), f("missing", str("x"))), nil)
	st.principals = ast.NewTerm(ast.NewObject())
	in := x.input(st, e.Tenants[1].ID)
	var mods []func(*rego.Rego)
	files, _ := embeddedPolicies.ReadDir("policies")
	for _, fe := range files {
		src, _ := embeddedPolicies.ReadFile("policies/" + fe.Name())
		mods = append(mods, rego.Module(fe.Name(), string(src)))
	}
	for _, pkg := range []string{"exposure", "logging", "mfa", "network", "privilege", "accounts", "updates", "backups", "ir", "contracts", "supply_chain", "authz", "trust"} {
		b.Run(pkg, func(b *testing.B) {
			pq, err := rego.New(append(mods, rego.Query("r := data.firebreak.checks."+pkg+".results"))...).PrepareForEval(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := pq.Eval(context.Background(), rego.EvalParsedInput(in)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
