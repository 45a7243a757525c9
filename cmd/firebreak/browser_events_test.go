package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserDemoEventsHistogramReadable: the events search's default
// histogram on the demo (Chromium, 1440×900) draws the matching events
// across the chart, not crowded into one edge of a range stretched to the
// dashboard's own sign-ins (issue 15: the demo's logs are dated before the
// estate's as-of time, a sign-in to the dashboard today, and the chart ran
// from a week before the as-of time to the newest match). The bars span
// most of the plot and the total is the page's count. Screenshot:
// demo-events-1440.png (FIREBREAK_ARTIFACTS).
func TestBrowserDemoEventsHistogramReadable(t *testing.T) {
	b := openDemoBrowser(t)
	b.step("events", chromedp.Navigate(b.base+"/events"), chromedp.WaitVisible(chromedp.ID("ehist-h")))
	b.shot("events-1440")
	type hist struct {
		Bars        int
		Left, Right float64 // the bars' extent, percent of the plot's width
		Plot        float64 // the plot's width in pixels
		Sum, Total  int64
		Summary     string
	}
	h, err := chromedp.Run(b.bctx, chromedp.Evaluate[hist](`(() => {
		const svg = document.querySelector('section[aria-labelledby=ehist-h] svg.chart');
		const bars = svg ? [...svg.querySelectorAll('rect.histbar')] : [];
		const pct = (e, a) => parseFloat(e.getAttribute(a));
		return {
			Bars: bars.length,
			Left: Math.min(...bars.map(e => pct(e, 'x'))),
			Right: Math.max(...bars.map(e => pct(e, 'x') + pct(e, 'width'))),
			Plot: svg ? svg.getBoundingClientRect().width : 0,
			Sum: bars.reduce((s, e) => s + parseInt(e.querySelector('title').textContent.split(': ').pop(), 10), 0),
			Total: parseInt(document.getElementById('ehist-h').dataset.total, 10),
			Summary: (document.querySelector('section[aria-labelledby=ehist-h] p') || {}).textContent || '',
		};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("events histogram: %+v", h)
	if h.Bars < 12 || h.Sum != h.Total || h.Total == 0 {
		t.Fatalf("events histogram: %d bars adding up to %d, the page counts %d", h.Bars, h.Sum, h.Total)
	}
	if h.Right-h.Left < 80 {
		t.Errorf("the events histogram's bars span %.0f%%–%.0f%% of the plot (%.0f px): crowded, not drawn across it\n%s", h.Left, h.Right, h.Plot, h.Summary)
	}
}
