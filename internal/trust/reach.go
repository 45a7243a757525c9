package trust

import (
	"math/bits"
	"slices"
	"strings"
)

// Query selects which edges an analysis uses.
type Query struct {
	// IncludeJIT counts just-in-time edges as if activated. The default is
	// the standing blast radius.
	IncludeJIT bool
}

// workspace holds the buffers of one threshold pass, reused across passes
// (the suggestion search runs thousands of them).
type workspace struct {
	comp, index, low, stack []int32
	onStack                 []bool
	call                    []frame
	cstart, members, stamp  []int32
	succ, own               []int32
	sets                    [][]uint64
	ccount                  []int32
	cweight                 []float64
	slab                    []uint64
	weights                 []float64
	// keep, when set, is called with every node's reach set (nil sets are
	// skipped) before the sets are dropped.
	keep func(v int32, set []uint64)
}

type frame struct{ v, slot int32 }

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	s = s[:n]
	clear(s)
	return s
}

// scc condenses the subgraph of slots with eff ≥ thr into strongly connected
// components with an iterative Tarjan. Components are numbered in completion
// order, which is a reverse topological order: every edge between two
// components goes from a higher number to a lower one.
func (ws *workspace) scc(start, to []int32, eff []Priv, thr Priv) (comp []int32, ncomp int32) {
	n := int32(len(start) - 1)
	ws.comp = grow(ws.comp, int(n))
	ws.index = grow(ws.index, int(n)) // 0 = unvisited, else dfs number + 1
	ws.low = grow(ws.low, int(n))
	ws.onStack = grow(ws.onStack, int(n))
	comp, index, low, onStack := ws.comp, ws.index, ws.low, ws.onStack
	stack := ws.stack[:0]
	call := ws.call[:0]
	var next int32 = 1
	for root := int32(0); root < n; root++ {
		if index[root] != 0 {
			continue
		}
		// Fast path: a node with no usable out-edge is its own component.
		if !hasOut(start, eff, root, thr) {
			index[root] = next
			next++
			comp[root] = ncomp
			ncomp++
			continue
		}
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		call = append(call, frame{root, start[root]})
		for len(call) > 0 {
			f := &call[len(call)-1]
			v := f.v
			descended := false
			for f.slot < start[v+1] {
				s := f.slot
				f.slot++
				if eff[s] < thr {
					continue
				}
				w := to[s]
				if index[w] == 0 {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					call = append(call, frame{w, start[w]})
					descended = true
					break
				} else if onStack[w] && index[w] < low[v] {
					low[v] = index[w]
				}
			}
			if descended {
				continue
			}
			// v is finished.
			if low[v] == index[v] {
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp[w] = ncomp
					if w == v {
						break
					}
				}
				ncomp++
			}
			call = call[:len(call)-1]
			if len(call) > 0 {
				u := call[len(call)-1].v
				if low[v] < low[u] {
					low[u] = low[v]
				}
			}
		}
	}
	ws.stack, ws.call = stack, call
	return comp, ncomp
}

func hasOut(start []int32, eff []Priv, v int32, thr Priv) bool {
	for s := start[v]; s < start[v+1]; s++ {
		if eff[s] >= thr {
			return true
		}
	}
	return false
}

// passResult is the reach of every node at one privilege threshold.
type passResult struct {
	count  []int32   // tenants reached, per node
	weight []float64 // Σ tenant weights reached, per node
}

// pass computes, for one threshold, how many tenants (and their weight) each
// node reaches using only edges with privilege ≥ thr.
func (g *Graph) pass(eff []Priv, thr Priv) passResult {
	var ws workspace
	return g.passWS(&ws, eff, thr, true)
}

