package trust

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Suggestion is one step of a plan.
type Suggestion struct {
	// Changes is what to do: usually one change; a grouped remediation
	// (require MFA on every account without it, patch every exposed
	// known-exploited flaw) lists one change per object.
	Changes []Change `json:"changes"`
	// Why says in words what the change is and does.
	Why string `json:"why"`
	// Details has one line per part of a grouped remediation.
	Details []string `json:"details,omitempty"`
	// Gain is how much the plan's excess (Σ over nodes of tenants reached
	// at ≥ admin beyond the limit) drops with this step.
	Gain int `json:"gain"`
	// Helped lists the nodes whose admin reach dropped most, before/after.
	Helped []Delta `json:"-"`
	// ProofFrom and Proof: a path, before the change, from the most helped
	// node to a tenant it no longer reaches at ≥ admin.
	ProofFrom int32   `json:"-"`
	Proof     []int32 `json:"-"`
	// EntriesBefore and EntriesAfter count the entry points (nodes an
	// outsider takes directly at ≥ admin) that lead above the limit.
	EntriesBefore, EntriesAfter int
	// helpedCount is how many nodes' admin reach dropped.
	helpedCount int
}

// HelpedCount is how many nodes' admin reach the step lowered.
func (s Suggestion) HelpedCount() int { return s.helpedCount }

// Plan is a small set of changes that bound every single compromise.
type Plan struct {
	Share   float64 `json:"share"`
	Limit   int     `json:"limit"` // tenants at ≥ admin a single compromise may reach
	Tenants int     `json:"tenants"`
	Steps   []Suggestion
	// Excess before and after the plan: Σ over nodes of max(0, tenants at
	// ≥ admin − Limit). Zero means the goal is met.
	ExcessBefore, ExcessAfter int
	// Residual lists the nodes still above the limit after the plan.
	Residual []Rank
	// Structural counts the residual nodes no candidate action can help:
	// their reach comes only from structure (agents, hosts, vendor update
	// channels, identity providers, GDAP roles). They are the first
	// Structural entries of Residual; the others need more steps.
	Structural int
	// Graph is the graph with every step applied.
	Graph *Graph `json:"-"`
	// Err is Ctx's error when the search was stopped by it: the plan then
	// holds the steps taken so far and must not be shown as finished.
	Err error `json:"-"`
}

// SuggestOptions bound the search.
type SuggestOptions struct {
	Share    float64 // target share of tenants (default: the graph's MaxTenantShare)
	MaxSteps int     // default 10
	// Candidates caps how many actions are evaluated per step (default 80).
	Candidates int
	// Pairs is how many of the most used candidates are also tried in
	// pairs (default 30; 0 on graphs over 100,000 edges).
	Pairs int
	// Unweighted makes every node's excess count the same (the exhaustive
	// comparison in the tests uses it); by default a node's excess is
	// weighted by how exposed it is (see exposureWeight).
	Unweighted bool
	// Ctx, when set, stops the search: it is checked before each step and
	// each trial, and Plan.Err reports why the plan stopped.
	Ctx context.Context
	// atomic restricts candidates to single-edge and single-node actions
	// (the exhaustive comparison in the tests).
	atomic bool
}

// candidate is an action the search may take.
type candidate struct {
	changes []Change
	why     string
	op      Op      // for edges: OpJIT or OpCut
	edges   []int32 // edges made JIT or cut
	nodes   []int32 // nodes hardened
	harden  hardening
	pref    int // tie-break: lower is preferred
	freq    int
	parts   []candidate // a grouped remediation: applied together
}

func (c *candidate) key() string {
	var b []byte
	for _, x := range c.changes {
		b = append(b, x.String()...)
		b = append(b, ';')
	}
	return string(b)
}

