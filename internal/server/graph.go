package server

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
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

type explorerStep struct {
	N     int    `json:"n"`
	Why   string `json:"why"`
	Flags string `json:"flags"`
	Gain  int    `json:"gain"`
	// Effect is what the step achieves, as the dashboard's fix-first
	// list says it (fixStep.Effect).
	Effect string `json:"effect"`
}

// explorerData is the explorer's data in columns: node i is ID[i],
// Name[i], Full[i] and so on, edge j is Edges[4j:4j+4] and Grants[j].
// Nodes come band by band (Kinds, left to right, Bands[b] nodes each)
// and within a band in the order they are drawn top to bottom, so the
// script lays them out without sorting. One object per node and per edge
// (the encoding before) was 762 kB at 4,885 nodes and took the browser
// three times as long to parse.
type explorerData struct {
	Title     string `json:"title"`
	Tenants   int    `json:"tenants"`
	Limit     int    `json:"limit"`
	Truncated int    `json:"truncated"`
	Excess    int    `json:"excess"`
	// Kinds are the node kinds that have nodes, in drawing order; Bands
	// the number of nodes of each.
	Kinds []string `json:"kinds"`
	Bands []int    `json:"bands"`
	ID    []string `json:"id"`
	Name  []string `json:"name"` // "" when the same as the id
	// MFA[i] indexes MFAs (the strengths named; "" first: none or not an
	// identity or tool).
	MFAs    []string      `json:"mfas"`
	MFA     []int8        `json:"mfa"`
	Exposed []int32       `json:"exposed"` // the internet-exposed nodes
	KEV     []explorerKEV `json:"kev"`     // the nodes with known-exploited vulnerabilities
	// Full, Admin and Any are the tenants each node reaches at full
	// control, at admin or above and at any privilege; Score its weighted
	// blast radius; Rank its position in the blast ranking (1 = worst, 0:
	// not ranked).
	Full  []int32   `json:"tf"`
	Admin []int32   `json:"ta"`
	Any   []int32   `json:"tn"`
	Score []float64 `json:"w"`
	Rank  []int32   `json:"r"`
	// Edges are from, to, privilege 1..4 and kind (index into EdgeKinds),
	// four numbers an edge: the standing edges the engine counts as
	// usable. Grants[j] is edge j's grant id ("" for an implied edge).
	EdgeKinds []string       `json:"edge_kinds"`
	Edges     []int32        `json:"edges"`
	Grants    []string       `json:"grants"`
	Plan      []explorerStep `json:"plan"`
	// EdgeCount is the graph's edges by whether they are usable
	// (trust.Graph.CountEdges, as `firebreak blast` counts them); the
	// view draws the usable ones between drawn nodes. EdgeNote says so.
	EdgeCount trust.EdgeCount `json:"edge_count"`
	EdgeNote  string          `json:"edge_note"`
}

type explorerKEV struct {
	Node int32    `json:"i"`
	CVEs []string `json:"v"`
}

// explorerBands is the order of the explorer's bands, left to right: from
// the internet to the tenants.
var explorerBands = []trust.NodeKind{trust.KindOutsider, trust.KindVendor, trust.KindIdentity, trust.KindGroup,
	trust.KindTool, trust.KindAsset, trust.KindProvider, trust.KindTenant}

