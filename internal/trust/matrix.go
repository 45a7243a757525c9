package trust

import (
	"math/bits"
	"slices"

	"github.com/firebreak-msp/firebreak/internal/access"
)

// Matrix is the access matrix of the graph (see access.Matrix): for every
// identity, group, tool and vendor, each tenant it reaches with the best
// standing and the best eligible (just-in-time activated) bottleneck
// privilege and the first hop of a path achieving each. It is computed
// once per graph, on first use, with the same threshold passes as the
// ranking (so it agrees with it and with Blast by construction, and the
// property test checks that it does).
func (g *Graph) Matrix() *access.Matrix {
	g.matrixOnce.Do(func() { g.matrix = g.computeMatrix() })
	return g.matrix
}

func isPrincipal(k NodeKind) bool {
	return k == KindIdentity || k == KindGroup || k == KindTool || k == KindVendor
}

func (g *Graph) computeMatrix() *access.Matrix {
	n := len(g.Nodes)
	T := len(g.tenants)
	tenants := make([]string, T)
	for i, t := range g.tenants {
		tenants[i] = g.Nodes[t].ID
	}
	names := make([]string, n)
	var principals []int32
	pidx := make([]int32, n)
	for i := range g.Nodes {
		names[i] = g.Nodes[i].ID
		pidx[i] = -1
		if isPrincipal(g.Nodes[i].Kind) {
			pidx[i] = int32(len(principals))
			principals = append(principals, int32(i))
		}
	}
	// The standing and the just-in-time passes are independent: they run
	// side by side, and each row is then merged tenant by tenant.
	hasJIT := slices.ContainsFunc(g.Edges, func(e Edge) bool { return e.JIT })
	var jitRows [][]access.Cell
	done := make(chan struct{})
	if hasJIT {
		go func() {
			defer close(done)
			jitRows = g.matrixRows(principals, true)
		}()
	} else {
		close(done)
	}
	rows := g.matrixRows(principals, false)
	for _, row := range rows {
		for c := range row {
			row[c].Eligible, row[c].JITVia = row[c].Standing, row[c].Via
		}
	}
	<-done
	if hasJIT { // else nothing is just in time: eligible is standing
		var buf []access.Cell
		for k := range rows {
			if len(jitRows[k]) == 0 {
				continue
			}
			buf = mergeByTenant(buf[:0], rows[k], jitRows[k])
			rows[k] = mergeJIT(slices.Clone(buf))
		}
	}
	b := access.NewMatrixBuilder(tenants, names, len(principals))
	for k, v := range principals {
		b.Add(access.Principal{ID: g.Nodes[v].ID, Kind: g.Nodes[v].Kind.String(), Node: v}, rows[k])
	}
	return b.Matrix()
}

// matrixRows runs the threshold passes of one mode (standing, or with
// just-in-time access activated) and returns, per principal, a cell for
// each tenant it reaches at its best privilege in that mode with the first
// hop of a path achieving it, in tenant order.
func (g *Graph) matrixRows(principals []int32, jit bool) [][]access.Cell {
	W := (len(g.tenants) + 63) / 64
	rows := make([][]access.Cell, len(principals))
	start, to := g.adj.start, g.adj.to
	nodeSet := make([][]uint64, len(g.Nodes))
	var ws workspace
	ws.keep = func(v int32, set []uint64) { nodeSet[v] = set }
	eff := g.effective(jit)
	assigned := make([][]uint64, len(principals))
	for thr := Full; thr >= Read; thr-- {
		// The kept sets are valid until the next pass reuses the
		// workspace's slab; each pass is used up before the next.
		clear(nodeSet)
		g.passWS(&ws, eff, thr, false)
		for k, v := range principals {
			set := nodeSet[v]
			if set == nil {
				continue
			}
			if assigned[k] == nil {
				assigned[k] = make([]uint64, W)
			}
			for w := range W {
				fresh := set[w] &^ assigned[k][w]
				if fresh == 0 {
					continue
				}
				assigned[k][w] |= fresh
				// The first usable out-edge whose head reaches each bit.
				for s := start[v]; s < start[v+1] && fresh != 0; s++ {
					if eff[s] < thr {
						continue
					}
					u := to[s]
					var cov uint64
					if hs := nodeSet[u]; hs != nil {
						cov = hs[w]
					}
					if b := g.tbit[u]; b >= 0 && int(b>>6) == w {
						cov |= 1 << (uint(b) & 63)
					}
					cov &= fresh
					fresh &^= cov
					rows[k] = record(rows[k], cov, w, thr, u, jit)
				}
				rows[k] = record(rows[k], fresh, w, thr, -1, jit) // not expected: every reached bit has a hop
			}
		}
	}
	// Tenant order without a sort: each reached tenant has exactly one
	// cell (its bit is recorded once, at the highest threshold), and
	// assigned[k] holds exactly the row's tenants.
	at := make([]int32, len(g.tenants))
	var tmp []access.Cell
	for k, row := range rows {
		if len(row) < 2 {
			continue
		}
		for i := range row {
			at[row[i].Tenant] = int32(i)
		}
		tmp = append(tmp[:0], row...)
		i := 0
		for w, word := range assigned[k] {
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &= word - 1
				row[i] = tmp[at[w*64+b]]
				i++
			}
		}
	}
	return rows
}

// mergeByTenant appends to dst the cells of a and b (each in tenant
// order) in tenant order.
func mergeByTenant(dst, a, b []access.Cell) []access.Cell {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if b[j].Tenant < a[i].Tenant {
			dst = append(dst, b[j])
			j++
		} else {
			dst = append(dst, a[i])
			i++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}

// record appends a cell per bit of word w. In the standing pass it adds
// cells; in the just-in-time pass it adds provisional cells (Standing
// none) that mergeJIT folds into the standing ones.
func record(row []access.Cell, word uint64, w int, thr Priv, via int32, jit bool) []access.Cell {
	for word != 0 {
		b := bits.TrailingZeros64(word)
		word &= word - 1
		c := access.Cell{Tenant: int32(w*64 + b)}
		if jit {
			c.Eligible, c.JITVia, c.Via = access.Level(thr), via, -1
		} else {
			c.Standing, c.Via = access.Level(thr), via
		}
		row = append(row, c)
	}
	return row
}

// mergeJIT folds, in a row sorted by tenant, each just-in-time cell into
// the standing cell of the same tenant (keeping the standing via when
// just-in-time access does not raise the privilege).
func mergeJIT(row []access.Cell) []access.Cell {
	out := row[:0]
	for i := 0; i < len(row); {
		c := row[i]
		j := i + 1
		for ; j < len(row) && row[j].Tenant == c.Tenant; j++ {
			d := row[j]
			if c.Standing == access.LevelNone { // c is the jit cell; d the standing one
				c, d = d, c
			}
			if d.Eligible > c.Standing {
				c.Eligible, c.JITVia = d.Eligible, d.JITVia
			} else {
				c.Eligible, c.JITVia = c.Standing, c.Via
			}
		}
		if j == i+1 && c.Standing != access.LevelNone && c.Eligible < c.Standing {
			// A standing cell the just-in-time passes did not see cannot
			// happen (jit only adds edges); keep it consistent anyway.
			c.Eligible, c.JITVia = c.Standing, c.Via
		}
		out = append(out, c)
		i = j
	}
	return out
}
