package server

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/evaluate"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/trust"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// TestBrowserDemo serves the bundled example MSP with the real engines and
// walks the dashboard pages in Chromium, saving screenshots (artifacts) and
// checking the embedded trust graph's script runs under the page's CSP.
func TestBrowserDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	exe := chromium(t)
	axe := axeSource(t)
	estateDir := filepath.Join("..", "..", "examples", "harbourview")
	if _, err := os.Stat(filepath.Join(estateDir, "tenants.yaml")); err != nil {
		t.Fatalf("example estate missing: %v", err)
	}
	ctx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.TLS.Disable = true
	cfg.Auth.InsecureCookies = true
	cfg.Estate.Paths = []string{estateDir}
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(Options{Config: cfg, Store: st}, eng)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.node.AssessNow(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(estateDir, "logs")
	files, _ := filepath.Glob(filepath.Join(logs, "*.*"))
	var paths []string
	var mapping *ingest.Mapping
	for _, f := range files {
		switch {
		case strings.HasSuffix(f, "mapping.yaml"):
			if mapping, err = ingest.LoadMapping(f); err != nil {
				t.Fatal(err)
			}
		case strings.HasSuffix(f, ".md"), strings.HasSuffix(f, ".yaml"):
		default:
			paths = append(paths, f)
		}
	}
	if _, err := srv.node.IngestFiles(ctx, paths, mapping); err != nil {
		t.Fatal(err)
	}
	creds, err := auth.BootstrapOwner(ctx, st, "admin", true)
	if err != nil || creds == nil {
		t.Fatalf("bootstrap: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, srv, ln) }()
	// localhost, not 127.0.0.1: WebAuthn needs a domain as relying party id.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://localhost:" + port

	shots := artifactDir(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.WindowSize(1440, 900))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// Start the browser on the browser context itself: the first run
	// allocates it, and a per-step context would close it when it ends.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	// One bound for the whole walk (so a hung browser fails, not hangs)
	// and a shorter one per step: a fixed two-minute budget for every page
	// together failed the walk on a busy machine (load 36) while each page
	// was still answering.
	// The walk's bound is the test binary's own (go test -timeout) less a
	// minute to report; at load 50 the walk alone took 9 minutes.
	walk := 20 * time.Minute
	if d, ok := t.Deadline(); ok {
		walk = time.Until(d) - time.Minute
	}
	bctx, cancel = context.WithTimeout(bctx, walk)
	defer cancel()
	const stepTimeout = 90 * time.Second
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, stepTimeout)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	// navStep runs actions that start a navigation (submit a form, click a
	// link) and returns only once the new document has loaded. Waiting for
	// an element instead raced when the element was on the old page too:
	// the next Navigate then met the still-pending form navigation and was
	// aborted (net::ERR_ABORTED, seen on "overview trend" after the tenants
	// search was submitted).
	navStep := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, stepTimeout)
		defer cancel()
		resp, err := chromedp.RunResponse(sctx, actions...)
		if err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
		if resp.Status >= 400 {
			t.Fatalf("browser: %s: HTTP %d for %s", what, resp.Status, resp.URL)
		}
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, "demo-"+name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step("sign-in page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.ID("username")))
	axeCheck(t, bctx, axe, "/login")
	step("sign in",
		chromedp.SendKeys(chromedp.ID("username"), creds.Username),
		chromedp.SendKeys(chromedp.ID("password"), creds.Password.Reveal()))
	navStep("password", chromedp.Submit(chromedp.ID("password")))
	step("totp form", chromedp.WaitVisible(chromedp.ID("code")))
	axeCheck(t, bctx, axe, "/login/totp")
	// The code is computed just before it is typed: the checks before it
	// can take longer than its 30-second step on a busy machine.
	code, err := auth.TOTPCode(creds.TOTPSecret.Reveal(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	step("totp code", chromedp.SendKeys(chromedp.ID("code"), code))
	navStep("totp", chromedp.Submit(chromedp.ID("code")))
	// The printed password is one-time: the account page asks for a
	// new one before anything else.
	step("new password", chromedp.WaitVisible(chromedp.ID("current")),
		chromedp.SendKeys(chromedp.ID("current"), creds.Password.Reveal()),
		chromedp.SendKeys(chromedp.ID("new"), "lantern harbour quietly ferns 7"),
		chromedp.SendKeys(chromedp.ID("again"), "lantern harbour quietly ferns 7"))
	navStep("change password", chromedp.Submit(chromedp.ID("again")))
	step("signed in", chromedp.WaitVisible(chromedp.CSS("p.flash")), chromedp.WaitVisible(chromedp.CSS("nav.side")))
	for _, pg := range []struct{ name, path, wait string }{
		{"overview", "/", "#fix-h"},
		{"attest", "/tenants/cedar-law/attest", "#post-h"},
		{"tenant", "/tenants/cedar-law", "#fail-h"},
		{"matrix", "/matrix", "table.matrix"},
		{"incidents", "/incidents", "#incidents"},
		{"blast", "/blast?node=rmm", "#rank-h"},
		{"settings", "/settings", "#users-h"},
	} {
		step(pg.name, chromedp.Navigate(base+pg.path), chromedp.WaitVisible(chromedp.CSS(pg.wait)))
		shot(pg.name)
	}
	// The blast ranking says what its score is, and a row whose score ties
	// the row above says what put that row first.
	step("blast ranking", chromedp.Navigate(base+"/blast"), chromedp.WaitVisible(chromedp.ID("score-why")))
	type rankRow struct {
		Score, Tie string
	}
	ranked, err := chromedp.Run(bctx, chromedp.Evaluate[[]rankRow](`[...document.querySelectorAll('section[aria-labelledby=rank-h] tbody tr')].map(r => ({Score: r.cells[5].firstChild.textContent, Tie: (r.querySelector('.tie') || {}).textContent || ''}))`))
	if err != nil {
		t.Fatal(err)
	}
	ties := 0
	for i := 1; i < len(ranked); i++ {
		same := ranked[i].Score == ranked[i-1].Score
		if same != (ranked[i].Tie != "") {
			t.Errorf("blast row %d: score %s after %s, tie note %q", i+1, ranked[i].Score, ranked[i-1].Score, ranked[i].Tie)
		}
		if same {
			ties++
		}
	}
	if len(ranked) < 10 || ties == 0 {
		t.Errorf("blast ranking: %d rows, %d explained ties", len(ranked), ties)
	}
	// Fix first on the overview is the CLI's plan, step for step.
	e, err := estate.Load(estateDir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := evaluate.TrustGraph(e, evaluate.Deps{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := trust.NewReport(g, trust.ReportOptions{Suggest: true})
	if err != nil || cli.Plan == nil || len(cli.Plan.Steps) < 3 {
		t.Fatalf("CLI plan: %v", err)
	}
	step("overview again", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("fix-h")))
	steps, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('ol.fix > li > strong')].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 3 {
		t.Fatalf("overview shows %d fix-first steps, want 3", len(steps))
	}
	for i, why := range steps {
		if why != cli.Plan.Steps[i].Why {
			t.Errorf("fix-first step %d: dashboard %q, CLI %q", i+1, why, cli.Plan.Steps[i].Why)
		}
	}
	// Without scrolling on a laptop (1440×900): the first fix-first step
	// and the open incidents start within the first screen.
	tops, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`[document.querySelector('#fix-h').getBoundingClientRect().top, document.querySelector('#inc-h').getBoundingClientRect().top]`))
	if err != nil {
		t.Fatal(err)
	}
	if tops[0] > 900 {
		t.Errorf("fix first starts at y=%.0f, below the first screen", tops[0])
	}
	// The remediation queue: each fix-first step names the controls it
	// fixes; owner, due date and state are set with the step's own
	// controls and come back on the page and in the CSV export.
	type queueDOM struct{ Key, Text string }
	queue, err := chromedp.Run(bctx, chromedp.Evaluate[[]queueDOM](`[...document.querySelectorAll('ol.fix > li .queue')].map(e => ({Key: e.id.slice(2), Text: e.innerText}))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(queue) != 3 {
		t.Fatalf("overview shows %d remediation controls, want one per fix-first step", len(queue))
	}
	for i, q := range queue {
		if !strings.Contains(q.Text, "fixes FB-") {
			t.Errorf("fix-first step %d names no control it fixes: %q", i+1, q.Text)
		}
	}
	k := queue[0].Key
	step("remediation owner, due date and state",
		chromedp.SetValue(chromedp.ID("o-"+k), creds.Username),
		chromedp.SetValue(chromedp.ID("d-"+k), "2026-12-31"),
		chromedp.SetValue(chromedp.ID("s-"+k), "in_progress"))
	navStep("save remediation step", chromedp.Submit(chromedp.ID("s-"+k)))
	step("remediation saved", chromedp.WaitVisible(chromedp.ID("q-"+k)))
	saved, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("q-"+k)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(saved, "owner "+creds.Username) || !strings.Contains(saved, "due 2026-12-31") || !strings.Contains(strings.ToLower(saved), "in progress") {
		t.Errorf("remediation step after saving: %q", saved)
	}
	shot("remediation")
	csvText, err := chromedp.Run(bctx, chromedp.Evaluate[string](`fetch('/remediation.csv', {credentials: 'same-origin'}).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csvText), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "rank,action,tenants_made_safer,exposure_removed,proof_path,controls,owner,due,state") {
		t.Fatalf("remediation CSV: %.400s", csvText)
	}
	if !strings.Contains(lines[1], ","+creds.Username+",2026-12-31,in_progress") || !strings.Contains(lines[1], "FB-") {
		t.Errorf("remediation CSV first step: %q", lines[1])
	}
	// Cases, not rows: one row per attacker, most severe first then most
	// recent, the attacker's address or account in the row, rule names (no
	// rule UUIDs) under the title, and the table within the window.
	step("cases", chromedp.Navigate(base+"/incidents"), chromedp.WaitVisible(chromedp.ID("incidents")))
	type caseRowDOM struct {
		Sev, Last, Text, Attacker string
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[[]caseRowDOM](`[...document.querySelectorAll('#incidents tbody tr[data-sev]')].map(r => ({Sev: r.dataset.sev, Last: r.dataset.last, Text: r.querySelector('th').innerText, Attacker: r.querySelector('td.attacker').innerText}))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 {
		t.Fatalf("cases list: %d rows", len(rows))
	}
	rank := map[string]int{"informational": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
	uuid := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	for i, r := range rows {
		if uuid.MatchString(r.Text) {
			t.Errorf("case row %d shows a rule UUID: %q", i, r.Text)
		}
		if r.Attacker == "" {
			t.Errorf("case row %d has no attacker", i)
		}
		if i > 0 {
			p := rows[i-1]
			if rank[p.Sev] < rank[r.Sev] || (p.Sev == r.Sev && p.Last < r.Last) {
				t.Errorf("case rows %d, %d out of order: %s %s then %s %s", i-1, i, p.Sev, p.Last, r.Sev, r.Last)
			}
		}
	}
	noOverflow := func(where string) {
		t.Helper()
		w, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if err != nil {
			t.Fatal(err)
		}
		if w[0] > w[1] {
			t.Errorf("%s scrolls sideways: content %.0f px wide, window %.0f", where, w[0], w[1])
		}
	}
	noOverflow("cases list")
	shot("cases")
	navStep("open the first case", chromedp.Click(chromedp.CSS(`#incidents tbody tr a[href^="/cases/"]`)))
	step("case page", chromedp.WaitVisible(chromedp.ID("rules-h")))
	got, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('ol.steps li').length, document.querySelectorAll('select#assignee option[value="admin"]').length, document.querySelectorAll('a[href^="/events?"]').length]`))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] == 0 || got[1] != 1 || got[2] == 0 {
		t.Errorf("case page: %d response steps, admin in the assignee select %d times, %d links to the events search", got[0], got[1], got[2])
	}
	noOverflow("case page")
	shot("case")
	navStep("acknowledge the case", chromedp.Click(chromedp.ID("case-ack")))
	step("case acknowledged", chromedp.WaitVisible(chromedp.ID("rules-h")), chromedp.WaitNotPresent(chromedp.ID("case-ack")))
	if st, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID("case-status"))); err != nil || st != "acknowledged" {
		t.Errorf("case status after acknowledge: %q %v", st, err)
	}
	step("cases again", chromedp.Navigate(base+"/incidents"), chromedp.WaitVisible(chromedp.ID("incidents")))
	box, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#incidents tbody input[type=checkbox]').id`))
	if err != nil {
		t.Fatal(err)
	}
	step("tick a case", chromedp.Click(chromedp.ID(box)))
	navStep("bulk acknowledge", chromedp.Click(chromedp.ID("bulk-ack")))
	step("cases acknowledged", chromedp.WaitNotPresent(chromedp.ID(box)), chromedp.WaitVisible(chromedp.ID("incidents")))
	after, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#incidents tbody tr[data-sev]').length`))
	if err != nil {
		t.Fatal(err)
	}
	if after != len(rows)-2 {
		t.Errorf("open cases after acknowledging two: %d, want %d", after, len(rows)-2)
	}
	// Events search: the count and the events-per-hour histogram, whose
	// bars add up to the count. This server assesses as of the wall clock,
	// after the example logs' day (2026-11-26): the default week up to the
	// assessment would hold none of them, so the search names their day.
	step("events", chromedp.Navigate(base+"/events?from=2026-11-25T00:00:00Z&to=2026-11-28T00:00:00Z"), chromedp.WaitVisible(chromedp.ID("ehist-h")))
	ev, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[+document.querySelector('#ehist-h').dataset.total, document.querySelectorAll('svg.chart rect.histbar').length,
		[...document.querySelectorAll('svg.chart rect.histbar title')].reduce((n, t) => n + +t.textContent.split(': ').pop(), 0)]`))
	if err != nil {
		t.Fatal(err)
	}
	if ev[0] < 100 || ev[1] == 0 || ev[2] != ev[0] {
		t.Errorf("events page: count %d, %d histogram bars adding up to %d", ev[0], ev[1], ev[2])
	}
	// The table's column headers sit over their columns (at 1440 px they
	// were squeezed left of the rows).
	misaligned, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(() => {
		const t = document.querySelector('main table.stack'), out = [];
		const hs = t.querySelectorAll('thead th'), cs = t.querySelector('tbody tr').children;
		hs.forEach((h, i) => { const a = h.getBoundingClientRect(), b = cs[i].getBoundingClientRect();
			if (Math.abs(a.left - b.left) > 1 || Math.abs(a.width - b.width) > 1) out.push(h.textContent + ': header x ' + Math.round(a.left) + ' w ' + Math.round(a.width) + ', cell x ' + Math.round(b.left) + ' w ' + Math.round(b.width)); });
		return out; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(misaligned) > 0 {
		t.Errorf("events table: headers not over their columns: %v", misaligned)
	}
	noOverflow("events search")
	shot("events")
	// The tenants list: riskiest first (score gap × criticality), search narrows it.
	step("tenants", chromedp.Navigate(base+"/tenants"), chromedp.WaitVisible(chromedp.ID("tenants")))
	risks, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll('#tenants tbody tr[data-risk]')].map(r => parseFloat(r.dataset.risk))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(risks) < 5 {
		t.Fatalf("tenants list: %d rows", len(risks))
	}
	for i := 1; i < len(risks); i++ {
		if risks[i] > risks[i-1] {
			t.Errorf("tenants list out of risk order at row %d: %v", i, risks)
			break
		}
	}
	noOverflow("tenants list")
	shot("tenants")
	// The search form (cedar-law is on the unfiltered list too, so only
	// the new document's load says the search has happened).
	step("type a search", chromedp.SendKeys(chromedp.ID("t-q"), "cedar"))
	navStep("search tenants", chromedp.Submit(chromedp.ID("t-q")))
	step("search result", chromedp.WaitVisible(chromedp.CSS(`#tenants a[href="/tenants/cedar-law"]`)))
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#tenants tbody tr[data-risk]').length`)); err != nil || n != 1 {
		t.Errorf("search for cedar: %d rows %v", n, err)
	}
	// One count of a tenant's incidents: the tenants list's "open" figure
	// is the tenant page's (the page counted every incident, the list the
	// open ones; two cases were acknowledged above).
	step("tenants for incident counts", chromedp.Navigate(base+"/tenants"), chromedp.WaitVisible(chromedp.ID("tenants")))
	type openDOM struct{ Tenant, Open string }
	listed, err := chromedp.Run(bctx, chromedp.Evaluate[[]openDOM](`[...document.querySelectorAll('#tenants tbody tr[data-tenant]')].map(r => ({Tenant: r.dataset.tenant, Open: r.dataset.open}))`))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, row := range listed {
		if row.Open == "0" && row.Tenant != "cedar-law" {
			continue
		}
		step("tenant incidents "+row.Tenant, chromedp.Navigate(base+"/tenants/"+row.Tenant), chromedp.WaitVisible(chromedp.ID("fail-h")))
		got, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector('#open-incidents') || {dataset: {}}).dataset.open || 'missing'`))
		if err != nil {
			t.Fatal(err)
		}
		if got != row.Open {
			t.Errorf("tenant %s: the tenants list says %s open incidents, its page %s", row.Tenant, row.Open, got)
		}
		checked++
	}
	if checked < 2 {
		t.Errorf("incident counts compared on %d tenant pages, want at least 2 (tenants list: %v)", checked, listed)
	}
	// Evidence positions are relative to the estate root (the demo's
	// estate sits in a temporary directory; here ../../examples/…).
	step("tenant evidence", chromedp.Navigate(base+"/tenants/cedar-law"), chromedp.WaitVisible(chromedp.ID("fail-h")))
	poss, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('ul.evidence .pos')].map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(poss) == 0 {
		t.Error("tenant page: no evidence positions shown")
	}
	for _, pos := range poss {
		file, _, _ := strings.Cut(pos, ":")
		if strings.HasPrefix(file, "/") || strings.HasPrefix(file, "..") {
			t.Errorf("evidence position %q is not relative to the estate root", pos)
		} else if _, err := os.Stat(filepath.Join(estateDir, file)); err != nil {
			t.Errorf("evidence position %q names no file of the estate: %v", pos, err)
		}
	}
	// The overview's score trend is a chart with axes.
	step("overview trend", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("trend-h")))
	if n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('section[aria-labelledby=trend-h] svg.chart polyline.line, section[aria-labelledby=trend-h] svg.chart text.tick').length`)); err != nil || n < 4 {
		t.Errorf("score trend chart: %d line and tick elements %v", n, err)
	}
	// A tenant page: failing controls grouped by advisory heading, the
	// not-evaluable ones collapsed with a way to record an attestation.
	step("tenant page", chromedp.Navigate(base+"/tenants/cedar-law"), chromedp.WaitVisible(chromedp.ID("fail-h")))
	tp, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('h3.heading-group').length, document.querySelector('#other-d') && !document.querySelector('#other-d').open ? 1 : 0, document.querySelectorAll('#other-d a[href="/tenants/cedar-law/attest"]').length]`))
	if err != nil {
		t.Fatal(err)
	}
	if tp[0] < 2 || tp[1] != 1 || tp[2] != 1 {
		t.Errorf("tenant page: %d heading groups, not-evaluable collapsed %d, attest links %d", tp[0], tp[1], tp[2])
	}
	noOverflow("tenant page")
	// One clock: every signed-in page states "as of" the same assessment
	// (latestRun), and the overview's heading names the same time.
	step("overview as of", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("as-of")))
	head, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[document.querySelector('#as-of').dataset.asOf, document.querySelector('#as-of').textContent, document.querySelector('.page-head').textContent, (document.querySelector('#kev-used') || {}).textContent || 'missing']`))
	if err != nil {
		t.Fatal(err)
	}
	when, _, _ := strings.Cut(strings.TrimPrefix(head[1], "As of the assessment of "), " · ")
	if head[0] == "" || !strings.HasPrefix(head[1], "As of the assessment of ") || !strings.Contains(head[2], when) {
		t.Errorf("overview: as of %q, stated %q, heading %q", head[0], head[1], head[2])
	}
	// The KEV catalog the numbers used, in the CLI's words (kev.Used via
	// the engines): these engines have none.
	if head[3] != "KEV: none — no KEV catalog configured (assess.kev)" {
		t.Errorf("overview states KEV %q", head[3])
	}
	asOfs := map[string]string{}
	asOf := func(where string) {
		t.Helper()
		got, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(e => e ? [e.dataset.asOf, e.textContent, (document.querySelector('#kev-used') || {}).textContent || 'missing'] : ['', 'missing', 'missing'])(document.querySelector('#as-of'))`))
		if err != nil {
			t.Fatal(err)
		}
		asOfs[where] = got[0]
		if got[0] != head[0] || got[1] != head[1] {
			t.Errorf("%s: as of %q (%q), the overview's %q (%q)", where, got[0], got[1], head[0], head[1])
		}
		if got[2] != head[3] {
			t.Errorf("%s: KEV %q, the overview's %q", where, got[2], head[3])
		}
	}
	// Accessibility: axe-core finds nothing on any signed-in page.
	for _, path := range []string{"/", "/tenants", "/tenants/cedar-law", "/tenants/cedar-law/attest", "/matrix", "/incidents", "/incidents?status=all",
		"/events", "/blast", "/blast?node=rmm", "/settings", "/audit", "/collectors", "/account"} {
		step("axe "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main")))
		axeCheck(t, bctx, axe, path)
		asOf(path)
	}
	step("axe case", chromedp.Navigate(base+"/incidents?status=all"), chromedp.WaitVisible(chromedp.ID("incidents")))
	navStep("axe case page", chromedp.Click(chromedp.CSS(`#incidents a[href^="/cases/"]`)))
	step("axe case loaded", chromedp.WaitVisible(chromedp.ID("rules-h")))
	axeCheck(t, bctx, axe, "a case page")
	asOf("a case page")
	step("axe graph", chromedp.Navigate(base+"/blast/graph"), chromedp.WaitVisible(chromedp.CSS(`#gx[data-state=ready]`)))
	axeCheck(t, bctx, axe, "/blast/graph")
	asOf("/blast/graph")
	if len(asOfs) < 16 {
		t.Errorf("as of checked on %d pages", len(asOfs))
	}
	// Narrow screens (WCAG 1.4.10 reflow): at 390×844 no signed-in page
	// scrolls sideways (wide tables scroll inside their card).
	if _, err := chromedp.Call(bctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: false}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/incidents", "/tenants", "/events", "/tenants/cedar-law", "/tenants/cedar-law/attest", "/matrix", "/blast", "/settings", "/audit", "/collectors", "/account"} {
		step("narrow "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS("main")))
		noOverflow("at 390 px, " + path)
		// A table that scrolls inside its card must be reachable by
		// keyboard there (axe scrollable-region-focusable at 390 px on
		// /collectors, /audit and the attest page).
		axeCheck(t, bctx, axe, "at 390 px, "+path)
		h, err := chromedp.Run(bctx, chromedp.Evaluate[float64](`document.documentElement.scrollHeight`))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("page height at 390×844: %s %.0f px", path, h)
		// The blast page folds each step's and node's details (details.fold)
		// on narrow screens: it was ~13,000 px, now within four screens.
		if path == "/blast" {
			if h > 4*844 {
				t.Errorf("/blast at 390×844 is %.0f px tall, more than four screens (%d px)", h, 4*844)
			}
			shot("blast-390")
			if n, err := chromedp.Run(bctx, chromedp.Evaluate[[]int](`[document.querySelectorAll('details.fold').length, document.querySelectorAll('details.fold[open]').length]`)); err != nil || n[0] == 0 || n[1] != 0 {
				t.Errorf("/blast at 390 px: %v details.fold, open ones should be 0 (%v)", n, err)
			}
		}
	}
	step("narrow cases", chromedp.Navigate(base+"/incidents?status=all"), chromedp.WaitVisible(chromedp.ID("incidents")))
	navStep("narrow case", chromedp.Click(chromedp.CSS(`#incidents a[href^="/cases/"]`)))
	step("narrow case page", chromedp.WaitVisible(chromedp.ID("rules-h")))
	noOverflow("at 390 px, a case page")
	shot("case-390")
	if _, err := chromedp.Call(bctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	// The public verify page needs no account.
	step("verify page", chromedp.Navigate(base+"/verify"), chromedp.WaitVisible(chromedp.ID("v-h")))
	shot("verify")

	// Passkeys: register one with Chromium's virtual authenticator, sign out,
	// and use it instead of the TOTP code.
	if _, err := chromedp.Call(bctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(bctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true,
		HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}}); err != nil {
		t.Fatal(err)
	}
	step("account", chromedp.Navigate(base+"/account"),
		chromedp.WaitVisible(chromedp.ID("passkey-register")),
		chromedp.SendKeys(chromedp.ID("pk-name"), "virtual key"))
	navStep("register passkey", chromedp.Click(chromedp.ID("passkey-register"))) // the page reloads once it is stored
	step("passkey listed", chromedp.WaitVisible(chromedp.CSS(`form[action$="/delete"]`)))
	shot("account-passkey")
	navStep("sign out", chromedp.Submit(chromedp.CSS(`form[action="/logout"] button`)))
	step("public verify page", chromedp.Navigate(base+"/verify"), chromedp.WaitVisible(chromedp.ID("v-h")))
	axeCheck(t, bctx, axe, "/verify (signed out)")
	step("sign-in page again", chromedp.Navigate(base+"/login"))
	step("password again", chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), creds.Username),
		chromedp.SendKeys(chromedp.ID("password"), "lantern harbour quietly ferns 7"))
	navStep("password for passkey", chromedp.Submit(chromedp.ID("password")))
	step("passkey prompt", chromedp.WaitVisible(chromedp.ID("passkey-login")))
	navStep("sign in with passkey", chromedp.Click(chromedp.ID("passkey-login")))
	step("signed in with passkey", chromedp.WaitVisible(chromedp.CSS("nav.side")))
	graphExplorer(t, bctx, base, shots, g, cli.Plan, step)
	cancelRun()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
}
