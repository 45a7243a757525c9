package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/assess"
)

const assessEstate = "../../examples/harbourview"
const assessKEVFile = "../../internal/assess/testdata/kev.json"

func assessGlobals() (*globalOptions, *bytes.Buffer) {
	// stdout alone: the report is parsed from it (the KEV line and other
	// notices go to stderr).
	var out bytes.Buffer
	return &globalOptions{stdout: &out, stderr: io.Discard, log: slog.New(slog.DiscardHandler)}, &out
}

func noEnv(dir string) func(string) string {
	return func(k string) string {
		if k == "FIREBREAK_DATA_DIR" {
			return dir
		}
		return ""
	}
}

func TestAssessJSONAndFailOn(t *testing.T) {
	g, out := assessGlobals()
	opts := assessOptions{Format: "json", Now: "2026-11-27", KEVFile: assessKEVFile, FailOn: "critical", getenv: noEnv(t.TempDir())}
	err := runAssess(context.Background(), opts, g, assessEstate)
	if !errors.Is(err, ErrFindings) {
		t.Fatalf("err = %v, want ErrFindings (Harbourview has critical findings)", err)
	}
	var rep assess.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("json report: %v", err)
	}
	if rep.At.Format("2006-01-02") != "2026-11-27" || len(rep.Scores) != 26 || rep.KEV == "" {
		t.Errorf("report at %v, %d scores, kev %q", rep.At, len(rep.Scores), rep.KEV)
	}
	// The trust graph feeds the FB-TRUST controls.
	judged := false
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Control, "FB-TRUST") && r.Status != assess.StatusNotEvaluable {
			judged = true
		}
	}
	if !judged {
		t.Error("no FB-TRUST control was judged: trust facts not passed")
	}
}

func TestAssessNoKEVAndTenantFilter(t *testing.T) {
	g, out := assessGlobals()
	dir := t.TempDir()
	opts := assessOptions{Format: "json", Now: "2026-11-27", Tenants: []string{"cedar-law"}, NoKEV: true, getenv: noEnv(dir)}
	if err := runAssess(context.Background(), opts, g, assessEstate); err != nil {
		t.Fatal(err)
	}
	var rep assess.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Subject != "cedar-law" {
			t.Fatalf("--tenant cedar-law gave a result for %s", r.Subject)
		}
		if r.Control == "FB-UPD-002" && (r.Status != assess.StatusNotEvaluable || !strings.Contains(strings.Join(r.Missing, " "), "--no-kev")) {
			t.Errorf("with --no-kev FB-UPD-002 = %s %v, want not evaluable naming --no-kev", r.Status, r.Missing)
		}
	}
	// Without --no-kev, --kev or a stored catalog, the built-in snapshot
	// is used (resolveKEV) and the report names it.
	out.Reset()
	opts.NoKEV = false
	if err := runAssess(context.Background(), opts, g, assessEstate); err != nil {
		t.Fatal(err)
	}
	rep = assess.Report{}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.KEV == "" {
		t.Error("with no stored catalog the report names no KEV catalog, want the built-in snapshot's version")
	}
}

func TestAssessOutputFileAndErrors(t *testing.T) {
	dir := t.TempDir()
	g, _ := assessGlobals()
	out := filepath.Join(dir, "report.html")
	if err := runAssess(context.Background(), assessOptions{Output: out, Now: "2026-11-27", NoTrust: true, getenv: noEnv(dir)}, g, assessEstate); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Contains(b, []byte("<html")) {
		t.Fatalf("html report from -o extension: %v", err)
	}

	bad := filepath.Join(dir, "policies")
	os.Mkdir(bad, 0o755)
	os.WriteFile(filepath.Join(bad, "broken.rego"), []byte("package firebreak.checks.broken\n\nresults contains x if {\n"), 0o644)
	for name, tc := range map[string]struct {
		opts assessOptions
		want string
	}{
		"bad-rego":   {assessOptions{Policies: []string{bad}, NoTrust: true}, "broken.rego:"},
		"bad-kev":    {assessOptions{KEVFile: filepath.Join(dir, "nope.json")}, "nope.json"},
		"bad-now":    {assessOptions{Now: "yesterday"}, "--now"},
		"bad-format": {assessOptions{Format: "pdf"}, "pdf"},
		"bad-failon": {assessOptions{FailOn: "severe"}, "--fail-on"},
		"bad-tenant": {assessOptions{Tenants: []string{"nobody"}, NoTrust: true}, "nobody"},
	} {
		t.Run(name, func(t *testing.T) {
			g, _ := assessGlobals()
			tc.opts.getenv = noEnv(dir)
			err := runAssess(context.Background(), tc.opts, g, assessEstate)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want mention of %q", err, tc.want)
			}
		})
	}
	// A failed run leaves no report behind.
	g, _ = assessGlobals()
	failed := filepath.Join(dir, "failed.json")
	runAssess(context.Background(), assessOptions{Output: failed, Policies: []string{bad}, getenv: noEnv(dir)}, g, assessEstate)
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Errorf("failed run left %s", failed)
	}
}

func TestControlsFormats(t *testing.T) {
	for _, f := range []string{"table", "json", "markdown"} {
		g, out := assessGlobals()
		if err := runControls(context.Background(), controlsOptions{Format: f}, g); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "FB-MFA-001") {
			t.Errorf("%s output lacks FB-MFA-001", f)
		}
	}
	g, out := assessGlobals()
	if err := runControls(context.Background(), controlsOptions{Format: "json", Heading: 8}, g); err != nil {
		t.Fatal(err)
	}
	var cs []struct {
		ID      string `json:"id"`
		Heading int    `json:"heading"`
	}
	if err := json.Unmarshal(out.Bytes(), &cs); err != nil || len(cs) == 0 {
		t.Fatalf("json: %v (%d)", err, len(cs))
	}
	for _, c := range cs {
		if c.Heading != 8 {
			t.Errorf("--heading 8 listed %s (heading %d)", c.ID, c.Heading)
		}
	}
	var ue usageError
	if err := runControls(context.Background(), controlsOptions{Heading: 13}, g); !errors.As(err, &ue) {
		t.Errorf("--heading 13: %v, want usage error", err)
	}
}

// assess takes --no-kev as blast does (one flag definition): no catalog,
// not even a stored one, and the KEV controls name --no-kev as missing;
// --kev with --no-kev is a usage error for both verbs.
func TestAssessNoKEVFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"assess", "--no-kev", "--no-trust", "--now", "2026-11-27", "-f", "json", "--tenant", "cedar-law", assessEstate}, &out, &errb); code != exitOK && code != exitFindings {
		t.Fatalf("assess --no-kev: exit %d: %s", code, errb.String())
	}
	var rep assess.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, r := range rep.Results {
		if r.Control == "FB-UPD-002" {
			seen = true
			if r.Status != assess.StatusNotEvaluable || !strings.Contains(strings.Join(r.Missing, " "), "--no-kev") {
				t.Errorf("assess --no-kev: FB-UPD-002 = %s %v", r.Status, r.Missing)
			}
		}
	}
	if !seen {
		t.Error("no FB-UPD-002 result")
	}
	for _, verb := range []string{"assess", "blast"} {
		errb.Reset()
		if code := run(context.Background(), []string{verb, "--no-kev", "--kev", assessKEVFile, assessEstate}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "--kev and --no-kev exclude each other") {
			t.Errorf("%s --kev --no-kev: exit %d %q, want usage error", verb, code, errb.String())
		}
	}
}
