package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// TestGDAPCompactForm: a GDAP relationship written in the compact form
// (the relationship's roles, with active: and eligible: lists of access
// groups) decodes to the model of the long form (one assignment per
// group), so assess and blast give identical output apart from file
// positions; the compact lists are checked as strictly as the rest.
func TestGDAPCompactForm(t *testing.T) {
	base := `provider: {id: msp, name: Compact MSP}
tenants:
  - {id: law, name: Law}
  - {id: dental, name: Dental}
identities:
  - {id: nadia, kind: human, home: msp, mfa: {enforced: true, methods: [fido2]}, last_sign_in: 2026-11-20, groups: [m365-admins]}
  - {id: tomas, kind: human, home: msp, mfa: {enforced: true, methods: [push]}, last_sign_in: 2026-11-20, groups: [m365-helpdesk]}
groups:
  - {id: m365-admins, home: msp}
  - {id: m365-helpdesk, home: msp}
tools:
`
	long := `  - id: gdap-law
    kind: gdap
    gdap:
      customer: law
      roles: [Exchange Administrator, Helpdesk Administrator]
      duration: P730D
      auto_extend: false
      status: active
      end_date: 2027-06-01
      assignments:
        - {group: m365-helpdesk, assignment: active}
        - {group: m365-admins, assignment: eligible}
`
	compact := `  - {id: gdap-law, kind: gdap, gdap: {customer: law, roles: [Exchange Administrator, Helpdesk Administrator], duration: P730D, auto_extend: false, status: active, end_date: 2027-06-01, active: [m365-helpdesk], eligible: [m365-admins]}}
`
	if n := strings.Count(long, "\n"); n < 10 || strings.Count(compact, "\n") != 1 {
		t.Fatalf("the long form takes %d lines, the compact %d", n, strings.Count(compact, "\n"))
	}
	write := func(src string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "e.yaml"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	pos := regexp.MustCompile(`e\.yaml:\d+(:\d+)?|"line": \d+|"col": \d+|"file": "[^"]*"|/tmp/[^ "]*`)
	outputs := func(dir string) []string {
		var outs []string
		for _, args := range [][]string{
			{"assess", "--now", "2026-11-27", "--format", "json", dir},
			{"assess", "--now", "2026-11-27", dir},
			{"blast", "--now", "2026-11-27", "--no-kev", dir},
			{"blast", "--now", "2026-11-27", "--no-kev", "--include-jit", dir},
			{"blast", "--now", "2026-11-27", "--no-kev", "--tenant", "law", "-f", "json", dir},
			{"blast", "--now", "2026-11-27", "--no-kev", "--from", "nadia", "--include-jit", dir},
		} {
			var out, errb bytes.Buffer
			if code := run(context.Background(), args, &out, &errb); code != exitOK && code != exitFindings {
				t.Fatalf("%v: exit %d: %s", args, code, errb.String())
			}
			outs = append(outs, pos.ReplaceAllString(out.String(), "POS"))
		}
		return outs
	}
	l, c := outputs(write(base+long)), outputs(write(base+compact))
	for i := range l {
		if d := cmp.Diff(l[i], c[i]); d != "" {
			t.Errorf("output %d differs between the long and compact forms (-long +compact):\n%s", i, d)
		}
	}
	if !strings.Contains(l[5], "law") {
		t.Errorf("blast --from nadia --include-jit does not reach law through the eligible assignment:\n%s", l[5])
	}
	// Strict: a group that does not exist, and a string where a list is meant.
	for _, bad := range []string{
		strings.Replace(compact, "eligible: [m365-admins]", "eligible: [m365-admin]", 1),
		strings.Replace(compact, "active: [m365-helpdesk]", "active: m365-helpdesk", 1),
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"validate", write(base + bad)}, &out, &errb); code == exitOK || !strings.Contains(out.String()+errb.String(), "e.yaml:") {
			t.Errorf("validate accepted %q (exit %d): %s%s", bad, code, out.String(), errb.String())
		}
	}
}
