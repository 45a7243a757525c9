package trust

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser finds Chromium: FIREBREAK_CHROMIUM, else chromium on PATH.
// Missing: skip, or fail under FIREBREAK_CI=1.
func browser(t *testing.T) string {
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

// TestHTMLInBrowser loads the interactive view in Chromium, clicks the RMM
// and checks the view highlights what it reaches and lists the tenants.
func TestHTMLInBrowser(t *testing.T) {
	exe := browser(t)
	g := mustBuild(t, kaseyaEstate(6), Options{})
	var page bytes.Buffer
	if err := WriteHTML(&page, g, HTMLOptions{Title: "Kaseya shape"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// The view must work under a strict policy that forbids any
		// external fetch (inline script and style only).
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
		w.Write(page.Bytes())
	}))
	defer srv.Close()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Headless, chromedp.WindowSize(1400, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	// Select the RMM with the keyboard, as a screen-reader user would:
	// focus its node and press Enter.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL),
		chromedp.WaitReady(chromedp.CSS(`g.fb-n[aria-label^="tool rmm "]`)),
		chromedp.Focus(chromedp.CSS(`g.fb-n[aria-label^="tool rmm "]`)),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`#fb-side table`)),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	summary, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("fb-summary")))
	if err != nil {
		t.Fatal(err)
	}
	side, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("fb-side")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(summary, "tool rmm: 6 of 6 tenants reached, 6 at admin or above") {
		t.Errorf("summary: %q", summary)
	}
	for _, want := range []string{"t01", "t06", "full_control", "rmm —[implied:rmm->t01, full_control]→ t01"} {
		if !strings.Contains(side, want) {
			t.Errorf("side panel lacks %q: %.400s", want, side)
		}
	}
	// A deep link preselects a node.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"#node=tech-02"), chromedp.WaitVisible(chromedp.CSS(`#fb-side table`))); err != nil {
		t.Fatalf("deep link: %v", err)
	}
	summary, _ = chromedp.Run(ctx, chromedp.Text(chromedp.ID("fb-summary")))
	if !strings.Contains(summary, "identity tech-02: 6 of 6 tenants reached") {
		t.Errorf("deep link summary: %q", summary)
	}
}
