package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateExitCodes(t *testing.T) {
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "e.yaml"), []byte("tenants:\n  - id: t1\n    colour: blue\ngrants:\n  - id: g\n    subject: ghost\n    target: t1\n    privilege: admin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"example-valid", []string{"validate", "../../examples/harbourview"}, exitOK, []string{"valid — 25 tenants"}},
		{"invalid", []string{"validate", bad}, exitError, []string{
			`e.yaml:3:5: tenants[0]: unknown field "colour"`,
			`e.yaml:6:14: grants[0].subject: unknown id "ghost"`,
			"2 problems"}},
		{"bad-format", []string{"validate", "--format", "xml", bad}, exitUsage, nil},
		{"missing-arg", []string{"validate"}, exitUsage, nil},
		{"missing-path", []string{"validate", filepath.Join(bad, "nope")}, exitError, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out.String(), errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestValidateJSON(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "e.yaml"), []byte("tenants:\n  - id: t1\n    criticality: extreme\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: &errb}
	err := runValidate(context.Background(), validateOptions{format: "json"}, g, dir)
	if err != errInvalidEstate {
		t.Fatalf("runValidate = %v, want errInvalidEstate", err)
	}
	var doc validateJSON
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	want := []validateJSONItem{{File: filepath.Join(dir, "e.yaml"), Line: 3, Col: 18, Path: "tenants[0].criticality",
		Message: `invalid value "extreme"`, Expected: "one of low, medium, high, critical"}}
	if d := cmp.Diff(doc.Errors, want); d != "" || doc.Valid || doc.Version != "1" {
		t.Errorf("errors (-got +want):\n%s\nvalid=%v version=%q", d, doc.Valid, doc.Version)
	}
}

func TestGenEstateThenValidate(t *testing.T) {
	for _, bulk := range []string{"csv", "yaml"} {
		t.Run(bulk, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "gen")
			var out, errb bytes.Buffer
			code := run(context.Background(), []string{"gen-estate", "--tenants", "12", "--identities", "300", "--grants", "500",
				"--assets", "200", "--seed", "3", "--bulk", bulk, "-o", dir}, &out, &errb)
			if code != exitOK {
				t.Fatalf("gen-estate exit %d: %s", code, errb.String())
			}
			out.Reset()
			code = run(context.Background(), []string{"validate", dir}, &out, &errb)
			if code != exitOK || !strings.Contains(out.String(), "12 tenants, 300 identities") || !strings.Contains(out.String(), "500 grants, 200 assets") {
				t.Errorf("validate exit %d:\n%s%s", code, out.String(), errb.String())
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"gen-estate", "--tenants", "3"}, &out, &errb); code != exitUsage {
		t.Errorf("gen-estate without -o: exit %d, want %d", code, exitUsage)
	}
}
