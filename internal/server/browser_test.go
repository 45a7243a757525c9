package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/firebreak-msp/firebreak/internal/auth"
)

// chromium finds the browser for the UI test: FIREBREAK_CHROMIUM, else
// chromium on PATH. Missing: skip, or fail under FIREBREAK_CI=1.
func chromium(t *testing.T) string {
	t.Helper()
	p := os.Getenv("FIREBREAK_CHROMIUM")
	if p == "" {
		p, _ = exec.LookPath("chromium")
	}
	if p == "" {
		if os.Getenv("FIREBREAK_CI") == "1" {
			t.Fatal("chromium not found (set FIREBREAK_CHROMIUM)")
		}
		t.Skip("chromium not found; set FIREBREAK_CHROMIUM to run the browser test")
	}
	return p
}

func artifactDir(t *testing.T) string {
	if d := os.Getenv("FIREBREAK_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err == nil {
			return d
		}
	}
	return t.TempDir()
}

// TestBrowser drives the dashboard in a real Chromium: sign in with
// password and TOTP enrolment, see the overview, open a tenant, acknowledge
// an incident, and check a tenant viewer is refused another tenant.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	exe := chromium(t)
	f := newFixture(t)
	shots := artifactDir(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Headless,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("ignore-certificate-errors", true), // the test server's own certificate
		chromedp.WindowSize(1440, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("browser: %s: %v (screenshots in %s)", what, err, shots)
		}
	}
	text := func(sel chromedp.CSS) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("browser: reading %s: %v", sel, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	login := func(user string) {
		t.Helper()
		step("sign-in form",
			chromedp.Navigate(f.ts.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("username")),
			chromedp.SendKeys(chromedp.ID("username"), user),
			chromedp.SendKeys(chromedp.ID("password"), f.pw[user]),
			chromedp.Submit(chromedp.ID("password")),
			chromedp.WaitVisible(chromedp.ID("code")),
		)
		shot("totp-" + user)
		secret, err := chromedp.Run(ctx, chromedp.Value(chromedp.ID("secret")))
		if err != nil {
			t.Fatalf("reading TOTP setup key: %v", err)
		}
		f.clk.add(31 * time.Second)
		code, err := auth.TOTPCode(secret, f.clk.now())
		if err != nil {
			t.Fatal(err)
		}
		step("TOTP", chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Submit(chromedp.ID("code")), chromedp.WaitVisible(chromedp.CSS("nav.side")))
	}

	login("owner1")
	overview := text("main")
	shot("overview")
	step("open tenant", chromedp.Click(chromedp.CSS(`a[href="/tenants/`+tenantA+`"]`)), chromedp.WaitVisible(chromedp.ID("fail-h")))
	tenant := text("main")
	shot("tenant")
	step("incidents", chromedp.Navigate(f.ts.URL+"/incidents"), chromedp.WaitVisible(chromedp.ID("incidents")))
	shot("incidents")
	step("acknowledge",
		chromedp.Click(chromedp.CSS(`a[href="/incidents/`+f.incA+`"]`)),
		chromedp.WaitVisible(chromedp.ID("ack")),
		chromedp.Click(chromedp.ID("ack")),
		chromedp.WaitVisible(chromedp.ID("resolve")),
		chromedp.WaitNotPresent(chromedp.ID("ack")),
	)
	status := text("#inc-status")
	shot("incident-acknowledged")
	step("sign out", chromedp.Submit(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.ID("username")))
	login("viewer-a")
	step("viewer opens tenant B", chromedp.Navigate(f.ts.URL+"/tenants/"+tenantB), chromedp.WaitVisible(chromedp.CSS("h1")))
	denied := text("main")
	shot("viewer-denied")

	if !strings.Contains(overview, "Estate overview") || !strings.Contains(overview, "Alpha Company") {
		t.Errorf("overview text: %.300s", overview)
	}
	if !strings.Contains(tenant, "Failing controls") || !strings.Contains(tenant, "MFA-1") {
		t.Errorf("tenant page text: %.300s", tenant)
	}
	if strings.TrimSpace(status) != "acknowledged" {
		t.Errorf("incident status after acknowledge = %q", status)
	}
	if !strings.Contains(denied, "404") || strings.Contains(strings.ToLower(denied), markerB) {
		t.Errorf("viewer on tenant B: %.300s", denied)
	}
	t.Logf("screenshots in %s", shots)
}
