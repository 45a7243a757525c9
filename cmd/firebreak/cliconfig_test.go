package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeCLIConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cli.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLIConfigDefaults: the file sets a verb's flags; a variable beats the
// file and a flag beats both.
func TestCLIConfigDefaults(t *testing.T) {
	cfg := writeCLIConfig(t, "quiet: true\ncontrols:\n  format: json\n  severity: critical\n")
	code, out, errOut := cli(t, "--cli-config", cfg, "controls")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var cs []struct{ Severity string }
	if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs) == 0 {
		t.Fatalf("format: json from the file not applied: %v\n%.200s", err, out)
	}
	for _, c := range cs {
		if c.Severity != "critical" {
			t.Fatalf("severity: critical from the file not applied: a %s control listed", c.Severity)
		}
	}
	// A flag beats the file.
	if _, out, _ := cli(t, "--cli-config", cfg, "controls", "-f", "markdown"); strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Errorf("-f markdown lost to the file's format: json")
	}
	// A variable beats the file.
	t.Setenv("FIREBREAK_CONTROLS_FORMAT", "table")
	if _, out, _ := cli(t, "--cli-config", cfg, "controls"); strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Errorf("FIREBREAK_CONTROLS_FORMAT=table lost to the file's format: json")
	}
}

// TestCLIConfigErrors: every mistake anywhere in the file is a usage error
// naming file:line:col, whichever verb runs.
func TestCLIConfigErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"assess:\n  fial-on: high\n", `:2:3: "fial-on" is neither a flag nor a verb of assess (did you mean "fail-on"?)`},
		{"exit-code: many\n", ":1:12: --exit-code of the global flags"},
		{"kev:\n  update:\n    timeout: soon\n", ":3:14: --timeout of kev update"},
		{"assess:\n  format: [json, csv]\n", ":2:11: --format of assess takes one value, not a list"},
		{"serve:\n  config: x.yaml\n", ":1:1: serve is configured by its own file"},
		{"assess: high\n", ":1:9: assess: want a mapping"},
		{"assess:\n  fail-on: [\n", "cli.yaml: yaml:"},
	} {
		cfg := writeCLIConfig(t, tc.body)
		code, _, errOut := cli(t, "--cli-config", cfg, "controls")
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d\n%s\nwant exit 2 and %q", tc.body, code, errOut, tc.want)
		}
	}
	if code, _, errOut := cli(t, "--cli-config", filepath.Join(t.TempDir(), "none.yaml"), "controls"); code != exitUsage || !strings.Contains(errOut, "none.yaml") {
		t.Errorf("a named missing file: exit %d %q, want a usage error naming it", code, errOut)
	}
	// Repeatable flags take lists.
	cfg := writeCLIConfig(t, "assess:\n  tenant: [cedar-law, msp]\n")
	if code, _, errOut := cli(t, "--cli-config", cfg, "controls"); code != 0 {
		t.Errorf("a list for a repeatable flag: exit %d %s", code, errOut)
	}
}
