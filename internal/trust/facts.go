package trust

import (
	"encoding/json"
	"math/bits"
	"slices"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// FactsDoc is the trust graph summary the assess engine puts in the Rego
// input as input.trust (see internal/assess/policies/trust.rego). Counts
// are of standing access at ≥ admin unless named otherwise.
type FactsDoc struct {
	Version int     `json:"version"`
	Tenants int     `json:"tenants"`
	Share   float64 `json:"share"`
	Limit   int     `json:"limit"`
	// Counts of nodes per kind (the population controls report on).
	Counts map[string]int `json:"counts"`
	// OverLimit: nodes whose compromise reaches more than Limit tenants.
	OverLimit []FactNode `json:"over_limit"`
	// EntryPoints an outsider takes directly (any privilege).
	EntryPoints []FactEntry `json:"entry_points"`
	// OutsiderAdmin: tenants an outsider reaches at ≥ admin.
	OutsiderAdmin []string `json:"outsider_admin"`
	// Vendors and subcontractors with their reach.
	Vendors []FactNode `json:"vendors"`
	// AdminIdentities: identities holding standing admin (or more) in two
	// or more tenants.
	AdminIdentities []FactNode `json:"admin_identities"`
	// IdentitiesWithAdmin counts identities reaching at least one tenant at ≥ admin.
	IdentitiesWithAdmin int `json:"identities_with_admin"`
	// CrossTenant: objects of one tenant that reach another tenant.
	CrossTenant []FactCross `json:"cross_tenant"`
	// ByTenant: per tenant, the ids from the lists above that reach it.
	ByTenant map[string]*FactTenant `json:"by_tenant"`
}

// FactNode is one node and its reach.
type FactNode struct {
	ID           string   `json:"id"`
	Kind         string   `json:"kind"`
	Sub          string   `json:"sub,omitempty"`
	MFA          string   `json:"mfa,omitempty"`
	TenantsAdmin int      `json:"tenants_admin"`
	TenantsAny   int      `json:"tenants_any"`
	Tenants      []string `json:"tenants,omitempty"` // at ≥ admin (capped at 50)
	Path         string   `json:"path,omitempty"`    // a proof path to one of them
}

// FactEntry is one entry point.
type FactEntry struct {
	ID           string   `json:"id"`
	Kind         string   `json:"kind"`
	Why          string   `json:"why"`
	Privilege    string   `json:"privilege"`
	KEV          []string `json:"kev,omitempty"`
	TenantsAdmin int      `json:"tenants_admin"`
	TenantsAny   int      `json:"tenants_any"`
	Path         string   `json:"path,omitempty"`
}

// FactCross is a path from one tenant's objects into other tenants.
type FactCross struct {
	Tenant  string   `json:"tenant"`
	Via     string   `json:"via"` // the object of Tenant that reaches out
	Kind    string   `json:"kind"`
	Reaches []string `json:"reaches"`
	Path    string   `json:"path,omitempty"`
}

// FactTenant lists, for one tenant, what reaches it. Each list is capped at
// 50 ids; the *N fields hold the full counts.
type FactTenant struct {
	OverLimit       []FactRef `json:"over_limit"`
	OverLimitN      int       `json:"over_limit_n"`
	Entries         []FactRef `json:"entry_points"`
	EntriesN        int       `json:"entry_points_n"`
	Vendors         []FactRef `json:"vendors"`
	AdminIdentities []FactRef `json:"admin_identities"`
	AdminIdentityN  int       `json:"admin_identities_n"`
	CrossIn         []FactRef `json:"cross_in"`
}

// FactRef names a node that reaches a tenant, with its MFA.
type FactRef struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	MFA  string `json:"mfa,omitempty"`
}

const factCap = 50

// Facts summarises the graph for the graph controls. The result is plain
// JSON-able data (maps and slices), ready for assess.Options.Extra["trust"].
func Facts(g *Graph) any {
	doc := FactsOf(g)
	b, err := json.Marshal(doc)
	if err != nil {
		return map[string]any{"version": 1, "error": err.Error()}
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return map[string]any{"version": 1, "error": err.Error()}
	}
	return out
}

