package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/evaluate"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// The explorer's numbers are the engine's: its excess is the plan's
// before, each plan step applied through explorerApply lowers it by the
// step's gain, and every usable edge of the view is one the engine counts.
func TestExplorerWhatIfFollowsPlan(t *testing.T) {
	g := harbourviewGraph(t)
	rep, err := trust.NewReport(g, trust.ReportOptions{Suggest: true})
	if err != nil || rep.Plan == nil || len(rep.Plan.Steps) < 2 {
		t.Fatalf("plan: %v", err)
	}
	d, keep, edges := explorerView(g, "x", explorerMaxNodes)
	if d.Excess != rep.Plan.ExcessBefore {
		t.Errorf("explorer excess %d, plan's before %d", d.Excess, rep.Plan.ExcessBefore)
	}
	if len(d.ID) != len(g.Nodes) || d.Truncated != 0 || len(d.Edges) != 4*len(edges) || len(d.Grants) != len(edges) {
		t.Fatalf("view: %d of %d nodes, %d edge numbers (%d edges behind them)", len(d.ID), len(g.Nodes), len(d.Edges), len(edges))
	}
	for vi, e := range edges {
		ed := g.Edges[e]
		if p := g.Usable(e, trust.Query{}); p == trust.None || int32(p) != d.Edges[4*vi+2] {
			t.Fatalf("view edge %d: privilege %v, engine %v", vi, d.Edges[4*vi+2], p)
		}
		if from, to := d.Edges[4*vi], d.Edges[4*vi+1]; d.ID[from] != g.Nodes[ed.From].ID || d.ID[to] != g.Nodes[ed.To].ID || d.EdgeKinds[d.Edges[4*vi+3]] != ed.Kind.String() || d.Grants[vi] != ed.Grant {
			t.Fatalf("view edge %d: %s -[%s %s]-> %s, engine %s -[%s %s]-> %s", vi, d.ID[from], d.EdgeKinds[d.Edges[4*vi+3]], d.Grants[vi], d.ID[to],
				g.Nodes[ed.From].ID, ed.Kind, ed.Grant, g.Nodes[ed.To].ID)
		}
	}
	want := rep.Plan.ExcessBefore
	var steps []int
	var changes []trust.Change
	for i, st := range rep.Plan.Steps {
		steps = append(steps, i+1)
		changes = append(changes, st.Changes...)
		w, err := explorerApply(g, keep, edges, steps, changes)
		if err != nil {
			t.Fatalf("steps %v: %v", steps, err)
		}
		want -= st.Gain
		if w.Excess != want {
			t.Errorf("after steps %v: excess %d, plan says %d", steps, w.Excess, want)
		}
		if len(w.Edges) == 0 && len(w.Nodes) == 0 {
			t.Errorf("after steps %v: nothing changed", steps)
		}
	}
	if want != rep.Plan.ExcessAfter {
		t.Errorf("plan: before %d minus gains = %d, after %d", rep.Plan.ExcessBefore, want, rep.Plan.ExcessAfter)
	}
	// Too many nodes: tenants and the outsider stay, the rest by reach.
	small, _, _ := explorerView(g, "x", 40)
	if len(small.ID) != 40 || small.Truncated != len(g.Nodes)-40 || small.Kinds[0] != "outsider" || small.ID[0] != trust.OutsiderID {
		t.Errorf("bounded view: %d nodes, %d left out, first %q %q", len(small.ID), small.Truncated, small.Kinds[0], small.ID[0])
	}
}