// exposureWeight is how likely a node is to be compromised first; it
// weights the node's excess in the greedy choice and breaks ranking ties:
// an internet-exposed tool or asset with a known-exploited flaw 4; an
// identity, or an exposed tool, without MFA 3, with weak MFA 2; anything
// else 1. The suggestion search takes these weights from the graph before
// any change, and multiplies a node's weight by 10 while it is an entry
// point (an outsider takes it directly at ≥ admin).
func exposureWeight(n *Node) int {
	switch n.Kind {
	case KindOutsider:
		return 0
	case KindIdentity:
		switch n.MFA {
		case estate.MFANone:
			return 3
		case estate.MFAWeak:
			return 2
		}
	case KindTool, KindAsset:
		switch {
		case n.Exposed && len(n.KEV) > 0:
			return 4
		case n.Exposed && n.Kind == KindAsset:
			return 2
		case n.Exposed && n.MFA == estate.MFANone:
			return 3
		case n.Exposed && n.MFA == estate.MFAWeak:
			return 2
		}
	}
	return 1
}

// Suggest finds a small set of changes so that no single node reaches more
// than Share of the tenants at ≥ admin over standing edges. The method is
// greedy: at each step it evaluates every candidate action found on the
// admin paths of the current worst nodes (make a grant, membership or role
// just-in-time; make all of a node's standing access just-in-time; harden
// the target of a credential or entry edge; require MFA on every account
// without it; patch every exposed known-exploited flaw) and takes the one
// that lowers the weighted excess most; when no single action lowers it, it
// tries pairs (two parallel paths); it stops when the excess is zero,
// nothing helps, or MaxSteps is reached. Structural edges (agents, hosts,
// vendor update channels, identity providers, GDAP roles) are never cut:
// what remains above the limit because of them is reported as residual.
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
		if len(g.Edges) > 100_000 {
			o.Candidates = 20
		}
	}
	if o.Pairs == 0 && len(g.Edges) <= 100_000 {
		o.Pairs = 30
	}
	T := len(g.tenants)
	p := &Plan{Share: o.Share, Tenants: T, Limit: Limit(T, o.Share)}
	h, _ := g.With()
	p.Graph = h
	if T == 0 {
		return p
	}
	weight := make([]int64, len(g.Nodes))
	for i := range g.Nodes {
		weight[i] = 1
		if !o.Unweighted {
			weight[i] = int64(exposureWeight(&g.Nodes[i]))
		}
	}
	var effBuf []Priv
	var ws workspace
	// evalEff returns the weighted excess, the plain excess and the counts
	// under eff (entry is scratch space, one per goroutine).
	entry := make([]bool, len(g.Nodes))
	evalEff := func(eff []Priv, ws *workspace, entry []bool) (wex int64, excess int, counts []int32) {
		r := h.passWS(ws, eff, Admin, false)
		clear(entry)
		for s := h.adj.start[0]; s < h.adj.start[1]; s++ {
			if eff[s] >= Admin {
				entry[h.adj.to[s]] = true
			}
		}
		for i, c := range r.count {
			if i == 0 || int(c) <= p.Limit {
				continue // the outsider's union of entries is not one compromise
			}
			x := int64(int(c) - p.Limit)
			excess += int(x)
			w := weight[i]
			if entry[i] {
				w *= 10 // an outsider takes it directly
			}
			wex += w * x
		}
		return wex, excess, r.count
	}
	// eval is evalEff under h's current state.
	eval := func() (wex int64, excess int, counts []int32) {
		effBuf = h.computeEff(false, effBuf)
		return evalEff(effBuf, &ws, entry)
	}
	slots := newSlotIndex(h)
	type scored struct {
		c   []candidate
		wex int64
	}
	wex, excess, counts := eval()
	p.ExcessBefore = excess
	// In-edges per node, for "every grant to X" candidates (small graphs).
	var in [][]int32
	if len(h.Edges) <= 100_000 {
		in = make([][]int32, len(h.Nodes))
		for e := range h.Edges {
			in[h.Edges[e].To] = append(in[h.Edges[e].To], int32(e))
		}
	}
	// search evaluates every candidate, and pairs of the most used ones,
	// and returns the change that lowers the weighted excess most per
	// action (nil when none lowers it). effBuf must hold h's current usable
	// privileges. Each trial changes only the slots its candidates touch
	// (patch), so a trial is one threshold pass rather than a recomputation
	// of every edge, and the passes run on every core: the trials are
	// applied and undone one by one to record their patches, then scored in
	// parallel on private copies of effBuf and chosen in candidate order,
	// as a sequential search would.
	search := func(cands []candidate, wex int64) *scored {
		var trials []trial
		add := func(cs ...candidate) {
			undos := make([]func(), len(cs))
			var t trial
			t.c = cs
			for k, c := range cs {
				undos[k] = h.applyCand(c)
				t.slots = slots.affected(h, c, t.slots)
			}
			t.vals = make([]Priv, len(t.slots))
			for k, s := range t.slots {
				t.vals[k] = h.usable(h.adj.edge[s], false)
			}
			for k := len(undos) - 1; k >= 0; k-- {
				undos[k]()
			}
			trials = append(trials, t)
		}
		for _, c := range cands {
			add(c)
		}
		// Pairs catch parallel paths (a technician with both a GDAP group
		// and an RMM grant), where no single change lowers anyone's reach.
		lim := min(len(cands), o.Pairs)
		for i := 0; i < lim; i++ {
			for j := i + 1; j < lim; j++ {
				add(cands[i], cands[j])
			}
		}
		wexs := scoreTrials(o.Ctx, trials, effBuf, len(h.Nodes), func(eff []Priv, ws *workspace, entry []bool) int64 {
			w, _, _ := evalEff(eff, ws, entry)
			return w
		})
		var best *scored
		better := func(x *scored) bool {
			if best == nil {
				return true
			}
			gx, gb := (wex-x.wex)*int64(len(best.c)), (wex-best.wex)*int64(len(x.c))
			if gx != gb {
				return gx > gb
			}
			if len(x.c) != len(best.c) {
				return len(x.c) < len(best.c)
			}
			return x.c[0].pref < best.c[0].pref
		}
		for i, t := range trials {
			if x := (&scored{c: t.c, wex: wexs[i]}); wexs[i] < wex && better(x) {
				best = x
			}
		}
		return best
	}
	stopped := func() bool {
		if o.Ctx == nil || p.Err != nil {
			return p.Err != nil
		}
		p.Err = o.Ctx.Err()
		return p.Err != nil
	}
	var chosen []candidate
	for step := 0; step < o.MaxSteps && excess > 0; step++ {
		if stopped() {
			return p
		}
		effBuf = h.computeEff(false, effBuf)
		cands := h.candidates(effBuf, counts, p.Limit, o.Candidates, in, o.atomic)
		best := search(cands, wex)
		if stopped() {
			return p // scores of an interrupted search are incomplete
		}
		if best == nil && o.Pairs > 0 {
			// Stuck on the shortest-path candidates: widen to every action
			// on any path from a node above the limit.
			best = search(h.allCandidates(effBuf, counts, p.Limit), wex)
			if stopped() {
				return p
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
			w, ex, after := eval()
			sg := Suggestion{Changes: c.changes, Why: c.why, Gain: excess - ex, ProofFrom: -1}
			for _, part := range c.parts {
				sg.Details = append(sg.Details, part.why)
			}
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
			sg.helpedCount = len(drops)
			sg.EntriesBefore = h.entriesOver(beforeEff, before, p.Limit)
			sg.EntriesAfter = h.entriesOver(effBuf, after, p.Limit)
			if sg.EntriesAfter < sg.EntriesBefore {
				sg.ProofFrom, sg.Proof = h.proofThrough(beforeEff, before, p.Limit, c)
			}
			if sg.Proof == nil && len(drops) > 0 {
				sg.ProofFrom, sg.Proof = h.proofLost(drops[0].i, beforeEff)
			}
			p.Steps = append(p.Steps, sg)
			chosen = append(chosen, c)
			wex, excess, counts = w, ex, after
		}
	}
	if stopped() {
		return p
	}
	// Prune: a step made redundant by later ones (their union covers it)
	// is dropped, last first, when the plan without it leaves no more
	// excess. Small graphs only: each trial replays the plan.
	if len(chosen) > 1 && len(g.Edges) <= 100_000 {
		replay := func(skip map[int]bool) (*Graph, int64, int) {
			x, _ := g.With()
			for i, c := range chosen {
				if !skip[i] {
					x.applyCand(c)
				}
			}
			save := h
			h = x
			w, ex, _ := eval()
			h = save
			return x, w, ex
		}
		skip := map[int]bool{}
		for i := len(chosen) - 1; i >= 0; i-- {
			skip[i] = true
			if _, w, ex := replay(skip); ex > excess || w > wex {
				delete(skip, i)
			}
		}
		if len(skip) > 0 {
			var steps []Suggestion
			var kept []candidate
			for i := range chosen {
				if !skip[i] {
					steps = append(steps, p.Steps[i])
					kept = append(kept, chosen[i])
				}
			}
			// Recompute each kept step's gain in order.
			prev := p.ExcessBefore
			for i := range kept {
				x, _ := g.With()
				for j := 0; j <= i; j++ {
					x.applyCand(kept[j])
				}
				save := h
				h = x
				_, ex, _ := eval()
				h = save
				steps[i].Gain = prev - ex
				prev = ex
			}
			p.Steps, chosen = steps, kept
			h, _ = g.With()
			for _, c := range chosen {
				h.applyCand(c)
			}
			p.Graph = h
			_, excess, _ = eval()
		}
	}
	p.ExcessAfter = excess
	rk := h.Ranking()
	fixable := h.fixable(p.Limit)
	var rest []Rank
	for _, r := range rk.Ranks {
		if r.AtAdmin() <= p.Limit {
			continue
		}
		if fixable[r.Node] {
			rest = append(rest, r)
		} else {
			p.Residual = append(p.Residual, r)
		}
	}
	p.Structural = len(p.Residual)
	p.Residual = append(p.Residual, rest...)
	return p
}