// FactsOf is Facts as a typed document.
func FactsOf(g *Graph) *FactsDoc {
	T := len(g.tenants)
	rk := g.Ranking()
	doc := &FactsDoc{Version: 1, Tenants: T, Share: g.MaxTenantShare, Limit: Limit(T, g.MaxTenantShare),
		Counts: map[string]int{}, ByTenant: make(map[string]*FactTenant, T),
		OverLimit: []FactNode{}, EntryPoints: []FactEntry{}, OutsiderAdmin: []string{}, Vendors: []FactNode{},
		AdminIdentities: []FactNode{}, CrossTenant: []FactCross{}}
	for i := range g.Nodes {
		doc.Counts[g.Nodes[i].Kind.String()]++
	}
	for _, t := range g.tenants {
		doc.ByTenant[g.Nodes[t].ID] = &FactTenant{OverLimit: []FactRef{}, Entries: []FactRef{}, Vendors: []FactRef{}, AdminIdentities: []FactRef{}, CrossIn: []FactRef{}}
	}
	if T == 0 {
		return doc
	}
	eff := g.effective(false)
	entries := g.entries(rk)
	// Which nodes need their tenant sets at ≥ admin.
	want := map[int32]bool{0: true}
	for _, r := range rk.Ranks {
		n := &g.Nodes[r.Node]
		switch {
		case r.AtAdmin() > doc.Limit:
			want[r.Node] = true
		case n.Kind == KindVendor, n.Kind == KindIdentity && r.AtAdmin() >= 2:
			want[r.Node] = true
		case n.Home != estate.MSP && n.Home != "" && r.AtAdmin() >= 2:
			want[r.Node] = true
		}
	}
	for _, e := range entries {
		if e.Priv >= Admin {
			want[e.Node] = true
		}
	}
	sets := g.setsAt(eff, Admin, want)
	// tenantsOf lists (in estate order) up to limit tenants node i reaches.
	tenantsOf := func(i int32, limit int) []string {
		var out []string
		for w, word := range sets[i] {
			for word != 0 {
				if len(out) == limit {
					return out
				}
				b := bits.TrailingZeros64(word)
				word &= word - 1
				out = append(out, g.Nodes[g.tenants[w*64+b]].ID)
			}
		}
		return out
	}
	var ps pathSearch
	paths := 0 // proof paths cost one search each: at most maxProofs
	const maxProofs = 100
	proof := func(i int32) string {
		if paths >= maxProofs {
			return ""
		}
		paths++
		if p := ps.first(g, i, Admin, eff); p != nil {
			return FormatPath(g.Steps(p))
		}
		return ""
	}
	node := func(r Rank, withPath bool) FactNode {
		n := &g.Nodes[r.Node]
		f := FactNode{ID: n.ID, Kind: n.Kind.String(), Sub: n.Sub, TenantsAdmin: r.AtAdmin(), TenantsAny: r.AtAny()}
		if n.Kind == KindIdentity || n.Kind == KindTool {
			f.MFA = string(n.MFA)
		}
		f.Tenants = tenantsOf(r.Node, factCap)
		if withPath {
			f.Path = proof(r.Node)
		}
		return f
	}
	ref := func(i int32) FactRef {
		n := &g.Nodes[i]
		r := FactRef{ID: n.ID, Kind: n.Kind.String()}
		if n.Kind == KindIdentity || n.Kind == KindTool {
			r.MFA = string(n.MFA)
		}
		return r
	}
	each := func(i int32, fn func(ft *FactTenant)) {
		for w, word := range sets[i] {
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &= word - 1
				fn(doc.ByTenant[g.Nodes[g.tenants[w*64+b]].ID])
			}
		}
	}
	for _, r := range rk.Ranks {
		n := &g.Nodes[r.Node]
		if r.AtAdmin() > doc.Limit {
			doc.OverLimit = append(doc.OverLimit, node(r, true))
			each(r.Node, func(ft *FactTenant) {
				ft.OverLimitN++
				if len(ft.OverLimit) < factCap {
					ft.OverLimit = append(ft.OverLimit, ref(r.Node))
				}
			})
		}
		if n.Kind == KindIdentity {
			if r.AtAdmin() >= 1 {
				doc.IdentitiesWithAdmin++
			}
			if r.AtAdmin() >= 2 {
				doc.AdminIdentities = append(doc.AdminIdentities, node(r, false))
				each(r.Node, func(ft *FactTenant) {
					ft.AdminIdentityN++
					if len(ft.AdminIdentities) < factCap {
						ft.AdminIdentities = append(ft.AdminIdentities, ref(r.Node))
					}
				})
			}
		}
		if n.Kind == KindVendor {
			doc.Vendors = append(doc.Vendors, node(r, true))
			each(r.Node, func(ft *FactTenant) { ft.Vendors = append(ft.Vendors, ref(r.Node)) })
		}
		if home := n.Home; home != estate.MSP && home != "" && r.AtAdmin() >= 2 && n.Kind != KindVendor {
			var other []string
			for _, t := range tenantsOf(r.Node, -1) {
				if t != home {
					other = append(other, t)
				}
			}
			if len(other) > 0 && len(doc.CrossTenant) < 1000 {
				doc.CrossTenant = append(doc.CrossTenant, FactCross{Tenant: home, Via: n.ID, Kind: n.Kind.String(), Reaches: other, Path: proof(r.Node)})
				each(r.Node, func(ft *FactTenant) {
					if len(ft.CrossIn) < factCap {
						ft.CrossIn = append(ft.CrossIn, ref(r.Node))
					}
				})
			}
		}
	}
	// Vendors reaching nothing are still listed (with zero reach).
	for i := range g.Nodes {
		if g.Nodes[i].Kind == KindVendor && rk.Of(int32(i)).AtAny() == 0 {
			doc.Vendors = append(doc.Vendors, FactNode{ID: g.Nodes[i].ID, Kind: "vendor", Sub: g.Nodes[i].Sub})
		}
	}
	var ob *Blast
	for _, e := range entries {
		n := &g.Nodes[e.Node]
		fe := FactEntry{ID: n.ID, Kind: n.Kind.String(), Why: e.Why, Privilege: e.Priv.String(), KEV: e.KEV, TenantsAdmin: e.AtAdmin, TenantsAny: e.AtAny}
		if e.AtAdmin > 0 && paths < maxProofs {
			if ob == nil {
				paths++
				ob = g.blast(0, Query{}, eff)
			}
			for _, r := range ob.Tenants {
				if r.Priv >= Admin && len(r.Path) > 0 && r.Path[0] == e.Edge {
					fe.Path = FormatPath(g.Steps(r.Path))
					break
				}
			}
			if fe.Path == "" {
				if p := proof(e.Node); p != "" {
					fe.Path = "outsider -[entry]-> " + p
				}
			}
		}
		doc.EntryPoints = append(doc.EntryPoints, fe)
		if e.Priv >= Admin {
			each(e.Node, func(ft *FactTenant) {
				ft.EntriesN++
				if len(ft.Entries) < factCap {
					ft.Entries = append(ft.Entries, ref(e.Node))
				}
			})
		}
	}
	doc.OutsiderAdmin = append(doc.OutsiderAdmin, tenantsOf(0, -1)...)
	return doc
}