// The explorer's data is built once per trust graph and plan: a second
// request gets the same encoded bytes; a new plan (blast result) or a new
// graph (estate) gives new data, equal to encoding the view afresh.
func TestExplorerDataKeptPerGraph(t *testing.T) {
	g := harbourviewGraph(t)
	var s Server
	a, agz, err := s.explorerBody(g, "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, bgz, err := s.explorerBody(g, "x", nil)
	if err != nil || &a[0] != &b[0] || &agz[0] != &bgz[0] {
		t.Fatalf("second request re-encoded the view (%v)", err)
	}
	d, _, _ := explorerView(g, "x", explorerMaxNodes)
	d.Plan = []explorerStep{}
	want, _ := json.Marshal(d)
	if !bytes.Equal(a, want) {
		t.Errorf("kept data differs from the view encoded afresh")
	}
	plan := []byte(`{"plan":{"steps":[{"why":"cut it","flags":"--cut x","gain":3}]}}`)
	c, _, err := s.explorerBody(g, "x", &store.BlastResult{ID: 7, JSON: plan})
	if err != nil || !bytes.Contains(c, []byte(`"why":"cut it"`)) {
		t.Errorf("a new plan: %v %.200s", err, c)
	}
	g2 := harbourviewGraph(t)
	v1, _, _ := s.explorerOf(g, "x")
	if d2, _, _ := s.explorerOf(g2, "x"); d2 == nil || d2 == v1 {
		t.Errorf("a new graph kept the old view")
	}
}

// An assessment builds the explorer's data for its graph and plan, so the
// first person to open the explorer afterwards does not wait for the view
// to be ranked and encoded (at 5,000 nodes, the first paint's worst part).
func TestExplorerDataBuiltByAssessment(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e, err := estate.Load(filepath.Join("..", "..", "examples", "harbourview"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng)
	f.srv.work.SetEstate(e, 0)
	if _, _, err := f.srv.work.Assess(ctx, e, 0, "test"); err != nil {
		t.Fatal(err)
	}
	b, err := f.st.GetBlast(ctx, store.AllTenants(), 0)
	if err != nil {
		t.Fatal(err)
	}
	c := &f.srv.explorer
	c.mu.Lock()
	body, plan := c.body, c.plan
	c.mu.Unlock()
	if body == nil || plan != b.ID {
		t.Fatalf("after the assessment the explorer holds %d bytes for plan %d, want the data of plan %d", len(body), plan, b.ID)
	}
	g, title, err := f.srv.explorerGraph(&auth.Principal{Scope: store.AllTenants()})
	if err != nil {
		t.Fatal(err)
	}
	if served, _, err := f.srv.explorerBody(g, title, b); err != nil || &served[0] != &body[0] {
		t.Errorf("the explorer's request built its data again (%v)", err)
	}
}

// The explorer's data goes gzipped to a browser that accepts it (the
// same JSON, a fifth of the bytes), plain to one that does not, and is
// never kept by the browser.
func TestExplorerDataGzipped(t *testing.T) {
	g := harbourviewGraph(t)
	var s Server
	body, gz, err := s.explorerBody(g, "x", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		accept string
		gzip   bool
	}{
		{"", false}, {"gzip, deflate, br, zstd", true}, {"br;q=1.0, GZIP;q=0.5", true}, {"gzip;q=0", false}, {"*", true},
		{"*;q=0", false}, {"gzip;q=0, *", false}, {"*;q=0, gzip", true}, {"identity", false}, {"x-gzip", false},
	} {
		r := httptest.NewRequest("GET", "/blast/graph/data", nil)
		if tc.accept != "" {
			r.Header.Set("Accept-Encoding", tc.accept)
		}
		w := httptest.NewRecorder()
		writeExplorerData(w, r, body, gz)
		got := w.Body.Bytes()
		if enc := w.Header().Get("Content-Encoding"); (enc == "gzip") != tc.gzip {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", tc.accept, enc)
		}
		if tc.gzip {
			zr, err := gzip.NewReader(bytes.NewReader(got))
			if err != nil {
				t.Fatal(err)
			}
			if got, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, body) || w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("Accept-Encoding %q: %d bytes decoded (want %d), headers %v", tc.accept, len(got), len(body), w.Header())
		}
	}
	if len(gz)*3 > len(body) {
		t.Errorf("gzipped %d of %d bytes", len(gz), len(body))
	}
}

// harbourviewGraph is the example estate's trust graph.
func harbourviewGraph(t *testing.T) *trust.Graph {
	t.Helper()
	e, err := estate.Load(filepath.Join("..", "..", "examples", "harbourview"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := evaluate.TrustGraph(e, evaluate.Deps{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
