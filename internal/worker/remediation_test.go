package worker

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// The remediation queue's "controls it fixes" on the bundled example: every
// one of the first steps — the overview's fix-first list, where most are
// "make every standing grant to tool X just-in-time" or "make group G's
// standing access just-in-time" — names the failing controls on the grants
// it changes, resolved by the trust graph the plan was made on (the same
// EdgesFor the what-if applies), not only on a node named in the change.
func TestRemediationControlsOnExample(t *testing.T) {
	e, eng := exampleEngines(t)
	rep, err := eng.Assess(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	b, err := eng.Blast(e)
	if err != nil {
		t.Fatal(err)
	}
	g, err := eng.Graph(e)
	if err != nil {
		t.Fatal(err)
	}
	steps, ok := remediationSteps(b, rep.Results, g)
	if !ok || len(steps) < 5 {
		t.Fatalf("%d steps (plan %v)", len(steps), ok)
	}
	for _, st := range steps[:5] {
		if len(st.Controls) == 0 {
			t.Errorf("step %d %q: no controls it fixes", st.Rank, st.Action)
		}
		t.Logf("step %d %q: %v", st.Rank, st.Action, st.Controls)
	}
}

// A remediation step is done when the controls it fixes pass on the next
// assessment, not when the next plan drops it (issue 15): assessment 1
// fails FB-PRIV-001 on the tool the step changes (open); assessment 2's
// plan no longer lists the step but the control still fails (still open,
// its run the one that last listed it: the dashboard says why);
// assessment 3 passes the control (done, at assessment 3's time).
func TestRemediationDoneWhenControlPasses(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	w, err := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Engines: &Engines{}})
	if err != nil {
		t.Fatal(err)
	}
	blast := func(steps ...trust.SuggestionView) *store.BlastResult {
		js, err := json.Marshal(map[string]any{"plan": trust.PlanView{Steps: steps}})
		if err != nil {
			t.Fatal(err)
		}
		return &store.BlastResult{JSON: js, Ranking: []store.BlastRank{{Node: "rmm", Kind: "tool", Tenants: []string{"alpha", "bravo"}}}}
	}
	step := trust.SuggestionView{Changes: []trust.Change{{Op: trust.OpJIT, Target: "rmm"}}, Why: "Make every standing grant to rmm just-in-time", Gain: 4}
	result := func(status assess.Status) []assess.Result {
		return []assess.Result{
			{Control: "FB-PRIV-001", Subject: "alpha", Status: status, Evidence: []assess.Evidence{{Kind: "tool", ID: "rmm"}}},
			{Control: "FB-MFA-001", Subject: "charlie", Status: assess.StatusFail, Evidence: []assess.Evidence{{Kind: "identity", ID: "x"}}},
		}
	}
	t0 := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	assessment := func(id int64, b *store.BlastResult, status assess.Status) []store.Remediation {
		t.Helper()
		at := t0.Add(time.Duration(id) * 24 * time.Hour)
		w.syncRemediation(ctx, store.Run{ID: id, At: at}, b, &assess.Report{At: at, Results: result(status)}, nil)
		q, err := st.ListRemediation(ctx, store.AllTenants(), store.RemediationFilter{})
		if err != nil || len(q) != 1 {
			t.Fatalf("after assessment %d: %+v %v", id, q, err)
		}
		return q
	}
	q := assessment(1, blast(step), assess.StatusFail)
	if q[0].State != store.RemediationOpen || !slices.Equal(q[0].Controls, []string{"FB-PRIV-001"}) || q[0].RunID != 1 {
		t.Fatalf("assessment 1 (control fails): %+v, want open fixing FB-PRIV-001", q[0])
	}
	q = assessment(2, blast(), assess.StatusFail)
	if q[0].State != store.RemediationOpen || !q[0].DoneAt.IsZero() || q[0].RunID != 1 {
		t.Errorf("assessment 2 (plan drops the step, control still fails): %+v, want open, last listed by run 1", q[0])
	}
	q = assessment(3, blast(), assess.StatusPass)
	if want := t0.Add(3 * 24 * time.Hour); q[0].State != store.RemediationDone || !q[0].DoneAt.Equal(want) {
		t.Errorf("assessment 3 (control passes): %+v, want done at %v", q[0], want)
	}
	// Back in a plan with the control failing: reopened.
	if q = assessment(4, blast(step), assess.StatusFail); q[0].State != store.RemediationOpen || !q[0].DoneAt.IsZero() {
		t.Errorf("assessment 4 (listed again, failing): %+v, want open", q[0])
	}
}
