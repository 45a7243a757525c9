package pipeline

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// tally is a Detector raising one incident that counts every event it
// was fed.
type tally struct {
	mu          sync.Mutex
	n           int
	first, last time.Time
}

func (d *tally) Process(ev *event.Event) []store.Incident {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == 0 || ev.Timestamp.Before(d.first) {
		d.first = ev.Timestamp
	}
	if ev.Timestamp.After(d.last) {
		d.last = ev.Timestamp
	}
	d.n++
	return d.incs()
}

func (d *tally) incs() []store.Incident {
	return []store.Incident{{ID: "inc-tally", Rule: "r", Title: "t", Severity: "low", Status: store.StatusOpen, First: d.first, Last: d.last, Count: d.n, Tenants: []string{"alpha-co"}}}
}

func (d *tally) Flush() []store.Incident { return nil }

// Updated is the incident as counted so far (none before an event).
func (d *tally) Updated() []store.Incident {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == 0 {
		return nil
	}
	return d.incs()
}
func (d *tally) seen() int { d.mu.Lock(); defer d.mu.Unlock(); return d.n }

// TestRedeliveredEventsAreNotAddedTwice: after a restart, a back-dated
// incident's stored count is added to what the live detector counts
// beyond the stored events it was primed with (serve read a new file) —
// but not when the live detector is fed events committed before the
// pipeline began: a detector retaking a partition after a PostgreSQL cut
// follows the stream from before its replay and is handed again the
// events the stored incident already counts. Summing them overcounted
// (41 -> 54 in TestSplitRolesSurvivePostgresCut); they raise the stored
// count, never add to it.
func TestRedeliveredEventsAreNotAddedTwice(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	at := now.Add(-50 * time.Hour) // before any replay window
	for _, tc := range []struct {
		name      string
		redeliver bool
		want      int
	}{
		{"restart_reads_new_events", false, 5},
		{"retaken_partition_replays_held_events", true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := sqlite.Open(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			// A previous process stored three events and their incident.
			old := []store.EventRecord{rec("a", at), rec("b", at.Add(time.Second)), rec("c", at.Add(2*time.Second))}
			if err := st.AppendEvents(ctx, old); err != nil {
				t.Fatal(err)
			}
			prev := &tally{}
			var inc store.Incident
			for i := range old {
				inc = prev.Process(&old[i].Event)[0]
			}
			if _, _, err := st.UpsertIncident(ctx, &inc); err != nil {
				t.Fatal(err)
			}
			stored, err := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 10})
			if err != nil || len(stored) != 3 {
				t.Fatalf("stored events: %d, %v", len(stored), err)
			}
			det := &tally{}
			p := New(Options{Store: st, Metrics: metrics.New(), Now: time.Now, Queue: 1 << 10, Detect: true,
				NewDetector: func() (Detector, error) { return &tally{}, nil }, SkipReplayed: tc.redeliver})
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { p.Run(runCtx, det); close(done) }()
			want := 5 // three primed, two new
			if tc.redeliver {
				// the stream hands the stored events over again
				p.Deliver(ctx, stored, []uint64{1, 2, 3})
				want = 3
			} else if err := p.Commit(ctx, []store.EventRecord{rec("d", at.Add(3*time.Second)), rec("e", at.Add(4*time.Second))}); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(20 * time.Second); det.seen() < want; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("the detector saw %d events, want %d", det.seen(), want)
				}
			}
			stop()
			<-done
			got, err := st.GetIncident(ctx, store.AllTenants(), "inc-tally")
			if err != nil {
				t.Fatal(err)
			}
			if got.Count != tc.want {
				t.Errorf("stored count %d, want %d", got.Count, tc.want)
			}
		})
	}
}
