package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// sent records every notification: incident id, severity, created.
type sent struct {
	mu  sync.Mutex
	got []string
}

func (s *sent) NotifyIncident(_ context.Context, inc *store.Incident, created bool) {
	s.mu.Lock()
	s.got = append(s.got, fmt.Sprintf("%s %s %s created=%v", inc.Title, inc.Severity, Detection(inc).Pattern, created))
	s.mu.Unlock()
}

// evtxEvents parses a written .evtx of evs.
func evtxEvents(t *testing.T, evs []evtxtest.Event) []event.Event {
	t.Helper()
	r, err := ingest.NewReader("Security.evtx", bytes.NewReader(evtxtest.Write(evs)), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for {
		var ev event.Event
		err := r.Next(&ev)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		ev.Tenant = "alpha-co"
		ev.Fields = maps.Clone(ev.Fields)
		out = append(out, ev)
	}
}

// TestBackfillNotifiesSettledSpray: a back-dated Kerberos spray arrives in
// two back-fill passes. The first leaves the velocity incident pending
// (its accounts' recovery window is still open: stored, not notified at
// its rule's level); the second, whose events are past that window,
// settles it as a spray (high). The settling is notified once, and later
// count updates are not. On the old code back-fill notified only
// incidents new to the store, so the settled spray was never notified.
func TestBackfillNotifiesSettledSpray(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, n, fails, rest := settleFixture(t, st)
	// One back-fill pass over evs; the notifications it sent.
	pass := func(evs []evtxtest.Event) []string {
		t.Helper()
		n.mu.Lock()
		n.got = nil
		n.mu.Unlock()
		p.backfill(ctx, evtxEvents(t, evs))
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.got
	}
	const velocity = "Password spray burst from one source"
	if got := pass(fails); slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, velocity+" high") }) {
		t.Fatalf("notified at high while pending: %v", got)
	}
	if in := stored(t, st, velocity); in == nil || !Detection(in).Pending() {
		t.Fatalf("after the first pass the velocity incident is %+v, want it stored pending", in)
	}
	want := []string{
		"Successful sign-in from a source that was password spraying critical spray created=true",
		velocity + " high spray created=false",
	}
	if diff := cmp.Diff(pass(rest), want); diff != "" {
		t.Errorf("notifications of the pass that settles the spray (-got +want):\n%s", diff)
	}
	// Later writes of the settled incident (the pass's engine dropped, a
	// count update) notify nothing more.
	n.mu.Lock()
	n.got = nil
	n.mu.Unlock()
	p.dropBackfill(ctx)
	in := stored(t, st, velocity)
	in.Count++
	p.HandleMode(ctx, []store.Incident{*in}, true)
	if len(n.got) != 0 {
		t.Errorf("notified again after settling: %v", n.got)
	}
}

// stored is the stored incident titled title (nil: none).
func stored(t *testing.T, st store.Store, title string) *store.Incident {
	t.Helper()
	incs, err := st.ListIncidents(context.Background(), store.AllTenants(), store.IncidentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range incs {
		if incs[i].Title == title {
			return &incs[i]
		}
	}
	return nil
}

// TestRetriedSettlingWriteNotifies: when the write that settles a pending
// spray fails (the database away) the retry that stores it later still
// notifies the settled spray once.
func TestRetriedSettlingWriteNotifies(t *testing.T) {
	ctx := context.Background()
	sq, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	st := &cutStore{Store: sq}
	p, n, fails, rest := settleFixture(t, st)
	const velocity = "Password spray burst from one source"
	p.backfill(ctx, evtxEvents(t, fails))
	if in := stored(t, st, velocity); in == nil || !Detection(in).Pending() {
		t.Fatalf("after the first pass the velocity incident is %+v, want it stored pending", in)
	}
	n.mu.Lock()
	n.got = nil
	n.mu.Unlock()
	st.cut.Store(true)
	p.backfill(ctx, evtxEvents(t, rest))
	st.cut.Store(false)
	if !p.retryUnwritten(ctx) {
		t.Fatal("incidents left unwritten with the store back")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if !slices.Contains(n.got, velocity+" high spray created=false") {
		t.Errorf("the retried write that settles the spray notified %v, want %q among them", n.got, velocity+" high spray created=false")
	}
}

// settleFixture is a back-fill pipeline on st with the built-in rules and a
// recording notifier, and a Kerberos spray dated 72 h back split where its
// velocity incident is stored pending (fails) from the rest that settles it.
func settleFixture(t *testing.T, st store.Store) (p *Pipeline, n *sent, fails, rest []evtxtest.Event) {
	t.Helper()
	rules, err := detect.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	newDet := func() (Detector, error) {
		e, err := detect.NewEngine(rules, detect.Options{})
		return Wrap(e), err
	}
	n = &sent{}
	p = New(Options{Store: st, Metrics: metrics.New(), Now: time.Now, Queue: 1 << 10, Notify: n, Detect: true, NewDetector: newDet})
	base := time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Second)
	for _, e := range evtxtest.KerberosSpray(base) {
		if e.Time.Before(base.Add(15 * time.Second)) {
			fails = append(fails, e)
		} else {
			rest = append(rest, e)
		}
	}
	return p, n, fails, rest
}
