package assess

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// TestExamplePolicyRegoTests runs the example policy's own Rego unit tests
// (what `opa test` would run) against the built-in library.
func TestExamplePolicyRegoTests(t *testing.T) {
	files := []string{"policies/lib.rego", "../../examples/policies/critical_fido2.rego", "../../examples/policies/critical_fido2_test.rego"}
	mods := map[string]*ast.Module{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ast.ParseModuleWithOpts(f, string(b), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		mods[f] = m
	}
	ch, err := tester.NewRunner().SetModules(mods).RunTests(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range ch {
		n++
		if r.Fail || r.Error != nil {
			t.Errorf("%s: fail=%v error=%v", r.Name, r.Fail, r.Error)
		}
	}
	if n < 3 {
		t.Errorf("ran %d Rego tests, want 3", n)
	}
}

// TestExamplePolicyOnEstate runs the example through the engine (--policy).
func TestExamplePolicyOnEstate(t *testing.T) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	en, err := New(loadCatalog(t), Options{Clock: func() time.Time { return now }, PolicyDirs: []string{"../../examples/policies"}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load(filepath.Join("../../examples/harbourview"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	got := map[Status]int{}
	for _, r := range rep.Results {
		if r.Control != "ACME-001" {
			continue
		}
		got[r.Status]++
		if r.Title == "ACME-001" || r.Severity != "high" || r.Heading != 3 {
			t.Errorf("custom metadata not carried: %+v", r)
		}
	}
	if got[StatusFail]+got[StatusPass] == 0 || got[StatusNotApplicable] == 0 {
		t.Errorf("ACME-001 statuses = %v, want some judged and some not applicable", got)
	}
}