// passWS is pass with reusable buffers. Reach sets are bitsets over tenants,
// propagated over the condensation in reverse topological order; a
// component that adds no tenant of its own and has one successor shares its
// successor's set. Without weights, only counts are computed.
func (g *Graph) passWS(ws *workspace, eff []Priv, thr Priv, weights bool) passResult {
	n := len(g.Nodes)
	start, to := g.adj.start, g.adj.to
	comp, ncomp := ws.scc(start, to, eff, thr)
	// Members per component (counting sort).
	ws.cstart = grow(ws.cstart, int(ncomp)+1)
	cstart := ws.cstart
	for _, c := range comp {
		cstart[c+1]++
	}
	for i := int32(1); i <= ncomp; i++ {
		cstart[i] += cstart[i-1]
	}
	ws.members = grow(ws.members, n)
	members := ws.members
	// Use index as the fill cursor (it is free after scc).
	fill := ws.index[:ncomp]
	copy(fill, cstart[:ncomp])
	for v, c := range comp {
		members[fill[c]] = int32(v)
		fill[c]++
	}

	T := len(g.tenants)
	W := (T + 63) / 64
	if weights && len(ws.weights) != T {
		ws.weights = make([]float64, T)
		for i, ti := range g.tenants {
			ws.weights[i] = tenantWeight(&g.Nodes[ti])
		}
	}
	ws.sets = grow(ws.sets, int(ncomp))
	ws.ccount = grow(ws.ccount, int(ncomp))
	if weights {
		ws.cweight = grow(ws.cweight, int(ncomp))
	}
	ws.stamp = grow(ws.stamp, int(ncomp))
	sets, ccount, cweight, stamp := ws.sets, ws.ccount, ws.cweight, ws.stamp
	for i := range stamp {
		stamp[i] = -1
	}
	slab := ws.slab[:0]
	alloc := func() []uint64 {
		if cap(slab)-len(slab) < W {
			slab = make([]uint64, 0, max(W*1024, 1<<16))
		}
		s := slab[len(slab) : len(slab)+W : len(slab)+W]
		slab = slab[:len(slab)+W]
		clear(s)
		return s
	}
	first := true
	succ, own := ws.succ, ws.own
	for c := int32(0); c < ncomp; c++ {
		succ, own = succ[:0], own[:0]
		for _, v := range members[cstart[c]:cstart[c+1]] {
			if b := g.tbit[v]; b >= 0 {
				own = append(own, b)
			}
			for s := start[v]; s < start[v+1]; s++ {
				if eff[s] < thr {
					continue
				}
				d := comp[to[s]]
				if d == c || stamp[d] == c {
					continue
				}
				stamp[d] = c
				if sets[d] != nil {
					succ = append(succ, d)
				}
			}
		}
		switch {
		case len(own) == 0 && len(succ) == 0:
			continue
		case len(own) == 0 && len(succ) == 1:
			d := succ[0]
			sets[c], ccount[c] = sets[d], ccount[d]
			if weights {
				cweight[c] = cweight[d]
			}
			continue
		}
		bs := alloc()
		if first {
			// Keep the first slab for the next pass.
			ws.slab, first = slab[:0:cap(slab)], false
		}
		for _, d := range succ {
			src := sets[d]
			for i := range bs {
				bs[i] |= src[i]
			}
		}
		for _, b := range own {
			bs[b>>6] |= 1 << (uint(b) & 63)
		}
		var cnt int
		for _, word := range bs {
			cnt += bits.OnesCount64(word)
		}
		sets[c], ccount[c] = bs, int32(cnt)
		if weights {
			var w float64
			for i, word := range bs {
				for word != 0 {
					t := bits.TrailingZeros64(word)
					word &= word - 1
					w += ws.weights[i*64+t]
				}
			}
			cweight[c] = w
		}
	}
	ws.succ, ws.own = succ, own
	if ws.keep != nil {
		for v, c := range comp {
			if sets[c] != nil {
				ws.keep(int32(v), sets[c])
			}
		}
	}
	clear(sets) // drop references to the slabs
	res := passResult{count: make([]int32, n)}
	if weights {
		res.weight = make([]float64, n)
	}
	for v, c := range comp {
		res.count[v] = ccount[c]
		if weights {
			res.weight[v] = cweight[c]
		}
	}
	return res
}

// reachAll runs the four threshold passes.
func (g *Graph) reachAll(q Query) [5]passResult {
	return g.reachAllEff(g.effective(q.IncludeJIT))
}

func (g *Graph) reachAllEff(eff []Priv) [5]passResult {
	var r [5]passResult
	var ws workspace
	for _, p := range Privs {
		r[p] = g.passWS(&ws, eff, p, true)
	}
	return r
}

// Reached is one node reached from a source, with the best (bottleneck)
// privilege achievable and the shortest path achieving it.
type Reached struct {
	Node int32
	Priv Priv
	Path []int32 // edge indexes, source first
}

// Blast is the answer to "what falls if Source is compromised".
type Blast struct {
	Source  int32
	Query   Query
	Tenants []Reached // every tenant reached, best privilege first, with its proof path
	Assets  []Reached // every asset reached (Path filled by PathOf)
	Other   []Reached // identities, groups, tools and vendors reached (Path filled by PathOf)
	g       *Graph
	parent  []int32 // per threshold p: parent[(p-1)*n + v] = edge into v in search p
}

// BlastFrom answers for node id, over standing edges.
func (g *Graph) BlastFrom(id string) (*Blast, error) {
	i, err := g.NodeIndex(id)
	if err != nil {
		return nil, err
	}
	return g.Blast(i, Query{}), nil
}

