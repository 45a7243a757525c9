package assess

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/estate"
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

func TestPolicyCapabilitiesDenyNetworkAndRuntime(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC) }
	for _, tc := range []struct{ name, call string }{
		{"http-send", `http.send({"method": "get", "url": "http://127.0.0.1:1/"})`},
		{"lookup", `net.lookup_ip_addr("localhost")`},
		{"runtime", `opa.runtime()`},
		{"rand", `rand.intn("x", 10)`},
		{"uuid", `uuid.rfc4122("x")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "package firebreak.checks.net\n\nresults contains {\"control\": \"NET-1\", \"status\": \"pass\", \"message\": sprintf(\"%v\", [x])} if {\n  x := " + tc.call + "\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "net.rego"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := New(loadCatalog(t), Options{Clock: now, PolicyDirs: []string{dir}})
			var pe *PolicyError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), "net.rego:4") {
				t.Fatalf("New = %v, want a *PolicyError naming net.rego:4", err)
			}
		})
	}
}

func TestPolicyTimeIsTheInjectedClock(t *testing.T) {
	at := time.Date(2026, 11, 27, 12, 30, 0, 0, time.UTC)
	dir := t.TempDir()
	// time.now_ns gives the engine's clock, not the wall clock; pure
	// CIDR arithmetic stays available.
	src := "package firebreak.checks.clock\n\nresults contains {\"control\": \"CLK-1\", \"status\": \"pass\", \"message\": sprintf(\"%d %v\", [time.now_ns(), net.cidr_contains(\"10.0.0.0/8\", \"10.1.2.3\")])} if input.subject.type == \"msp\"\n"
	if err := os.WriteFile(filepath.Join(dir, "clock.rego"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	en, err := New(loadCatalog(t), Options{Clock: func() time.Time { return at }, PolicyDirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), &estate.Estate{})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d true", at.UnixNano())
	for _, r := range rep.Results {
		if r.Control == "CLK-1" {
			if r.Message != want {
				t.Errorf("message = %q, want %q", r.Message, want)
			}
			return
		}
	}
	t.Error("custom control CLK-1 missing")
}