// trial is one candidate (or pair) of a search step: the CSR slots it
// changes and their usable privilege with it applied.
type trial struct {
	c     []candidate
	slots []int32
	vals  []Priv
}

// slotIndex maps each edge to its CSR slot and lists each node's in-slots,
// so that the slots a candidate changes can be found without a pass over
// every edge.
type slotIndex struct {
	slotOf  []int32 // edge → slot
	inStart []int32 // len nodes+1
	in      []int32 // slots whose edge points to the node
}

func newSlotIndex(h *Graph) *slotIndex {
	x := &slotIndex{slotOf: make([]int32, len(h.Edges)), inStart: make([]int32, len(h.Nodes)+1), in: make([]int32, len(h.adj.to))}
	for s, e := range h.adj.edge {
		x.slotOf[e] = int32(s)
	}
	for _, t := range h.adj.to {
		x.inStart[t+1]++
	}
	for i := 1; i < len(x.inStart); i++ {
		x.inStart[i] += x.inStart[i-1]
	}
	fill := slices.Clone(x.inStart[:len(h.Nodes)])
	for s, t := range h.adj.to {
		x.in[fill[t]] = int32(s)
		fill[t]++
	}
	return x
}

// affected appends the slots whose usable privilege applying c may change
// (see applyCand and usable): its edges, the edges into the nodes it
// hardens, and the edges out of the nodes it disables.
func (x *slotIndex) affected(h *Graph, c candidate, out []int32) []int32 {
	if len(c.parts) > 0 {
		for _, p := range c.parts {
			out = x.affected(h, p, out)
		}
		return out
	}
	for _, e := range c.edges {
		out = append(out, x.slotOf[e])
	}
	for _, v := range c.nodes {
		out = append(out, x.in[x.inStart[v]:x.inStart[v+1]]...)
		if c.harden.disabled {
			for s := h.adj.start[v]; s < h.adj.start[v+1]; s++ {
				out = append(out, s)
			}
		}
	}
	return out
}

