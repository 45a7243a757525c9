package trust

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Suggestion is one step of a plan.
type Suggestion struct {
	Change Change `json:"change"`
	// Why says in words what the change is and does.
	Why string `json:"why"`
	// Gain is how much the plan's excess (Σ over nodes of tenants reached
	// at ≥ admin beyond the limit) drops with this step.
	Gain int `json:"gain"`
	// Helped lists the nodes whose admin reach dropped most, before/after.
	Helped []Delta `json:"-"`
	// ProofFrom and Proof: a path, before the change, from the most helped
	// node to a tenant it no longer reaches at ≥ admin.
	ProofFrom int32   `json:"-"`
	Proof     []int32 `json:"-"`
	edges     []int32
	node      int32
}

// Plan is a small set of changes that bound every single compromise.
type Plan struct {
	Share   float64 `json:"share"`
	Limit   int     `json:"limit"` // tenants at ≥ admin a single compromise may reach
	Tenants int     `json:"tenants"`
	Steps   []Suggestion
	// Excess before and after the plan: Σ over nodes of max(0, tenants at
	// ≥ admin − Limit). Zero means the goal is met.
	ExcessBefore, ExcessAfter int
	// Residual lists the nodes still above the limit after the plan:
	// nodes whose reach comes from structure the plan does not touch
	// (agents, vendor update channels, identity providers).
	Residual []Rank
	// Graph is the graph with every step applied.
	Graph *Graph `json:"-"`
}

// SuggestOptions bound the search.
type SuggestOptions struct {
	Share    float64 // target share of tenants (default: the graph's MaxTenantShare)
	MaxSteps int     // default 10
	// Candidates caps how many actions are evaluated per step (default 80).
	Candidates int
}

// candidate is an action the search may take.
type candidate struct {
	change Change
	why    string
	edges  []int32 // edges cut/made JIT
	node   int32   // node hardened, or -1
	harden hardening
	pref   int // tie-break: lower is preferred (harden < jit < cut)
	freq   int
}

