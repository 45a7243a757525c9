package report

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func pos(file string, line int) estate.Pos { return estate.Pos{File: file, Line: line, Col: 5} }

// fixture is a small report covering every status, evidence with and
// without positions, exceptions, attestations and hostile strings.
func fixture() *assess.Report {
	at := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	return &assess.Report{
		Version:  "1",
		At:       at,
		Provider: "Harbourview IT Services",
		Sources:  []string{"examples/harbourview/identities.yaml", "examples/harbourview/tools.yaml"},
		Results: []assess.Result{
			{Control: "FB-MFA-001", Title: "MFA enforced on every identity that reaches a customer", Heading: 3, Severity: "critical",
				Subject: "cedar-law", Object: "tech-18", Status: assess.StatusFail,
				Message:     "tech-18 reaches cedar-law with admin privilege and MFA is not enforced",
				Remediation: "Enforce MFA with a conditional access policy that covers every MSP identity.",
				Evidence: []assess.Evidence{
					{Kind: "identity", ID: "tech-18", Detail: "mfa.enforced=false", Pos: pos("examples/harbourview/identities.yaml", 412)},
					{Kind: "grant", ID: "gdap-esc-cedar-law", Detail: "admin via gdap-cedar-law", Pos: pos("examples/harbourview/grants.yaml", 331)},
				}},
			{Control: "FB-MFA-001", Title: "MFA enforced on every identity that reaches a customer", Heading: 3, Severity: "critical",
				Subject: "pier9-freight", Object: "helpdesk", Status: assess.StatusFail,
				Message:     `shared account "helpdesk" <script>alert(1)</script> has no MFA`,
				Remediation: "Enforce MFA with a conditional access policy that covers every MSP identity.",
				Evidence:    []assess.Evidence{{Kind: "identity", ID: "helpdesk", Detail: "=HYPERLINK(\"x\")", Pos: pos("examples/harbourview/identities.yaml", 530)}}},
			{Control: "FB-MFA-001", Title: "MFA enforced on every identity that reaches a customer", Heading: 3, Severity: "critical",
				Subject: "granite-cu", Status: assess.StatusPass, Message: "every identity reaching granite-cu has MFA enforced"},
			{Control: "FB-LOG-002", Title: "Tool logs retained for at least 180 days", Heading: 2, Severity: "high",
				Subject: estate.MSP, Object: "rmm", Status: assess.StatusFail,
				Message:     "rmm keeps logs for 30 days (policy: 180)",
				Remediation: "Raise retention to 180 days or ship logs to the SIEM.",
				Evidence:    []assess.Evidence{{Kind: "tool", ID: "rmm", Detail: "logging.retention_days=30", Pos: pos("examples/harbourview/tools.yaml", 14)}}},
			{Control: "FB-LOG-002", Title: "Tool logs retained for at least 180 days", Heading: 2, Severity: "high",
				Subject: estate.MSP, Object: "jump-host", Status: assess.StatusExcepted,
				Message: "jump-host keeps logs for 60 days (policy: 180)",
				Exception: &estate.Exception{Control: "FB-LOG-002", Subject: "jump-host", Owner: "tech-01",
					Reason: "host is being replaced in January", Expires: estate.MustDate("2027-01-31")},
				Evidence: []assess.Evidence{{Kind: "tool", ID: "jump-host", Pos: pos("examples/harbourview/tools.yaml", 120)}}},
			{Control: "FB-BK-003", Title: "Restore tested within 180 days", Heading: 8, Severity: "medium",
				Subject: "cedar-law", Status: assess.StatusNotEvaluable, Message: "no backup recorded",
				Missing: []string{"backups.last_restore_test"}},
			{Control: "FB-IR-002", Title: "IR plan exercised within 12 months", Heading: 9, Severity: "medium",
				Subject: "pier9-freight", Status: assess.StatusAttested, Message: "attested",
				Attestation: &estate.Attestation{Control: "FB-IR-002", Subject: "pier9-freight", By: "Helen Ward",
					Expires: estate.MustDate("2027-06-30"), Note: "tabletop on 2026-10-02"}},
			{Control: "FB-SEG-001", Title: "Customer data sets segregated", Heading: 4, Severity: "low",
				Subject: "granite-cu", Status: assess.StatusNotApplicable, Message: "no MSP-hosted data"},
		},
		Scores: []assess.Score{
			{Subject: "granite-cu", Name: "Granite Credit Union", Score: 100, Pass: 1, Other: 1},
			{Subject: estate.MSP, Name: "Harbourview IT Services", Score: 61.5, Fail: 1, Other: 1},
			{Subject: "pier9-freight", Name: "Pier 9 Freight & <Co>", Score: 12.5, Fail: 1, Other: 1},
			{Subject: "cedar-law", Name: "Cedar & Finch Law LLP", Score: 20, Fail: 1, Other: 1},
		},
	}
}

