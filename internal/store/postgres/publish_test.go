package postgres

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// TestPublishBacklog: a batch appended with AppendEventsPending is in the
// backlog (its events in batch order, its meta) until DonePublishes; one
// appended plainly is not; batches come oldest first.
func TestPublishBacklog(t *testing.T) {
	s, _ := openTest(t)
	defer s.Close()
	ctx := context.Background()
	pl, ok := s.(store.EventPublishLog)
	if !ok {
		t.Fatal("the PostgreSQL store keeps no publish backlog")
	}
	ts := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	batch := func(users ...string) []store.EventRecord {
		var b []store.EventRecord
		for i, u := range users {
			b = append(b, store.EventRecord{Event: event.Event{Timestamp: ts.Add(time.Duration(-i) * time.Second), Tenant: "t1", UserName: u}})
		}
		return b
	}
	// Later-dated events first: the backlog keeps batch order, not time order.
	a := batch("a1", "a2", "a3")
	ida, err := pl.AppendEventsPending(ctx, a, []byte(`{"at":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendEvents(ctx, batch("plain")); err != nil {
		t.Fatal(err)
	}
	idb, err := pl.AppendEventsPending(ctx, batch("b1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if nb, ne, err := pl.PublishBacklog(ctx); err != nil || nb != 2 || ne != 4 {
		t.Fatalf("backlog %d batches, %d events (%v), want 2, 4", nb, ne, err)
	}
	pend, err := pl.PendingPublishes(ctx, time.Now().Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(pend) != 2 || pend[0].ID != ida || pend[1].ID != idb {
		t.Fatalf("pending %+v, want batches %d then %d", pend, ida, idb)
	}
	var users []string
	for _, r := range pend[0].Records {
		users = append(users, r.Event.UserName)
	}
	if !slices.Equal(users, []string{"a1", "a2", "a3"}) || pend[0].Records[0].ID != a[0].ID || string(pend[0].Meta) != `{"at":1}` {
		t.Errorf("first batch: users %v, first id %d (want %d), meta %q", users, pend[0].Records[0].ID, a[0].ID, pend[0].Meta)
	}
	if old, err := pl.PendingPublishes(ctx, time.Now().Add(-time.Hour), 10); err != nil || len(old) != 0 {
		t.Errorf("batches recorded before an hour ago: %d (%v)", len(old), err)
	}
	if err := pl.DonePublishes(ctx, []int64{ida}); err != nil {
		t.Fatal(err)
	}
	if pend, err := pl.PendingPublishes(ctx, time.Now().Add(time.Minute), 10); err != nil || len(pend) != 1 || pend[0].ID != idb {
		t.Errorf("after done: %+v (%v), want batch %d only", pend, err, idb)
	}
}
