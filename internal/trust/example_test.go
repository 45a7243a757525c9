package trust

import (
	"bytes"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// TestHarbourview runs the bundled example estate end to end.
func TestHarbourview(t *testing.T) {
	e, err := estate.Load("../../examples/harbourview")
	if err != nil {
		t.Fatal(err)
	}
	g := mustBuild(t, e, Options{})
	rep, err := NewReport(g, ReportOptions{Provider: e.Provider.Name})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, rep); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + buf.String())
	if rep.Plan == nil || len(rep.Plan.Steps) < 3 {
		t.Fatalf("fewer than three suggestions: %+v", rep.Plan)
	}
}
