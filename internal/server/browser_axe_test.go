package server

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeTags are the axe-core rule sets every page must pass: WCAG 2.0 A and
// AA, WCAG 2.1 AA, and axe's best practices.
const axeTags = `['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']`

// axeSource reads axe-core (axe.min.js) from FIREBREAK_AXE, which .ci/run
// sets after installing the pinned version from the npm registry. Missing:
// skip, or fail under FIREBREAK_CI=1.
func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("FIREBREAK_AXE")
	if p == "" {
		if os.Getenv("FIREBREAK_CI") == "1" {
			t.Fatal("axe-core not found: set FIREBREAK_AXE to axe.min.js (.ci/run installs it)")
		}
		t.Skip("axe-core not found; set FIREBREAK_AXE to axe.min.js (npm install axe-core) to run the accessibility checks")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("reading axe-core: %v", err)
	}
	return string(b)
}

// axeCheck runs axe-core on the page loaded in bctx and reports every
// violation (rule, impact, the first elements it names). DevTools
// evaluation is not subject to the page's CSP, so the pages keep theirs.
func axeCheck(t *testing.T, bctx context.Context, src, page string) {
	t.Helper()
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`typeof axe === 'object' || (function(){`+src+`
;return true})()`)); err != nil {
		t.Fatalf("axe on %s: loading axe-core: %v", page, err)
	}
	v, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`axe.run(document, {runOnly: {type: 'tag', values: `+axeTags+`}, resultTypes: ['violations']}).then(r => r.violations.map(v =>
		v.id + ' (' + v.impact + '): ' + v.help + ' — ' + v.nodes.slice(0, 4).map(n => n.target.join(' ') + (n.failureSummary ? ' [' + n.failureSummary.replace(/\s+/g, ' ').slice(0, 160) + ']' : '')).join('; ')))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe on %s: %v", page, err)
	}
	if len(v) > 0 {
		t.Errorf("axe-core on %s: %d violation(s):\n  %s", page, len(v), strings.Join(v, "\n  "))
	}
}
