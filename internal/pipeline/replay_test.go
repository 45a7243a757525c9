package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// counting is a Detector that records how often it saw each event and
// raises one incident per event.
type counting struct {
	mu   sync.Mutex
	seen map[string]int
}

func (c *counting) Process(ev *event.Event) []store.Incident {
	c.mu.Lock()
	c.seen[ev.UserName]++
	c.mu.Unlock()
	return []store.Incident{{ID: "inc-" + ev.UserName, Rule: "r", Title: ev.UserName, Severity: "low", Status: store.StatusOpen, First: ev.Timestamp, Last: ev.Timestamp, Count: 1}}
}
func (c *counting) Flush() []store.Incident   { return nil }
func (c *counting) Updated() []store.Incident { return nil }

// notes records notifications per incident.
type notes struct {
	mu  sync.Mutex
	got map[string]int
}

func (n *notes) NotifyIncident(_ context.Context, inc *store.Incident, _ bool) {
	n.mu.Lock()
	n.got[inc.ID]++
	n.mu.Unlock()
}

func rec(msg string, at time.Time) store.EventRecord {
	return store.EventRecord{Event: event.Event{Timestamp: at, UserName: msg, Tenant: "alpha-co", Dataset: "test", Outcome: event.OutcomeFailure}}
}

// TestReplayAndQueueDetectOnce is the cause of the TestStoredIncidentsTrackEngine
// flake, made deterministic: events committed after the pipeline is built
// but before Run's replay reads the store are both in the store (so
// replayed) and in the queue. Each must be detected once, and as live
// events (notified), while events from before the restart are detected
// once by the replay.
func TestReplayAndQueueDetectOnce(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	at := now.Add(-time.Hour)
	// A previous process stored these (and detected and notified them).
	var before []store.EventRecord
	for i := range 3 {
		before = append(before, rec(fmt.Sprintf("old-%d", i), at.Add(time.Duration(i)*time.Second)))
	}
	if err := st.AppendEvents(ctx, before); err != nil {
		t.Fatal(err)
	}
	n := &notes{got: map[string]int{}}
	p := New(Options{Store: st, Metrics: metrics.New(), Now: func() time.Time { return now }, Queue: 1 << 16, Notify: n, Detect: true})
	// Ingest accepts events before the detector's replay has run.
	for i := range 4 {
		if err := p.Commit(ctx, []store.EventRecord{rec(fmt.Sprintf("early-%d", i), at.Add(time.Minute+time.Duration(i)*time.Second))}); err != nil {
			t.Fatal(err)
		}
	}
	det := &counting{seen: map[string]int{}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { p.Run(runCtx, det); close(done) }()
	// And after it started (queued behind the replay or after it).
	for i := range 2 {
		if err := p.Commit(ctx, []store.EventRecord{rec(fmt.Sprintf("late-%d", i), at.Add(2*time.Minute+time.Duration(i)*time.Second))}); err != nil {
			t.Fatal(err)
		}
	}
	// Stop once the last event is through (a cancelled context would cut
	// the replay short).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		det.mu.Lock()
		n := det.seen["late-1"]
		det.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the last committed event never reached detection")
		}
	}
	stop()
	<-done
	want := map[string]int{}
	for i := range 3 {
		want[fmt.Sprintf("old-%d", i)] = 1
	}
	for i := range 4 {
		want[fmt.Sprintf("early-%d", i)] = 1
	}
	for i := range 2 {
		want[fmt.Sprintf("late-%d", i)] = 1
	}
	for m, w := range want {
		if det.seen[m] != w {
			t.Errorf("event %s detected %d times, want %d", m, det.seen[m], w)
		}
	}
	if len(det.seen) != len(want) {
		t.Errorf("detected %v, want %v", det.seen, want)
	}
	// Every incident was new to the store, so each is notified once,
	// whether it came from the replay or the queue.
	for m := range want {
		if got := n.got["inc-"+m]; got != 1 {
			t.Errorf("incident of %s notified %d times, want once", m, got)
		}
	}
}

// windowed is a Detector that says its longest rule window and records the
// times it was fed.
type windowed struct {
	window time.Duration
	seen   []time.Time
	names  map[string]int
}

func (w *windowed) Process(ev *event.Event) []store.Incident {
	w.seen = append(w.seen, ev.Timestamp)
	w.names[ev.UserName]++
	return nil
}
func (w *windowed) Flush() []store.Incident   { return nil }
func (w *windowed) Updated() []store.Incident { return nil }
func (w *windowed) Window() time.Duration     { return w.window }

