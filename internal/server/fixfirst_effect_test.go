package server

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// Each fix-first step's heading says what it achieves with a number that
// moves: the example estate's first step closes the seven ways in from the
// internet above the limit without lowering the excess (an outsider is in
// no node's excess), and the blast page showed it as "excess −0". Now it
// says "ways in from the internet above the limit: 7 → 0", and a step that
// lowers the excess shows the plan's excess before and after it.
func TestFixFirstStepEffect(t *testing.T) {
	f := newFixture(t)
	rep, err := trust.NewReport(harbourviewGraph(t), trust.ReportOptions{Suggest: true})
	if err != nil || rep.Plan == nil || len(rep.Plan.Steps) < 3 {
		t.Fatalf("plan: %v", err)
	}
	if s := rep.Plan.Steps[0]; s.Gain != 0 || s.EntriesAfter >= s.EntriesBefore {
		t.Fatalf("the example's first step: gain %d, ways in %d → %d; this test wants one that closes ways in without lowering the excess", s.Gain, s.EntriesBefore, s.EntriesAfter)
	}
	doc, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.SaveBlast(context.Background(), &store.BlastResult{JSON: doc}); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.login("owner1")
	for _, path := range []string{"/blast", "/"} {
		_, page := a.do("GET", path, nil, nil)
		_, list, ok := strings.Cut(page, `<ol class="fix">`)
		if !ok {
			t.Fatalf("%s shows no fix-first steps", path)
		}
		list, _, _ = strings.Cut(list, `</ol>`)
		if strings.Contains(list, "−0") || strings.Contains(list, "excess -") {
			t.Errorf("%s: a fix-first step shows a negative zero: %.600s", path, list)
		}
		items := regexp.MustCompile(`<li>\s*<strong>`).Split(list, -1)[1:]
		excess := rep.Plan.ExcessBefore
		for i, item := range items {
			if i == len(rep.Plan.Steps) {
				break
			}
			s := rep.Plan.Steps[i]
			want := fmt.Sprintf("ways in from the internet above the limit: %d → %d", s.EntriesBefore, s.EntriesAfter)
			if s.Gain > 0 {
				want = fmt.Sprintf("excess %d → %d", excess, excess-s.Gain)
			}
			excess -= s.Gain
			if head, _, _ := strings.Cut(item, "<details"); path == "/blast" && !strings.Contains(head, want) || !strings.Contains(item, want) {
				t.Errorf("%s step %d (gain %d, ways in %d → %d): want %q in its heading: %.400s", path, i+1, s.Gain, s.EntriesBefore, s.EntriesAfter, want, item)
			}
		}
		if len(items) < 3 {
			t.Errorf("%s: %d fix-first steps", path, len(items))
		}
	}
	// The explorer's plan list says the same (it said "excess −0" too).
	b, err := f.st.GetBlast(context.Background(), store.AllTenants(), 0)
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := f.srv.explorerBody(harbourviewGraph(t), "x", b)
	if err != nil {
		t.Fatal(err)
	}
	var d explorerData
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	p := f.srv.planOf(b)
	if len(d.Plan) != len(rep.Plan.Steps) || p == nil {
		t.Fatalf("explorer plan: %d steps, the CLI's %d", len(d.Plan), len(rep.Plan.Steps))
	}
	for i, st := range d.Plan {
		if st.Effect == "" || st.Effect != p.Steps[i].Effect() {
			t.Errorf("explorer step %d says %q, the fix-first list %q", i+1, st.Effect, p.Steps[i].Effect())
		}
	}
}
