package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// The trust-graph explorer (/blast/graph) is a page plus /static/graph.js,
// which fetches the graph from /blast/graph/data and, for "what if I fix
// this", the effect of the plan's steps from /blast/graph/whatif. The
// engine decides which edges are usable (trust.Graph.Usable, before and
// after the changes) and every node's counts; the script only walks the
// usable edges from the node a person picks (widest path, shortest proof),
// which the browser test checks against trust.Graph.Blast.

// explorerMaxNodes bounds the view; above it, the tenants, the outsider and
// the nodes with the widest blast radius are drawn.
const explorerMaxNodes = 6000

type explorerNode struct {
	ID    string   `json:"id"`
	Kind  string   `json:"k"`
	Sub   string   `json:"s,omitempty"`
	Name  string   `json:"n,omitempty"`
	MFA   string   `json:"m,omitempty"`
	Exp   bool     `json:"x,omitempty"`
	KEV   []string `json:"v,omitempty"`
	Full  int32    `json:"tf"`
	Admin int32    `json:"ta"`
	Any   int32    `json:"tn"`
	Score float64  `json:"w"`
	Rank  int      `json:"r,omitempty"` // position in the blast ranking (1 = worst)
}

type explorerStep struct {
	N     int    `json:"n"`
	Why   string `json:"why"`
	Flags string `json:"flags"`
	Gain  int    `json:"gain"`
}

type explorerData struct {
	Title   string         `json:"title"`
	Tenants int            `json:"tenants"`
	Limit   int            `json:"limit"`
	Nodes   []explorerNode `json:"nodes"`
	// Edges are [from, to, privilege 1..4, kind (index into EdgeKinds)],
	// then the grant's id when the edge is a grant: the standing edges the
	// engine counts as usable.
	EdgeKinds []string       `json:"edge_kinds"`
	Edges     [][]any        `json:"edges"`
	Truncated int            `json:"truncated"`
	Excess    int            `json:"excess"`
	Plan      []explorerStep `json:"plan"`
}

// explorerView builds the explorer's data from g. keep maps a graph node
// to its index in the view (-1 when it is not drawn); edges lists the graph
// edge behind each view edge, for the what-if deltas.
func explorerView(g *trust.Graph, title string, max int) (d *explorerData, keep []int32, edges []int32) {
	rk := g.Ranking()
	d = &explorerData{Title: title, Tenants: len(g.Tenants()), Limit: trust.Limit(len(g.Tenants()), g.MaxTenantShare)}
	d.Excess = excessOf(rk, d.Limit)
	pos := make(map[int32]int, len(rk.Ranks))
	for i, r := range rk.Ranks {
		pos[r.Node] = i + 1
	}
	keep = make([]int32, len(g.Nodes))
	for i := range keep {
		keep[i] = -1
	}
	add := func(i int32) {
		if keep[i] >= 0 {
			return
		}
		keep[i] = int32(len(d.Nodes))
		n := &g.Nodes[i]
		r := rk.Of(i)
		x := explorerNode{ID: n.ID, Kind: n.Kind.String(), Sub: n.Sub, Name: n.Name, Exp: n.Exposed, KEV: n.KEV,
			Full: r.Tenants[trust.Full], Admin: r.Tenants[trust.Admin], Any: r.Tenants[trust.Read], Score: r.Weighted, Rank: pos[i]}
		if n.Kind == trust.KindIdentity || n.Kind == trust.KindTool {
			x.MFA = string(n.MFA)
		}
		d.Nodes = append(d.Nodes, x)
	}
	add(g.Outsider())
	for _, t := range g.Tenants() {
		add(t)
	}
	if len(g.Nodes) <= max {
		for i := range g.Nodes {
			add(int32(i))
		}
	} else {
		for _, r := range rk.Ranks {
			if len(d.Nodes) >= max {
				break
			}
			add(r.Node)
		}
		d.Truncated = len(g.Nodes) - len(d.Nodes)
	}
	kinds := map[string]int{}
	for e := range g.Edges {
		ed := &g.Edges[e]
		p := g.Usable(int32(e), trust.Query{})
		if p == trust.None || keep[ed.From] < 0 || keep[ed.To] < 0 {
			continue
		}
		k := ed.Kind.String()
		ki, ok := kinds[k]
		if !ok {
			ki = len(d.EdgeKinds)
			kinds[k] = ki
			d.EdgeKinds = append(d.EdgeKinds, k)
		}
		x := []any{keep[ed.From], keep[ed.To], int(p), ki}
		if ed.Grant != "" {
			x = append(x, ed.Grant) // implied edges have no id worth showing
		}
		d.Edges = append(d.Edges, x)
		edges = append(edges, int32(e))
	}
	return d, keep, edges
}