// explorerView builds the explorer's data from g. keep maps a graph node
// to its index in the view (-1 when it is not drawn); edges lists the graph
// edge behind each view edge, for the what-if deltas.
func explorerView(g *trust.Graph, title string, max int) (d *explorerData, keep []int32, edges []int32) {
	rk := g.Ranking()
	d = &explorerData{Title: title, Tenants: len(g.Tenants()), Limit: trust.Limit(len(g.Tenants()), g.MaxTenantShare),
		Exposed: []int32{}, KEV: []explorerKEV{}, EdgeKinds: []string{}, Edges: []int32{}, Grants: []string{}}
	d.Excess = excessOf(rk, d.Limit)
	pos := make(map[int32]int32, len(rk.Ranks))
	for i, r := range rk.Ranks {
		pos[r.Node] = int32(i + 1)
	}
	// Which nodes: the outsider, the tenants, then every node or, above
	// max, the widest-reaching.
	keep = make([]int32, len(g.Nodes))
	for i := range keep {
		keep[i] = -1
	}
	var drawn []int32
	add := func(i int32) {
		if keep[i] < 0 {
			keep[i] = 0
			drawn = append(drawn, i)
		}
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
			if len(drawn) >= max {
				break
			}
			add(r.Node)
		}
		d.Truncated = len(g.Nodes) - len(drawn)
	}
	// In what order: band by band; within a band tenants by the tenants
	// they reach, the rest by weighted reach, then at admin, then at any
	// privilege; ties by id.
	band := map[trust.NodeKind]int{}
	for b, k := range explorerBands {
		band[k] = b
	}
	bandOf := func(i int32) int {
		if b, ok := band[g.Nodes[i].Kind]; ok {
			return b
		}
		return len(explorerBands) // a kind the list does not name: last
	}
	slices.SortFunc(drawn, func(a, b int32) int {
		if c := cmp.Compare(bandOf(a), bandOf(b)); c != 0 {
			return c
		}
		ra, rb := rk.Of(a), rk.Of(b)
		if g.Nodes[a].Kind != trust.KindTenant {
			if c := cmp.Compare(rb.Weighted, ra.Weighted); c != 0 {
				return c
			}
			if c := cmp.Compare(rb.Tenants[trust.Admin], ra.Tenants[trust.Admin]); c != 0 {
				return c
			}
		}
		if c := cmp.Compare(rb.Tenants[trust.Read], ra.Tenants[trust.Read]); c != 0 {
			return c
		}
		return cmp.Compare(g.Nodes[a].ID, g.Nodes[b].ID)
	})
	mfas := map[string]int8{"": 0}
	d.MFAs = []string{""}
	for vi, i := range drawn {
		keep[i] = int32(vi)
		n := &g.Nodes[i]
		if k := n.Kind.String(); len(d.Kinds) == 0 || d.Kinds[len(d.Kinds)-1] != k {
			d.Kinds = append(d.Kinds, k)
			d.Bands = append(d.Bands, 0)
		}
		d.Bands[len(d.Bands)-1]++
		name := n.Name
		if name == n.ID {
			name = ""
		}
		var mfa string
		if n.Kind == trust.KindIdentity || n.Kind == trust.KindTool {
			mfa = string(n.MFA)
		}
		m, ok := mfas[mfa]
		if !ok {
			m = int8(len(d.MFAs))
			mfas[mfa] = m
			d.MFAs = append(d.MFAs, mfa)
		}
		r := rk.Of(i)
		d.ID, d.Name, d.MFA = append(d.ID, n.ID), append(d.Name, name), append(d.MFA, m)
		if n.Exposed {
			d.Exposed = append(d.Exposed, int32(vi))
		}
		if len(n.KEV) > 0 {
			d.KEV = append(d.KEV, explorerKEV{Node: int32(vi), CVEs: n.KEV})
		}
		d.Full, d.Admin, d.Any = append(d.Full, r.Tenants[trust.Full]), append(d.Admin, r.Tenants[trust.Admin]), append(d.Any, r.Tenants[trust.Read])
		d.Score, d.Rank = append(d.Score, r.Weighted), append(d.Rank, pos[i])
	}
	kinds := map[trust.EdgeKind]int32{}
	for e := range g.Edges {
		ed := &g.Edges[e]
		p := g.Usable(int32(e), trust.Query{})
		if p == trust.None || keep[ed.From] < 0 || keep[ed.To] < 0 {
			continue
		}
		ki, ok := kinds[ed.Kind]
		if !ok {
			ki = int32(len(d.EdgeKinds))
			kinds[ed.Kind] = ki
			d.EdgeKinds = append(d.EdgeKinds, ed.Kind.String())
		}
		d.Edges = append(d.Edges, keep[ed.From], keep[ed.To], int32(p), ki)
		d.Grants = append(d.Grants, ed.Grant) // implied edges have no id worth showing
		edges = append(edges, int32(e))
	}
	d.EdgeCount = g.CountEdges(trust.Query{})
	d.EdgeNote = explorerEdgeNote(d.EdgeCount, len(edges))
	return d, keep, edges
}

