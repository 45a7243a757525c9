package server

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// barsExtent is where the events histogram's bars start and end, in
// percent of the plot's width.
func barsExtent(t *testing.T, page string) (left, right float64) {
	t.Helper()
	i := strings.Index(page, `id="ehist-h"`)
	if i < 0 {
		t.Fatal("no events histogram on the page")
	}
	svg := page[i:]
	svg = svg[:strings.Index(svg, "</svg>")]
	left = 100
	for _, m := range regexp.MustCompile(`class="histbar" x="([\d.]+)%" y="[\d.]+%" width="([\d.]+)%"`).FindAllStringSubmatch(svg, -1) {
		x, _ := strconv.ParseFloat(m[1], 64)
		w, _ := strconv.ParseFloat(m[2], 64)
		left, right = min(left, x), max(right, x+w)
	}
	return left, right
}

// TestEventsHistogramSpansTheMatches: the events search's histogram covers
// the span of the matching events, not the whole range: a day and a half
// of events inside the default range (the week up to the assessment) is
// drawn across the chart in hours, the as-of time marked inside it
// (issue 15: the demo's events were crowded into one edge of a range that
// ran to the dashboard's sign-ins today). A match more than a week after
// the assessment is left out of the default range and linked, and the
// bars still add up to the page's count.
func TestEventsHistogramSpansTheMatches(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	asOf := f.clk.now() // the fixture's assessment
	var batch []store.EventRecord
	add := func(at time.Time) {
		batch = append(batch, store.EventRecord{Event: event.Event{Timestamp: at, Tenant: tenantA,
			Dataset: "span", Category: "authentication", Action: "logon", Outcome: "success", UserName: "u"}})
	}
	for at := asOf.Add(-30 * time.Hour); at.Before(asOf.Add(2 * time.Hour)); at = at.Add(10 * time.Minute) {
		add(at)
	}
	n := len(batch)
	add(asOf.Add(10 * 24 * time.Hour)) // the demo's sign-in today, weeks after its estate
	if err := f.st.AppendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.login("analyst1")
	_, page := a.do("GET", "/events?source=span", nil, nil)
	if got := barsTotal(t, page, `id="ehist-h"`); got != int64(n) || !strings.Contains(page, `data-total="`+strconv.Itoa(n)+`"`) {
		t.Errorf("histogram bars add up to %d, want the %d matches of the default range, the page's count", got, n)
	}
	if left, right := barsExtent(t, page); left > 3 || right < 97 {
		t.Errorf("the bars span %.1f%%–%.1f%% of the chart, want the whole of it", left, right)
	}
	if !strings.Contains(page, " hour buckets from ") {
		t.Error("a day and a half of events is not drawn per hour")
	}
	if !strings.Contains(page, `<line class="mark"`) || !strings.Contains(page, "The line marks assessment at "+asOf.UTC().Format("2006-01-02 15:04 UTC")) {
		t.Error("the as-of time, inside the chart, is not marked")
	}
	later := asOf.Add(7 * 24 * time.Hour).UTC().Truncate(time.Hour).Format(time.RFC3339)
	if !strings.Contains(page, `id="events-later">1 more match after`) || !strings.Contains(page, `href="/events?from=`+strings.ReplaceAll(later, ":", "%3A")+`&amp;source=span"`) {
		i := strings.Index(page, `id="ehist-h"`)
		t.Errorf("the match more than a week after the assessment is not counted and linked:\n%.1500s", page[max(i, 0):])
	}
	// An explicit range is charted over its matches too, the as-of time
	// outside it not marked.
	_, page = a.do("GET", "/events?source=span&from="+asOf.Add(-60*time.Hour).Format(time.RFC3339)+"&to="+asOf.Add(-20*time.Hour).Format(time.RFC3339), nil, nil)
	if left, right := barsExtent(t, page); left > 3 || right < 97 || strings.Contains(page, `<line class="mark"`) {
		t.Errorf("explicit range: bars span %.1f%%–%.1f%%, as-of marked %v", left, right, strings.Contains(page, `<line class="mark"`))
	}
}