var goldenExt = map[string]string{"table": "txt", "json": "json", "html": "html", "csv": "csv", "sarif": "sarif", "oscal": "oscal.json"}

func render(t *testing.T, format string, opts Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, format, fixture(), opts); err != nil {
		t.Fatalf("Write(%s): %v", format, err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			got := render(t, format, Options{ToolVersion: "test"})
			path := filepath.Join("testdata", "golden", "report."+goldenExt[format])
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if d := cmp.Diff(string(got), string(want)); d != "" {
				t.Errorf("%s differs from %s (-got +want; go test -update to accept):\n%s", format, path, d)
			}
		})
	}
}

func TestTableColor(t *testing.T) {
	plain := string(render(t, "table", Options{}))
	if strings.Contains(plain, "\x1b[") {
		t.Error("table without Color contains ANSI escapes")
	}
	colored := string(render(t, "table", Options{Color: true}))
	if !strings.Contains(colored, "\x1b[") {
		t.Error("table with Color has no ANSI escapes")
	}
	// Worst tenants first, MSP on top.
	order := []string{"Harbourview IT Services", "pier9-freight", "cedar-law", "granite-cu"}
	last := -1
	for _, s := range order {
		i := strings.Index(plain, "\n"+s)
		if s == order[0] {
			i = strings.Index(plain, "\nmsp")
		}
		if i < 0 || i < last {
			t.Errorf("subject %s out of order in:\n%s", s, plain)
		}
		last = i
	}
}

func TestTableCapsSubjects(t *testing.T) {
	out := string(render(t, "table", Options{TableMaxSubjects: 2}))
	if strings.Contains(out, "granite-cu") || !strings.Contains(out, "… and 2 more tenants") {
		t.Errorf("table not capped at 2 subjects:\n%s", out)
	}
}

func TestHTMLEscapes(t *testing.T) {
	out := string(render(t, "html", Options{}))
	for _, bad := range []string{"<script>alert(1)", "<Co>"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML contains unescaped %q", bad)
		}
	}
	for _, ext := range []string{"http://", "https://", "src="} {
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, ext) && (strings.Contains(line, "<link") || strings.Contains(line, "<script src") || strings.Contains(line, "<img")) {
				t.Errorf("HTML loads an external asset: %s", line)
			}
		}
	}
}

func TestCSVDefusesFormulas(t *testing.T) {
	for in, want := range map[string]string{"=1+1": "'=1+1", "+x": "'+x", "-x": "'-x", "@x": "'@x", "plain": "plain", "": ""} {
		if got := CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
	}
	out := string(render(t, "csv", Options{}))
	if n := strings.Count(strings.TrimSpace(out), "\n"); n != 6 { // every result but the pass and the not-applicable one
		t.Errorf("CSV has %d data rows, want 6:\n%s", n, out)
	}
	all := string(render(t, "csv", Options{IncludePassing: true}))
	if n := strings.Count(strings.TrimSpace(all), "\n"); n != 8 {
		t.Errorf("CSV with IncludePassing has %d data rows, want 8", n)
	}
}

func TestUnknownFormat(t *testing.T) {
	err := Write(&bytes.Buffer{}, "pdf", fixture(), Options{})
	if !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Write(pdf) = %v, want ErrUnknownFormat", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := os.WriteFile(path, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A failing render leaves the previous file and no temporary file.
	if err := WriteFile(path, "nope", fixture(), Options{}); err == nil {
		t.Fatal("WriteFile with a bad format succeeded")
	}
	if b, _ := os.ReadFile(path); string(b) != "previous" {
		t.Errorf("previous report was replaced by %q", b)
	}
	if err := WriteFile(path, "html", fixture(), Options{}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the report", len(entries))
	}
	if fi, err := os.Stat(path); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("report mode %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) {
		t.Errorf("report starts with %q", b[:min(20, len(b))])
	}
}

func TestFormatFromPath(t *testing.T) {
	for in, want := range map[string]string{"a.html": "html", "x.oscal.json": "oscal", "r.sarif": "sarif", "r.json": "json", "r.csv": "csv", "r.pdf": ""} {
		if got := FormatFromPath(in); got != want {
			t.Errorf("FormatFromPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHTMLStatesKEV: the HTML report states the KEV catalog its
// assessment used (Report.KEV), as the dashboard and the CLI do (issue 15).
func TestHTMLStatesKEV(t *testing.T) {
	rep := fixture()
	rep.KEV = "2025.08.25"
	var buf bytes.Buffer
	if err := Write(&buf, "html", rep, Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "KEV catalog 2025.08.25") {
		t.Error("the HTML report does not state the KEV catalog 2025.08.25 its assessment used")
	}
	if !strings.Contains(string(render(t, "html", Options{})), "KEV: none") {
		t.Error("the HTML report of an assessment without a KEV catalog does not say so")
	}
}
