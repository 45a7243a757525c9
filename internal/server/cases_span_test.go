package server

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// A case page's chart spans the case's first to last event with margins in
// proportion to that span: a four-and-a-half-minute spray is not drawn as
// a sliver in two hours and five minutes (the fixed hour either side), and
// a three-day case gets more than an hour's margin. Every event is in it.
func TestCaseChartSpansTheCase(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.client()
	a.login("analyst1")
	summary := regexp.MustCompile(`(\d+) in (\d+) [0-9a-z-]+ buckets from (\d{4}-\d\d-\d\d \d\d:\d\d) to (\d{4}-\d\d-\d\d \d\d:\d\d) UTC`)
	for _, c := range []struct {
		name  string
		ip    string
		n     int
		every time.Duration
	}{
		{"short", "198.51.100.31", 10, 30 * time.Second},
		{"multi-day", "198.51.100.32", 13, 6 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			first := f.clk.now().Add(-4 * 24 * time.Hour).Add(17 * time.Minute)
			var batch []store.EventRecord
			for i := range c.n {
				batch = append(batch, store.EventRecord{Event: event.Event{Timestamp: first.Add(time.Duration(i) * c.every), Tenant: tenantA,
					Dataset: "span", Category: "authentication", Action: "logon", Outcome: "failure", UserName: fmt.Sprintf("u%d", i),
					SourceIP: netip.MustParseAddr(c.ip)}})
			}
			if err := f.st.AppendEvents(ctx, batch); err != nil {
				t.Fatal(err)
			}
			span := time.Duration(c.n-1) * c.every
			last := first.Add(span)
			in := store.Incident{ID: "span-" + c.name, Tenant: tenantA, Tenants: []string{tenantA}, Rule: "r", Title: "Spray " + c.name, Severity: "high",
				Key: map[string]string{"source.ip": c.ip}, Status: store.StatusOpen, First: first, Last: last, Count: c.n}
			if _, _, err := f.st.UpsertIncident(ctx, &in); err != nil {
				t.Fatal(err)
			}
			id := detect.Cases([]*detect.Incident{{ID: "x", Key: in.Key}})[0].ID
			_, page := a.do("GET", "/cases/"+id, nil, nil)
			_, hist, _ := strings.Cut(page, `id="case-hist"`)
			m := summary.FindStringSubmatch(hist)
			if m == nil {
				t.Fatalf("case page: no chart summary after case-hist: %.400s", hist)
			}
			from, _ := time.Parse("2006-01-02 15:04", m[3])
			to, _ := time.Parse("2006-01-02 15:04", m[4])
			var buckets int
			fmt.Sscan(m[2], &buckets)
			step := to.Sub(from) / time.Duration(buckets)
			before, after := first.Sub(from), to.Sub(last)
			if m[1] != fmt.Sprint(c.n) || before < 0 || after < 0 {
				t.Fatalf("chart from %s to %s counts %s events, want all %d from %s to %s", from, to, m[1], c.n, first, last)
			}
			// Each margin is about a tenth of the span: at least a
			// twentieth, at most a fifth plus the bucket the edges are
			// rounded out to (or the minimum of a minute plus a bucket).
			lo, hi := span/20, max(span/5, time.Minute)+step
			if before < lo || before > hi || after < lo || after > hi {
				t.Errorf("chart of a %s case from %s to %s: margins %s before and %s after (%d buckets of %s), want %s to %s",
					span, from.Format(time.TimeOnly), to.Format(time.TimeOnly), before, after, buckets, step, lo, hi)
			}
			if buckets < 5 || buckets > 120 {
				t.Errorf("chart of a %s case in %d buckets of %s", span, buckets, step)
			}
		})
	}
}
