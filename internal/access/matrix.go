package access

import (
	"slices"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Level is a privilege as a small ordered number: 0 none, then read,
// operate, admin and full control (estate.Privilege.Rank).
type Level uint8

// Levels, lowest first.
const (
	LevelNone Level = iota
	LevelRead
	LevelOperate
	LevelAdmin
	LevelFull
)

// Privilege is the estate privilege of l ("" for none).
func (l Level) Privilege() estate.Privilege {
	switch l {
	case LevelRead:
		return estate.PrivRead
	case LevelOperate:
		return estate.PrivOperate
	case LevelAdmin:
		return estate.PrivAdmin
	case LevelFull:
		return estate.PrivFull
	}
	return ""
}

// String names l as the estate does ("none" for none).
func (l Level) String() string {
	if p := l.Privilege(); p != "" {
		return string(p)
	}
	return "none"
}

// Cell is the effective access of one principal in one tenant.
type Cell struct {
	Tenant int32 // index into Matrix.Tenants
	// Via and JITVia index Matrix.Names: the first hop of a path achieving
	// Standing (Via) and, when just-in-time access raises it, Eligible
	// (JITVia; otherwise equal to Via). The whole path is blast --from's.
	Via, JITVia int32
	// Standing is the bottleneck privilege of the best path of standing
	// edges (none when the tenant is reached only just in time); Eligible
	// the best when just-in-time edges are activated (≥ Standing).
	Standing, Eligible Level
}

// Principal is one row of the matrix.
type Principal struct {
	ID   string
	Kind string // identity, group, tool, vendor
	Node int32  // its index in the names (the trust graph's node)
}

// Matrix is the effective privilege of every principal (identity, group,
// tool, vendor) in every tenant it reaches: the widest-path (bottleneck)
// privilege over the whole trust graph, standing and eligible, with the
// first hop of the path. It is sparse — only reached tenants are stored,
// each principal's cells sorted by tenant — so 100,000 identities × 2,000
// tenants cost what they reach, not their product.
//
// Paths run through tools, vaults and hosts, so the trust graph fills it
// (trust.Graph.Matrix) once per estate and clock, with the access facts
// the graph was built from; assess (input.trust.by_tenant[T].access) and
// blast read it.
type Matrix struct {
	Tenants    []string
	Principals []Principal
	// Names are the node ids Cell.Via and Cell.JITVia refer to.
	Names []string
	start []int32 // cells of principal i: cells[start[i]:start[i+1]]
	cells []Cell
	byID  map[string]int32
}

// MatrixBuilder fills a Matrix one principal at a time, in order.
type MatrixBuilder struct{ m *Matrix }

// NewMatrixBuilder starts a matrix over tenants, with names for the vias.
func NewMatrixBuilder(tenants, names []string, principals int) *MatrixBuilder {
	m := &Matrix{Tenants: tenants, Names: names, Principals: make([]Principal, 0, principals),
		start: make([]int32, 1, principals+1), byID: make(map[string]int32, principals)}
	return &MatrixBuilder{m: m}
}

// Add appends one principal and its cells (sorted by tenant, each tenant
// once). cells is copied.
func (b *MatrixBuilder) Add(p Principal, cells []Cell) {
	m := b.m
	if _, dup := m.byID[p.ID]; !dup { // an id naming several nodes: the first
		m.byID[p.ID] = int32(len(m.Principals))
	}
	m.Principals = append(m.Principals, p)
	m.cells = append(m.cells, cells...)
	m.start = append(m.start, int32(len(m.cells)))
}

// Matrix returns the finished matrix.
func (b *MatrixBuilder) Matrix() *Matrix { return b.m }

// Name is the node id of a via ("" for none).
func (m *Matrix) Name(via int32) string {
	if via < 0 || int(via) >= len(m.Names) {
		return ""
	}
	return m.Names[via]
}

// Len is the number of stored cells.
func (m *Matrix) Len() int { return len(m.cells) }

// Row returns the cells of principal i, sorted by tenant.
func (m *Matrix) Row(i int) []Cell { return m.cells[m.start[i]:m.start[i+1]] }

// Of returns the cells of the principal with this id (nil when it reaches
// nothing or is not a principal).
func (m *Matrix) Of(id string) []Cell {
	i, ok := m.byID[id]
	if !ok {
		return nil
	}
	return m.Row(int(i))
}

// At returns principal id's cell for tenant (false when it has no access).
func (m *Matrix) At(id, tenant string) (Cell, bool) {
	t := slices.Index(m.Tenants, tenant)
	if t < 0 {
		return Cell{}, false
	}
	row := m.Of(id)
	k, ok := slices.BinarySearchFunc(row, int32(t), func(c Cell, t int32) int { return int(c.Tenant - t) })
	if !ok {
		return Cell{}, false
	}
	return row[k], true
}

// Level of c: standing, or eligible when jit is true.
func (c Cell) Level(jit bool) Level {
	if jit {
		return c.Eligible
	}
	return c.Standing
}

// TenantAccess is, for one tenant, how many principals reach it at each
// level (at ≥ that level), standing and eligible.
type TenantAccess struct {
	Standing, Eligible [LevelFull + 1]int
}

// ByTenant counts, per tenant (parallel to Tenants), the principals
// reaching it at ≥ each level, and calls each (when not nil) with every
// principal and cell in principal order.
func (m *Matrix) ByTenant(each func(p int, c Cell)) []TenantAccess {
	out := make([]TenantAccess, len(m.Tenants))
	for p := range m.Principals {
		for _, c := range m.Row(p) {
			ta := &out[c.Tenant]
			for l := LevelRead; l <= c.Standing; l++ {
				ta.Standing[l]++
			}
			for l := LevelRead; l <= c.Eligible; l++ {
				ta.Eligible[l]++
			}
			if each != nil {
				each(p, c)
			}
		}
	}
	return out
}

// Reaching lists the principals (indexes, in order) reaching tenant at
// ≥ min: standing access only, or with just-in-time access when jit.
func (m *Matrix) Reaching(tenant string, min Level, jit bool) []int {
	t := int32(slices.Index(m.Tenants, tenant))
	var out []int
	for p := range m.Principals {
		row := m.Row(p)
		k, ok := slices.BinarySearchFunc(row, t, func(c Cell, t int32) int { return int(c.Tenant - t) })
		if ok && row[k].Level(jit) >= min && min > LevelNone {
			out = append(out, p)
		}
	}
	return out
}

// Column returns, for tenant, every principal (index) reaching it and its
// cell, in principal order (nil for an unknown tenant).
func (m *Matrix) Column(tenant string) (ps []int, cells []Cell) {
	t := int32(slices.Index(m.Tenants, tenant))
	if t < 0 {
		return nil, nil
	}
	for p := range m.Principals {
		row := m.Row(p)
		if k, ok := slices.BinarySearchFunc(row, t, func(c Cell, t int32) int { return int(c.Tenant - t) }); ok {
			ps, cells = append(ps, p), append(cells, row[k])
		}
	}
	return ps, cells
}
