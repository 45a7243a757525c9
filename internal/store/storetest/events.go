package storetest

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firebreak-msp/firebreak/internal/store"
)

func testEvents(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	must(t, s.AppendEvents(ctx, nil))
	var batch []store.EventRecord
	for i := range 10 {
		batch = append(batch, Event(Alpha, fmt.Sprintf("user%d", i%3), "203.0.113.7", T0.Add(time.Duration(i)*time.Minute), "failure"))
	}
	for i := range 5 {
		batch = append(batch, Event(Bravo, "user0", "198.51.100.9", T0.Add(time.Duration(i)*time.Minute+30*time.Second), "success"))
	}
	batch[0].Event.Timestamp = T0.Add(123456789 * time.Nanosecond) // sub-microsecond part is dropped
	batch[1].Event.SourceIP = batch[1].Event.SourceIP.Unmap()
	batch[2].Event.Fields = nil
	must(t, s.AppendEvents(ctx, batch))
	seen := map[int64]bool{}
	for _, r := range batch {
		if r.ID == 0 || seen[r.ID] || r.Received.IsZero() {
			t.Fatalf("AppendEvents did not assign unique ids and received: %+v", r)
		}
		seen[r.ID] = true
	}
	got, err := s.SearchEvents(ctx, all, store.EventQuery{User: "user0", Tenant: Alpha, Limit: 100})
	must(t, err)
	if len(got) != 4 {
		t.Fatalf("alpha user0 events = %d, want 4", len(got))
	}
	// Newest first, full round trip.
	want := batch[9]
	want.Event.Timestamp = want.Event.Timestamp.UTC()
	if diff := cmp.Diff(want, got[0], cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
		t.Errorf("event round trip (-want +got):\n%s", diff)
	}
	if got[3].ID != batch[0].ID || !got[3].Event.Timestamp.Equal(T0.Add(123456*time.Microsecond)) {
		t.Errorf("oldest event = %+v", got[3])
	}

	for _, tc := range []struct {
		name  string
		scope store.Scope
		q     store.EventQuery
		want  int
	}{
		{"all", all, store.EventQuery{}, 15},
		{"alpha_scope", store.TenantScope(Alpha), store.EventQuery{}, 10},
		{"alpha_scope_asks_bravo", store.TenantScope(Alpha), store.EventQuery{Tenant: Bravo}, 0},
		{"zero_scope", store.Scope{}, store.EventQuery{}, 0},
		{"time_range", all, store.EventQuery{From: T0.Add(2 * time.Minute), To: T0.Add(4 * time.Minute)}, 4},
		{"source_ip", all, store.EventQuery{SourceIP: "198.51.100.9"}, 5},
		{"user", all, store.EventQuery{User: "user1"}, 3},
		{"dataset", all, store.EventQuery{Dataset: "entra.signin", Outcome: "success"}, 5},
		{"host", all, store.EventQuery{Host: "host-" + Bravo}, 5},
		{"limit", all, store.EventQuery{Limit: 3}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.SearchEvents(ctx, tc.scope, tc.q)
			must(t, err)
			if len(got) != tc.want {
				t.Errorf("SearchEvents = %d events, want %d", len(got), tc.want)
			}
			n, err := s.CountEvents(ctx, tc.scope, tc.q)
			must(t, err)
			if n != int64(tc.want) { // with Limit, counting stops there
				t.Errorf("CountEvents = %d, want %d", n, tc.want)
			}
		})
	}
	// Keyset paging walks every event exactly once.
	var ids []int64
	q := store.EventQuery{Limit: 4}
	for {
		page, err := s.SearchEvents(ctx, all, q)
		must(t, err)
		if len(page) == 0 {
			break
		}
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		q.BeforeID = page[len(page)-1].ID
	}
	if len(ids) != 15 {
		t.Errorf("paging returned %d events, want 15", len(ids))
	}
	n, err := s.PurgeEvents(ctx, T0.Add(3*time.Minute))
	must(t, err)
	if n != 6 { // alpha minutes 0,1,2 and bravo 0:30,1:30,2:30
		t.Errorf("purged %d, want 6", n)
	}
	left, err := s.CountEvents(ctx, all, store.EventQuery{})
	must(t, err)
	if left != 9 {
		t.Errorf("%d events left, want 9", left)
	}
}

