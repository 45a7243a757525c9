package evaluate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

var day = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func example(t *testing.T) (*estate.Estate, *kev.Catalog) {
	t.Helper()
	e, err := estate.Load(filepath.Join("..", "..", "examples", "harbourview"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := kev.Load(filepath.Join("..", "..", "examples", "kev", "known_exploited_vulnerabilities-2025.08.25.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	return e, k
}

// The CLI's mode (graph built alongside indexing) and the service's mode
// (graph built first, failure tolerated) and a reused graph give the same
// report, and the graph's and KEV controls are evaluated in all three.
func TestModesAgree(t *testing.T) {
	e, k := example(t)
	ctx := context.Background()
	deps := Deps{KEV: k, Now: day}
	cli, err := Evaluate(ctx, e, deps)
	if err != nil {
		t.Fatal(err)
	}
	deps.TrustOptional = true
	svc, err := Evaluate(ctx, e, deps)
	if err != nil {
		t.Fatal(err)
	}
	deps.Graph = svc.Graph
	again, err := Evaluate(ctx, e, deps)
	if err != nil {
		t.Fatal(err)
	}
	if cli.Graph == nil || svc.Graph == nil || again.Graph != svc.Graph {
		t.Fatalf("graphs: cli %p svc %p again %p", cli.Graph, svc.Graph, again.Graph)
	}
	ignore := cmpopts.IgnoreFields(assess.Report{}, "Timing")
	if d := cmp.Diff(cli.Report, svc.Report, ignore); d != "" {
		t.Errorf("CLI and service reports differ (-cli +service):\n%s", d)
	}
	if d := cmp.Diff(svc.Report, again.Report, ignore); d != "" {
		t.Errorf("reused graph changes the report (-built +reused):\n%s", d)
	}
	evaluated := map[string]int{}
	for _, r := range cli.Report.Results {
		for _, m := range r.Missing {
			if strings.Contains(m, "input.trust") {
				t.Fatalf("%s %s: trust facts missing: %v", r.Control, r.Subject, r.Missing)
			}
		}
		if r.Status != assess.StatusNotEvaluable {
			switch {
			case strings.Contains(r.Control, "TRUST"):
				evaluated["trust"]++
			case r.Control == "FB-UPD-001" || r.Control == "FB-UPD-002": // the KEV controls
				evaluated["kev"]++
			}
		}
	}
	if evaluated["trust"] == 0 || evaluated["kev"] == 0 {
		t.Errorf("evaluated controls by area: %v; want trust-graph and KEV controls", evaluated)
	}
	if cli.Report.KEV == "" {
		t.Error("report does not name the KEV catalog used")
	}
}

// Without the graph its controls are not evaluable and say so.
func TestNoTrust(t *testing.T) {
	e, k := example(t)
	res, err := Evaluate(context.Background(), e, Deps{KEV: k, Now: day, NoTrust: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Graph != nil {
		t.Error("graph built with NoTrust")
	}
	n := 0
	for _, r := range res.Report.Results {
		if strings.Contains(r.Control, "TRUST") {
			if r.Status != assess.StatusNotEvaluable {
				t.Errorf("%s %s: %s without the trust graph", r.Control, r.Subject, r.Status)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no trust-graph control in the report")
	}
}
