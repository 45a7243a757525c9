package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBlastCommand(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.Mkdir(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "e.yaml"), []byte("provider:\n  id: msp\n  name: Empty MSP\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ex := "../../examples/harbourview"
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
	}{
		{"summary", []string{"blast", "--no-kev", ex}, exitOK, []string{"FIX FIRST", " 1. ", " 2. ", " 3. ", "proof: ", "SINGLE POINTS OF FAILURE", "ENTRY POINTS"}},
		{"from", []string{"blast", "--no-kev", ex, "--from", "rmm"}, exitOK, []string{"If tool rmm", "25 of 25 tenants fall", "cedar-law"}},
		{"what-if", []string{"blast", "--no-kev", ex, "--harden", "rmm=mfa:phishing-resistant", "--jit", "*->rmm"}, exitOK, []string{"What if: harden rmm=mfa:phishing-resistant; jit *->rmm", "→"}},
		// The tenant's column of the access matrix, in each format.
		{"tenant", []string{"blast", "--no-kev", "--now", "2026-11-27", ex, "--tenant", "brightwater-dental"}, exitOK, []string{"Who reaches tenant brightwater-dental", "JUST IN TIME", "tech-01", "full_control  rmm"}},
		{"tenant-json", []string{"blast", "--no-kev", "--now", "2026-11-27", ex, "--tenant", "brightwater-dental", "-f", "json"}, exitOK, []string{`"access": {`, `"tenant": "brightwater-dental"`, `"standing_via": "rmm"`}},
		{"tenant-html", []string{"blast", "--no-kev", "--now", "2026-11-27", ex, "--tenant", "brightwater-dental", "-f", "html"}, exitOK, []string{"<h1>Who reaches brightwater-dental", "<td>tech-01</td>"}},
		{"tenant-not-a-tenant", []string{"blast", "--no-kev", ex, "--tenant", "rmm"}, exitError, nil},
		{"tenant-and-from", []string{"blast", "--no-kev", ex, "--tenant", "brightwater-dental", "--from", "rmm"}, exitUsage, nil},
		{"fail-over-limit", []string{"blast", "--no-kev", "--fail-over-limit", ex}, exitFindings, nil},
		{"unknown-node", []string{"blast", "--no-kev", ex, "--from", "nobody"}, exitUsage, nil},
		{"bad-harden", []string{"blast", "--no-kev", ex, "--harden", "rmm"}, exitUsage, nil},
		{"unknown-edge", []string{"blast", "--no-kev", ex, "--cut", "nope"}, exitError, nil},
		{"bad-format", []string{"blast", "--format", "xml", ex}, exitUsage, nil},
		{"bad-share", []string{"blast", "--max-share", "2", ex}, exitUsage, nil},
		{"no-tenants", []string{"blast", "--no-kev", bad}, exitOK, []string{"no tenants"}},
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

func TestBlastOutputs(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"json", "dot", "html"} {
		path := filepath.Join(dir, "trust."+f)
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"blast", "--no-kev", "-f", f, "-o", path, "../../examples/harbourview"}, &out, &errb); code != exitOK {
			t.Fatalf("%s: exit %d: %s", f, code, errb.String())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch f {
		case "json":
			var doc struct {
				Tenants int `json:"tenants"`
				Ranking []struct {
					ID string `json:"id"`
				} `json:"ranking"`
				Plan struct {
					Steps []struct {
						Flags string `json:"flags"`
					} `json:"steps"`
				} `json:"plan"`
			}
			if err := json.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Tenants != 25 || len(doc.Ranking) == 0 || len(doc.Plan.Steps) < 3 {
				t.Errorf("json: %d tenants, %d ranked, %d steps", doc.Tenants, len(doc.Ranking), len(doc.Plan.Steps))
			}
		case "dot":
			if !bytes.HasPrefix(b, []byte("digraph trust {")) || !bytes.HasSuffix(b, []byte("}\n")) {
				t.Errorf("dot output malformed: %.80s", b)
			}
		case "html":
			s := string(b)
			for _, w := range []string{"<!doctype html>", "fb-trust-data", "aria-label", "Harbourview"} {
				if !strings.Contains(s, w) {
					t.Errorf("html lacks %q", w)
				}
			}
			for _, banned := range []string{"<script src", "<link ", "url(", "@import", "<img "} {
				if strings.Contains(s, banned) {
					t.Errorf("html refers to an external asset (%q)", banned)
				}
			}
		}
	}
}

// TestBlastNow: --now is the clock expiry is judged by, as for assess: a
// grant that has expired by then gives no access.
func TestBlastNow(t *testing.T) {
	dir := t.TempDir()
	src := `provider: {id: msp, name: Clock MSP}
tenants:
  - {id: t1}
identities:
  - {id: tech, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}}
grants:
  - {id: g1, subject: tech, target: t1, privilege: admin, expires: 2026-12-01}
`
	if err := os.WriteFile(filepath.Join(dir, "e.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	reach := func(now string) string {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"blast", "--no-kev", "--now", now, "--from", "tech", dir}, &out, &errb); code != exitOK {
			t.Fatalf("--now %s: exit %d: %s", now, code, errb.String())
		}
		return out.String()
	}
	if before := reach("2026-11-27"); !strings.Contains(before, "1 of 1 tenants fall") {
		t.Errorf("before expiry: %s", before)
	}
	if after := reach("2026-12-05"); strings.Contains(after, "1 of 1 tenants fall") {
		t.Errorf("after expiry the grant still reaches t1: %s", after)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"blast", "--now", "soon", dir}, &out, &errb); code != exitUsage {
		t.Errorf("--now soon: exit %d, want usage", code)
	}
}