func testEventsConcurrent(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	const workers, batches, size = 8, 10, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	ids := make(chan int64, workers*batches*size)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				batch := make([]store.EventRecord, size)
				for i := range batch {
					batch[i] = Event(Alpha, fmt.Sprintf("w%d", w), "192.0.2.1", T0.Add(time.Duration(b*size+i)*time.Second), "failure")
				}
				if err := s.AppendEvents(ctx, batch); err != nil {
					errs <- err
					return
				}
				for _, r := range batch {
					ids <- r.ID
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Fatalf("id %d assigned twice", id)
		}
		seen[id] = true
	}
	n, err := s.CountEvents(ctx, store.AllTenants(), store.EventQuery{})
	must(t, err)
	if n != workers*batches*size || len(seen) != workers*batches*size {
		t.Errorf("stored %d events (%d ids), want %d", n, len(seen), workers*batches*size)
	}
}

// testConcurrentReads runs many readers against a writer: no read may
// hang (a leaked connection starves the pool) and none may fail.
func testConcurrentReads(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	_, _, err := s.PutSnapshot(ctx, Estate(), "t")
	must(t, err)
	_, err = s.SaveRun(ctx, 0, "t", Report("2026-03-01T09:00:00Z", true))
	must(t, err)
	must(t, s.SaveBlast(ctx, &store.BlastResult{Ranking: []store.BlastRank{{Node: "rmm", Tenants: []string{Alpha}}}}))
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	var reads atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			if err := s.AppendEvents(ctx, []store.EventRecord{Event(Alpha, "u", "192.0.2.1", T0.Add(time.Duration(i)*time.Second), "failure")}); err != nil {
				errs <- err
			}
		}
	}()
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				for _, f := range []func() error{
					func() error { _, _, err := s.GetRun(ctx, all, 0); return err },
					func() error { _, err := s.GetBlast(ctx, store.TenantScope(Alpha), 0); return err },
					func() error { _, err := s.GetSnapshot(ctx, store.TenantScope(Alpha), 0); return err },
					func() error { _, err := s.ListIncidents(ctx, all, store.IncidentFilter{}); return err },
					func() error { _, err := s.SearchEvents(ctx, all, store.EventQuery{Limit: 10}); return err },
					func() error { _, err := s.ScoreHistory(ctx, all, Alpha, 10); return err },
				} {
					if err := f(); err != nil {
						errs <- err
					}
					reads.Add(1)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// A leaked connection or a deadlock stops every read; a busy machine
	// only slows them. So the test fails when no read completes for a
	// minute, not when all of them take longer than some wall time.
	tick := time.NewTicker(60 * time.Second)
	defer tick.Stop()
	for last := int64(-1); ; {
		select {
		case <-done:
		case <-tick.C:
			if n := reads.Load(); n != last {
				last = n
				continue
			}
			t.Fatalf("no concurrent read completed in 60s (%d of 3000 done): connection leak or deadlock", reads.Load())
		}
		break
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testAuthSources: the authentication summary counts per tenant, dataset,
// host and failure, with aggregated counts and the newest timestamp, and
// leaves out events before since and events of other categories.
func testAuthSources(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	var batch []store.EventRecord
	for i := range 4 {
		batch = append(batch, Event(Alpha, "u", "203.0.113.7", T0.Add(time.Duration(i)*time.Minute), "failure"))
	}
	batch[3].Event.Count = 5 // an aggregated event counts its occurrences
	batch = append(batch, Event(Alpha, "u", "203.0.113.7", T0.Add(10*time.Minute), "success"))
	old := Event(Bravo, "u", "", T0.Add(-48*time.Hour), "failure") // before since
	other := Event(Bravo, "u", "", T0, "success")
	other.Event.Category = "process" // not authentication
	batch = append(batch, old, other)
	must(t, s.AppendEvents(ctx, batch))
	got, err := s.AuthSources(ctx, T0.Add(-24*time.Hour))
	must(t, err)
	want := []store.AuthSourceStat{
		{Tenant: Alpha, Dataset: "entra.signin", Host: "host-" + Alpha, Failed: false, Events: 1, Last: T0.Add(10 * time.Minute).UTC()},
		{Tenant: Alpha, Dataset: "entra.signin", Host: "host-" + Alpha, Failed: true, Events: 8, Last: T0.Add(3 * time.Minute).UTC()},
	}
	sort := cmpopts.SortSlices(func(a, b store.AuthSourceStat) bool { return !a.Failed && b.Failed })
	if d := cmp.Diff(want, got, sort, cmpopts.EquateApproxTime(0)); d != "" {
		t.Fatalf("AuthSources (-want +got):\n%s", d)
	}
}

// testEventHistogram checks EventHistogram's exact counts per bucket: the
// range's edges (from included, to excluded, an event a microsecond either
// side), a last bucket cut short by to, buckets not aligned to the hour,
// the query's filter and scope, and that the buckets add up to CountEvents
// over the same range.
func testEventHistogram(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	var batch []store.EventRecord
	for _, e := range []struct {
		tenant, user string
		at           time.Duration
	}{
		{Alpha, "ann", -time.Microsecond}, // before every range below
		{Alpha, "ann", 0},
		{Alpha, "ann", time.Hour - time.Microsecond},
		{Alpha, "ann", time.Hour},
		{Alpha, "bob", 90 * time.Minute},
		{Bravo, "ann", time.Hour},
		{Alpha, "ann", 150 * time.Minute},
		{Alpha, "ann", 3*time.Hour - time.Microsecond},
		{Alpha, "ann", 3 * time.Hour}, // at the end: not counted
	} {
		batch = append(batch, Event(e.tenant, e.user, "203.0.113.7", T0.Add(e.at), "failure"))
	}
	must(t, s.AppendEvents(ctx, batch))
	at := func(d time.Duration) time.Time { return T0.Add(d) }
	for _, tc := range []struct {
		name     string
		scope    store.Scope
		q        store.EventQuery
		from, to time.Time
		bucket   time.Duration
		want     []int64
	}{
		{"all", all, store.EventQuery{}, T0, at(3 * time.Hour), time.Hour, []int64{2, 3, 2}},
		{"tenant_and_user", all, store.EventQuery{Tenant: Alpha, User: "ann"}, T0, at(3 * time.Hour), time.Hour, []int64{2, 1, 2}},
		{"alpha_scope", store.TenantScope(Alpha), store.EventQuery{}, T0, at(3 * time.Hour), time.Hour, []int64{2, 2, 2}},
		{"alpha_scope_asks_bravo", store.TenantScope(Alpha), store.EventQuery{Tenant: Bravo}, T0, at(3 * time.Hour), time.Hour, []int64{0, 0, 0}},
		{"zero_scope", store.Scope{}, store.EventQuery{}, T0, at(3 * time.Hour), time.Hour, []int64{0, 0, 0}},
		{"short_last_bucket", all, store.EventQuery{}, T0, at(150 * time.Minute), time.Hour, []int64{2, 3, 0}},
		{"query_from_narrows", all, store.EventQuery{From: at(time.Hour)}, T0, at(3 * time.Hour), time.Hour, []int64{0, 3, 2}},
		{"query_to_narrows", all, store.EventQuery{To: at(time.Hour)}, T0, at(3 * time.Hour), time.Hour, []int64{2, 0, 0}},
		{"unaligned", all, store.EventQuery{}, at(15 * time.Minute), at(75 * time.Minute), 30 * time.Minute, []int64{0, 3}},
		{"wider", all, store.EventQuery{}, at(-time.Hour), at(4 * time.Hour), 2 * time.Hour, []int64{3, 5, 1}},
		{"empty_range", all, store.EventQuery{}, T0, T0, time.Hour, []int64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.EventHistogram(ctx, tc.scope, tc.q, tc.from, tc.to, tc.bucket)
			must(t, err)
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("EventHistogram (-got +want):\n%s", diff)
			}
			// The same range as a query: its count is the buckets' sum.
			cq := tc.q
			if cq.From.Before(tc.from) {
				cq.From = tc.from
			}
			if cq.To.IsZero() || cq.To.After(tc.to) {
				cq.To = tc.to
			}
			var sum int64
			for _, c := range got {
				sum += c
			}
			if n, err := s.CountEvents(ctx, tc.scope, cq); err != nil || (n != sum && cq.From.Before(cq.To)) {
				t.Errorf("CountEvents over the range = %d (%v), buckets add up to %d", n, err, sum)
			}
		})
	}
	_, err := s.EventHistogram(ctx, all, store.EventQuery{}, T0, at(time.Hour), 0)
	wantErr(t, err, store.ErrInvalid)
	_, err = s.EventHistogram(ctx, all, store.EventQuery{}, T0, at(time.Duration(store.MaxHistogramBuckets+1)*time.Minute), time.Minute)
	wantErr(t, err, store.ErrInvalid)
}
