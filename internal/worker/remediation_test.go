package worker

import (
	"context"
	"testing"
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
