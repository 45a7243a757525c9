package trust

import (
	"math/rand/v2"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/access"
)

// The access matrix gives, for every principal and tenant, the oracle's
// best bottleneck privilege over standing edges and with just-in-time
// edges, and a first hop that is a usable edge from the principal whose
// head still reaches the tenant at that privilege.
func TestMatrixAgainstOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cells := 0
	for iter := range 200 {
		e := randomEstate(r, 5+r.IntN(40))
		g, err := Build(e, Options{KEV: map[string][]string{"k0": {"CVE-0000-0001"}}})
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		m := g.Matrix()
		for p, pr := range m.Principals {
			s := pr.Node
			std, jit := oracle(g, s, false), oracle(g, s, true)
			row := m.Row(p)
			got := map[int32]access.Cell{}
			for _, c := range row {
				got[c.Tenant] = c
			}
			for k, ti := range g.tenants {
				c, ok := got[int32(k)]
				if want := access.Level(std[ti]); c.Standing != want {
					t.Fatalf("iter %d %s in %s: standing %s, oracle %s", iter, pr.ID, g.Nodes[ti].ID, c.Standing, want)
				}
				if want := access.Level(jit[ti]); c.Eligible != want {
					t.Fatalf("iter %d %s in %s: eligible %s, oracle %s", iter, pr.ID, g.Nodes[ti].ID, c.Eligible, want)
				}
				if !ok {
					continue
				}
				cells++
				for _, hop := range []struct {
					via int32
					lvl access.Level
					jit bool
				}{{c.Via, c.Standing, false}, {c.JITVia, c.Eligible, true}} {
					if hop.lvl == access.LevelNone {
						continue
					}
					if !g.hopReaches(s, hop.via, ti, Priv(hop.lvl), hop.jit) {
						t.Fatalf("iter %d %s in %s at %s (jit %v): via %d is not a hop reaching it", iter, pr.ID, g.Nodes[ti].ID, hop.lvl, hop.jit, hop.via)
					}
				}
			}
		}
	}
	if cells < 1000 {
		t.Fatalf("only %d cells checked", cells)
	}
}

// hopReaches: an edge s → via usable at ≥ p exists and via reaches tenant
// node ti at ≥ p.
func (g *Graph) hopReaches(s, via, ti int32, p Priv, jit bool) bool {
	if via < 0 {
		return false
	}
	for e := range g.Edges {
		ed := &g.Edges[e]
		if ed.From == s && ed.To == via && g.usable(int32(e), jit) >= p {
			return via == ti || oracle(g, via, jit)[ti] >= p
		}
	}
	return false
}
