package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/evaluate"
)

var update = flag.Bool("update", false, "rewrite testdata/golden")

var exampleNow = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func exampleBuilder(t *testing.T) (*Builder, *estate.Estate, *assess.Report) {
	t.Helper()
	e, err := estate.Load("../../examples/harbourview")
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kev.Load("../../examples/kev/known_exploited_vulnerabilities-2025.08.25.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	res, err := evaluate.Evaluate(context.Background(), e, evaluate.Deps{KEV: kc, Now: exampleNow})
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBuilder(Input{Estate: e, Report: res.Report, Graph: res.Graph, Tool: ToolRef{Name: "firebreak", Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	return b, e, res.Report
}

// Every tenant's statement signs, verifies, agrees with the assessment,
// and names nothing of any other tenant.
func TestExampleStatements(t *testing.T) {
	b, e, rep := exampleBuilder(t)
	signer, pub := keys(t)
	for _, tn := range e.Tenants {
		st, err := b.Statement(tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		env, err := Sign(context.Background(), signer, st)
		if err != nil {
			t.Fatalf("%s: %v", tn.ID, err)
		}
		v, err := Verify(context.Background(), bytes.NewReader(env), VerifyOptions{Keys: []*Key{pub}, Now: exampleNow.Add(time.Hour), Tenant: tn.ID})
		if err != nil {
			t.Fatalf("%s: %v", tn.ID, err)
		}
		p := v.Statement.Predicate
		// The summary is the assessment's score for the tenant, and every
		// result of the tenant is a control.
		n := 0
		for _, r := range rep.Results {
			if r.Subject == tn.ID {
				n++
			}
		}
		for _, s := range rep.Scores {
			if s.Subject == tn.ID && (s.Score != p.Summary.Score || s.Fail != p.Summary.Fail || s.Pass != p.Summary.Pass) {
				t.Errorf("%s: summary %+v, report %+v", tn.ID, p.Summary, s)
			}
		}
		if len(p.Controls) != n || n == 0 {
			t.Errorf("%s: %d controls, report has %d results", tn.ID, len(p.Controls), n)
		}
		if len(p.Access) == 0 {
			t.Errorf("%s: no access listed; the example MSP manages every tenant", tn.ID)
		}
		body, _ := json.Marshal(v.Statement)
		for _, other := range e.Tenants {
			if other.ID == tn.ID {
				continue
			}
			if regexp.MustCompile(`(^|[^a-z0-9-])` + regexp.QuoteMeta(other.ID) + `($|[^a-z0-9-])`).Match(body) {
				t.Errorf("%s's statement names tenant %s", tn.ID, other.ID)
			}
		}
	}
	if _, err := b.Statement("no-such-tenant"); err == nil {
		t.Error("statement for an unknown tenant")
	}
}

// The predicate of one tenant is pinned (go test -update rewrites it).
func TestGoldenPredicate(t *testing.T) {
	b, _, _ := exampleBuilder(t)
	st, err := b.Statement("brightwater-dental")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(st, "", "  ")
	got = append(got, '\n')
	path := filepath.Join("testdata", "brightwater-dental.statement.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("statement differs from %s (go test ./internal/attest -run Golden -update, then review the diff)", path)
	}
}
