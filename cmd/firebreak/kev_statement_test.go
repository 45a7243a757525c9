package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/report"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// One KEV rule (resolveKEV) for the demo, serve's engines, assess and
// blast: with no catalog stored and no flag, all use the snapshot built
// into the binary and print the same line, and the demo's blast ranking is
// the CLI's with no KEV flag (issue 15: the demo used the built-in
// snapshot, the CLI with no stored catalog none). --kev and --no-kev are
// stated too.
func TestDemoAndCLIUseOneKEVRule(t *testing.T) {
	ctx := context.Background()
	const now = "2026-11-27T09:00:00Z"
	data := t.TempDir() // no catalog stored
	t.Setenv("FIREBREAK_DATA_DIR", data)
	var out bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d, err := setupDemo(ctx, demoOptions{listen: "127.0.0.1:0", now: now, noServe: true, getenv: noEnv(data)}, g)
	if d != nil {
		t.Cleanup(d.close)
	}
	if err != nil {
		t.Fatalf("setupDemo: %v", err)
	}
	const builtin = "KEV: built-in snapshot of 2025-08-25 ("
	line := d.kevLine
	if !strings.HasPrefix(line, builtin) || !strings.HasSuffix(line, "run `firebreak kev update` for today's") {
		t.Fatalf("demo's KEV line %q", line)
	}
	if !strings.Contains(out.String(), line) {
		t.Errorf("demo summary does not state %q:\n%s", line, out.String())
	}
	if want := "firebreak blast " + d.estate + " --now " + now + "\n"; !strings.Contains(out.String(), want) {
		t.Errorf("demo summary lacks %q:\n%s", want, out.String())
	}
	if got := d.node.Work.Engines().KEV(); got != line {
		t.Errorf("the dashboard states %q, the demo printed %q", got, line)
	}
	cli := func(args ...string) (string, string) {
		t.Helper()
		var o, e bytes.Buffer
		if code := run(ctx, args, &o, &e); code != exitOK && code != exitFindings {
			t.Fatalf("firebreak %s: exit %d\n%s", strings.Join(args, " "), code, e.String())
		}
		return o.String(), e.String()
	}
	if s, _ := cli("blast", d.estate, "--now", now); !strings.Contains(s, "\n"+line+"\n") {
		t.Errorf("blast with no KEV flag does not state %q:\n%s", line, tail(s))
	}
	if _, e := cli("assess", d.estate, "--now", now, "-f", "json", "-o", filepath.Join(t.TempDir(), "a.json")); !strings.Contains(e, line+"\n") {
		t.Errorf("assess with no KEV flag does not state %q:\n%s", line, tail(e))
	}
	// The same numbers: the demo's stored ranking is blast's.
	path := filepath.Join(t.TempDir(), "b.json")
	cli("blast", d.estate, "--now", now, "-f", "json", "-o", path)
	var bl struct {
		Ranking []struct {
			ID string `json:"id"`
		} `json:"ranking"`
	}
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &bl) != nil {
		t.Fatalf("blast JSON: %v", err)
	}
	stored, err := d.st.GetBlast(ctx, store.AllTenants(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var cliTop, demoTop []string
	for _, r := range bl.Ranking[:min(10, len(bl.Ranking))] {
		cliTop = append(cliTop, r.ID)
	}
	for _, r := range stored.Ranking[:min(10, len(stored.Ranking))] {
		demoTop = append(demoTop, r.Node)
	}
	if len(cliTop) < 10 || !slices.Equal(cliTop, demoTop) {
		t.Errorf("blast ranking: CLI %v, demo %v", cliTop, demoTop)
	}
	if s, _ := cli("blast", d.estate, "--now", now, "--kev", d.kev); !strings.Contains(s, "KEV: catalog "+d.kev+" of 2025-08-25 (") {
		t.Errorf("blast --kev: no KEV statement:\n%s", tail(s))
	}
	if s, _ := cli("blast", d.estate, "--now", now, "--no-kev"); !strings.Contains(s, "KEV: none — --no-kev") {
		t.Errorf("blast --no-kev: no KEV statement:\n%s", tail(s))
	}
}

func tail(s string) string { return s[max(0, len(s)-600):] }

// TestDashboardReportStatesKEVAsCLI: the HTML report downloaded from the
// dashboard (/reports/html, a stored run) names the KEV catalog the
// assessment used, the line `firebreak assess -f html` writes on the same
// estate (issue 15: the dashboard's said "KEV: none", the run kept no KEV
// version).
func TestDashboardReportStatesKEVAsCLI(t *testing.T) {
	ctx := context.Background()
	const now = "2026-11-27T09:00:00Z"
	data := t.TempDir() // no catalog stored: both use the built-in snapshot
	t.Setenv("FIREBREAK_DATA_DIR", data)
	g := &globalOptions{stdout: io.Discard, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d, err := setupDemo(ctx, demoOptions{listen: "127.0.0.1:0", now: now, noServe: true, getenv: noEnv(data)}, g)
	if d != nil {
		t.Cleanup(d.close)
	}
	if err != nil {
		t.Fatalf("setupDemo: %v", err)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	var e bytes.Buffer
	if code := run(ctx, []string{"assess", d.estate, "--now", now, "-f", "html", "-o", path}, io.Discard, &e); code != exitOK && code != exitFindings {
		t.Fatalf("firebreak assess: exit %d\n%s", code, e.String())
	}
	cliHTML, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kevOf := func(html string) string {
		sub := regexp.MustCompile(`<div class="sub">As of the assessment of [^<]*</div>`).FindString(html)
		i := strings.LastIndex(sub, " · ")
		if i < 0 {
			t.Fatalf("no as-of line in the report:\n%.600s", html)
		}
		return strings.TrimSuffix(sub[i+len(" · "):], "</div>")
	}
	cli, dash := kevOf(string(cliHTML)), kevOf(dashboardGetter(t, d)("/reports/html"))
	if none := report.KEVLine(&assess.Report{}); cli == none {
		t.Fatalf("the CLI's report states %q with the built-in KEV snapshot", cli)
	}
	if dash != cli {
		t.Errorf("the dashboard's report states %q, the CLI's %q", dash, cli)
	}
}
