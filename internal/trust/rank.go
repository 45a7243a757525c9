package trust

import (
	"cmp"
	"encoding/json"
	"slices"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Rank is one node's blast radius.
type Rank struct {
	Node int32    `json:"-"`
	ID   string   `json:"id"`
	Kind NodeKind `json:"kind"`
	Sub  string   `json:"sub,omitempty"`
	MFA  string   `json:"mfa,omitempty"`
	// Tenants[p] is the number of tenants reached at privilege ≥ p
	// (Tenants[Read] = at any privilege).
	Tenants [5]int32 `json:"-"`
	// Weighted is Σ criticality weight × endpoints over tenants reached at
	// ≥ admin; WeightedAny the same at any privilege.
	Weighted    float64 `json:"weighted_admin"`
	WeightedAny float64 `json:"weighted_any"`
	// Share is Tenants[Admin] / number of tenants.
	Share float64 `json:"share_admin"`
	// exposure breaks ties: of two nodes with the same weighted reach, the
	// one more easily taken ranks first (see takenBy).
	exposure int
	// TakenBy says what makes the node easy to take, most telling first
	// ("an entry point from the internet", "no MFA", …); empty when
	// nothing does.
	TakenBy []string `json:"-"`
}

// takenBy is how easily node n is taken, from the access facts: one point
// of exposureWeight (no MFA 3, weak 2, internet-exposed with a
// known-exploited flaw 4, …) plus 4 when an outsider takes it directly
// (entry: at admin or above, over a usable edge), and the reasons in words. The ranking breaks ties on the score
// with it, so the CLI's blast ranking and the dashboard's agree.
func takenBy(n *Node, entry bool) (int, []string) {
	w := exposureWeight(n)
	var why []string
	if entry {
		w += 4
		why = append(why, "an entry point from the internet")
	}
	if n.Kind == KindIdentity || (n.Kind == KindTool && n.Exposed) {
		switch n.MFA {
		case estate.MFANone:
			why = append(why, "no MFA")
		case estate.MFAWeak:
			why = append(why, "weak MFA")
		}
	}
	if n.Exposed {
		if len(n.KEV) > 0 {
			why = append(why, "internet-exposed with a known-exploited flaw")
		} else {
			why = append(why, "internet-exposed")
		}
	}
	return w, why
}

// AtFull, AtAdmin, AtOperate and AtAny are the tenant counts.
func (r Rank) AtFull() int    { return int(r.Tenants[Full]) }
func (r Rank) AtAdmin() int   { return int(r.Tenants[Admin]) }
func (r Rank) AtOperate() int { return int(r.Tenants[Operate]) }
func (r Rank) AtAny() int     { return int(r.Tenants[Read]) }

// Ranking is every node's blast radius, worst first.
type Ranking struct {
	Query   Query
	Tenants int    // tenants in the estate
	Ranks   []Rank // nodes reaching at least one tenant other than themselves; outsider excluded
	// Outsider is the outsider pseudo-node's reach (what the internet takes).
	Outsider Rank
	byNode   map[int32]int
	g        *Graph
}

// Ranking ranks every node by standing blast radius.
func (g *Graph) Ranking() *Ranking { return g.RankingWith(Query{}) }

// RankingWith ranks every node under q.
func (g *Graph) RankingWith(q Query) *Ranking {
	r := g.reachAll(q)
	return g.rankFrom(r, q)
}

func (g *Graph) rankFrom(r [5]passResult, q Query) *Ranking {
	T := len(g.tenants)
	rk := &Ranking{Query: q, Tenants: T, g: g}
	entry := map[int32]bool{}
	if len(g.adj.start) > 1 {
		for s := g.adj.start[0]; s < g.adj.start[1]; s++ {
			if e := g.adj.edge[s]; g.usable(e, q.IncludeJIT) >= Admin {
				entry[g.Edges[e].To] = true
			}
		}
	}
	mk := func(i int32) Rank {
		n := &g.Nodes[i]
		x := Rank{Node: i, ID: n.ID, Kind: n.Kind, Sub: n.Sub, Weighted: r[Admin].weight[i], WeightedAny: r[Read].weight[i]}
		if i != 0 {
			x.exposure, x.TakenBy = takenBy(n, entry[i])
		}
		if n.Kind == KindIdentity || n.Kind == KindTool {
			x.MFA = string(n.MFA)
		}
		for _, p := range Privs {
			x.Tenants[p] = r[p].count[i]
		}
		if T > 0 {
			x.Share = float64(x.Tenants[Admin]) / float64(T)
		}
		return x
	}
	rk.Outsider = mk(0)
	var ranks []Rank
	for i := int32(1); i < int32(len(g.Nodes)); i++ {
		if r[Read].count[i] == 0 {
			continue
		}
		if g.Nodes[i].Kind == KindTenant && r[Read].count[i] <= 1 {
			continue // a tenant reaching only itself
		}
		ranks = append(ranks, mk(i))
	}
	// Sort compact copies of the ranking fields (Rank is large: sorting it,
	// or indexes into it, missed the cache on nearly every compare of a
	// 300,000-node ranking, where most nodes tie on the leading fields).
	keys := make([]rankKey, len(ranks))
	for i := range ranks {
		keys[i] = keyOf(&ranks[i], int32(i))
	}
	slices.SortFunc(keys, compareKeys)
	rk.Ranks = make([]Rank, len(ranks))
	for i, k := range keys {
		rk.Ranks[i] = ranks[k.i]
	}
	rk.byNode = make(map[int32]int, len(rk.Ranks))
	for i, x := range rk.Ranks {
		rk.byNode[x.Node] = i
	}
	return rk
}

// rankKey holds the fields the ranking is ordered by; i is the rank's index
// in the slice being sorted.
type rankKey struct {
	w, wAny           float64
	full, admin, read int32
	kind              NodeKind
	exposure          int
	id                string
	i                 int32
}

func keyOf(r *Rank, i int32) rankKey {
	return rankKey{r.Weighted, r.WeightedAny, r.Tenants[Full], r.Tenants[Admin], r.Tenants[Read], r.Kind, r.exposure, r.ID, i}
}

// compareKeys orders worst first: weighted reach, then how easily the
// node is taken (takenBy), tenants at full control, admin and read,
// weighted reach at any privilege, and kind and id to break ties.
func compareKeys(a, b rankKey) int {
	if c := cmp.Compare(b.w, a.w); c != 0 {
		return c
	}
	if c := cmp.Compare(b.exposure, a.exposure); c != 0 {
		return c
	}
	if c := cmp.Compare(b.full, a.full); c != 0 {
		return c
	}
	if c := cmp.Compare(b.admin, a.admin); c != 0 {
		return c
	}
	if c := cmp.Compare(b.read, a.read); c != 0 {
		return c
	}
	if c := cmp.Compare(b.wAny, a.wAny); c != 0 {
		return c
	}
	if c := cmp.Compare(a.kind, b.kind); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// compareRank orders two ranks the way the ranking is sorted.
func compareRank(a, b *Rank) int { return compareKeys(keyOf(a, 0), keyOf(b, 0)) }

// Of returns node i's rank (zero counts when it reaches nothing).
func (rk *Ranking) Of(i int32) Rank {
	if i == 0 {
		return rk.Outsider
	}
	if k, ok := rk.byNode[i]; ok {
		return rk.Ranks[k]
	}
	n := &rk.g.Nodes[i]
	x := Rank{Node: i, ID: n.ID, Kind: n.Kind, Sub: n.Sub}
	if n.Kind == KindIdentity || n.Kind == KindTool {
		x.MFA = string(n.MFA)
	}
	return x
}

// Limit is the largest number of tenants a single compromise may reach at
// ≥ admin under share (at least 1 when there are tenants).
func Limit(tenants int, share float64) int {
	if tenants == 0 {
		return 0
	}
	l := int(share*float64(tenants) + 1e-9)
	if l < 1 {
		l = 1
	}
	return l
}

// Entry is one way an outsider gets in.
type Entry struct {
	Edge int32
	Node int32
	Why  string
	Priv Priv // privilege the entry itself gives over Node
	// Tenants reached through this entry, at ≥ admin and at any privilege.
	AtAdmin, AtAny int
	Weighted       float64
	KEV            []string
}

// EntryPoints lists what an outsider can take directly (standing edges),
// worst first.
func (g *Graph) EntryPoints() []Entry {
	return g.entries(g.Ranking())
}

func (g *Graph) entries(rk *Ranking) []Entry {
	eff := g.effective(rk.Query.IncludeJIT)
	var out []Entry
	for s := g.adj.start[0]; s < g.adj.start[1]; s++ {
		if eff[s] == None {
			continue
		}
		e := g.adj.edge[s]
		ed := &g.Edges[e]
		x := Entry{Edge: e, Node: ed.To, Why: ed.Why, Priv: eff[s], KEV: g.Nodes[ed.To].KEV}
		r := rk.Of(ed.To)
		if g.Nodes[ed.To].Kind == KindTenant {
			r.Tenants = [5]int32{0, 1, 1, 1, 1}
		}
		x.AtAny = int(r.Tenants[Read])
		if x.Priv >= Admin {
			x.AtAdmin = int(r.Tenants[Admin])
			x.Weighted = r.Weighted
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := cmp.Compare(b.Weighted, a.Weighted); c != 0 {
			return c
		}
		if c := cmp.Compare(b.AtAdmin, a.AtAdmin); c != 0 {
			return c
		}
		if c := cmp.Compare(b.AtAny, a.AtAny); c != 0 {
			return c
		}
		return cmp.Compare(g.Nodes[a.Node].ID, g.Nodes[b.Node].ID)
	})
	return out
}

// MarshalJSON writes the rank with its tenant counts (as RankView).
func (r Rank) MarshalJSON() ([]byte, error) { return json.Marshal(viewRank(r)) }
