package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// fakeDetector records what it processes; its horizon trails the newest
// event by a minute, as the engine's does with a minute of lateness.
type fakeDetector struct {
	seen    []time.Time
	hosts   []string
	horizon time.Time
}

func (d *fakeDetector) Process(ev *event.Event) []store.Incident {
	d.seen = append(d.seen, ev.Timestamp)
	d.hosts = append(d.hosts, ev.HostName)
	if h := ev.Timestamp.Add(-time.Minute); h.After(d.horizon) {
		d.horizon = h
	}
	return nil
}
func (d *fakeDetector) Flush() []store.Incident   { return nil }
func (d *fakeDetector) Updated() []store.Incident { return nil }
func (d *fakeDetector) Horizon() time.Time        { return d.horizon }

// TestEventTime: an event dated past the clock plus MaxSkew is stored,
// flagged and reported as clock skew but never reaches detection; an event
// older than the live horizon goes to a back-fill pass, not to the live
// detector (which would drop it); commit-time treatment says so.
func TestEventTime(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	live := &fakeDetector{}
	var backfills []*fakeDetector
	p := New(Options{Store: st, Metrics: metrics.New(), Now: func() time.Time { return now }, Detect: true,
		NewDetector: func() (Detector, error) { d := &fakeDetector{}; backfills = append(backfills, d); return d, nil }})
	p.det = live
	rec := func(ts time.Time, host string) store.EventRecord {
		return store.EventRecord{Event: event.Event{Timestamp: ts, Tenant: "t1", HostName: host, Dataset: "sshd", Outcome: event.OutcomeFailure}}
	}
	// Live events move the horizon to now-1m.
	tr, err := p.CommitTreated(ctx, []store.EventRecord{rec(now.Add(-2*time.Minute), "a"), rec(now, "a")})
	if err != nil || tr != (Treatment{Live: 2}) {
		t.Fatalf("first commit: %+v %v", tr, err)
	}
	p.detect(ctx, <-p.q)
	// One event within the skew, one far in the future, one from yesterday.
	tr, err = p.CommitTreated(ctx, []store.EventRecord{rec(now.Add(4*time.Minute), "a"), rec(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), "evil"), rec(now.Add(-24*time.Hour), "b")})
	if err != nil || tr != (Treatment{Live: 1, Backfill: 1, Quarantined: 1}) {
		t.Fatalf("second commit: %+v %v", tr, err)
	}
	p.detect(ctx, <-p.q)
	if len(backfills) != 0 {
		t.Error("a back-fill pass ran before the sync tick")
	}
	p.flushLate(ctx)
	if len(live.seen) != 3 || live.seen[2] != now {
		t.Errorf("live detector saw %v, want the three events within the skew and the horizon, the last at the receive clock", live.seen)
	}
	if len(backfills) != 1 || len(backfills[0].seen) != 1 || backfills[0].seen[0] != now.Add(-24*time.Hour) {
		t.Errorf("back-fill passes: %d, want one with yesterday's event", len(backfills))
	}
	evs, err := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Host: "evil"})
	if err != nil || len(evs) != 1 || evs[0].Event.Fields[QuarantineField] == "" {
		t.Fatalf("quarantined event stored as %+v (%v), want one flagged event", evs, err)
	}
	// Stored at its receive time with the claimed time beside it, so it
	// does not head every newest-first list until 2099 and ages out with
	// its day; a date past 2262 is not wrapped by the nanosecond clock.
	if q := evs[0].Event; !q.Timestamp.Equal(now) || q.Fields[QuarantineClaimedField] != "2099-01-01T00:00:00Z" {
		t.Errorf("quarantined event at %s claiming %q, want the receive time claiming 2099", q.Timestamp, q.Fields[QuarantineClaimedField])
	}
	incs, err := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].Rule != "clock_skew" || incs[0].Key["host.name"] != "evil" || incs[0].Tenant != "t1" {
		t.Fatalf("incidents %+v, want one clock_skew for host evil", incs)
	}
	if _, err := p.CommitTreated(ctx, []store.EventRecord{rec(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), "far")}); err != nil {
		t.Fatal(err)
	}
	far, err := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Host: "far"})
	if err != nil || len(far) != 1 || !far[0].Event.Timestamp.Equal(now) || far[0].Event.Fields[QuarantineClaimedField] != "9999-12-31T00:00:00Z" {
		t.Fatalf("an event dated 9999 stored as %+v (%v)", far, err)
	}
	// A restart's replay leaves the quarantined event out.
	again := &fakeDetector{}
	p2 := New(Options{Store: st, Metrics: metrics.New(), Now: func() time.Time { return now }, Detect: true})
	if _, err := p2.Replay(ctx, again); err != nil {
		t.Fatal(err)
	}
	for _, h := range again.hosts {
		if h == "evil" || h == "far" {
			t.Error("replay fed a quarantined event to detection")
		}
	}
	if len(again.hosts) == 0 {
		t.Error("the replay saw nothing: the check above proves nothing")
	}
}

// The replay window is the longest rule window of the loaded pack.
func TestReplayWindowIsLongestRule(t *testing.T) {
	rules, err := detect.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, err := detect.NewEngine(rules, detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var want time.Duration
	for _, r := range e.Rules() {
		if r.Correlation != nil {
			want = max(want, r.Correlation.Timespan)
		}
	}
	if want == 0 {
		t.Fatal("the built-in pack has no correlation: the test would prove nothing")
	}
	if got := Wrap(e).(*detector).Window(); got != want+e.Lateness() {
		t.Errorf("Window = %s, want %s", got, want)
	}
}
