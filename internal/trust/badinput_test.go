package trust

import (
	"fmt"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// TestMillionEdgeNode: one identity with a million grants (a node with a
// million out-edges, most of them parallel).
func TestMillionEdgeNode(t *testing.T) {
	const tenants, grants = 1000, 1_000_000
	e := &estate.Estate{Identities: []estate.Identity{{ID: "octopus", Kind: estate.KindHuman, Home: "msp", MFA: mfa(estate.MFAPush)}}}
	for i := range tenants {
		e.Tenants = append(e.Tenants, estate.Tenant{ID: fmt.Sprintf("t%04d", i)})
	}
	e.Grants = make([]estate.Grant, grants)
	for i := range e.Grants {
		e.Grants[i] = estate.Grant{Subject: "octopus", Target: e.Tenants[i%tenants].ID, Privilege: privNames[i%4]}
	}
	g := mustBuild(t, e, Options{})
	if len(g.Edges) < grants {
		t.Fatalf("%d edges, want at least %d", len(g.Edges), grants)
	}
	rk := g.Ranking()
	if r := rk.Ranks[0]; r.ID != "octopus" || r.AtAny() != tenants || r.AtFull() != tenants/4 {
		t.Errorf("top rank %s: any %d full %d, want octopus %d %d", r.ID, r.AtAny(), r.AtFull(), tenants, tenants/4)
	}
	b, err := g.BlastFrom("octopus")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Tenants) != tenants {
		t.Errorf("blast reaches %d tenants, want %d", len(b.Tenants), tenants)
	}
}

// TestDeepChain: a 100,000-hop chain of grants and a cycle closing it must
// not exhaust the stack (Tarjan and the searches are iterative).
func TestDeepChain(t *testing.T) {
	const n = 100_000
	e := &estate.Estate{Tenants: []estate.Tenant{{ID: "end"}}}
	e.Identities = make([]estate.Identity, n)
	e.Grants = make([]estate.Grant, 0, n+1)
	for i := range n {
		e.Identities[i] = estate.Identity{ID: fmt.Sprintf("i%d", i), Kind: estate.KindService, Home: "msp"}
		if i > 0 {
			e.Grants = append(e.Grants, estate.Grant{Subject: fmt.Sprintf("i%d", i-1), Target: fmt.Sprintf("i%d", i), Privilege: estate.PrivAdmin})
		}
	}
	e.Grants = append(e.Grants,
		estate.Grant{Subject: fmt.Sprintf("i%d", n-1), Target: "end", Privilege: estate.PrivFull},
		estate.Grant{Subject: fmt.Sprintf("i%d", n-1), Target: "i0", Privilege: estate.PrivRead}) // closes a cycle
	g := mustBuild(t, e, Options{})
	rk := g.Ranking()
	i0, _ := g.NodeIndex("i0")
	if r := rk.Of(i0); r.AtAdmin() != 1 {
		t.Errorf("i0 reaches %d tenants at admin, want 1", r.AtAdmin())
	}
	b := g.Blast(i0, Query{})
	if len(b.Tenants) != 1 || b.Tenants[0].Priv != Admin || len(b.Tenants[0].Path) != n {
		t.Errorf("blast from i0: %d tenants, want 1 at admin with a %d-hop path", len(b.Tenants), n)
	}
}

func TestAmbiguousIDs(t *testing.T) {
	e := &estate.Estate{
		Tenants:    []estate.Tenant{{ID: "acme"}},
		Tools:      []estate.Tool{{ID: "acme", Kind: estate.ToolPSA}},
		Identities: []estate.Identity{{ID: "bob", Kind: estate.KindHuman, Home: "msp", MFA: mfa(estate.MFAFIDO2)}},
		Grants:     []estate.Grant{{ID: "g1", Subject: "bob", Target: "acme", Privilege: estate.PrivAdmin}},
	}
	g := mustBuild(t, e, Options{})
	if _, err := g.NodeIndex("acme"); err == nil || !strings.Contains(err.Error(), "tenant:acme") {
		t.Errorf("ambiguous lookup: %v", err)
	}
	// A grant's target prefers the tenant.
	b, _ := g.BlastFrom("bob")
	if d := tenantPrivs(g, b); d["acme"] != "admin" {
		t.Errorf("bob reaches %v", d)
	}
	if _, err := g.NodeIndex("tool:acme"); err != nil {
		t.Error(err)
	}
}

// FuzzGraph builds random estates from the fuzzer's seed and checks the
// bitset ranking against the naive oracle; it must never panic or hang.
func FuzzGraph(f *testing.F) {
	for _, s := range []uint64{1, 2, 3, 42, 1 << 40} {
		f.Add(s, uint8(20))
	}
	f.Fuzz(func(t *testing.T, seed uint64, size uint8) {
		r := newRand(seed)
		e := randomEstate(r, 3+int(size)%60)
		g, err := Build(e, Options{KEV: map[string][]string{"k0": {"CVE-0000-0001"}}})
		if err != nil {
			t.Fatal(err)
		}
		rk := g.Ranking()
		for s := range int32(len(g.Nodes)) {
			want := oracle(g, s, false)
			n := int32(0)
			for _, ti := range g.tenants {
				if want[ti] >= Admin {
					n++
				}
			}
			if got := rk.Of(s).Tenants[Admin]; got != n && !(g.Nodes[s].Kind == KindTenant && n <= 1) {
				t.Fatalf("%s: %d tenants at admin, oracle %d", g.Nodes[s].ID, got, n)
			}
		}
		_ = g.Suggest(SuggestOptions{MaxSteps: 3})
	})
}

// FuzzParseChange: what-if flag values never panic and round-trip.
func FuzzParseChange(f *testing.F) {
	for _, s := range []string{"tech-01=mfa:phishing-resistant", "rmm=patched", "g-1", "a->b", "grp->*", "*->rmm", "=", "x=", "member:a->b"} {
		f.Add(s)
	}
	g := mustBuild(f, kaseyaEstate(3), Options{})
	f.Fuzz(func(t *testing.T, s string) {
		for _, op := range []Op{OpCut, OpHarden, OpJIT} {
			c, err := ParseChange(op, s)
			if err != nil {
				continue
			}
			if c.Op != op {
				t.Fatalf("op %s became %s", op, c.Op)
			}
			_, _ = g.With(c) // unknown targets are errors, never panics
		}
	})
}
