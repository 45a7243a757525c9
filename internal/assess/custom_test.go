package assess

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCustomControls(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		// Metadata in the literal holding the id.
		"literal.rego": `package firebreak.checks.lit

results contains {"control": "LIT-001", "status": "pass", "title": "Literal", "severity": "low", "heading": 5, "remediation": "Fix it."} if input.tenant
`,
		// Metadata in a constant rule the result refers to; a second
		// control whose title is computed from the input.
		"meta.rego": `package firebreak.checks.meta

import data.firebreak.lib

meta := {"title": "From meta", "severity": "critical", "heading": 2}

results contains object.union(meta, {"control": "META-001", "status": "fail"}) if input.tenant

results contains {"control": "META-002", "status": "pass", "title": sprintf("for %s", [input.tenant.id])} if input.tenant
`,
		"meta_test.rego": `package firebreak.checks.meta_test

test_x if {"control": "TEST-ONLY"}
`,
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := CustomControls([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	want := []CustomControl{
		{ID: "LIT-001", Title: "Literal", Severity: "low", Heading: 5, Remediation: "Fix it.", Package: "firebreak.checks.lit", File: filepath.Join(dir, "literal.rego"), Line: 3},
		{ID: "META-001", Title: "From meta", Severity: "critical", Heading: 2, Package: "firebreak.checks.meta", File: filepath.Join(dir, "meta.rego"), Line: 7},
		{ID: "META-002", Package: "firebreak.checks.meta", File: filepath.Join(dir, "meta.rego"), Line: 9},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "bad.rego"), []byte("package firebreak.checks.bad\n\nresults contains {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CustomControls([]string{bad}); err == nil || !strings.Contains(err.Error(), "bad.rego:") {
		t.Errorf("err = %v, want one naming bad.rego:line", err)
	}
}