// excessOf is the plan's measure: Σ over nodes of the tenants reached at
// admin or above beyond the limit.
func excessOf(rk *trust.Ranking, limit int) int {
	x := 0
	for _, r := range rk.Ranks {
		x += max(0, r.AtAdmin()-limit)
	}
	return x
}

// explorerWhatIf is the effect of some of the plan's steps: the view edges
// whose usable privilege changed ([edge, privilege], 0 = no longer usable),
// the drawn nodes whose counts changed ([node, at full, at admin, at any,
// score]) and the excess after.
type explorerWhatIf struct {
	Steps  []int    `json:"steps"`
	Edges  [][2]int `json:"edges"`
	Nodes  [][]any  `json:"nodes"`
	Excess int      `json:"excess"`
	Limit  int      `json:"limit"`
}

func explorerApply(g *trust.Graph, keep []int32, edges []int32, steps []int, changes []trust.Change) (*explorerWhatIf, error) {
	h, err := g.With(changes...)
	if err != nil {
		return nil, err
	}
	out := &explorerWhatIf{Steps: steps, Edges: [][2]int{}, Nodes: [][]any{}, Limit: trust.Limit(len(g.Tenants()), g.MaxTenantShare)}
	for vi, e := range edges {
		if a, b := g.Usable(e, trust.Query{}), h.Usable(e, trust.Query{}); a != b {
			out.Edges = append(out.Edges, [2]int{vi, int(b)})
		}
	}
	before, after := g.Ranking(), h.Ranking()
	for i, k := range keep {
		if k < 0 {
			continue
		}
		a, b := before.Of(int32(i)), after.Of(int32(i))
		if a.Tenants != b.Tenants || a.Weighted != b.Weighted {
			out.Nodes = append(out.Nodes, []any{k, b.Tenants[trust.Full], b.Tenants[trust.Admin], b.Tenants[trust.Read], b.Weighted})
		}
	}
	out.Excess = excessOf(after, out.Limit)
	return out, nil
}

// storedPlanChanges reads the changes of each step of the plan stored with
// the latest MSP-wide blast result (the plan `firebreak blast --suggest`
// prints).
func storedPlanChanges(js []byte) ([]trust.SuggestionView, error) {
	var doc struct {
		Plan *trust.PlanView `json:"plan"`
	}
	if err := json.Unmarshal(js, &doc); err != nil || doc.Plan == nil {
		return nil, err
	}
	return doc.Plan.Steps, nil
}

// explorerGraph is the trust graph of the current estate (MSP-wide callers
// only: it shows every tenant).
func (s *Server) explorerGraph(p *auth.Principal) (*trust.Graph, string, error) {
	eng := s.work.Engines()
	if !p.Scope.AllTenants || eng == nil || eng.Graph == nil {
		return nil, "", errNotFound
	}
	e, _ := s.work.CurrentEstate()
	if e == nil {
		return nil, "", errNotFound
	}
	g, err := eng.Graph(e)
	if err != nil {
		return nil, "", err
	}
	return g, e.Provider.Name, nil
}

type graphPage struct {
	pageBase
	Focus string // a node to select first (?node=)
}

// handleBlastGraph is the explorer's page; the script fetches the data.
func (s *Server) handleBlastGraph(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if _, _, err := s.explorerGraph(p); err != nil {
		return err
	}
	pg := &graphPage{pageBase: s.basePage(r.Context(), p, "Trust graph", "blast"), Focus: r.URL.Query().Get("node")}
	return s.render(w, r, "graph", pg)
}

