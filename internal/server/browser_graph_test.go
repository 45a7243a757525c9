package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/firebreak-msp/firebreak/internal/trust"
)

// graphExplorer drives the trust-graph explorer of the demo estate: it
// fits the window, the graph is one Tab stop navigated with the arrow
// keys, "if this is compromised" reaches what the engine says, "what if I
// fix this" moves the excess as the plan says, and both exports download.
func graphExplorer(t *testing.T, bctx context.Context, base, shots string, g *trust.Graph, plan *trust.PlanView, step func(string, ...chromedp.Action[chromedp.Void])) {
	t.Helper()
	eval := func(js string) []any {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[[]any](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	step("trust graph", chromedp.Navigate(base+"/blast/graph"), chromedp.WaitVisible(chromedp.CSS(`#gx[data-state=ready]`)))
	// Its count of links is the CLI's, explained (it said "846 edges"
	// where the CLI said 1016).
	if ec, status := g.CountEdges(trust.Query{}), eval(`[document.getElementById('gx-status').textContent]`)[0].(string); !strings.Contains(status, fmt.Sprintf("%d links: the usable edges of the %d that firebreak blast counts; not usable: %d just-in-time", ec.Usable, ec.All, ec.JIT)) {
		t.Errorf("explorer status %q, want the CLI's counts %+v", status, ec)
	}
	// Fits the window at 1440×900: the drawing and the side panel are
	// inside it, and nothing scrolls sideways.
	box := eval(`(() => { const c = document.getElementById('gx-canvas').getBoundingClientRect(), s = document.querySelector('.gx-side').getBoundingClientRect();
		return [c.left, c.right, c.bottom, s.right, s.bottom, window.innerWidth, window.innerHeight, document.documentElement.scrollWidth, document.querySelector('#gx-svg').getAttribute('viewBox') ? 1 : 0, +document.getElementById('gx').dataset.paintMs]; })()`)
	f := func(i int) float64 { return box[i].(float64) }
	if f(1) > f(5) || f(3) > f(5) || f(2) > f(6)+1 || f(4) > f(6)+1 || f(7) > f(5) || f(8) != 1 {
		t.Errorf("explorer does not fit 1440×900: canvas right %.0f bottom %.0f, side right %.0f bottom %.0f, window %.0f×%.0f, page width %.0f, viewBox %.0f", f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8))
	}
	// The whole page fits the window's height, legend included (it was
	// 988 px tall at 1440×900, the legend below the fold).
	if v := eval(`[document.documentElement.scrollHeight, window.innerHeight, document.querySelector('.gx-legend').getBoundingClientRect().bottom]`); v[0].(float64) > v[1].(float64) || v[2].(float64) > v[1].(float64) {
		t.Errorf("explorer at 1440×900: page %v px tall, legend bottom at %v, window %v", v[0], v[2], v[1])
	}
	// Labels: no label's box covers a node or another label (they covered
	// the next column's dots). Boxes by getBBox; nodes from the circles
	// the node paths draw ("M x-r y a r r …").
	lab := eval(`(() => { const L = [...document.querySelectorAll('#gx-svg g[font-size] text')].map(t => { const b = t.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height, t.textContent]; });
		const C = []; for (const p of document.querySelectorAll('#gx-svg > g:first-of-type > g:nth-of-type(2) > path')) { for (const m of p.getAttribute('d').matchAll(/M(-?[0-9.e-]+) (-?[0-9.e-]+)a([0-9.e-]+)/g)) { const r = +m[3]; C.push([+m[1] + r, +m[2], r]); } }
		let ll = 0, ln = 0, first = '';
		for (let i = 0; i < L.length; i++) { const a = L[i];
			for (let j = i + 1; j < L.length; j++) { const b = L[j]; if (a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]) { ll++; if (!first) first = a[4] + ' / ' + b[4]; } }
			for (const c of C) { const dx = c[0] - Math.max(a[0], Math.min(c[0], a[2])), dy = c[1] - Math.max(a[1], Math.min(c[1], a[3])); if (dx * dx + dy * dy < c[2] * c[2]) { ln++; if (!first) first = a[4] + ' over a node at ' + c[0] + ',' + c[1]; } } }
		return [L.length, C.length, ll, ln, first]; })()`)
	if lab[0].(float64) < 10 || lab[1].(float64) < 50 || lab[2].(float64) != 0 || lab[3].(float64) != 0 {
		t.Errorf("explorer labels: %v labels, %v nodes, %v label pairs overlap, %v labels cover a node (first: %v)", lab[0], lab[1], lab[2], lab[3], lab[4])
	}
	t.Logf("explorer: %v labels placed, none over a node or another label (%v nodes)", lab[0], lab[1])
	// Drawn inside the canvas (kinds and privileges as paths), and no id
	// is used twice (a script finds its elements by id).
	if v := eval(`(() => { const ids = [...document.querySelectorAll('[id]')].map(e => e.id); return [document.querySelectorAll('#gx-canvas > svg path').length, ids.length - new Set(ids).size]; })()`); v[0].(float64) < 5 || v[1].(float64) != 0 {
		t.Errorf("explorer: %v paths drawn in the canvas, %v duplicate ids", v[0], v[1])
	}
	t.Logf("explorer painted %.0f ms after navigation start (demo estate)", f(9))
	// Dark: the drawing's background is dark and labels are light.
	if c := eval(`[document.querySelector('#gx-svg > rect').getAttribute('fill'), document.querySelector('#gx-svg g[font-size]').getAttribute('fill')]`); c[0] != "#070a0e" || c[1] != "#e6edf3" {
		t.Errorf("explorer colours: background %v, labels %v", c[0], c[1])
	}
	// Pan and zoom: + on the graph narrows the view box, a drag moves it,
	// the − button widens it, 0 fits the whole graph again.
	viewBox := func() []float64 {
		t.Helper()
		var v []float64
		for _, f := range strings.Fields(eval(`[document.getElementById('gx-svg').getAttribute('viewBox')]`)[0].(string)) {
			x, _ := strconv.ParseFloat(f, 64)
			v = append(v, x)
		}
		if len(v) != 4 {
			t.Fatalf("explorer view box %v", v)
		}
		return v
	}
	whole := viewBox()
	step("zoom in with +", chromedp.Focus(chromedp.ID("gx-canvas")), chromedp.KeyEvent("+"))
	in := viewBox()
	c := eval(`(() => { const r = document.getElementById('gx-canvas').getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`)
	cx, cy := c[0].(float64), c[1].(float64)
	step("drag the graph", chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, cx, cy, chromedp.ButtonLeft), chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, cx+60, cy+30, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, cx+120, cy+60, chromedp.ButtonLeft), chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, cx+120, cy+60, chromedp.ButtonLeft))
	dragged := viewBox()
	step("zoom out with the button", chromedp.Click(chromedp.ID("gx-zout")))
	out := viewBox()
	step("fit with 0", chromedp.Focus(chromedp.ID("gx-canvas")), chromedp.KeyEvent("0"))
	fitted := viewBox()
	if !(in[2] < whole[2]) || !(dragged[0] < in[0] && dragged[1] < in[1] && dragged[2] == in[2]) || !(out[2] > dragged[2]) || !slices.Equal(fitted, whole) {
		t.Errorf("pan and zoom: view box whole %v, after + %v, after a drag right and down %v, after − %v, after 0 %v", whole, in, dragged, out, fitted)
	}
	if eval(`[document.getElementById('gx-result').querySelectorAll('li[data-tenant]').length]`)[0].(float64) != 0 {
		t.Errorf("a drag compromised a node (only a click does)")
	}
	// One Tab stop: nothing inside the drawing is focusable, and Tab goes
	// from the last toolbar button to the graph and then out of it.
	step("tab into the graph", chromedp.Focus(chromedp.ID("gx-export-png")), chromedp.KeyEvent(kb.Tab))
	if v := eval(`[document.activeElement.id, document.querySelectorAll('#gx-canvas [tabindex], #gx-canvas a, #gx-canvas button').length]`); v[0] != "gx-canvas" || v[1].(float64) != 0 {
		t.Errorf("Tab after the toolbar: focus on %q, %v focusable elements inside the drawing", v[0], v[1])
	}
	step("tab out of the graph", chromedp.KeyEvent(kb.Tab))
	if v := eval(`[document.activeElement.id, document.getElementById('gx-canvas').contains(document.activeElement) ? 1 : 0]`); v[1].(float64) != 0 || v[0] == "gx-canvas" {
		t.Errorf("a second Tab stays in the graph (focus %q)", v[0])
	}
	// Arrow keys move between nodes and say where they are.
	// Arrow keys move between nodes and say where they are: the first
	// press lands on the internet (the first band), right goes to the
	// next band, down to the next node in it.
	cursor := func() string { return eval(`[document.getElementById('gx-cursor').textContent]`)[0].(string) }
	step("arrow keys", chromedp.Focus(chromedp.ID("gx-canvas")), chromedp.KeyEvent(kb.ArrowRight))
	first := cursor()
	step("arrow right", chromedp.KeyEvent(kb.ArrowRight))
	second := cursor()
	step("arrow down", chromedp.KeyEvent(kb.ArrowDown))
	third := cursor()
	if !strings.HasPrefix(first, "outsider ") || first == second || second == third || !strings.Contains(third, "reaches") {
		t.Errorf("arrow keys: cursor %q, then %q, then %q", first, second, third)
	}
	// Find rmm, then "if this is compromised" with Enter: the tenants
	// reached, and at which privilege, are the engine's.
	step("find rmm", chromedp.SendKeys(chromedp.ID("gx-q"), "rmm"), chromedp.Click(chromedp.CSS(`#gx-find button`)))
	step("compromise rmm", chromedp.Focus(chromedp.ID("gx-canvas")), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.ID("gx-summary")))
	got := eval(`[...document.querySelectorAll('#gx-result li[data-tenant]')].map(li => li.dataset.tenant + '=' + li.dataset.priv)`)
	bl, err := g.BlastFrom("rmm")
	if err != nil {
		t.Fatal(err)
	}
	var want, have []string
	for _, r := range bl.Tenants {
		want = append(want, g.Nodes[r.Node].ID+"="+strconv.Itoa(int(r.Priv)))
	}
	for _, x := range got {
		have = append(have, x.(string))
	}
	slices.Sort(want)
	slices.Sort(have)
	if len(want) == 0 || !slices.Equal(have, want) {
		t.Errorf("if rmm is compromised: explorer %v, engine %v", have, want)
	}
	if n := eval(`[document.querySelectorAll('#gx-result .gx-path').length, document.querySelectorAll('#gx-hl path').length]`); n[0].(float64) != float64(len(want)) || n[1].(float64) == 0 {
		t.Errorf("proof paths: %v listed for %d tenants, %v highlight paths drawn", n[0], len(want), n[1])
	}
	shotTo(t, bctx, shots, "graph-compromise")
	// What if I fix this: step 1 of the plan lowers the excess by its gain.
	if plan != nil && len(plan.Steps) > 0 {
		step("apply step 1", chromedp.Click(chromedp.ID("gx-step-1")), chromedp.WaitVisible(chromedp.CSS(`#gx[data-whatif-state=done]`)))
		x := eval(`[+document.getElementById('gx-whatif').dataset.excess, document.querySelectorAll('#gx-cut path').length]`)
		if want := plan.ExcessBefore - plan.Steps[0].Gain; x[0].(float64) != float64(want) || x[1].(float64) == 0 {
			t.Errorf("after step 1: excess %v (want %d), %v removed-edge paths drawn", x[0], want, x[1])
		}
		shotTo(t, bctx, shots, "graph-whatif")
	}
	// Export SVG and PNG.
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	step("export", chromedp.Click(chromedp.ID("gx-export-svg")), chromedp.Click(chromedp.ID("gx-export-png")))
	for name, magic := range map[string]string{"trust-graph.svg": "<svg", "trust-graph.png": "\x89PNG"} {
		var b []byte
		for range 100 {
			if b, err = os.ReadFile(filepath.Join(dl, name)); err == nil && len(b) > 100 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.HasPrefix(string(b), magic) {
			t.Errorf("export %s: %d bytes, starts %q", name, len(b), string(b[:min(len(b), 8)]))
		}
	}
	// Narrow: the explorer reflows at 390×844.
	if _, err := chromedp.Call(bctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 1}); err != nil {
		t.Fatal(err)
	}
	step("narrow graph", chromedp.Navigate(base+"/blast/graph"), chromedp.WaitVisible(chromedp.CSS(`#gx[data-state=ready]`)))
	if w := eval(`[document.documentElement.scrollWidth, window.innerWidth]`); w[0].(float64) > w[1].(float64) {
		t.Errorf("explorer at 390 px scrolls sideways: %v > %v", w[0], w[1])
	}
	shotTo(t, bctx, shots, "graph-390")
	if _, err := chromedp.Call(bctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
}

func shotTo(t *testing.T, bctx context.Context, dir, name string) {
	t.Helper()
	buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "demo-"+name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