// Suggest finds a small set of changes so that no single node reaches more
// than Share of the tenants at ≥ admin over standing edges. The method is
// greedy: at each step it evaluates every candidate action on the proof
// paths of the current worst nodes and takes the one that lowers the excess
// most; when no single action lowers it, it tries pairs; it stops when the
// excess is zero, nothing helps, or MaxSteps is reached.
func (g *Graph) Suggest(o SuggestOptions) *Plan {
	if o.Share <= 0 {
		o.Share = g.MaxTenantShare
	}
	if o.Share <= 0 {
		o.Share = estate.DefaultSettings().MaxTenantShare
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = 10
	}
	if o.Candidates <= 0 {
		o.Candidates = 80
	}
	T := len(g.tenants)
	p := &Plan{Share: o.Share, Tenants: T, Limit: Limit(T, o.Share)}
	h, _ := g.With()
	p.Graph = h
	if T == 0 {
		return p
	}
	var effBuf []Priv
	eval := func() (excess int, total int64, counts []int32) {
		effBuf = h.computeEff(false, effBuf)
		r := h.pass(effBuf, Admin)
		for _, c := range r.count {
			total += int64(c)
			if int(c) > p.Limit {
				excess += int(c) - p.Limit
			}
		}
		return excess, total, r.count
	}
	excess, total, counts := eval()
	p.ExcessBefore = excess
	for step := 0; step < o.MaxSteps && excess > 0; step++ {
		cands := h.candidates(effBuf, counts, p.Limit, o.Candidates)
		if len(cands) == 0 {
			break
		}
		type scored struct {
			c      []candidate
			ex     int
			tot    int64
			counts []int32
		}
		var best *scored
		better := func(s *scored) bool {
			if best == nil {
				return true
			}
			if s.ex != best.ex {
				return s.ex < best.ex
			}
			if len(s.c) != len(best.c) {
				return len(s.c) < len(best.c)
			}
			if s.tot != best.tot {
				return s.tot < best.tot
			}
			return s.c[0].pref < best.c[0].pref
		}
		for _, c := range cands {
			undo := h.applyCand(c)
			ex, tot, cn := eval()
			undo()
			s := &scored{c: []candidate{c}, ex: ex, tot: tot, counts: cn}
			if ex < excess && better(s) {
				best = s
			}
		}
		if best == nil {
			// No single action helps: try pairs (parallel paths).
			lim := min(len(cands), 30)
			for i := 0; i < lim; i++ {
				for j := i + 1; j < lim; j++ {
					u1 := h.applyCand(cands[i])
					u2 := h.applyCand(cands[j])
					ex, tot, cn := eval()
					u2()
					u1()
					s := &scored{c: []candidate{cands[i], cands[j]}, ex: ex, tot: tot, counts: cn}
					if ex < excess && better(s) {
						best = s
					}
				}
			}
		}
		if best == nil {
			break
		}
		// Record each chosen action with its proof, then apply it.
		for _, c := range best.c {
			effBuf = h.computeEff(false, effBuf)
			before := h.pass(effBuf, Admin).count
			beforeEff := slices.Clone(effBuf)
			h.applyCand(c)
			ex, tot, after := eval()
			sg := Suggestion{Change: c.change, Why: c.why, Gain: excess - ex, edges: c.edges, node: c.node, ProofFrom: -1}
			// Nodes helped, most first.
			type drop struct {
				i    int32
				d, b int32
			}
			var drops []drop
			for i := range before {
				if before[i] > after[i] {
					drops = append(drops, drop{int32(i), before[i] - after[i], before[i]})
				}
			}
			slices.SortFunc(drops, func(a, b drop) int {
				if c := cmp.Compare(b.d, a.d); c != 0 {
					return c
				}
				if c := cmp.Compare(b.b, a.b); c != 0 {
					return c
				}
				return cmp.Compare(a.i, b.i)
			})
			for k, d := range drops {
				if k == 5 {
					break
				}
				sg.Helped = append(sg.Helped, Delta{
					Before: Rank{Node: d.i, ID: h.Nodes[d.i].ID, Kind: h.Nodes[d.i].Kind, Tenants: [5]int32{Admin: d.b}},
					After:  Rank{Node: d.i, ID: h.Nodes[d.i].ID, Kind: h.Nodes[d.i].Kind, Tenants: [5]int32{Admin: d.b - d.d}},
				})
			}
			if len(drops) > 0 {
				sg.ProofFrom, sg.Proof = h.proofLost(drops[0].i, beforeEff)
			}
			p.Steps = append(p.Steps, sg)
			excess, total, counts = ex, tot, after
		}
	}
	_ = total
	p.ExcessAfter = excess
	rk := h.Ranking()
	for _, r := range append([]Rank{rk.Outsider}, rk.Ranks...) {
		if r.AtAdmin() > p.Limit {
			p.Residual = append(p.Residual, r)
		}
	}
	slices.SortStableFunc(p.Residual, compareRank)
	return p
}

// proofLost returns a path (under beforeEff) from src to a tenant at ≥ admin
// that src no longer reaches at ≥ admin in h's current state.
func (h *Graph) proofLost(src int32, beforeEff []Priv) (int32, []int32) {
	pre := h.blast(src, Query{}, beforeEff)
	post := h.blast(src, Query{}, h.computeEff(false, nil))
	now := map[int32]Priv{}
	for _, r := range post.Tenants {
		now[r.Node] = r.Priv
	}
	for _, r := range pre.Tenants {
		if r.Priv >= Admin && now[r.Node] < Admin && len(r.Path) > 0 {
			return src, r.Path
		}
	}
	return -1, nil
}

