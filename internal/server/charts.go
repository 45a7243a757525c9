package server

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
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

const (
	chartW, chartH         = 640.0, 180.0
	padL, padR, padT, padB = 40.0, 12.0, 10.0, 26.0
)

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
	ymax := niceMax(float64(peak))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s"><title>%s</title>`, chartW, chartH, esc(title), esc(title))
	yAxis(&b, ymax)
	w := (chartW - padL - padR) / float64(len(counts))
	for i, c := range counts {
		if c == 0 {
			continue
		}
		h := float64(c) / ymax * (chartH - padT - padB)
		at := start.Add(time.Duration(i) * step)
		fmt.Fprintf(&b, `<rect class="histbar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d</title></rect>`,
			padL+float64(i)*w+w*0.1, chartH-padB-h, math.Max(w*0.8, 0.5), h, at.Format("2006-01-02 15:04 UTC"), c)
	}
	end := start.Add(time.Duration(len(counts)) * step)
	xAxis(&b, start, end)
	b.WriteString(`</svg>`)
	return &svgChart{SVG: template.HTML(b.String()),
		Summary: fmt.Sprintf("%s in %d %s buckets from %s to %s; the busiest, %s, had %s.", thousands(total), len(counts), bucketName(step),
			start.UTC().Format("2006-01-02 15:04"), end.UTC().Format("2006-01-02 15:04 UTC"), start.Add(time.Duration(peakAt)*step).UTC().Format("2006-01-02 15:04"), thousands(peak))}
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

// lineChart draws one or more series over time on a 0..ymax axis (ymax 0:
// from the data), marking the last point; asOf labels the right edge.
func lineChart(series map[string][]chartPoint, order []string, ymax float64, title string, asOf time.Time) *svgChart {
	var lo, hi time.Time
	peak := 0.0
	n := 0
	for _, ps := range series {
		for _, p := range ps {
			if lo.IsZero() || p.At.Before(lo) {
				lo = p.At
			}
			if p.At.After(hi) {
				hi = p.At
			}
			peak = math.Max(peak, p.Value)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if ymax == 0 {
		ymax = niceMax(peak)
	}
	if !asOf.IsZero() && asOf.After(hi) {
		hi = asOf
	}
	if !hi.After(lo) {
		lo = hi.Add(-24 * time.Hour)
	}
	x := func(t time.Time) float64 {
		return padL + float64(t.Sub(lo))/float64(hi.Sub(lo))*(chartW-padL-padR)
	}
	y := func(v float64) float64 { return chartH - padB - v/ymax*(chartH-padT-padB) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s"><title>%s</title>`, chartW, chartH, esc(title), esc(title))
	yAxis(&b, ymax)
	var sum []string
	for i, name := range order {
		ps := series[name]
		if len(ps) == 0 {
			continue
		}
		var pts []string
		for _, p := range ps {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.At), y(p.Value)))
		}
		fmt.Fprintf(&b, `<polyline class="line s%d" fill="none" points="%s"><title>%s</title></polyline>`, i%4, strings.Join(pts, " "), esc(name))
		last := ps[len(ps)-1]
		fmt.Fprintf(&b, `<circle class="dot s%d" cx="%.1f" cy="%.1f" r="3"><title>%s: %.0f at %s</title></circle>`, i%4, x(last.At), y(last.Value), esc(name), last.Value, last.At.UTC().Format("2006-01-02 15:04 UTC"))
		sum = append(sum, fmt.Sprintf("%s %.0f → %.0f", name, ps[0].Value, last.Value))
	}
	xAxis(&b, lo, hi)
	b.WriteString(`</svg>`)
	return &svgChart{SVG: template.HTML(b.String()), Summary: fmt.Sprintf("%s from %s to %s: %s.", title, lo.UTC().Format("2006-01-02"), hi.UTC().Format("2006-01-02 15:04 UTC"), strings.Join(sum, "; "))}
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

func yAxis(b *strings.Builder, ymax float64) {
	for _, f := range []float64{0, 0.5, 1} {
		yy := chartH - padB - f*(chartH-padT-padB)
		fmt.Fprintf(b, `<line class="grid" x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f"/><text class="tick" x="%.0f" y="%.1f" text-anchor="end">%s</text>`,
			padL, chartW-padR, yy, yy, padL-4, yy+4, trimFloat(f*ymax))
	}
}

func xAxis(b *strings.Builder, lo, hi time.Time) {
	layout := "01-02 15:04"
	if hi.Sub(lo) > 3*24*time.Hour {
		layout = "2006-01-02"
	}
	fmt.Fprintf(b, `<text class="tick" x="%.0f" y="%.0f">%s</text><text class="tick" x="%.0f" y="%.0f" text-anchor="end">%s</text>`,
		padL, chartH-8, lo.UTC().Format(layout), chartW-padR, chartH-8, hi.UTC().Format(layout))
}

func trimFloat(f float64) string {
	if f == math.Trunc(f) {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}
