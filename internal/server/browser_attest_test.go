package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// TestBrowserAttester: a tenant attester signs in, records the customer's
// side of a control with an evidence file on the tenant's Attestations
// page, and the next assessment shows it attested; the signed attestation
// downloads and the public page verifies it.
func TestBrowserAttester(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	exe := chromium(t)
	f := newFixture(t)
	eng, err := worker.NewEngines(worker.EngineOptions{Clock: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng)
	f.addUser("attester-a", store.RoleTenantAttester, tenantA)
	run := f.assessNow()
	if got := resultOf(t, f.st, run.ID, "FB-LOG-007", tenantA); got != assess.StatusNotEvaluable {
		t.Fatalf("FB-LOG-007 before: %s", got)
	}
	shots := artifactDir(t)
	evidence := filepath.Join(t.TempDir(), "soc-monitoring.pdf")
	if err := os.WriteFile(evidence, []byte("%PDF-1.4\nmonitoring statement\n%%EOF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Headless, chromedp.Flag("disable-background-networking", true), chromedp.Flag("ignore-certificate-errors", true), chromedp.WindowSize(1440, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644)
		}
	}
	step("sign-in form",
		chromedp.Navigate(f.ts.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "attester-a"),
		chromedp.SendKeys(chromedp.ID("password"), f.pw["attester-a"]),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("code")),
	)
	secret, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("secret")))
	if err != nil {
		t.Fatal(err)
	}
	f.clk.add(31 * time.Second)
	code, _ := auth.TOTPCode(secret, f.clk.now())
	step("TOTP", chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Submit(chromedp.ID("code")), chromedp.WaitVisible(chromedp.CSS("nav.side")))
	step("attestations page", chromedp.Navigate(f.ts.URL+"/tenants/"+tenantA+"/attest"), chromedp.WaitVisible(chromedp.ID("rec-h")))
	shot("attester-page")
	options, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#c-control option')].map(o => o.value)`))
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(options, " ")
	if !strings.Contains(joined, "FB-LOG-007") || strings.Contains(joined, "FB-LOG-001") {
		t.Errorf("controls offered to a tenant attester: %v (the customer's side only)", options)
	}
	step("record",
		chromedp.SetValue(chromedp.ID("c-control"), "FB-LOG-007"),
		chromedp.SendKeys(chromedp.ID("c-text"), "Our SOC monitors and logs every server; see the attached statement."),
		chromedp.SetUploadFiles(chromedp.ID("c-evidence"), []string{evidence}),
		chromedp.Submit(chromedp.ID("c-text")),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/evidence"]`)),
	)
	shot("attester-recorded")
	run2 := f.assessNow()
	if got := resultOf(t, f.st, run2.ID, "FB-LOG-007", tenantA); got != assess.StatusAttested {
		t.Errorf("FB-LOG-007 after the attester recorded it: %s", got)
	}
	step("tenant page", chromedp.Navigate(f.ts.URL+"/tenants/"+tenantA), chromedp.WaitVisible(chromedp.CSS("h1")))
	// The control's row (wherever the page lists it) says attested.
	row, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = [...document.querySelectorAll('main li, main tr, main details')].find(x => x.textContent.includes('FB-LOG-007')); return e ? e.textContent : ''; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(row, "attested") {
		t.Errorf("tenant page row for FB-LOG-007: %q, want it attested", row)
	}
	shot("attester-tenant")
}
