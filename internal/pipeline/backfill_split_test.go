package pipeline

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/timeline"
)

// TestBackfillPassAcrossKeptHorizon: a back-fill pass whose events
// straddle the kept back-fill engine's horizon (another back-dated file,
// dropped in after one whose events end inside this one's attack) raises
// what one detection pass over every stored event raises. On the old code
// the pass was split at the horizon: the part before it went to a fresh
// engine primed without the part after it, the part after to the kept
// engine, which never saw the part before, so a brute force of six
// failures, three each side, was counted by neither.
func TestBackfillPassAcrossKeptHorizon(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	det, err := splitDetector()
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{Store: st, Metrics: metrics.New(), Now: func() time.Time { return now }, Detect: true, Queue: 1 << 16, NewDetector: splitDetector})
	p.det = det
	commit := func(recs []store.EventRecord, src string) {
		t.Helper()
		if _, err := p.CommitFrom(ctx, recs, func(int) string { return src }); err != nil {
			t.Fatal(err)
		}
		for len(p.q) > 0 {
			p.detect(ctx, <-p.q)
		}
	}
	// Live detection is up to date; a file from two days ago is back-filled
	// in one pass, which keeps its engine for the rest of that log.
	commit(sshd(t, "bravo", now.Add(-2*time.Minute), 3, "198.51.100.11"), "syslog:192.0.2.10")
	commit(sshd(t, "bravo", now.Add(-50*time.Hour), 4, "192.0.2.50"), "file:/var/log/a.log")
	p.flushLate(ctx)
	hz, ok := p.bf.(horizoner)
	if !ok || hz.Horizon().IsZero() {
		t.Fatal("the first back-fill pass kept no engine with a horizon")
	}
	// Another file's brute force, six failures 20 s apart, three before the
	// kept engine's horizon and three from it on, in the next pass.
	h := hz.Horizon()
	commit(sshd(t, "bravo", h.Add(-60*time.Second), 6, "203.0.113.9"), "file:/var/log/b.log")
	p.flushLate(ctx)
	p.dropBackfill(ctx)
	p.Handle(ctx, det.Flush())
	p.sync(ctx, det)

	line := func(tenant, rule string, key map[string]string, count int, first, last time.Time) string {
		return fmt.Sprintf("%s %s %v count=%d first=%s last=%s", tenant, rule, key, count, first.UTC().Format(time.TimeOnly), last.UTC().Format(time.TimeOnly))
	}
	incs, err := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range incs {
		if in.Rule != "clock_skew" {
			got = append(got, line(in.Tenant, in.Rule, in.Key, in.Count, in.First, in.Last))
		}
	}
	slices.Sort(got)

	recs, err := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(recs)
	slices.SortStableFunc(recs, func(a, b store.EventRecord) int { return timeline.Compare(&a.Event, &b.Event) })
	ref, err := splitDetector()
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		ref.Process(&recs[i].Event)
	}
	ref.Flush()
	var want []string
	for _, in := range EngineOf(ref).Incidents() {
		want = append(want, line(in.Tenant, in.Rule, in.Key, int(in.Count), in.First, in.Last))
	}
	slices.Sort(want)
	if !strings.Contains(strings.Join(want, "\n"), "203.0.113.9") {
		t.Fatalf("one detection pass raised nothing for the six failures: %v", want)
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("back-fill passes and one detection pass differ (-got +want):\n%s", d)
	}
}
