package server

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Server-rendered SVG charts (issue 15): no script, no CDN, no inline style
// (the CSP allows neither); colours come from classes in app.css. Each
// chart carries a text summary for people who cannot see it.

// svgChart is a rendered chart and its one-line summary.
type svgChart struct {
	SVG     template.HTML
	Summary string
}

// chartPoint is one value at one time.
type chartPoint struct {
	At    time.Time
	Value float64
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// hourHistogram counts times per hour (per day when they span more than
// ten days) from the first to the last; nil when there are none.
func hourHistogram(times []time.Time, title string) *svgChart {
	if len(times) == 0 {
		return nil
	}
	lo, hi := times[0], times[0]
	for _, t := range times {
		if t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	step := histStep(hi.Sub(lo))
	start := lo.UTC().Truncate(step)
	n := int(hi.UTC().Truncate(step).Sub(start)/step) + 1
	counts := make([]int64, n)
	for _, t := range times {
		counts[int(t.UTC().Truncate(step).Sub(start)/step)]++
	}
	return barChart(start, step, counts, histTitle(title, step))
}

// histStep is a histogram's bucket for a span of time: a minute up to
// twenty minutes, 5 minutes up to two hours, an hour up to ten days, else
// a day (or as many days as keep the chart within 400 bars).
func histStep(span time.Duration) time.Duration {
	const day = 24 * time.Hour
	switch {
	case span < 20*time.Minute:
		return time.Minute
	case span < 2*time.Hour:
		return 5 * time.Minute
	case span <= 10*day:
		return time.Hour
	case span <= 400*day:
		return day
	}
	return (span/400 + day - 1) / day * day
}

// histTitle names a histogram's bucket in its title ("per hour" → "per day").
func histTitle(title string, step time.Duration) string {
	unit := bucketName(step)
	switch {
	case step < time.Hour:
		unit = fmt.Sprintf("%d minutes", step/time.Minute)
		if step == time.Minute {
			unit = "minute"
		}
	case step > 24*time.Hour:
		unit = fmt.Sprintf("%d days", step/(24*time.Hour))
	}
	return strings.Replace(title, "per hour", "per "+unit, 1)
}

// histRange is the range a histogram of [from, to) with buckets of step
// draws: from down and to up to whole buckets (UTC).
func histRange(from, to time.Time, step time.Duration) (time.Time, time.Time) {
	lo := from.UTC().Truncate(step)
	hi := to.UTC().Truncate(step)
	if hi.Before(to) || !hi.After(lo) {
		hi = hi.Add(step)
	}
	return lo, hi
}

// barChart draws counts per time bucket starting at start.
func barChart(start time.Time, step time.Duration, counts []int64, title string) *svgChart {
	return markedBarChart(start, step, counts, title, time.Time{}, "")
}

// markedBarChart is barChart with a vertical line at mark, labelled
// markName, when mark falls inside the chart (the events search marks the
// assessment's as-of time).
func markedBarChart(start time.Time, step time.Duration, counts []int64, title string, mark time.Time, markName string) *svgChart {
	var peak, total int64
	peakAt := 0
	for i, c := range counts {
		total += c
		if c > peak {
			peak, peakAt = c, i
		}
	}
	if peak == 0 {
		return nil
	}
	a := countScale(float64(peak), title)
	var b strings.Builder
	chartFrame(&b, title, a)
	w := 100 / float64(len(counts))
	for i, c := range counts {
		if c == 0 {
			continue
		}
		at := start.Add(time.Duration(i) * step)
		y := a.pct(float64(c))
		fmt.Fprintf(&b, `<rect class="histbar" x="%.3f%%" y="%.2f%%" width="%.3f%%" height="%.2f%%"><title>%s: %d</title></rect>`,
			float64(i)*w+w*0.1, y, w*0.8, 100-y, at.Format("2006-01-02 15:04 UTC"), c)
	}
	end := start.Add(time.Duration(len(counts)) * step)
	var marked string
	if !mark.IsZero() && !mark.Before(start) && mark.Before(end) {
		x := float64(mark.Sub(start)) / float64(end.Sub(start)) * 100
		label := markName + " " + mark.UTC().Format("01-02 15:04")
		fmt.Fprintf(&b, `<line class="mark" x1="%.3f%%" x2="%.3f%%" y1="0" y2="100%%"><title>%s</title></line><text class="tick mark" x="%.3f%%" y="0" dy="1em" dx="4">%s</text>`,
			x, x, esc(label), x, esc(label))
		marked = fmt.Sprintf(" The line marks %s at %s.", markName, mark.UTC().Format("2006-01-02 15:04 UTC"))
	}
	xAxis(&b, start, end)
	b.WriteString(`</svg>`)
	return &svgChart{SVG: template.HTML(b.String()),
		Summary: fmt.Sprintf("%s in %d %s buckets from %s to %s; the busiest, %s, had %s.%s", thousands(total), len(counts), bucketName(step),
			start.UTC().Format("2006-01-02 15:04"), end.UTC().Format("2006-01-02 15:04 UTC"), start.Add(time.Duration(peakAt)*step).UTC().Format("2006-01-02 15:04"), thousands(peak), marked)}
}

func bucketName(step time.Duration) string {
	switch {
	case step > 24*time.Hour:
		return fmt.Sprintf("%d-day", step/(24*time.Hour))
	case step == 24*time.Hour:
		return "day"
	case step < time.Hour:
		return fmt.Sprintf("%d-minute", step/time.Minute)
	}
	return "hour"
}

// scoreChart draws a subject's score per assessment run as a line chart up
// to the latest run, on an axis fitted to the scores (scoreScale).
func scoreChart(pts []store.ScorePoint, name string) *svgChart {
	if len(pts) == 0 {
		return nil
	}
	ps := make([]chartPoint, len(pts))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, p := range pts {
		v, _ := strconv.ParseFloat(assess.ScoreText(p.Score.Score), 64) // the score as the page prints it
		ps[i] = chartPoint{At: p.At, Value: v}
		lo, hi = min(lo, v), max(hi, v)
	}
	return lineChart(map[string][]chartPoint{name: ps}, []string{name}, scoreScale(lo, hi), assess.ScoreText, "Score per assessment", pts[len(pts)-1].At)
}

// lineChart draws one or more series over time on the axis a, marking the
// last point of each (values printed with format); asOf labels the right
// edge.
func lineChart(series map[string][]chartPoint, order []string, a yScale, format func(float64) string, title string, asOf time.Time) *svgChart {
	var lo, hi time.Time
	n := 0
	for _, ps := range series {
		for _, p := range ps {
			if lo.IsZero() || p.At.Before(lo) {
				lo = p.At
			}
			if p.At.After(hi) {
				hi = p.At
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if !asOf.IsZero() && asOf.After(hi) {
		hi = asOf
	}
	if !hi.After(lo) {
		lo = hi.Add(-24 * time.Hour)
	}
	x := func(t time.Time) float64 { return float64(t.Sub(lo)) / float64(hi.Sub(lo)) * 100 }
	var b strings.Builder
	chartFrame(&b, title, a)
	var sum []string
	for i, name := range order {
		ps := series[name]
		if len(ps) == 0 {
			continue
		}
		// The line is drawn in a nested SVG stretched over the plot (0..1000
		// both ways), its stroke not scaled with it; the dot in the plot's
		// own pixels stays round.
		var pts []string
		for _, p := range ps {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At)*10, a.pct(p.Value)*10))
		}
		fmt.Fprintf(&b, `<svg width="100%%" height="100%%" viewBox="0 0 1000 1000" preserveAspectRatio="none" overflow="visible"><polyline class="line s%d" fill="none" points="%s" vector-effect="non-scaling-stroke"><title>%s</title></polyline></svg>`,
			i%4, strings.Join(pts, " "), esc(name))
		last := ps[len(ps)-1]
		fmt.Fprintf(&b, `<circle class="dot s%d" cx="%.2f%%" cy="%.2f%%" r="3.5"><title>%s: %s at %s</title></circle>`, i%4, x(last.At), a.pct(last.Value), esc(name), format(last.Value), last.At.UTC().Format("2006-01-02 15:04 UTC"))
		sum = append(sum, fmt.Sprintf("%s %s → %s", name, format(ps[0].Value), format(last.Value)))
	}
	xAxis(&b, lo, hi)
	b.WriteString(`</svg>`)
	return &svgChart{SVG: template.HTML(b.String()), Summary: fmt.Sprintf("%s from %s to %s: %s (%s).", title, lo.UTC().Format("2006-01-02"), hi.UTC().Format("2006-01-02 15:04 UTC"), strings.Join(sum, "; "), a.name)}
}

// yScale is a chart's vertical axis: lo to hi in ticks of step, named
// above the plot.
type yScale struct {
	lo, hi, step float64
	name         string
}

// pct is where v sits on the axis: percent of the plot's height from the top.
func (a yScale) pct(v float64) float64 { return (a.hi - v) / (a.hi - a.lo) * 100 }

// niceScale is an axis over lo..hi on ticks of 1, 2 or 5 times a power of
// ten, about four of them.
func niceScale(lo, hi float64, name string) yScale {
	step := niceMax((hi - lo) / 4)
	return yScale{lo: math.Floor(lo/step) * step, hi: math.Ceil(hi/step) * step, step: step, name: name}
}

// countScale is an axis of counts: from 0 to peak or a little above, on
// whole ticks.
func countScale(peak float64, name string) yScale {
	a := niceScale(0, peak, name)
	if a.step < 1 {
		a.step, a.hi = 1, math.Ceil(peak)
	}
	return a
}

// scoreScale fits an axis of scores (0 to 100) to scores between lo and hi,
// so that a change of a few points is visible: at least ten points tall, a
// tenth of that (at least one point) spare above and below, within 0..100,
// on nice ticks. An axis that does not show all of 0..100 says so in its
// name, so that a zoomed axis is not read as a collapse.
func scoreScale(lo, hi float64) yScale {
	if hi-lo < 10 {
		mid := (lo + hi) / 2
		lo, hi = mid-5, mid+5
		if hi > 100 {
			lo, hi = 90, 100
		} else if lo < 0 {
			lo, hi = 0, 10
		}
	}
	pad := max((hi-lo)/10, 1)
	a := niceScale(max(lo-pad, 0), min(hi+pad, 100), "score")
	a.lo, a.hi = max(a.lo, 0), min(a.hi, 100)
	if a.lo > 0 || a.hi < 100 {
		a.name = fmt.Sprintf("score · axis %s–%s (of 0–100)", trimFloat(a.lo), trimFloat(a.hi))
	}
	return a
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// chartFrame opens a chart's SVG and draws its axis a: the name above the
// plot, a grid line and a label per tick. The SVG has no viewBox: it is
// drawn in the page's pixels, so its text is the size app.css gives it at
// any width (a viewBox scaled the labels with the chart, to 4.5 px in the
// overview's score figure). Across, positions are percentages of the plot
// (the SVG's content box; app.css's padding holds the labels); down,
// percentages of its height.
func chartFrame(b *strings.Builder, title string, a yScale) {
	fmt.Fprintf(b, `<svg class="chart" role="img" aria-label="%s"><title>%s</title><text class="tick axis-name" x="0" y="-9">%s</text>`, esc(title), esc(title), esc(a.name))
	n := int(math.Round((a.hi - a.lo) / a.step))
	for i := 0; i <= n; i++ {
		v := a.lo + float64(i)*a.step
		y := a.pct(v)
		fmt.Fprintf(b, `<line class="grid" x1="0" x2="100%%" y1="%.2f%%" y2="%.2f%%"/><text class="tick" x="-6" y="%.2f%%" dy="0.35em" text-anchor="end">%s</text>`,
			y, y, y, trimFloat(v))
	}
}

// xAxis labels the plot's left and right edges with lo and hi.
func xAxis(b *strings.Builder, lo, hi time.Time) {
	layout := "01-02 15:04"
	if hi.Sub(lo) > 3*24*time.Hour {
		layout = "2006-01-02"
	}
	fmt.Fprintf(b, `<text class="tick" x="0" y="100%%" dy="1.45em">%s</text><text class="tick" x="100%%" y="100%%" dy="1.45em" text-anchor="end">%s</text>`,
		lo.UTC().Format(layout), hi.UTC().Format(layout))
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
