package server

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/auth"
)

// TestBrowserChartLabelsReadable: the score trend on the overview and on a
// tenant page, in Chromium at 1440×900 and 390×844. Every label of the
// chart is drawn at 11 px or more (they were 4.5 to 9 px: the chart's
// viewBox scaled them down with it), inside the window; the axis fits the
// scores (44 to 53 here, not 0 to 100) on round ticks and says it is zoomed;
// the line stays inside the plot.
func TestBrowserChartLabelsReadable(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: -short")
	}
	f := newFixture(t)
	ctx := context.Background()
	snaps, err := f.st.ListSnapshots(ctx, 1)
	if err != nil || len(snaps) == 0 {
		t.Fatalf("snapshots: %v %v", snaps, err)
	}
	// Eight more assessments a day apart, the MSP and alpha-co climbing
	// from 44 to 53 (the fixture's two runs scored 50).
	for i := range 8 {
		rep := &assess.Report{Version: "1", At: f.clk.now().Add(time.Duration(i+1) * 24 * time.Hour), Provider: "msp"}
		for _, sub := range []string{"msp", tenantA, tenantB} {
			rep.Scores = append(rep.Scores, assess.Score{Subject: sub, Name: sub + " name", Score: 44 + float64(i)*9/7, Pass: 1, Fail: 1})
			for h, st := range []assess.Status{assess.StatusFail, assess.StatusPass} {
				rep.Results = append(rep.Results, assess.Result{Control: fmt.Sprintf("C-%d", h), Title: "Control", Heading: 3 + h, Severity: "high", Subject: sub, Status: st})
			}
		}
		if _, err := f.st.SaveRun(ctx, snaps[0].ID, "test", rep); err != nil {
			t.Fatal(err)
		}
	}
	bctx := fixtureBrowser(t, f, "owner1")
	shots := artifactDir(t)
	for _, size := range [][2]int64{{1440, 900}, {390, 844}} {
		if _, err := chromedp.Call(bctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: size[0], Height: size[1], DeviceScaleFactor: 1}); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/", "/tenants/" + tenantA} {
			where := fmt.Sprintf("%s at %d×%d", path, size[0], size[1])
			if err := chromedp.Do(bctx, chromedp.Navigate(f.ts.URL+path), chromedp.WaitVisible(chromedp.CSS("svg.chart"))); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			type label struct {
				Text         string
				Font, Height float64 // rendered font size (computed size × the SVG's scale) and box height, px
				Left, Right  float64
			}
			type chart struct {
				Labels                         []label
				Window                         float64
				PlotTop, PlotBottom            float64
				LineTop, LineBottom, LineRight float64
				PlotRight                      float64
			}
			got, err := chromedp.Run(bctx, chromedp.Evaluate[chart](`(() => {
				const svg = document.querySelector('svg.chart'), cs = getComputedStyle(svg), r = svg.getBoundingClientRect();
				const line = svg.querySelector('polyline.line').getBoundingClientRect();
				return {Window: window.innerWidth,
					PlotTop: r.top + parseFloat(cs.paddingTop), PlotBottom: r.bottom - parseFloat(cs.paddingBottom), PlotRight: r.right - parseFloat(cs.paddingRight),
					LineTop: line.top, LineBottom: line.bottom, LineRight: line.right,
					Labels: [...svg.querySelectorAll('text')].map(t => { const b = t.getBoundingClientRect();
						return {Text: t.textContent, Font: parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a, Height: b.height, Left: b.left, Right: b.right}; })};
			})()`))
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			shotTo(t, bctx, shots, fmt.Sprintf("chart-%s-%d", strings.Trim(strings.ReplaceAll(path, "/", "-"), "-"), size[0]))
			if len(got.Labels) < 5 {
				t.Fatalf("%s: the score chart has %d labels: %+v", where, len(got.Labels), got.Labels)
			}
			var ticks []float64
			named := false
			for _, l := range got.Labels {
				if l.Font < 11 || l.Height < 11 {
					t.Errorf("%s: label %q drawn at %.1f px (box %.1f px tall), want 11 px or more", where, l.Text, l.Font, l.Height)
				}
				if l.Left < 0 || l.Right > got.Window {
					t.Errorf("%s: label %q spans x %.0f to %.0f, outside the %.0f px window", where, l.Text, l.Left, l.Right, got.Window)
				}
				if v, err := strconv.ParseFloat(l.Text, 64); err == nil {
					ticks = append(ticks, v)
				}
				named = named || strings.Contains(l.Text, "axis") && strings.Contains(l.Text, "of 0–100")
			}
			if len(ticks) < 3 || ticks[0] > 44 || ticks[len(ticks)-1] < 53 || ticks[len(ticks)-1]-ticks[0] > 30 {
				t.Errorf("%s: value ticks %v, want an axis around the scores 44 to 53", where, ticks)
			}
			for i := 2; i < len(ticks); i++ {
				if ticks[i]-ticks[i-1] != ticks[1]-ticks[0] {
					t.Errorf("%s: value ticks %v are not evenly spaced", where, ticks)
				}
			}
			if !named {
				t.Errorf("%s: the zoomed axis does not say so (labels %+v)", where, got.Labels)
			}
			if got.LineTop < got.PlotTop-1 || got.LineBottom > got.PlotBottom+1 || got.LineRight > got.PlotRight+1 || got.LineBottom-got.LineTop < 20 {
				t.Errorf("%s: the line spans y %.0f to %.0f, x to %.0f; the plot y %.0f to %.0f, x to %.0f", where, got.LineTop, got.LineBottom, got.LineRight, got.PlotTop, got.PlotBottom, got.PlotRight)
			}
		}
		// The results by advisory heading (overview): labels at 11 px or
		// more too (8.7 px at 390 px wide, its viewBox scaled them).
		if err := chromedp.Do(bctx, chromedp.Navigate(f.ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("svg.hbars"))); err != nil {
			t.Fatal(err)
		}
		fonts, err := chromedp.Run(bctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll('svg.hbars text')].map(t => Math.min(parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a, t.getBoundingClientRect().height))`))
		if err != nil {
			t.Fatal(err)
		}
		if len(fonts) < 4 || slices.Min(fonts) < 11 {
			t.Errorf("results by advisory heading at %d×%d: labels drawn at %v px, want 11 or more", size[0], size[1], fonts)
		}
	}
}

// fixtureBrowser is a Chromium signed in to f's server as user (enrolling
// TOTP), closed when the test ends.
func fixtureBrowser(t *testing.T, f *fixture, user string) context.Context {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, chromedp.Headless, chromedp.WindowSize(1440, 900), chromedp.Flag("ignore-certificate-errors", true))...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate(f.ts.URL+"/login"), chromedp.SendKeys(chromedp.ID("username"), user), chromedp.SendKeys(chromedp.ID("password"), f.pw[user]),
		chromedp.Submit(chromedp.ID("password")), chromedp.WaitVisible(chromedp.ID("code"))); err != nil {
		t.Fatal(err)
	}
	secret, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('secret').value`))
	if err != nil {
		t.Fatal(err)
	}
	f.clk.add(31 * time.Second)
	code, _ := auth.TOTPCode(secret, f.clk.now())
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Submit(chromedp.ID("code")), chromedp.WaitVisible(chromedp.CSS("nav.side"))); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// TestScoreScale: the score axis fits the scores with room above and below,
// on round ticks within 0..100, and names itself zoomed unless it is 0..100.
func TestScoreScale(t *testing.T) {
	for _, c := range []struct {
		name           string
		lo, hi         float64
		wantLo, wantHi float64
		zoomed         bool
	}{
		{"climb", 44, 53, 40, 55, true},
		{"msp-demo", 4.4, 8.0, 0, 15, true},
		{"flat", 50, 50, 40, 60, true},
		{"near-top", 97, 99.5, 85, 100, true},
		{"whole-range", 3, 97, 0, 100, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := scoreScale(c.lo, c.hi)
			if a.lo != c.wantLo || a.hi != c.wantHi || a.lo > c.lo || a.hi < c.hi {
				t.Errorf("scoreScale(%v, %v) = %v..%v step %v, want %v..%v", c.lo, c.hi, a.lo, a.hi, a.step, c.wantLo, c.wantHi)
			}
			if n := (a.hi - a.lo) / a.step; n != float64(int(n)) || n < 2 || n > 6 {
				t.Errorf("scoreScale(%v, %v): %v ticks of %v from %v to %v", c.lo, c.hi, n, a.step, a.lo, a.hi)
			}
			if got := strings.Contains(a.name, "of 0–100"); got != c.zoomed {
				t.Errorf("scoreScale(%v, %v) is named %q", c.lo, c.hi, a.name)
			}
		})
	}
}