// scoreTrials scores every trial on base (the current usable privileges)
// with its slots patched, on as many goroutines as there are cores, each
// with its own copy of base.
func scoreTrials(ctx context.Context, trials []trial, base []Priv, nodes int, score func(eff []Priv, ws *workspace, entry []bool) int64) []int64 {
	out := make([]int64, len(trials))
	workers := min(runtime.GOMAXPROCS(0), len(trials))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eff := slices.Clone(base)
			var ws workspace
			entry := make([]bool, nodes)
			var old []Priv
			for {
				i := int(next.Add(1)) - 1
				if i >= len(trials) || ctx != nil && ctx.Err() != nil {
					return
				}
				t := &trials[i]
				old = old[:0]
				for k, s := range t.slots {
					old = append(old, eff[s])
					eff[s] = t.vals[k]
				}
				out[i] = score(eff, &ws, entry)
				// Restore in reverse: a slot listed twice gets its
				// first saved (original) value back last.
				for k := len(t.slots) - 1; k >= 0; k-- {
					eff[t.slots[k]] = old[k]
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// fixable marks the nodes that some set of candidate actions would bring
// within the limit: applying every action the plan may take (every
// identity or group grant just-in-time, every credential and entry point
// hardened) and seeing who is still above it. The others are above the
// limit by structure alone.
func (h *Graph) fixable(limit int) []bool {
	x, _ := h.With()
	for e := range x.Edges {
		if c, ok := x.actionFor(int32(e)); ok {
			x.applyCand(c)
		}
	}
	r := x.pass(x.computeEff(false, nil), Admin)
	out := make([]bool, len(r.count))
	for i, c := range r.count {
		out[i] = int(c) <= limit
	}
	return out
}

// entriesOver counts entry points at ≥ admin whose target reaches more than
// limit tenants at ≥ admin.
func (h *Graph) entriesOver(eff []Priv, counts []int32, limit int) int {
	n := 0
	for s := h.adj.start[0]; s < h.adj.start[1]; s++ {
		if eff[s] >= Admin && int(counts[h.adj.to[s]]) > limit {
			n++
		}
	}
	return n
}

// proofThrough returns the outsider's path (under beforeEff) through the
// widest entry point the candidate closes.
func (h *Graph) proofThrough(beforeEff []Priv, counts []int32, limit int, c candidate) (int32, []int32) {
	closes := map[int32]bool{}
	var walk func(c candidate)
	walk = func(c candidate) {
		for _, n := range c.nodes {
			closes[n] = true
		}
		for _, p := range c.parts {
			walk(p)
		}
	}
	walk(c)
	best := int32(-1)
	for s := h.adj.start[0]; s < h.adj.start[1]; s++ {
		t := h.adj.to[s]
		if beforeEff[s] >= Admin && closes[t] && int(counts[t]) > limit && (best < 0 || counts[t] > counts[best]) {
			best = t
		}
	}
	if best < 0 {
		return -1, nil
	}
	b := h.blast(best, Query{}, beforeEff)
	for _, r := range b.Tenants {
		if r.Priv >= Admin && len(r.Path) > 0 {
			var entry int32 = -1
			for s := h.adj.start[0]; s < h.adj.start[1]; s++ {
				if h.adj.to[s] == best && beforeEff[s] >= Admin && (entry < 0 || beforeEff[s] > h.Edges[entry].Priv) {
					entry = h.adj.edge[s]
				}
			}
			return 0, append([]int32{entry}, r.Path...)
		}
	}
	return -1, nil
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
func (h *Graph) candidates(eff []Priv, counts []int32, limit, maxc int, in [][]int32, atomic bool) []candidate {
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
	push := func(c candidate, f int) {
		k := c.key()
		if seenC[k] {
			return
		}
		seenC[k] = true
		c.freq = f
		out = append(out, c)
	}
	sum := func(es []int32) int {
		n := 0
		for _, e := range es {
			n += freq[e]
		}
		return n
	}
	// The per-node candidates (a vault's accounts, all of a node's
	// standing access, every grant into a node) depend only on the node:
	// each is built once, at the first tree edge that leads to it (a
	// repeat would have the same key). Building them per edge scanned a
	// node's out-edges once per tree edge leaving it, quadratic in the
	// degree of a technician group reaching every tenant.
	fromDone := make([]bool, n)
	vaultDone := make([]bool, n)
	intoDone := make([]bool, n)
	for _, e := range order {
		if c, ok := h.actionFor(e); ok {
			push(c, freq[e])
		}
		if atomic {
			continue
		}
		ed := &h.Edges[e]
		if ed.Kind == EdgeCred && !vaultDone[ed.From] {
			vaultDone[ed.From] = true
			if c, ok := h.vaultHarden(ed.From, eff); ok {
				push(c, freq[e]*len(c.nodes))
			}
		}
		if !fromDone[ed.From] {
			fromDone[ed.From] = true
			if c, ok := h.nodeJIT(ed.From); ok {
				push(c, sum(c.edges))
			}
		}
		if !intoDone[ed.To] {
			intoDone[ed.To] = true
			if c, ok := h.intoJIT(ed.To, in); ok {
				push(c, sum(c.edges))
			}
		}
	}
	if atomic {
		if len(out) > maxc {
			out = out[:maxc]
		}
		return out
	}
	// Grouped remediations over every entry point of one kind, and over
	// every entry point that leads above the limit.
	var noMFA, kevs []int32
	var closeC candidate
	closeC.pref = 0
	for s := h.adj.start[0]; s < h.adj.start[1]; s++ {
		if eff[s] == None {
			continue
		}
		ed := &h.Edges[h.adj.edge[s]]
		if eff[s] >= Admin && int(counts[ed.To]) > limit {
			if c, ok := h.actionFor(h.adj.edge[s]); ok {
				closeC.changes = append(closeC.changes, c.changes...)
				closeC.parts = append(closeC.parts, c)
			}
		}
		switch ed.Req {
		case ReqNoMFA:
			noMFA = append(noMFA, ed.To)
		case ReqExposedKEV:
			kevs = append(kevs, ed.To)
		}
	}
	if len(noMFA) > 1 {
		c := candidate{nodes: noMFA, harden: hardening{mfa: estate.MFAPhishingResistant}, pref: 2,
			why: fmt.Sprintf("require phishing-resistant MFA on every account without MFA (%d: %s)", len(noMFA), strings.Join(firstN(sortedIDs(h, noMFA), 8), ", "))}
		for _, i := range noMFA {
			c.changes = append(c.changes, Change{Op: OpHarden, Target: h.Nodes[i].ID, Value: "mfa:phishing-resistant"})
		}
		push(c, 0)
	}
	if len(kevs) > 1 {
		c := candidate{nodes: kevs, harden: hardening{patched: true}, pref: 2,
			why: fmt.Sprintf("patch every internet-exposed known-exploited flaw (%d: %s)", len(kevs), strings.Join(firstN(sortedIDs(h, kevs), 8), ", "))}
		for _, i := range kevs {
			c.changes = append(c.changes, Change{Op: OpHarden, Target: h.Nodes[i].ID, Value: "patched"})
		}
		push(c, 0)
	}
	if len(closeC.parts) > 1 {
		closeC.why = fmt.Sprintf("close the %d ways in from the internet that each lead above the limit:", len(closeC.parts))
		push(closeC, 1<<30)
	}
	slices.SortStableFunc(out, func(a, b candidate) int { return cmp.Compare(b.freq, a.freq) })
	if len(out) > maxc {
		out = out[:maxc]
	}
	return out
}

// jitable reports whether edge e is standing access a policy can make
// just-in-time.
func (h *Graph) jitable(ed *Edge) bool {
	if ed.JIT || ed.Cut {
		return false
	}
	switch ed.Kind {
	case EdgeMember, EdgeAccess, EdgeRole:
		return true
	case EdgeGrant:
		// People's access can wait for an activation; a tool's or a
		// vendor's grant is how it works (agents, integrations).
		k := h.Nodes[ed.From].Kind
		return k == KindIdentity || k == KindGroup
	}
	return false
}

// nodeJIT is "make all of node v's standing access just-in-time", when v
// has more than one such edge.
func (h *Graph) nodeJIT(v int32) (candidate, bool) {
	var es []int32
	for _, e := range h.OutEdges(v) {
		if h.jitable(&h.Edges[e]) {
			es = append(es, e)
		}
	}
	if len(es) < 2 {
		return candidate{}, false
	}
	n := &h.Nodes[v]
	return candidate{changes: []Change{{Op: OpJIT, Target: n.ID + "->*"}}, op: OpJIT, edges: es, pref: 1,
		why: fmt.Sprintf("make all of %s %s's standing access just-in-time (%d grants, memberships or roles)", n.Kind, n.ID, len(es))}, true
}

// allCandidates lists every atomic action on an edge reachable (at ≥ admin)
// from a node above the limit, most used first.
func (h *Graph) allCandidates(eff []Priv, counts []int32, limit int) []candidate {
	seen := make([]bool, len(h.Nodes))
	var queue []int32
	for i, c := range counts {
		if i > 0 && int(c) > limit && !seen[i] {
			seen[i] = true
			queue = append(queue, int32(i))
		}
	}
	var out []candidate
	keys := map[string]bool{}
	for k := 0; k < len(queue); k++ {
		u := queue[k]
		for s := h.adj.start[u]; s < h.adj.start[u+1]; s++ {
			if eff[s] < Admin {
				continue
			}
			if c, ok := h.actionFor(h.adj.edge[s]); ok && !keys[c.key()] {
				keys[c.key()] = true
				out = append(out, c)
			}
			if w := h.adj.to[s]; !seen[w] {
				seen[w] = true
				queue = append(queue, w)
			}
		}
	}
	// Entry edges into the reachable part.
	for s := h.adj.start[0]; s < h.adj.start[1]; s++ {
		if eff[s] >= Admin && seen[h.adj.to[s]] {
			if c, ok := h.actionFor(h.adj.edge[s]); ok && !keys[c.key()] {
				keys[c.key()] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// vaultHarden is "give every account whose credential vault v stores
// phishing-resistant MFA", when it stores more than one usable credential.
func (h *Graph) vaultHarden(v int32, eff []Priv) (candidate, bool) {
	var ids []int32
	for s := h.adj.start[v]; s < h.adj.start[v+1]; s++ {
		if eff[s] != None && h.Edges[h.adj.edge[s]].Kind == EdgeCred {
			ids = append(ids, h.adj.to[s])
		}
	}
	if len(ids) < 2 {
		return candidate{}, false
	}
	c := candidate{nodes: ids, harden: hardening{mfa: estate.MFAPhishingResistant}, pref: 2,
		why: fmt.Sprintf("give every account whose credential %s stores phishing-resistant MFA (%d: %s)", h.Nodes[v].ID, len(ids), strings.Join(firstN(sortedIDs(h, ids), 6), ", "))}
	for _, i := range ids {
		c.changes = append(c.changes, Change{Op: OpHarden, Target: h.Nodes[i].ID, Value: "mfa:phishing-resistant"})
	}
	return c, true
}

// intoJIT is "make every standing grant into node x just-in-time", when
// more than one subject holds one.
func (h *Graph) intoJIT(x int32, in [][]int32) (candidate, bool) {
	if in == nil {
		return candidate{}, false
	}
	var es []int32
	for _, e := range in[x] {
		if h.jitable(&h.Edges[e]) && h.Edges[e].Kind == EdgeGrant {
			es = append(es, e)
		}
	}
	if len(es) < 2 {
		return candidate{}, false
	}
	n := &h.Nodes[x]
	return candidate{changes: []Change{{Op: OpJIT, Target: "*->" + n.ID}}, op: OpJIT, edges: es, pref: 1,
		why: fmt.Sprintf("make every standing grant to %s %s just-in-time (%d grants)", n.Kind, n.ID, len(es))}, true
}

// actionFor is the remediation the plan may apply to edge e, if any.
// Structural edges (agents, hosts, vendor update channels, identity
// providers, GDAP roles, backups) are not candidates.
func (h *Graph) actionFor(e int32) (candidate, bool) {
	ed := &h.Edges[e]
	from, to := &h.Nodes[ed.From], &h.Nodes[ed.To]
	id := h.EdgeID(e)
	jit := func(why string) (candidate, bool) {
		return candidate{changes: []Change{{Op: OpJIT, Target: id}}, op: OpJIT, edges: []int32{e}, pref: 1, why: why}, true
	}
	switch ed.Kind {
	case EdgeGrant:
		if !h.jitable(ed) {
			return candidate{}, false
		}
		return jit(fmt.Sprintf("make grant %s (%s → %s, %s) just-in-time instead of standing", id, from.ID, to.ID, ed.Priv))
	case EdgeMember:
		return jit(fmt.Sprintf("make %s's membership of %s just-in-time (privileged group activation)", from.ID, to.ID))
	case EdgeAccess:
		return jit(fmt.Sprintf("make access group %s's use of %s just-in-time", from.ID, to.ID))
	case EdgeRole:
		return jit(fmt.Sprintf("make %s's directory role over %s eligible (PIM) instead of permanent", from.ID, to.ID))
	case EdgeCred:
		return hardenCand(h, ed.To, "mfa:phishing-resistant",
			fmt.Sprintf("give %s phishing-resistant MFA so the credential stored in %s alone no longer signs in", to.ID, from.ID)), true
	case EdgeEntry:
		switch ed.Req {
		case ReqExposedNoMFA:
			return hardenCand(h, ed.To, "mfa:phishing-resistant", fmt.Sprintf("enforce phishing-resistant MFA on internet-exposed %s (no MFA enforced today)", to.ID)), true
		case ReqExposedKEV:
			return hardenCand(h, ed.To, "patched", fmt.Sprintf("patch %s (known exploited: %s) or take it off the internet", to.ID, strings.Join(to.KEV, ", "))), true
		case ReqNoMFA:
			return hardenCand(h, ed.To, "mfa:phishing-resistant", fmt.Sprintf("enforce phishing-resistant MFA on %s (no MFA today: password spraying gets in)", to.ID)), true
		case ReqExposed:
			return hardenCand(h, ed.To, "internal", fmt.Sprintf("close %s's remote-login ports to the internet", to.ID)), true
		}
	}
	return candidate{}, false
}

func hardenCand(h *Graph, i int32, val, why string) candidate {
	hv, _ := hardenValue(val)
	return candidate{changes: []Change{{Op: OpHarden, Target: h.Nodes[i].ID, Value: val}}, nodes: []int32{i}, harden: hv, why: why}
}

// applyCand applies c in place and returns its undo.
func (h *Graph) applyCand(c candidate) func() {
	if len(c.parts) > 0 {
		undos := make([]func(), len(c.parts))
		for i, p := range c.parts {
			undos[i] = h.applyCand(p)
		}
		return func() {
			for i := len(undos) - 1; i >= 0; i-- {
				undos[i]()
			}
		}
	}
	oldN := make([]Node, len(c.nodes))
	for k, i := range c.nodes {
		oldN[k] = h.Nodes[i]
		n := &h.Nodes[i]
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
	}
	oldE := make([]Edge, len(c.edges))
	for k, e := range c.edges {
		oldE[k] = h.Edges[e]
		if c.op == OpCut {
			h.Edges[e].Cut = true
		} else {
			h.Edges[e].JIT = true
		}
	}
	return func() {
		for k, e := range c.edges {
			h.Edges[e] = oldE[k]
		}
		for k, i := range c.nodes {
			h.Nodes[i] = oldN[k]
		}
	}
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
}