// setsAt returns the tenant bitsets at ≥ thr of the wanted nodes.
func (g *Graph) setsAt(eff []Priv, thr Priv, want map[int32]bool) map[int32][]uint64 {
	var ws workspace
	out := make(map[int32][]uint64, len(want))
	ws.keep = func(v int32, set []uint64) {
		if want[v] {
			out[v] = slices.Clone(set)
		}
	}
	g.passWS(&ws, eff, thr, false)
	return out
}

// pathSearch finds a shortest path at ≥ thr to the nearest tenant, reusing
// its buffers across calls.
type pathSearch struct {
	seen  []uint32
	stamp uint32
	par   []int32
	queue []int32
}

func (ps *pathSearch) first(g *Graph, src int32, thr Priv, eff []Priv) []int32 {
	n := len(g.Nodes)
	if len(ps.seen) != n {
		ps.seen, ps.par, ps.stamp = make([]uint32, n), make([]int32, n), 0
	}
	ps.stamp++
	ps.queue = append(ps.queue[:0], src)
	ps.seen[src] = ps.stamp
	for h := 0; h < len(ps.queue); h++ {
		v := ps.queue[h]
		for s := g.adj.start[v]; s < g.adj.start[v+1]; s++ {
			if eff[s] < thr {
				continue
			}
			w := g.adj.to[s]
			if ps.seen[w] == ps.stamp {
				continue
			}
			ps.seen[w] = ps.stamp
			ps.par[w] = g.adj.edge[s]
			if g.tbit[w] >= 0 {
				var p []int32
				for x := w; x != src; x = g.Edges[ps.par[x]].From {
					p = append(p, ps.par[x])
				}
				slices.Reverse(p)
				return p
			}
			ps.queue = append(ps.queue, w)
		}
	}
	return nil
}
