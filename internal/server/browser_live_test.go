package server

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/firebreak-msp/firebreak/internal/auth"
)

// TestBrowserLiveKeepsFocus: the live cases table's refresh keeps the focus (filter form; a focused row is not redrawn).
func TestBrowserLiveKeepsFocus(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: -short")
	}
	f := newFixture(t)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.Headless, chromedp.Flag("ignore-certificate-errors", true))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute) // the two waits are the 5 s refresh's
	defer cancel()
	ev := func(js string) string {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	must := func(a ...chromedp.Action[chromedp.Void]) {
		if err := chromedp.Do(ctx, a...); err != nil {
			t.Fatal(err)
		}
	}
	must(chromedp.Navigate(f.ts.URL+"/login"), chromedp.SendKeys(chromedp.ID("username"), "owner1"), chromedp.SendKeys(chromedp.ID("password"), f.pw["owner1"]),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.ID("code")))
	f.clk.add(31 * time.Second)
	code, _ := auth.TOTPCode(ev(`document.getElementById('secret').value`), f.clk.now())
	must(chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Submit(chromedp.ID("code")), chromedp.WaitVisible(chromedp.CSS("nav.side")),
		chromedp.Navigate(f.ts.URL+"/incidents"), chromedp.WaitVisible(chromedp.ID("incidents")))
	// Focus a filter control, spoil the body so a refresh redraws it, wait; then focus a row's link: no redraw.
	ev(`(e => { e.focus(); document.querySelector('#incidents tbody').innerHTML = '<tr id=stale><td>stale</td></tr>'; return e.tagName })(document.querySelector('main form select, main form input:not([type=hidden])'))`)
	if got := ev(`new Promise(r => { const t0 = Date.now(); const w = () => !document.getElementById('stale') || Date.now() - t0 > 20000 ? r(document.getElementById('stale') ? 'no refresh' : document.activeElement.closest('form') ? 'kept' : 'lost: ' + document.activeElement.tagName) : setTimeout(w, 200); w() })`); got != "kept" {
		t.Errorf("refresh with the focus in the filter form: %s", got)
	}
	ev(`(a => { document.querySelector('#incidents tbody').insertAdjacentHTML('beforeend', '<tr id=mine><td>x</td></tr>'); a.focus(); return '' })(document.querySelector('#incidents tbody a'))`)
	if got := ev(`new Promise(r => setTimeout(() => r(document.getElementById('mine') && document.querySelector('#incidents').contains(document.activeElement) ? 'kept' : 'redrawn under the focus'), 11000))`); got != "kept" {
		t.Errorf("refresh with the focus in the table: %s", got)
	}
}