// pageCounter is a store that records the largest page a search returned.
type pageCounter struct {
	store.Store
	largest int
}

func (s *pageCounter) SearchEvents(ctx context.Context, sc store.Scope, q store.EventQuery) ([]store.EventRecord, error) {
	recs, err := s.Store.SearchEvents(ctx, sc, q)
	s.largest = max(s.largest, len(recs))
	return recs, err
}

// TestReplayStreamsTheRuleWindow: the restart replay covers the detector's
// rule window however many events it holds (no event cap), feeds them once
// each in time order, leaves out what is older than the window, and never
// reads more than a page at once — a burst inside one millisecond is paged
// by id.
func TestReplayStreamsTheRuleWindow(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	var recs []store.EventRecord
	want := 0
	for i := range 60 { // one every 97 s over the last 97 minutes, newest first
		recs = append(recs, rec(fmt.Sprintf("spread-%d", i), now.Add(-time.Duration(i)*97*time.Second)))
		want++
	}
	burst := now.Add(-30 * time.Minute)
	for i := range 17 { // more than two pages in one instant
		recs = append(recs, rec(fmt.Sprintf("burst-%d", i), burst))
		want++
	}
	for i := range 5 { // older than the window: not replayed
		recs = append(recs, rec(fmt.Sprintf("old-%d", i), now.Add(-3*time.Hour-time.Duration(i)*time.Minute)))
	}
	if err := st.AppendEvents(ctx, recs); err != nil {
		t.Fatal(err)
	}
	pc := &pageCounter{Store: st}
	p := New(Options{Store: pc, Metrics: metrics.New(), Now: func() time.Time { return now }, Detect: true})
	p.replayPage = 7
	det := &windowed{window: 2 * time.Hour, names: map[string]int{}}
	n, err := p.Replay(ctx, det)
	if err != nil {
		t.Fatal(err)
	}
	if n != want || len(det.seen) != want {
		t.Errorf("replayed %d events (detector saw %d), want %d", n, len(det.seen), want)
	}
	for name, c := range det.names {
		if c != 1 || name[:3] == "old" {
			t.Errorf("%s fed %d times", name, c)
		}
	}
	if !slices.IsSortedFunc(det.seen, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Error("replay not in time order")
	}
	if pc.largest > p.replayPage {
		t.Errorf("a search returned %d events, more than the page of %d", pc.largest, p.replayPage)
	}

	// A detector without correlation windows needs no replay.
	none := &windowed{names: map[string]int{}}
	if n, err := New(Options{Store: st, Metrics: metrics.New(), Now: func() time.Time { return now }, Detect: true}).Replay(ctx, none); err != nil || n != 0 {
		t.Errorf("replay for a zero window: %d events, %v", n, err)
	}
}

// replayWatcher reads the replaying gauge at every store read of a replay.
type replayWatcher struct {
	store.Store
	t    *testing.T
	m    *metrics.Metrics
	seen []float64
}

func (s *replayWatcher) SearchEvents(ctx context.Context, sc store.Scope, q store.EventQuery) ([]store.EventRecord, error) {
	s.seen = append(s.seen, gaugeValue(s.t, s.m.Replaying))
	return s.Store.SearchEvents(ctx, sc, q)
}

// TestReplayingGauge: firebreak_detect_replaying is 1 while the start-up
// replay reads stored events (live ingest waits on it then) and 0 after, so
// an operator and a benchmark can tell a slow ingest from a replay.
func TestReplayingGauge(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	var recs []store.EventRecord
	for i := range 20 {
		recs = append(recs, rec(fmt.Sprintf("e-%d", i), now.Add(-time.Duration(i)*time.Minute)))
	}
	if err := st.AppendEvents(ctx, recs); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	w := &replayWatcher{Store: st, t: t, m: m}
	p := New(Options{Store: w, Metrics: m, Now: func() time.Time { return now }, Detect: true})
	p.replayPage = 7
	if _, err := p.Replay(ctx, &windowed{window: time.Hour, names: map[string]int{}}); err != nil {
		t.Fatal(err)
	}
	if len(w.seen) == 0 {
		t.Fatal("replay read nothing")
	}
	for i, v := range w.seen {
		if v != 1 {
			t.Errorf("read %d of the replay: gauge %v, want 1", i, v)
		}
	}
	if v := gaugeValue(t, m.Replaying); v != 0 {
		t.Errorf("after the replay: gauge %v, want 0", v)
	}
}
