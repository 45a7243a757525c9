package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// focusDOM is the focused element as the keyboard test sees it.
type focusDOM struct {
	Tag, ID, Label, Href string
	Match                bool    // matches the step's target selector
	Visible              bool    // an outline or shadow drawn (the :focus-visible ring)
	InView               bool    // its box is inside the window
	W, H                 float64 // its box
}

const focusJS = `((sel) => { const e = document.activeElement || document.body; const cs = getComputedStyle(e); const r = e.getBoundingClientRect();
	return {Tag: e.tagName, ID: e.id, Label: (e.getAttribute('aria-label') || e.innerText || e.value || '').trim().slice(0, 60), Href: e.getAttribute('href') || '',
		Match: !!sel && e.matches(sel),
		Visible: ((cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none'),
		InView: r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth, W: r.width, H: r.height}; })`

// TestBrowserDemoKeyboard walks every signed-in page of the demo with the
// keyboard only (Chromium, 1440×900, real key events): the first Tab
// stop is the skip link, drawn on screen, and Enter on it moves focus to
// the main content; from there Tab reaches the page's main action with
// every stop showing a visible focus ring, in view; and the main actions
// work from the keyboard — open a fix-first step's details, search the
// tenants list, select a case and acknowledge it in bulk, pick an assignee
// from the users, and record an exception with an expiry.
func TestBrowserDemoKeyboard(t *testing.T) {
	b := openDemoBrowser(t)
	ctx := context.Background()
	eval := func(js string) focusDOM {
		t.Helper()
		v, err := chromedp.Run(b.bctx, chromedp.Evaluate[focusDOM](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	focus := func(sel string) focusDOM { return eval(focusJS + "(" + jsString(sel) + ")") }
	key := func(what, keys string) {
		t.Helper()
		b.step(what, chromedp.KeyEvent(keys))
	}
	// tabTo presses Tab until the focused element matches sel (at most
	// max stops), checking each stop shows its focus; it returns the stops.
	tabTo := func(page, sel string, max int) []focusDOM {
		t.Helper()
		var stops []focusDOM
		for range max {
			key(page+": Tab", kb.Tab)
			f := focus(sel)
			stops = append(stops, f)
			if f.Tag == "BODY" {
				t.Fatalf("%s: Tab left the page before reaching %s (stops %v)", page, sel, labels(stops))
			}
			if !f.Visible || !f.InView || f.W < 1 || f.H < 1 {
				t.Errorf("%s: Tab stop %d (%s #%s %q) has no visible focus in view: %+v", page, len(stops), f.Tag, f.ID, f.Label, f)
			}
			if f.Match {
				return stops
			}
		}
		t.Fatalf("%s: %d Tab stops after the skip link do not reach %s: %v", page, max, sel, labels(stops))
		return nil
	}
	// skip loads path and takes the skip link to the main content.
	skip := func(path string) {
		t.Helper()
		b.step(path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main")))
		key(path+": first Tab", kb.Tab)
		if f := focus("a.skip"); !f.Match || !f.Visible || !f.InView {
			t.Fatalf("%s: the first Tab stop is not the skip link on screen: %+v", path, f)
		}
		key(path+": Enter on the skip link", kb.Enter)
		if f := focus("main#main"); !f.Match {
			t.Fatalf("%s: Enter on the skip link left focus on %s #%s, not the main content", path, f.Tag, f.ID)
		}
	}

	b.step("cases", chromedp.Navigate(b.base+"/incidents"), chromedp.WaitVisible(chromedp.ID("incidents")))
	casePath, err := chromedp.Run(b.bctx, chromedp.Evaluate[string](`document.querySelector('#incidents a[href^="/cases/"]').getAttribute('href')`))
	if err != nil {
		t.Fatal(err)
	}
	// Every signed-in page: skip link, then Tab reaches its main action.
	for _, pg := range []struct{ path, action string }{
		{"/", "ol.fix > li:first-child summary"},
		{"/tenants", "#t-q"},
		{"/tenants/cedar-law", "#other-d > summary"},
		{"/tenants/cedar-law/attest", "#c-control"},
		{"/matrix", "main table a"},
		{"/incidents", "#incidents input[type=checkbox]"},
		{casePath, "#assignee"},
		{"/events", "#e-user"},
		{"/blast", "main table a"},
		{"/blast/graph", ".gx-canvas"},
		{"/settings", "#u-name"},
		{"/audit", "main a, main input, main select"},
		{"/collectors", ""}, // a read-only table: nothing to operate
		{"/account", "main input, main button"},
	} {
		skip(pg.path)
		if pg.path == "/blast/graph" {
			b.step("graph drawn", chromedp.WaitVisible(chromedp.CSS(`#gx[data-state=ready]`)))
		}
		if pg.action != "" {
			tabTo(pg.path, pg.action, 80)
		}
	}

	// Overview: Enter opens a fix-first step's details.
	skip("/")
	tabTo("/", "ol.fix > li:first-child summary", 40)
	key("open the step", kb.Enter)
	if open, err := chromedp.Run(b.bctx, chromedp.Evaluate[bool](`document.querySelector('ol.fix > li:first-child details').open`)); err != nil || !open {
		t.Errorf("Enter on a fix-first step's summary did not open it: %v %v", open, err)
	}

	// Tenants: type a search and submit it with Enter.
	skip("/tenants")
	tabTo("/tenants", "#t-q", 40)
	b.step("type a search", chromedp.KeyEvent("cedar"))
	b.navStep("submit the search", chromedp.KeyEvent(kb.Enter))
	if u, err := chromedp.Run(b.bctx, chromedp.Evaluate[string](`location.search`)); err != nil || !strings.Contains(u, "q=cedar") {
		t.Errorf("Enter in the tenants search: %q %v", u, err)
	}

	// Cases: Space selects the first case, Tab reaches "Acknowledge
	// selected", Enter acknowledges it.
	skip("/incidents")
	first := tabTo("/incidents", "#incidents input[type=checkbox]", 60)
	id := strings.TrimPrefix(first[len(first)-1].ID, "c-")
	incs, err := chromedp.Run(b.bctx, chromedp.Evaluate[[]string](`[...document.getElementById('c-`+id+`').closest('tr').querySelectorAll('a[href^="/incidents/"]')].map(a => a.getAttribute('href').slice(11))`))
	if err != nil || len(incs) == 0 {
		t.Fatalf("case %s's incidents: %v %v", id, incs, err)
	}
	key("select the case", " ")
	tabTo("/incidents", "#bulk-ack", 400)
	b.navStep("acknowledge selected", chromedp.KeyEvent(kb.Enter))
	for _, inc := range incs {
		got, err := b.d.st.GetIncident(ctx, store.AllTenants(), inc)
		if err != nil || got.Status != store.StatusAcknowledged {
			t.Errorf("incident %s of case %s after bulk acknowledge by keyboard: %v %v", inc, id, got, err)
		}
	}

	// A case: pick an assignee from the users with the arrow keys, Tab to
	// Assign, Enter.
	skip(casePath)
	tabTo(casePath, "#assignee", 60)
	key("pick the next user", kb.ArrowDown)
	who, err := chromedp.Run(b.bctx, chromedp.Evaluate[string](`document.querySelector('#assignee').value`))
	if err != nil || who == "" {
		t.Fatalf("arrow down on the assignee picker chose %q (%v)", who, err)
	}
	tabTo(casePath, "#assignee + button", 3)
	b.navStep("assign", chromedp.KeyEvent(kb.Enter))
	if got, err := chromedp.Run(b.bctx, chromedp.Evaluate[string](`document.querySelector('#assignee').value`)); err != nil || got != who {
		t.Errorf("after Assign by keyboard the picker shows %q, want %q (%v)", got, who, err)
	}

	// Attestation page: an exception with expiry, by keyboard only.
	skip("/tenants/cedar-law/attest")
	tabTo("attest", "input[name=kind][value=attestation]", 60)
	key("choose exception", kb.ArrowDown)
	tabTo("attest", "#c-control", 3)
	ctl, err := chromedp.Run(b.bctx, chromedp.Evaluate[string](`document.querySelector('#c-control').value`))
	if err != nil {
		t.Fatal(err)
	}
	tabTo("attest", "#c-text", 3)
	b.step("reason", chromedp.KeyEvent("Risk accepted by keyboard until the migration"))
	tabTo("attest", "#c-owner", 3)
	b.step("owner", chromedp.KeyEvent("admin"))
	tabTo("attest", "main form button[type=submit].primary", 12)
	b.navStep("record", chromedp.KeyEvent(kb.Enter))
	body, err := chromedp.Run(b.bctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "Risk accepted by keyboard") || !strings.Contains(body, ctl) {
		t.Errorf("the exception recorded by keyboard is not listed (control %s):\n%.600s", ctl, body)
	}
}

func labels(stops []focusDOM) []string {
	out := make([]string, len(stops))
	for i, f := range stops {
		out[i] = fmt.Sprintf("%s#%s %q", f.Tag, f.ID, f.Label)
	}
	return out
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