// Blast runs one breadth-first search per privilege threshold from src: a
// node's best privilege is the highest threshold whose search reaches it,
// and its proof is that search's (shortest) path. Tenants carry their proof
// paths; PathOf gives any other reached node's.
func (g *Graph) Blast(src int32, q Query) *Blast {
	return g.blast(src, q, g.effective(q.IncludeJIT))
}

func (g *Graph) blast(src int32, q Query, eff []Priv) *Blast {
	// The four searches (one per threshold) run interleaved, depth by depth:
	// a node carries a bit per threshold it has been reached at, and an
	// edge of privilege e carries the bits of thresholds ≤ e. A node
	// reached at every threshold at the same depth is expanded once, not
	// four times. Bit p is set at the depth of the shortest path whose
	// weakest edge is ≥ p, exactly as a separate search would set it.
	n := len(g.Nodes)
	start, to, edge := g.adj.start, g.adj.to, g.adj.edge
	parent := make([]int32, 4*n)
	vis := make([]uint8, n)
	curBits := make([]uint8, n)
	nextBits := make([]uint8, n)
	var order []int32
	cur := []int32{src}
	var next []int32
	vis[src], curBits[src] = 0xF, 0xF
	for len(cur) > 0 {
		next = next[:0]
		for _, v := range cur {
			m := curBits[v]
			curBits[v] = 0
			for s := start[v]; s < start[v+1]; s++ {
				bitsOK := m & lowBits(eff[s])
				if bitsOK == 0 {
					continue
				}
				w := to[s]
				add := bitsOK &^ vis[w]
				if add == 0 {
					continue
				}
				if vis[w] == 0 {
					order = append(order, w)
				}
				vis[w] |= add
				e := edge[s]
				for x := add; x != 0; x &= x - 1 {
					p := bits.TrailingZeros8(x) // threshold p+1
					parent[p*n+int(w)] = e
				}
				if nextBits[w] == 0 {
					next = append(next, w)
				}
				nextBits[w] |= add
			}
		}
		for _, w := range next {
			curBits[w], nextBits[w] = nextBits[w], 0
		}
		cur, next = next, cur
	}
	best := func(w int32) Priv { return Priv(8 - bits.LeadingZeros8(vis[w])) }
	b := &Blast{Source: src, Query: q, g: g, parent: parent}
	for _, w := range order {
		r := Reached{Node: w, Priv: best(w)}
		switch g.Nodes[w].Kind {
		case KindTenant:
			r.Path = b.PathOf(r)
			b.Tenants = append(b.Tenants, r)
		case KindAsset:
			b.Assets = append(b.Assets, r)
		default:
			b.Other = append(b.Other, r)
		}
	}
	if g.Nodes[src].Kind == KindTenant {
		b.Tenants = append([]Reached{{Node: src, Priv: Full}}, b.Tenants...)
	}
	// Tenants: best privilege, then shortest proof, then id. Others: best
	// privilege, then estate order (cheap for hundreds of thousands).
	slices.SortStableFunc(b.Tenants, func(x, y Reached) int {
		if x.Priv != y.Priv {
			return int(y.Priv) - int(x.Priv)
		}
		if len(x.Path) != len(y.Path) {
			return len(x.Path) - len(y.Path)
		}
		return strings.Compare(g.Nodes[x.Node].ID, g.Nodes[y.Node].ID)
	})
	byPriv := func(x, y Reached) int {
		if x.Priv != y.Priv {
			return int(y.Priv) - int(x.Priv)
		}
		return int(x.Node) - int(y.Node)
	}
	slices.SortFunc(b.Assets, byPriv)
	slices.SortFunc(b.Other, byPriv)
	return b
}

// lowBits are the threshold bits an edge of privilege e carries: one per
// threshold ≤ e.
func lowBits(e Priv) uint8 { return uint8(1)<<e - 1 }

// PathOf returns the proof path (edge indexes, source first) of a reached
// node: the shortest path whose weakest edge is r.Priv.
func (b *Blast) PathOf(r Reached) []int32 {
	if r.Path != nil || r.Node == b.Source || r.Priv == None {
		return r.Path
	}
	n := len(b.g.Nodes)
	par := b.parent[int(r.Priv-1)*n : int(r.Priv)*n]
	var p []int32
	for w := r.Node; w != b.Source; {
		e := par[w]
		p = append(p, e)
		w = b.g.Edges[e].From
		if len(p) > n {
			break // defensive: never loop
		}
	}
	slices.Reverse(p)
	return p
}

// Count returns the number of tenants reached at ≥ p.
func (b *Blast) Count(p Priv) int {
	n := 0
	for _, r := range b.Tenants {
		if r.Priv >= p {
			n++
		}
	}
	return n
}