// explorerCache keeps the explorer's view of one trust graph (the engines
// build one per estate) and its encoded data for one stored plan: the view
// changes only when the estate or the assessment does, so the data request
// is a copy of bytes, not a ranking and an encoding of the whole graph.
type explorerCache struct {
	mu    sync.Mutex
	g     *trust.Graph
	keep  []int32
	edges []int32
	view  *explorerData
	plan  int64 // the id of the blast result whose plan body holds (0: none)
	body  []byte
}

// explorerOf returns the view of g (computed once per graph).
func (s *Server) explorerOf(g *trust.Graph, title string) (d *explorerData, keep, edges []int32) {
	c := &s.explorer
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.g != g || c.view == nil || c.view.Title != title {
		c.view, c.keep, c.edges = explorerView(g, title, explorerMaxNodes)
		c.g, c.plan, c.body = g, 0, nil
	}
	return c.view, c.keep, c.edges
}

// explorerBody is the encoded explorer data of g with the plan of blast
// result b (nil: none), kept until the graph or the plan changes.
func (s *Server) explorerBody(g *trust.Graph, title string, b *store.BlastResult) ([]byte, error) {
	view, _, _ := s.explorerOf(g, title)
	c := &s.explorer
	c.mu.Lock()
	defer c.mu.Unlock()
	var planID int64
	if b != nil {
		planID = b.ID
	}
	if c.body != nil && c.g == g && c.plan == planID {
		return c.body, nil
	}
	d := *view
	d.Plan = []explorerStep{}
	if b != nil {
		if steps, err := storedPlanChanges(b.JSON); err == nil {
			for i, st := range steps {
				d.Plan = append(d.Plan, explorerStep{N: i + 1, Why: st.Why, Flags: st.Flags, Gain: st.Gain})
			}
		}
	}
	body, err := json.Marshal(&d)
	if err != nil {
		return nil, err
	}
	if c.g == g {
		c.plan, c.body = planID, body
	}
	return body, nil
}

// warmExplorer builds the explorer's data for the current estate's graph
// and the latest MSP-wide plan (what handleBlastGraphData serves an
// MSP-wide caller); without an engine or an estate there is nothing to do.
func (s *Server) warmExplorer(ctx context.Context) {
	g, title, err := s.explorerGraph(&auth.Principal{Scope: store.AllTenants()})
	if err != nil {
		return
	}
	b, err := s.latestBlast(ctx, store.AllTenants())
	if err != nil && !isNotFound(err) {
		s.log.Warn("explorer data", "err", err)
		return
	}
	if _, err := s.explorerBody(g, title, b); err != nil {
		s.log.Warn("explorer data", "err", err)
	}
}

func (s *Server) handleBlastGraphData(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	g, title, err := s.explorerGraph(p)
	if err != nil {
		return err
	}
	b, err := s.latestBlast(r.Context(), p.Scope)
	if err != nil && !isNotFound(err) {
		return err
	}
	body, err := s.explorerBody(g, title, b)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(body)
	return err
}

func (s *Server) handleBlastGraphWhatIf(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	g, title, err := s.explorerGraph(p)
	if err != nil {
		return err
	}
	b, err := s.latestBlast(r.Context(), p.Scope)
	if err != nil {
		return err
	}
	if b == nil {
		return errNotFound
	}
	plan, err := storedPlanChanges(b.JSON)
	if err != nil {
		return err
	}
	var steps []int
	var changes []trust.Change
	for f := range strings.SplitSeq(r.URL.Query().Get("steps"), ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > len(plan) {
			return errBadRequest("steps: expected plan step numbers 1..%d", len(plan))
		}
		if slices.Contains(steps, n) {
			continue
		}
		steps = append(steps, n)
		changes = append(changes, plan[n-1].Changes...)
	}
	_, keep, edges := s.explorerOf(g, title)
	out, err := explorerApply(g, keep, edges, steps, changes)
	if err != nil {
		return errBadRequest("the plan no longer applies to the current estate; reassess")
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