// explorerEdgeNote says how the links drawn relate to the edges `firebreak
// blast` counts: "846 links: the usable edges of the 1016 that firebreak
// blast counts; not usable: 16 just-in-time (not activated), 153 ways in
// that are closed (…), 1 from a disabled identity". The explorer said "846
// edges" and the CLI "1016 edges", with nothing to say why.
func explorerEdgeNote(c trust.EdgeCount, drawn int) string {
	note := fmt.Sprintf("%d links: the usable edges of the %d that firebreak blast counts", drawn, c.All)
	if drawn < c.Usable {
		note = fmt.Sprintf("%d links: the usable edges between the nodes drawn (%d of the %d edges firebreak blast counts are usable)", drawn, c.Usable, c.All)
	}
	if rest := c.Unusable(); rest != "" {
		note += "; not usable: " + rest
	}
	return note
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
	plan  int64  // the id of the blast result whose plan body holds (0: none)
	body  []byte // the data as JSON
	gz    []byte // body gzipped
}

// explorerOf returns the view of g (computed once per graph).
func (s *Server) explorerOf(g *trust.Graph, title string) (d *explorerData, keep, edges []int32) {
	c := &s.explorer
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.g != g || c.view == nil || c.view.Title != title {
		c.view, c.keep, c.edges = explorerView(g, title, explorerMaxNodes)
		c.g, c.plan, c.body, c.gz = g, 0, nil, nil
	}
	return c.view, c.keep, c.edges
}

// explorerBody is the encoded explorer data of g with the plan of blast
// result b (nil: none), as JSON and gzipped, kept until the graph or the
// plan changes.
func (s *Server) explorerBody(g *trust.Graph, title string, b *store.BlastResult) (body, gz []byte, err error) {
	view, _, _ := s.explorerOf(g, title)
	c := &s.explorer
	c.mu.Lock()
	defer c.mu.Unlock()
	var planID int64
	if b != nil {
		planID = b.ID
	}
	if c.body != nil && c.g == g && c.plan == planID {
		return c.body, c.gz, nil
	}
	d := *view
	d.Plan = []explorerStep{}
	if b != nil {
		if steps, err := storedPlanChanges(b.JSON); err == nil {
			p := s.planOf(b)
			for i, st := range steps {
				es := explorerStep{N: i + 1, Why: st.Why, Flags: st.Flags, Gain: st.Gain}
				if p != nil && i < len(p.Steps) {
					es.Effect = p.Steps[i].Effect()
				}
				d.Plan = append(d.Plan, es)
			}
		}
	}
	if body, err = json.Marshal(&d); err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	gz = buf.Bytes()
	if c.g == g {
		c.plan, c.body, c.gz = planID, body, gz
	}
	return body, gz, nil
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
	if _, _, err := s.explorerBody(g, title, b); err != nil {
		s.log.Warn("explorer data", "err", err)
	}
}

// handleBlastGraphData serves the explorer's data, gzipped to a client
// that accepts it (at 5,000 nodes about a fifth of the bytes). It is not
// kept by the browser (no-store, as every page): it maps every path into
// every customer.
func (s *Server) handleBlastGraphData(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	g, title, err := s.explorerGraph(p)
	if err != nil {
		return err
	}
	b, err := s.latestBlast(r.Context(), p.Scope)
	if err != nil && !isNotFound(err) {
		return err
	}
	body, gz, err := s.explorerBody(g, title, b)
	if err != nil {
		return err
	}
	writeExplorerData(w, r, body, gz)
	return nil
}

// writeExplorerData writes the explorer's data, gz when the request
// accepts gzip.
func writeExplorerData(w http.ResponseWriter, r *http.Request, body, gz []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// acceptsGzip reports whether an Accept-Encoding header value accepts
// gzip: it names gzip without q=0, or * without q=0 and not gzip.
func acceptsGzip(v string) bool {
	gzipQ, anyQ := -1.0, -1.0
	for part := range strings.SplitSeq(v, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		q := 1.0
		for param := range strings.SplitSeq(params, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(param), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					q = f
				}
			}
		}
		if name == "gzip" {
			gzipQ = q
		} else {
			anyQ = q
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return anyQ > 0
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
