package trust

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

var privNames = []estate.Privilege{estate.PrivRead, estate.PrivOperate, estate.PrivAdmin, estate.PrivFull}

// randomEstate builds a random estate of about n objects with cycles,
// groups of groups, vaults, vendors, agents, entry points and JIT grants.
func randomEstate(r *rand.Rand, n int) *estate.Estate {
	e := &estate.Estate{Provider: estate.Provider{ID: "msp"}}
	nt := 1 + r.IntN(max(2, n/5))
	var subjects, targets []string
	for i := range nt {
		id := fmt.Sprintf("t%d", i)
		e.Tenants = append(e.Tenants, estate.Tenant{ID: id, Criticality: []estate.Criticality{"low", "medium", "high", "critical"}[r.IntN(4)], Endpoints: r.IntN(50)})
		targets = append(targets, id)
	}
	for i := range 1 + r.IntN(max(2, n/4)) {
		id := fmt.Sprintf("i%d", i)
		x := estate.Identity{ID: id, Kind: estate.KindHuman, Home: "msp"}
		switch r.IntN(4) {
		case 0:
			x.MFA = mfa()
		case 1:
			x.MFA = mfa(estate.MFAPush)
		default:
			x.MFA = mfa(estate.MFAFIDO2)
		}
		if r.IntN(5) == 0 {
			x.Home = e.Tenants[r.IntN(nt)].ID
			x.Roles = []string{[]string{"Global Administrator", "Helpdesk Administrator", "Global Reader"}[r.IntN(3)]}
		}
		e.Identities = append(e.Identities, x)
		subjects = append(subjects, id)
		targets = append(targets, id)
	}
	for i := range r.IntN(max(2, n/8)) {
		id := fmt.Sprintf("g%d", i)
		gr := estate.Group{ID: id, Home: "msp"}
		for range 1 + r.IntN(3) {
			gr.Members = append(gr.Members, subjects[r.IntN(len(subjects))])
		}
		e.Groups = append(e.Groups, gr)
		subjects = append(subjects, id)
	}
	kinds := []estate.ToolKind{estate.ToolRMM, estate.ToolPSA, estate.ToolVault, estate.ToolRemoteAccess, estate.ToolBackupConsole}
	var tools []string
	for i := range r.IntN(max(2, n/8)) {
		id := fmt.Sprintf("k%d", i)
		tl := estate.Tool{ID: id, Kind: kinds[r.IntN(len(kinds))], InternetExposed: estate.Bool(r.IntN(3) == 0), MFAEnforced: estate.Bool(r.IntN(2) == 0)}
		e.Tools = append(e.Tools, tl)
		subjects = append(subjects, id)
		targets = append(targets, id)
		tools = append(tools, id)
	}
	for i := range r.IntN(max(2, n/4)) {
		id := fmt.Sprintf("a%d", i)
		a := estate.Asset{ID: id, Tenant: e.Tenants[r.IntN(nt)].ID, Kind: []string{"workstation", "server", "domain_controller"}[r.IntN(3)], Critical: r.IntN(4) == 0}
		if len(tools) > 0 && r.IntN(2) == 0 {
			a.Agents = []string{tools[r.IntN(len(tools))]}
		}
		if r.IntN(6) == 0 {
			a.InternetPorts = []int{3389}
		}
		e.Assets = append(e.Assets, a)
		targets = append(targets, id)
	}
	if len(tools) > 0 && r.IntN(2) == 0 {
		e.Vendors = append(e.Vendors, estate.Vendor{ID: "v0", Supplies: []string{tools[r.IntN(len(tools))]}})
	}
	for i := range r.IntN(n + 1) {
		g := estate.Grant{ID: fmt.Sprintf("x%d", i), Subject: subjects[r.IntN(len(subjects))], Target: targets[r.IntN(len(targets))], Privilege: privNames[r.IntN(4)]}
		if r.IntN(5) == 0 {
			g.Mode = estate.ModeJIT
		}
		if g.Subject == g.Target {
			continue
		}
		e.Grants = append(e.Grants, g)
	}
	return e
}

// oracle computes, by naive relaxation to a fixpoint, the best bottleneck
// privilege from src to every node.
func oracle(g *Graph, src int32, jit bool) []Priv {
	best := make([]Priv, len(g.Nodes))
	best[src] = Full
	for changed := true; changed; {
		changed = false
		for e := range g.Edges {
			ed := &g.Edges[e]
			p := g.usable(int32(e), jit)
			if p == None || best[ed.From] == None {
				continue
			}
			if nb := min(best[ed.From], p); nb > best[ed.To] {
				best[ed.To] = nb
				changed = true
			}
		}
	}
	return best
}

