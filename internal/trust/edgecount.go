package trust

import (
	"fmt"
	"strings"
)

// EdgeCount is how many of a graph's edges convey a privilege under a
// query, and why each of the others does not. `firebreak blast` prints All
// and Usable in its first line; the dashboard's trust-graph explorer draws
// the Usable ones and says why the rest are not drawn. Both take the
// numbers from CountEdges, so they cannot disagree.
type EdgeCount struct {
	All    int `json:"all"`
	Usable int `json:"usable"`
	// JIT edges are just-in-time access not activated (not counted
	// unless the query includes just-in-time access).
	JIT int `json:"jit"`
	// Cut edges were removed by a what-if change.
	Cut int `json:"cut"`
	// Disabled edges start at a disabled identity, which does not act.
	Disabled int `json:"disabled"`
	// Closed edges are ways in whose condition does not hold: an account
	// or console with MFA, a host with no known-exploited flaw, or one
	// not exposed to the internet.
	Closed int `json:"closed"`
}

// CountEdges counts g's edges by whether they are usable under q, with the
// reasons in the order Usable applies them.
func (g *Graph) CountEdges(q Query) EdgeCount {
	c := EdgeCount{All: len(g.Edges)}
	for e := range g.Edges {
		ed := &g.Edges[e]
		switch {
		case g.usable(int32(e), q.IncludeJIT) != None:
			c.Usable++
		case ed.JIT && !q.IncludeJIT:
			c.JIT++
		case ed.Cut:
			c.Cut++
		case g.Nodes[ed.From].Disabled:
			c.Disabled++
		default:
			c.Closed++
		}
	}
	return c
}

// Unusable says why the edges that are not usable are not: "16
// just-in-time, 153 ways in that are closed (MFA, no known-exploited flaw,
// not exposed), 1 from a disabled identity" ("" when every edge is usable).
func (c EdgeCount) Unusable() string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{
		{c.JIT, "just-in-time (not activated)"},
		{c.Closed, "ways in that are closed (MFA, no known-exploited flaw, not exposed)"},
		{c.Disabled, "from a disabled identity"},
		{c.Cut, "cut by a what-if change"},
	} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return strings.Join(parts, ", ")
}
