package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// TestDemoNoServe runs the README's main job in its non-interactive form, on
// the example embedded in the binary (no path into the repository, so it is
// what an installed binary run from any directory does), and checks the
// summary names what the example estate and logs contain.
func TestDemoNoServe(t *testing.T) {
	var out bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	o := demoOptions{
		listen:  "127.0.0.1:0",
		now:     "2026-11-27T09:00:00Z",
		noServe: true,
	}
	if err := runDemo(context.Background(), o, g); err != nil {
		t.Fatalf("runDemo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"MSP score",
		"Blast radius",
		"rmm",
		"MFA fatigue",
		"RMM fan-out",
		"Cross-tenant spray",
		"TOTP secret",
		"otpauth://totp/",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("demo summary lacks %q:\n%s", want, s)
		}
	}
}

// TestDemoOneClock: the demo summary, the dashboard (overview, tenants
// list, HTML report) and `firebreak assess` on the same estate, KEV
// catalog and time agree on the assessment time, every score to the
// rounding, and the pass/fail counts (issue 15, "one clock").
func TestDemoOneClock(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: io.Discard, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	const now = "2026-11-27T09:00:00Z"
	d, err := setupDemo(ctx, demoOptions{listen: "127.0.0.1:0", now: now, noServe: true}, g)
	if d != nil {
		defer d.close()
	}
	if err != nil {
		t.Fatalf("setupDemo: %v\n%s", err, out.String())
	}
	summary := out.String()
	const asOf = "2026-11-27 09:00 UTC"

	// Every run the demo stored, history and latest, judged FB-AUTH-004
	// from the demo's logs like serve (the history once came from the bare
	// engine: not evaluable on every day but the last).
	runs, err := d.st.ListRuns(ctx, store.AllTenants(), 0)
	if err != nil || len(runs) < 2 {
		t.Fatalf("demo runs: %d, %v", len(runs), err)
	}
	for _, run := range runs {
		rs, err := d.st.Results(ctx, store.AllTenants(), store.ResultFilter{RunID: run.ID, Control: "FB-AUTH-004", Brief: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Status == assess.StatusNotEvaluable {
				t.Errorf("run %d (%s, %s): %s FB-AUTH-004 not evaluable: %s", run.ID, run.Trigger, run.At.Format(time.DateOnly), r.Subject, r.Message)
				break
			}
		}
	}

	// firebreak assess, JSON, on what the demo read, with the same
	// detection facts (FB-AUTH-004): the detection summary serve derives
	// from the stored events, written as detect --summary-file writes it.
	rules, err := detect.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	mon, err := worker.AuthMonitoring(ctx, d.st, rules, d.clock())
	if err != nil {
		t.Fatal(err)
	}
	sum := filepath.Join(t.TempDir(), "detect-summary.json")
	if data, err := json.Marshal(mon); err != nil || os.WriteFile(sum, data, 0o600) != nil {
		t.Fatalf("summary file: %v", err)
	}
	js := filepath.Join(t.TempDir(), "a.json")
	if err := runAssess(ctx, assessOptions{Output: js, Format: "json", Now: now, KEVFile: d.kev, DetectSummary: sum, getenv: noEnv(t.TempDir())}, g, d.estate); err != nil {
		t.Fatalf("assess: %v", err)
	}
	var rep assess.Report
	if b, err := os.ReadFile(js); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	var pass, fail, other int
	for _, r := range rep.Results {
		switch r.Status {
		case assess.StatusPass:
			pass++
		case assess.StatusFail:
			fail++
		default:
			other++
		}
	}
	if got := rep.At.UTC().Format("2006-01-02 15:04 UTC"); got != asOf {
		t.Errorf("assess at %s, want %s", got, asOf)
	}

	// The demo summary.
	if want := fmt.Sprintf("Assessment as of %s: %d tenants, %d pass, %d fail, %d other", asOf, len(rep.Scores)-1, pass, fail, other); !strings.Contains(summary, want) {
		t.Errorf("demo summary lacks %q:\n%s", want, summary)
	}
	for _, sc := range rep.Scores {
		var want string
		if sc.Subject == "msp" {
			want = fmt.Sprintf("MSP score %s / 100", assess.ScoreText(sc.Score))
		} else {
			want = fmt.Sprintf("%s %s (%d failing)", sc.Subject, assess.ScoreText(sc.Score), sc.Fail)
		}
		if i := slices.Index(rep.Scores, sc); i <= 5 && !strings.Contains(squeeze(summary), want) {
			t.Errorf("demo summary lacks %q (as assess)", want)
		}
	}

	// The dashboard, signed in as the demo's owner.
	get := dashboardGetter(t, d)
	overviewHTML, tenantsHTML, reportHTML := get("/"), get("/tenants"), get("/reports/html")
	for _, page := range []struct{ name, html string }{{"overview", overviewHTML}, {"tenants", tenantsHTML}, {"HTML report", reportHTML},
		{"a tenant", get("/tenants/cedar-law")}, {"controls matrix", get("/matrix")}, {"blast radius", get("/blast")}} {
		if !strings.Contains(strings.ToLower(squeeze(stripTags(page.html))), "as of the assessment of "+strings.ToLower(asOf)) {
			t.Errorf("%s does not state it is as of %s", page.name, asOf)
		}
	}
	overview := squeeze(stripTags(overviewHTML))
	if want := fmt.Sprintf("MSP score %s /100", assess.ScoreText(rep.Scores[0].Score)); !strings.Contains(overview, want) {
		t.Errorf("overview lacks %q", want)
	}
	if want := fmt.Sprintf("Failing checks %d", fail); !strings.Contains(overview, want) {
		t.Errorf("overview lacks %q", want)
	}
	for _, sc := range rep.Scores[1:] {
		// tenants list: tenant, criticality, score, risk, failing, incidents
		row := rowCells(tenantsHTML, `href="/tenants/`+sc.Subject+`"`)
		if len(row) < 5 || row[2] != assess.ScoreText(sc.Score) || row[4] != fmt.Sprint(sc.Fail) {
			t.Errorf("tenants list row of %s: %q, want score %s and %d failing (as assess)", sc.Subject, row, assess.ScoreText(sc.Score), sc.Fail)
		}
		// HTML report: subject, score, critical, high, medium, low, pass
		row = rowCells(reportHTML, `<div class="sub mono">`+sc.Subject+`</div>`)
		sum := 0
		for _, c := range row[min(2, len(row)):min(6, len(row))] {
			n, _ := strconv.Atoi(c)
			sum += n
		}
		if len(row) < 7 || row[1] != assess.ScoreText(sc.Score) || sum != sc.Fail || row[6] != fmt.Sprint(sc.Pass) {
			t.Errorf("HTML report row of %s: %q, want score %s, %d failing, %d passing (as assess)", sc.Subject, row, assess.ScoreText(sc.Score), sc.Fail, sc.Pass)
		}
	}
}

// rowCells returns the text of the cells of the first table row whose
// HTML contains marker.
func rowCells(html, marker string) []string {
	for _, tr := range strings.Split(html, "<tr")[1:] {
		tr, _, _ = strings.Cut(tr, "</tr>")
		if !strings.Contains(tr, marker) {
			continue
		}
		var out []string
		for _, c := range regexp.MustCompile(`(?s)<t[hd][^>]*>(.*?)</t[hd]>`).FindAllStringSubmatch(tr, -1) {
			out = append(out, strings.TrimSpace(squeeze(stripTags(c[1]))))
		}
		return out
	}
	return nil
}

var (
	tagRE   = regexp.MustCompile(`<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

func stripTags(s string) string { return tagRE.ReplaceAllString(s, " ") }
func squeeze(s string) string   { return spaceRE.ReplaceAllString(s, " ") }

// dashboardGetter signs the demo's owner in with a session made in the
// store (as the login flow would) and returns a GET on the dashboard.
func dashboardGetter(t *testing.T, d *demoEnv) func(path string) string {
	t.Helper()
	ctx := context.Background()
	u, err := d.st.GetUser(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	u.MustChangePassword = false
	if err := d.st.SetPassword(ctx, "admin", u.PasswordHash, false); err != nil {
		t.Fatal(err)
	}
	tok := store.Secret("demo-one-clock-session-token-0123456789")
	at := time.Now()
	if err := d.st.CreateSession(ctx, tok, &store.Session{Username: "admin", MFA: true, CSRF: "csrf", Created: at, LastSeen: at, Expires: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h := d.srv.Handler()
	return func(path string) string {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: "fb_session", Value: tok.Reveal()})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %.300s", path, rec.Code, rec.Body.String())
		}
		return rec.Body.String()
	}
}
