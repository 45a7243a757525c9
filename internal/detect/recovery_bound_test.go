package detect

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// The self-recovery tracker holds the sources and accounts of the last
// horizon of event time, not every source of a long input: a day of
// failures from a new address each minute keeps about an hour of them
// (the .evtx RSS target, issue 9, rose from 83 to 195 MB without this).
func TestRecoveryTrackerForgetsPastTheHorizon(t *testing.T) {
	tr := newRecoveryTracker(DefaultRecoveryWithin, DefaultRecoveryHorizon)
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	notService := func(*event.Event) bool { return false }
	const minutes = 24 * 60
	var last netip.Addr
	for m := range minutes {
		ts := start.Add(time.Duration(m) * time.Minute)
		last = netip.AddrFrom4([4]byte{10, byte(m >> 16), byte(m >> 8), byte(m)})
		for u := range 20 {
			ev := event.Event{Timestamp: ts, SourceIP: last, UserName: fmt.Sprintf("user%d-%d", m, u), Outcome: "failure"}
			tr.observe(&ev, ts.UnixNano(), notService)
		}
	}
	// An hour of sources plus the recovery window and one sweep's slack.
	limit := int((DefaultRecoveryHorizon+3*DefaultRecoveryWithin)/time.Minute) + 1
	if n := len(tr.srcs); n > limit {
		t.Errorf("%d sources kept after %d minutes of new ones, want at most %d", n, minutes, limit)
	}
	if s := tr.srcs[sourceKey{addr: last}]; s == nil || len(s.acct) != 20 {
		t.Errorf("the newest source lost its accounts: %+v", s)
	}
	// One source over a day of new accounts keeps about an hour of them.
	tr = newRecoveryTracker(DefaultRecoveryWithin, DefaultRecoveryHorizon)
	ip := netip.MustParseAddr("203.0.113.50")
	for m := range minutes {
		ts := start.Add(time.Duration(m) * time.Minute)
		ev := event.Event{Timestamp: ts, SourceIP: ip, UserName: fmt.Sprintf("u%d", m), Outcome: "failure"}
		tr.observe(&ev, ts.UnixNano(), notService)
	}
	if n := len(tr.srcs[sourceKey{addr: ip}].acct); n > limit {
		t.Errorf("%d accounts kept for one source after %d minutes, want at most %d", n, minutes, limit)
	}
}

// A source whose failures have all settled holds no pending map or queue
// until it is evicted an hour later: most of the sources of a long input
// are idle most of the horizon, and a map does not shrink as its entries
// are deleted (the 1 GB .evtx file's peak RSS rose by a third with the
// tracker holding both for every source of the hour).
func TestRecoveryTrackerReleasesSettledSources(t *testing.T) {
	tr := newRecoveryTracker(DefaultRecoveryWithin, DefaultRecoveryHorizon)
	start := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	notService := func(*event.Event) bool { return false }
	const sources = 600
	for i := range sources {
		ts := start.Add(time.Duration(i) * 5 * time.Second)
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		ev := event.Event{Timestamp: ts, SourceIP: ip, UserName: fmt.Sprintf("user%d", i%7), Outcome: "failure"}
		tr.observe(&ev, ts.UnixNano(), notService)
		if i%3 == 0 { // a third recover at once
			ev.Outcome, ev.Timestamp = "success", ts.Add(time.Second)
			tr.observe(&ev, ev.Timestamp.UnixNano(), notService)
		}
	}
	now := start.Add(sources*5*time.Second + DefaultRecoveryWithin + time.Second).UnixNano()
	held := 0
	for k, s := range tr.srcs {
		tr.settle(s, now)
		if s.pending != nil || s.queue != nil {
			held++
		}
		if len(s.outcomes) != 1 {
			t.Errorf("%v: %d outcomes, want 1", k, len(s.outcomes))
		}
	}
	if len(tr.srcs) != sources || held != 0 {
		t.Errorf("%d sources, %d of them settled still holding a pending map or queue; want %d and 0", len(tr.srcs), held, sources)
	}
}
