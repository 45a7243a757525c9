package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// cli runs the binary's entry point with args and returns the exit
// status, stdout and stderr.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// detectDoc reads detect --format json's severities of incidents and cases.
func detectDoc(t *testing.T, data []byte) (incidents, cases []string) {
	t.Helper()
	var doc struct {
		Cases []struct {
			Firebreak struct{ Severity string } `json:"firebreak"`
		} `json:"cases"`
		Incidents []struct {
			Firebreak struct{ Severity string } `json:"firebreak"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("detect json: %v\n%s", err, data)
	}
	for _, i := range doc.Incidents {
		incidents = append(incidents, i.Firebreak.Severity)
	}
	for _, c := range doc.Cases {
		cases = append(cases, c.Firebreak.Severity)
	}
	return incidents, cases
}

func exampleLogs() []string {
	dir := filepath.Join("..", "..", "examples", "harbourview", "logs")
	return []string{filepath.Join(dir, "auth-cedar-law-srv01.log"), filepath.Join(dir, "entra-signins.json"),
		filepath.Join(dir, "okta-system-log.json"), filepath.Join(dir, "winlogbeat-security.ndjson")}
}

// TestDetectSeverityOutputQuietExitCode: --severity filters what is shown
// (and what --fail-on judges), -o writes the document atomically, -q keeps
// stderr empty, --exit-code replaces 3.
func TestDetectSeverityOutputQuietExitCode(t *testing.T) {
	estate := filepath.Join("..", "..", "examples", "harbourview")
	code, out, _ := cli(t, append([]string{"detect", "-f", "json", "-q", "--estate", estate}, exampleLogs()...)...)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	all, _ := detectDoc(t, []byte(out))
	if !slices.Contains(all, "critical") || !slices.Contains(all, "high") {
		t.Fatalf("the demo logs should raise critical and high incidents, got %v", all)
	}

	file := filepath.Join(t.TempDir(), "crit.json")
	args := append([]string{"detect", "-f", "json", "--severity", "critical", "-o", file, "-q", "--fail-on", "high", "--exit-code", "7", "--estate", estate}, exampleLogs()...)
	code, out, errOut := cli(t, args...)
	if code != 7 {
		t.Errorf("exit %d, want --exit-code 7", code)
	}
	if out != "" || errOut != "" {
		t.Errorf("-o and -q: stdout %q stderr %q, want both empty", out, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	incs, cases := detectDoc(t, data)
	if len(incs) == 0 || len(incs) >= len(all) {
		t.Errorf("--severity critical kept %d of %d incidents", len(incs), len(all))
	}
	for _, s := range slices.Concat(incs, cases) {
		if s != "critical" {
			t.Errorf("--severity critical shows a %s result", s)
		}
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("-o file mode %v, want 0600 (%v)", st.Mode().Perm(), err)
	}

	// --fail-on judges what is shown: only low results shown, none at high.
	code, _, _ = cli(t, append([]string{"detect", "-f", "json", "-q", "--severity", "low", "--fail-on", "high", "--estate", estate}, exampleLogs()...)...)
	if code != 0 {
		t.Errorf("--severity low --fail-on high: exit %d, want 0", code)
	}
	// --exit-code 0 reports findings without failing.
	code, _, _ = cli(t, append([]string{"detect", "-f", "json", "-q", "--fail-on", "high", "--exit-code", "0", "--estate", estate}, exampleLogs()...)...)
	if code != 0 {
		t.Errorf("--exit-code 0: exit %d", code)
	}
	// Without -q the summary is on stderr.
	_, _, errOut = cli(t, append([]string{"detect", "-f", "json", "--estate", estate}, exampleLogs()...)...)
	if !strings.Contains(errOut, "incidents") {
		t.Errorf("summary missing without -q:\n%s", errOut)
	}
}

// TestOutputKeepsFileOnError: a verb that fails leaves an existing -o file
// as it was.
func TestOutputKeepsFileOnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v.txt")
	if err := os.WriteFile(file, []byte("before"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := cli(t, "validate", filepath.Join(t.TempDir(), "missing"), "-o", file)
	if code == 0 {
		t.Fatalf("validate of a missing path succeeded")
	}
	if data, _ := os.ReadFile(file); string(data) != "before" {
		t.Errorf("-o file overwritten on error: %q (stderr %s)", data, errOut)
	}
	code, _, _ = cli(t, "controls", "-f", "json", "-o", file)
	if code != 0 {
		t.Fatalf("controls -o: exit %d", code)
	}
	if data, _ := os.ReadFile(file); !json.Valid(data) {
		t.Errorf("controls -o wrote %q", data[:min(len(data), 80)])
	}
}

// TestAssessAndControlsSeverity: --severity on assess keeps only results of
// those severities; scores are the whole assessment's.
func TestAssessAndControlsSeverity(t *testing.T) {
	estate := filepath.Join("..", "..", "examples", "harbourview")
	type doc struct {
		Results []struct{ Severity, Status string } `json:"results"`
		Scores  []struct{ Score float64 }           `json:"scores"`
	}
	read := func(args ...string) doc {
		t.Helper()
		code, out, errOut := cli(t, append([]string{"assess", estate, "--now", "2026-11-27", "-f", "json", "-q", "--no-trust"}, args...)...)
		if code != 0 {
			t.Fatalf("assess %v: exit %d\n%s", args, code, errOut)
		}
		var d doc
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	all, high := read(), read("--severity", "HIGH, critical")
	if len(high.Results) == 0 || len(high.Results) >= len(all.Results) {
		t.Fatalf("--severity high,critical kept %d of %d results", len(high.Results), len(all.Results))
	}
	for _, r := range high.Results {
		if r.Severity != "high" && r.Severity != "critical" {
			t.Errorf("--severity high,critical shows a %s result", r.Severity)
		}
	}
	if len(all.Scores) == 0 || all.Scores[0] != high.Scores[0] {
		t.Errorf("--severity changed the scores: %v vs %v", all.Scores, high.Scores)
	}

	code, out, _ := cli(t, "controls", "-f", "json", "--severity", "critical")
	var cs []struct{ Severity string }
	if code != 0 || json.Unmarshal([]byte(out), &cs) != nil || len(cs) == 0 {
		t.Fatalf("controls --severity critical: exit %d\n%s", code, out)
	}
	for _, c := range cs {
		if c.Severity != "critical" {
			t.Errorf("controls --severity critical lists a %s control", c.Severity)
		}
	}
	if code, _, errOut := cli(t, "controls", "--severity", "urgent"); code != exitUsage || !strings.Contains(errOut, "urgent") {
		t.Errorf("--severity urgent: exit %d %q, want a usage error naming it", code, errOut)
	}
}

func TestExitCodeRange(t *testing.T) {
	for _, bad := range []string{"1", "2", "-1", "126"} {
		if code, _, errOut := cli(t, "controls", "--exit-code", bad); code != exitUsage || !strings.Contains(errOut, "--exit-code") {
			t.Errorf("--exit-code %s: exit %d %q, want a usage error", bad, code, errOut)
		}
	}
}

// TestFlagConsistency holds every verb to one spelling of the shared
// flags (issue 16): a flag named format, output or quiet always has its
// short form; the verbs that print a report take -f and -o; the verbs that
// judge severities take --severity; --quiet and --exit-code are global.
func TestFlagConsistency(t *testing.T) {
	root := newRootCommand(&globalOptions{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}})
	for _, name := range []string{"quiet", "exit-code"} {
		if root.PersistentFlags().Lookup(name) == nil {
			t.Errorf("--%s is not a global flag", name)
		}
	}
	short := map[string]string{"format": "f", "output": "o", "quiet": "q"}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if s, ok := short[f.Name]; ok && f.Shorthand != s {
				t.Errorf("%s --%s has shorthand %q, want -%s", c.CommandPath(), f.Name, f.Shorthand, s)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	find := func(path string) *cobra.Command {
		c, _, err := root.Find(strings.Fields(path))
		if err != nil || c.CommandPath() != "firebreak "+path {
			t.Fatalf("no verb %q", path)
		}
		return c
	}
	reports := []string{"assess", "blast", "detect", "controls", "validate", "kev show", "kev match", "contract check",
		"audit verify", "audit list", "version", "attest verify", "collect graph"}
	for _, v := range reports {
		c := find(v)
		for _, name := range []string{"format", "output"} {
			if c.Flags().Lookup(name) == nil {
				t.Errorf("%s has no --%s", v, name)
			}
		}
	}
	for _, v := range []string{"assess", "detect", "controls"} {
		if find(v).Flags().Lookup("severity") == nil {
			t.Errorf("%s has no --severity", v)
		}
	}
	for _, v := range []string{"assess", "detect", "contract check", "kev match"} {
		if find(v).Flags().Lookup("fail-on") == nil {
			t.Errorf("%s has no --fail-on", v)
		}
	}
	for _, v := range []string{"assess", "blast", "validate", "attest create", "attest verify", "demo"} {
		if find(v).Flags().Lookup("now") == nil {
			t.Errorf("%s has no --now", v)
		}
	}
}

// TestDetectDirectorySkipsUnreadableFiles: a folder of logs holding a file
// that is not a log firebreak can read without a mapping (an RMM export, a
// truth file) is still detected; the file is named in skipped_inputs. The
// same file named on the command line fails the run.
func TestDetectDirectorySkipsUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := range 8 {
		lines = append(lines, "Mar  2 10:00:0"+string(rune('0'+i))+" srv01 sshd[100]: Failed password for root from 203.0.113.5 port 40000 ssh2")
	}
	if err := os.WriteFile(filepath.Join(dir, "auth.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "sub", "export.jsonl")
	if err := os.MkdirAll(filepath.Dir(other), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte(`{"when":"2026-03-02T10:00:00Z","who":"x"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, "detect", "-f", "json", "--year", "2026", dir)
	if code != 0 {
		t.Fatalf("detect DIR: exit %d\n%s", code, errOut)
	}
	var doc struct {
		Skipped   []string          `json:"skipped_inputs"`
		Incidents []json.RawMessage `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Skipped) != 1 || !strings.Contains(doc.Skipped[0], "export.jsonl") || len(doc.Incidents) == 0 {
		t.Errorf("skipped %v, %d incidents: want export.jsonl skipped and the brute force found", doc.Skipped, len(doc.Incidents))
	}
	if !strings.Contains(errOut, "skipped 1 input(s)") {
		t.Errorf("summary does not name the skipped file:\n%s", errOut)
	}
	if code, _, _ := cli(t, "detect", "-q", other); code != exitError {
		t.Errorf("detect FILE needing a mapping: exit %d, want %d", code, exitError)
	}
}

// TestTextAndTableAreOneFormat: --format text and --format table both name
// the human-readable output on every verb, whichever spelling it uses.
func TestTextAndTableAreOneFormat(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"controls", "-f", "text"},
		{"controls", "-f", "table"},
		{"version", "-f", "table"},
		{"validate", "-f", "table", "../../examples/harbourview"},
		{"validate", "-f", "text", "../../examples/harbourview"},
	} {
		if code, out := runCLI(t, ctx, args...); code != 0 {
			t.Errorf("%v: exit %d: %s", args, code, out)
		}
	}
	_, want := runCLI(t, ctx, "controls", "-f", "table")
	_, got := runCLI(t, ctx, "controls", "-f", "text")
	if want != got || !strings.Contains(got, "FB-") {
		t.Errorf("controls -f text printed %d bytes, -f table %d", len(got), len(want))
	}
	if code, _ := runCLI(t, ctx, "controls", "-f", "yaml"); code != exitUsage {
		t.Errorf("controls -f yaml: exit %d, want %d", code, exitUsage)
	}
}

// TestSARIFRunsRefused: one SARIF file with more runs than GitHub code
// scanning accepts is refused (usage error, nothing written) with the form
// that uploads; --sarif-max-runs raises the limit for other tools, and one
// file per tenant (-o DIR/) is not limited.
func TestSARIFRunsRefused(t *testing.T) {
	estate := filepath.Join("..", "..", "examples", "harbourview")
	out := filepath.Join(t.TempDir(), "one.sarif")
	code, stdout, errOut := cli(t, "assess", estate, "--now", "2026-11-27", "--no-trust", "-f", "sarif", "--sarif-per-tenant", "-q")
	if code != exitUsage || !strings.Contains(errOut, "at most 20") || !strings.Contains(errOut, "-o DIR/") || stdout != "" {
		t.Errorf("stdout, 26 runs: exit %d, %d bytes out, stderr %q; want a usage error and nothing written", code, len(stdout), errOut)
	}
	code, _, errOut = cli(t, "assess", estate, "--now", "2026-11-27", "--no-trust", "--sarif-per-tenant", "-o", out, "-q")
	if _, err := os.Stat(out); code != exitUsage || err == nil {
		t.Errorf("-o one.sarif, 26 runs: exit %d (stat %v), stderr %q; want a usage error and no file", code, err, errOut)
	}
	code, _, errOut = cli(t, "assess", estate, "--now", "2026-11-27", "--no-trust", "--sarif-per-tenant", "--sarif-max-runs", "0", "-o", out, "-q")
	var doc struct {
		Runs []json.RawMessage `json:"runs"`
	}
	b, _ := os.ReadFile(out)
	if code != 0 || json.Unmarshal(b, &doc) != nil || len(doc.Runs) <= 20 {
		t.Errorf("--sarif-max-runs 0: exit %d, %d runs, stderr %q; want one file with every run", code, len(doc.Runs), errOut)
	}
	dir := t.TempDir() + "/"
	code, _, errOut = cli(t, "assess", estate, "--now", "2026-11-27", "--no-trust", "--sarif-per-tenant", "-o", dir, "-q")
	if code != 0 || errOut != "" {
		t.Errorf("-o DIR/: exit %d, stderr %q; want files and no message", code, errOut)
	}
	// Limits outside their documented range are usage errors, not "no limit".
	for _, args := range [][]string{{"--sarif-max-runs", "-1"}, {"--sarif-max-results", "-5"}} {
		code, _, errOut = cli(t, append([]string{"assess", estate, "--no-trust", "-f", "sarif", "-q"}, args...)...)
		if code != exitUsage || !strings.Contains(errOut, args[0]) {
			t.Errorf("%v: exit %d, stderr %q; want a usage error naming the flag", args, code, errOut)
		}
	}
}

// TestAssessOutputDirNeedsPerTenant: -o DIR/ without --sarif-per-tenant (or
// with a format that is one file) is a usage error naming the fix, before
// anything is written; it used to fail after the assessment with an "open
// DIR/.DIR.tmp-…: no such file or directory".
func TestAssessOutputDirNeedsPerTenant(t *testing.T) {
	estate := filepath.Join("..", "..", "examples", "harbourview")
	for _, tc := range []struct {
		format, want string
	}{
		{"sarif", "--sarif-per-tenant"},
		{"json", "name a file"},
	} {
		dir := filepath.Join(t.TempDir(), "out") + "/"
		code, _, errOut := cli(t, "assess", estate, "--now", "2026-11-27", "--no-trust", "-f", tc.format, "-o", dir, "-q")
		if code != exitUsage || !strings.Contains(errOut, "is a directory") || !strings.Contains(errOut, tc.want) {
			t.Errorf("-f %s -o DIR/: exit %d, stderr %q; want a usage error naming %q", tc.format, code, errOut, tc.want)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("-f %s -o DIR/: the refused run created %s", tc.format, dir)
		}
	}
}