// hops is the BFS distance from src to every node using edges ≥ p.
func hops(g *Graph, src int32, p Priv, jit bool) []int {
	d := make([]int, len(g.Nodes))
	for i := range d {
		d[i] = -1
	}
	d[src] = 0
	q := []int32{src}
	for len(q) > 0 {
		u := q[0]
		q = q[1:]
		for e := range g.Edges {
			ed := &g.Edges[e]
			if ed.From == u && g.usable(int32(e), jit) >= p && d[ed.To] < 0 {
				d[ed.To] = d[u] + 1
				q = append(q, ed.To)
			}
		}
	}
	return d
}

func TestPropertyAgainstOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		e := randomEstate(r, 5+r.IntN(40))
		g, err := Build(e, Options{KEV: map[string][]string{"k0": {"CVE-0000-0001"}}})
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		for _, jit := range []bool{false, true} {
			q := Query{IncludeJIT: jit}
			rk := g.RankingWith(q)
			for s := range int32(len(g.Nodes)) {
				want := oracle(g, s, jit)
				b := g.Blast(s, q)
				got := make([]Priv, len(g.Nodes))
				for _, rs := range [][]Reached{b.Tenants, b.Assets, b.Other} {
					for _, x := range rs {
						x.Path = b.PathOf(x)
						got[x.Node] = x.Priv
						if err := checkPathQ(g, s, x, jit); err != nil {
							t.Fatalf("iter %d from %s to %s: %v", iter, g.Nodes[s].ID, g.Nodes[x.Node].ID, err)
						}
						if x.Node != s {
							if d := hops(g, s, x.Priv, jit)[x.Node]; d != len(x.Path) {
								t.Fatalf("iter %d from %s to %s: path of %d hops, shortest at %s is %d", iter, g.Nodes[s].ID, g.Nodes[x.Node].ID, len(x.Path), x.Priv, d)
							}
						}
					}
				}
				got[s] = Full
				if !slices.Equal(got, want) {
					t.Fatalf("iter %d jit=%v from %s: got %v, want %v", iter, jit, g.Nodes[s].ID, got, want)
				}
				// Ranking counts per threshold agree with the oracle.
				rr := rk.Of(s)
				for _, p := range Privs {
					n := int32(0)
					for _, ti := range g.tenants {
						if want[ti] >= p {
							n++
						}
					}
					if rr.Tenants[p] != n && !(g.Nodes[s].Kind == KindTenant && n <= 1) {
						t.Fatalf("iter %d jit=%v %s: ranking says %d tenants at ≥ %s, oracle %d", iter, jit, g.Nodes[s].ID, rr.Tenants[p], p, n)
					}
				}
			}
		}
	}
}

func checkPathQ(g *Graph, src int32, r Reached, jit bool) error {
	at, bott := src, Full
	for _, e := range r.Path {
		ed := &g.Edges[e]
		if ed.From != at {
			return fmt.Errorf("path not connected at %s", g.Nodes[at].ID)
		}
		p := g.usable(e, jit)
		if p == None {
			return fmt.Errorf("path uses unusable edge %s", g.EdgeID(e))
		}
		bott = min(bott, p)
		at = ed.To
	}
	if at != r.Node {
		return fmt.Errorf("path ends at %s", g.Nodes[at].ID)
	}
	if len(r.Path) > 0 && bott != r.Priv {
		return fmt.Errorf("bottleneck %s != claimed %s", bott, r.Priv)
	}
	return nil
}

// TestWhatIfMatchesRebuild: a what-if change gives the same ranking as
// building the graph from the estate edited the same way.
func TestWhatIfMatchesRebuild(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := range 100 {
		e := randomEstate(r, 10+r.IntN(30))
		g, err := Build(e, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Grants) == 0 || len(e.Identities) == 0 {
			continue
		}
		gi := r.IntN(len(e.Grants))
		ii := r.IntN(len(e.Identities))
		edited := *e
		edited.Grants = slices.Clone(e.Grants)
		edited.Identities = slices.Clone(e.Identities)
		var c Change
		switch iter % 3 {
		case 0:
			c = Change{Op: OpCut, Target: e.Grants[gi].ID}
			edited.Grants = slices.Delete(edited.Grants, gi, gi+1)
		case 1:
			c = Change{Op: OpJIT, Target: e.Grants[gi].ID}
			edited.Grants[gi].Mode = estate.ModeJIT
		case 2:
			c = Change{Op: OpHarden, Target: e.Identities[ii].ID, Value: "mfa:phishing-resistant"}
			edited.Identities[ii].MFA = mfa(estate.MFAFIDO2)
		}
		h, err := g.With(c)
		if err != nil {
			t.Fatalf("iter %d %s: %v", iter, c, err)
		}
		g2 := mustBuild(t, &edited, Options{})
		a, b := h.Ranking(), g2.Ranking()
		for i := range int32(len(g.Nodes)) {
			if a.Of(i).Tenants != b.Of(i).Tenants {
				t.Fatalf("iter %d %s: %s what-if %v, rebuilt %v", iter, c, g.Nodes[i].ID, a.Of(i).Tenants, b.Of(i).Tenants)
			}
		}
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