// candidates lists the actions on the admin paths of the worst nodes.
func (h *Graph) candidates(eff []Priv, counts []int32, limit, maxc int) []candidate {
	type v struct {
		i int32
		c int32
	}
	var viol []v
	for i, c := range counts {
		if int(c) > limit {
			viol = append(viol, v{int32(i), c})
		}
	}
	slices.SortFunc(viol, func(a, b v) int {
		if c := cmp.Compare(b.c, a.c); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	if len(viol) > 25 {
		viol = viol[:25]
	}
	freq := map[int32]int{}
	var order []int32
	n := len(h.Nodes)
	seen := make([]bool, n)
	par := make([]int32, n)
	var queue []int32
	for _, x := range viol {
		// BFS at ≥ admin; every tree edge on a path to a tenant is a candidate.
		clear(seen)
		queue = append(queue[:0], x.i)
		seen[x.i] = true
		for k := 0; k < len(queue); k++ {
			u := queue[k]
			for s := h.adj.start[u]; s < h.adj.start[u+1]; s++ {
				if eff[s] < Admin {
					continue
				}
				w := h.adj.to[s]
				if seen[w] {
					continue
				}
				seen[w] = true
				par[w] = h.adj.edge[s]
				queue = append(queue, w)
				if h.tbit[w] >= 0 {
					for y := w; y != x.i; y = h.Edges[par[y]].From {
						e := par[y]
						if freq[e] == 0 {
							order = append(order, e)
						}
						freq[e]++
					}
				}
			}
		}
	}
	var out []candidate
	seenC := map[string]bool{}
	for _, e := range order {
		c, ok := h.actionFor(e)
		if !ok || seenC[c.change.String()] {
			continue
		}
		seenC[c.change.String()] = true
		c.freq = freq[e]
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b candidate) int { return cmp.Compare(b.freq, a.freq) })
	if len(out) > maxc {
		out = out[:maxc]
	}
	return out
}

// actionFor is the remediation the plan may apply to edge e, if any.
// Structural edges (agents, hosts, vendor update channels, identity
// providers, GDAP roles, backups) are not candidates.
func (h *Graph) actionFor(e int32) (candidate, bool) {
	ed := &h.Edges[e]
	from, to := &h.Nodes[ed.From], &h.Nodes[ed.To]
	id := h.EdgeID(e)
	switch ed.Kind {
	case EdgeGrant:
		return candidate{change: Change{Op: OpJIT, Target: id}, edges: []int32{e}, node: -1, pref: 1,
			why: fmt.Sprintf("make grant %s (%s → %s, %s) just-in-time instead of standing", id, from.ID, to.ID, ed.Priv)}, true
	case EdgeMember:
		return candidate{change: Change{Op: OpJIT, Target: id}, edges: []int32{e}, node: -1, pref: 1,
			why: fmt.Sprintf("make %s's membership of %s just-in-time (privileged group activation)", from.ID, to.ID)}, true
	case EdgeAccess:
		return candidate{change: Change{Op: OpJIT, Target: id}, edges: []int32{e}, node: -1, pref: 1,
			why: fmt.Sprintf("make access group %s's use of %s just-in-time", from.ID, to.ID)}, true
	case EdgeRole:
		return candidate{change: Change{Op: OpJIT, Target: id}, edges: []int32{e}, node: -1, pref: 1,
			why: fmt.Sprintf("make %s's directory role over %s eligible (PIM) instead of permanent", from.ID, to.ID)}, true
	case EdgeCred:
		return hardenCand(ed.To, to, "mfa:phishing-resistant",
			fmt.Sprintf("give %s phishing-resistant MFA so the credential stored in %s alone no longer signs in", to.ID, from.ID)), true
	case EdgeEntry:
		switch ed.Req {
		case ReqExposedNoMFA:
			return hardenCand(ed.To, to, "mfa:phishing-resistant", fmt.Sprintf("enforce phishing-resistant MFA on internet-exposed %s", to.ID)), true
		case ReqExposedKEV:
			return hardenCand(ed.To, to, "patched", fmt.Sprintf("patch %s (known exploited: %v) or take it off the internet", to.ID, to.KEV)), true
		case ReqNoMFA:
			return hardenCand(ed.To, to, "mfa:phishing-resistant", fmt.Sprintf("enforce phishing-resistant MFA on %s (no MFA today: password spraying gets in)", to.ID)), true
		case ReqExposed:
			return hardenCand(ed.To, to, "internal", fmt.Sprintf("close %s's remote-login ports to the internet", to.ID)), true
		}
	}
	return candidate{}, false
}

func hardenCand(i int32, n *Node, val, why string) candidate {
	hv, _ := hardenValue(val)
	return candidate{change: Change{Op: OpHarden, Target: n.ID, Value: val}, node: i, harden: hv, why: why}
}

// applyCand applies c in place and returns its undo.
func (h *Graph) applyCand(c candidate) func() {
	if c.node >= 0 {
		old := h.Nodes[c.node]
		n := &h.Nodes[c.node]
		switch {
		case c.harden.patched:
			n.KEV = nil
		case c.harden.internal:
			n.Exposed = false
		case c.harden.disabled:
			n.Disabled = true
		default:
			n.MFA = c.harden.mfa
		}
		return func() { h.Nodes[c.node] = old }
	}
	old := make([]Edge, len(c.edges))
	for k, e := range c.edges {
		old[k] = h.Edges[e]
		if c.change.Op == OpCut {
			h.Edges[e].Cut = true
		} else {
			h.Edges[e].JIT = true
		}
	}
	return func() {
		for k, e := range c.edges {
			h.Edges[e] = old[k]
		}
	}
}
