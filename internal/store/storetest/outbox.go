package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// testOutbox: versions move only on change, due rows come back until the
// current version is acknowledged, failures stay visible and scheduled,
// tenants see only their rows.
func testOutbox(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	put := func(key, tenant, body string) (store.OutboxItem, bool) {
		t.Helper()
		it := store.OutboxItem{Target: "psa", Key: key, Kind: "finding", Tenant: tenant, Body: json.RawMessage(body)}
		changed, err := s.PutOutbox(ctx, &it)
		must(t, err)
		return it, changed
	}
	a, changed := put("finding/a/MFA-01", Alpha, `{"open": true, "title": "MFA"}`)
	if !changed || a.Version != 1 || !a.Pending() {
		t.Fatalf("new row: %+v changed=%v", a, changed)
	}
	// Same content (whitespace aside): no new version.
	if a2, changed := put("finding/a/MFA-01", Alpha, `{"open":true,"title":"MFA"}`); changed || a2.Version != 1 {
		t.Fatalf("unchanged row: %+v changed=%v", a2, changed)
	}
	put("finding/b/MFA-01", Bravo, `{"open":true}`)
	due, err := s.DueOutbox(ctx, "psa", T0.Add(time.Hour), 10)
	must(t, err)
	if len(due) != 2 {
		t.Fatalf("due: %d rows, want 2", len(due))
	}
	if other, _ := s.DueOutbox(ctx, "other", T0.Add(time.Hour), 10); len(other) != 0 {
		t.Errorf("another target's rows are due: %+v", other)
	}
	// A rejected delivery stays, with its error, until its next attempt.
	must(t, s.FailOutbox(ctx, "psa", "finding/a/MFA-01", "HTTP 400 company not found", T0.Add(2*time.Hour)))
	due, _ = s.DueOutbox(ctx, "psa", T0.Add(time.Hour), 10)
	if len(due) != 1 || due[0].Key != "finding/b/MFA-01" {
		t.Fatalf("due before the retry time: %+v", due)
	}
	failing, err := s.ListOutbox(ctx, store.AllTenants(), store.OutboxFilter{Failing: true})
	must(t, err)
	if len(failing) != 1 || failing[0].LastError != "HTTP 400 company not found" || failing[0].Attempts != 1 || !failing[0].NextAt.Equal(T0.Add(2*time.Hour)) {
		t.Fatalf("failing rows: %+v", failing)
	}
	due, _ = s.DueOutbox(ctx, "psa", T0.Add(3*time.Hour), 10)
	if len(due) != 2 {
		t.Fatalf("due after the retry time: %d rows", len(due))
	}
	// Delivered: not due any more, remote id kept.
	must(t, s.AckOutbox(ctx, "psa", "finding/a/MFA-01", 1, "T-1001"))
	due, _ = s.DueOutbox(ctx, "psa", T0.Add(3*time.Hour), 10)
	if len(due) != 1 {
		t.Fatalf("due after ack: %+v", due)
	}
	// A change after delivery is due again, remote id kept.
	a3, changed := put("finding/a/MFA-01", Alpha, `{"open":false,"title":"MFA"}`)
	if !changed || a3.Version != 2 || a3.Sent != 1 || a3.Remote != "T-1001" || a3.Attempts != 0 {
		t.Fatalf("changed row: %+v", a3)
	}
	// Acknowledging an older version does not mark the newer one sent.
	must(t, s.AckOutbox(ctx, "psa", "finding/a/MFA-01", 1, ""))
	rows, _ := s.ListOutbox(ctx, store.AllTenants(), store.OutboxFilter{Pending: true})
	if len(rows) != 2 {
		t.Fatalf("pending rows: %+v", rows)
	}
	must(t, s.AckOutbox(ctx, "psa", "finding/a/MFA-01", 2, ""))
	mine, err := s.ListOutbox(ctx, store.TenantScope(Alpha), store.OutboxFilter{})
	must(t, err)
	if len(mine) != 1 || mine[0].Remote != "T-1001" || mine[0].Pending() || mine[0].LastError != "" {
		t.Fatalf("alpha's rows: %+v", mine)
	}
	leak(t, "outbox", mine)
	wantErr(t, s.AckOutbox(ctx, "psa", "missing", 1, ""), store.ErrNotFound)
	if _, err := s.PutOutbox(ctx, &store.OutboxItem{Key: "x"}); err == nil {
		t.Error("row without a target stored")
	}
}

// testOutboxClaims: claimers running side by side get disjoint rows, each
// row once; a claim lasts its lease (a claimer that dies leaves its rows
// to another afterwards); acknowledging or failing releases it.
func testOutboxClaims(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	const rows = 60
	for i := range rows {
		it := store.OutboxItem{Target: "notify:hook", Key: fmt.Sprintf("incident/%03d", i), Kind: "incident", Tenant: Alpha, Body: json.RawMessage(`{"n":1}`)}
		_, err := s.PutOutbox(ctx, &it)
		must(t, err)
	}
	now := T0.Add(time.Hour)
	if _, err := s.ClaimOutbox(ctx, "notify:hook", "", now, time.Minute, 10); err == nil {
		t.Error("a claim without an owner was accepted")
	}
	// Eight claimers at once, in small bites: every row exactly once.
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("replica-%d", c)
			for {
				claimed, err := s.ClaimOutbox(ctx, "notify:hook", owner, now, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(claimed) == 0 {
					return
				}
				mu.Lock()
				for _, it := range claimed {
					if prev, dup := got[it.Key]; dup {
						t.Errorf("%s claimed by %s and %s", it.Key, prev, owner)
					}
					if it.ClaimedBy != owner || !it.ClaimedUntil.Equal(now.Add(time.Minute)) {
						t.Errorf("claimed row: %+v", it)
					}
					got[it.Key] = owner
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(got) != rows {
		t.Fatalf("%d rows claimed, want %d", len(got), rows)
	}
	// Within the lease nothing is claimable; DueOutbox still lists them
	// (it is the single deliverer's view).
	if again, _ := s.ClaimOutbox(ctx, "notify:hook", "late", now.Add(59*time.Second), time.Minute, 100); len(again) != 0 {
		t.Fatalf("claimed again within the lease: %d rows", len(again))
	}
	// Acknowledged and failed rows are released: acknowledged ones are
	// done, failed ones come back at their retry time.
	must(t, s.AckOutbox(ctx, "notify:hook", "incident/000", 1, ""))
	must(t, s.FailOutbox(ctx, "notify:hook", "incident/001", "HTTP 503", now.Add(10*time.Second)))
	back, err := s.ClaimOutbox(ctx, "notify:hook", "late", now.Add(10*time.Second), time.Minute, 100)
	must(t, err)
	if len(back) != 1 || back[0].Key != "incident/001" || back[0].Attempts != 1 {
		t.Fatalf("after ack and fail: %+v", back)
	}
	// The lease passed: the claimer died; the rest is claimable again,
	// once, and the acknowledged row is not among them.
	late, err := s.ClaimOutbox(ctx, "notify:hook", "late", now.Add(time.Minute), time.Minute, 100)
	must(t, err)
	if len(late) != rows-2 {
		t.Fatalf("after the lease: %d rows, want %d", len(late), rows-2)
	}
	for _, it := range late {
		if it.Key == "incident/000" || it.Key == "incident/001" {
			t.Errorf("%s claimed again", it.Key)
		}
	}
	if again, _ := s.ClaimOutbox(ctx, "notify:hook", "other", now.Add(time.Minute), time.Minute, 100); len(again) != 0 {
		t.Errorf("claimed twice after the lease: %d rows", len(again))
	}
	// AddOutbox adds an alert once: the same key again, even with another
	// body (another replica's clock), is not a new row.
	added, err := s.AddOutbox(ctx, &store.OutboxItem{Target: "notify:hook", Key: "incident/x/1", Kind: "incident", Tenant: Alpha, Body: json.RawMessage(`{"at":1}`)})
	must(t, err)
	again, err := s.AddOutbox(ctx, &store.OutboxItem{Target: "notify:hook", Key: "incident/x/1", Kind: "incident", Tenant: Alpha, Body: json.RawMessage(`{"at":2}`)})
	must(t, err)
	if !added || again {
		t.Fatalf("AddOutbox twice: added %v, then %v", added, again)
	}
	if rows, _ := s.ClaimOutbox(ctx, "notify:hook", "late", now.Add(time.Minute), time.Minute, 100); len(rows) != 1 || string(rows[0].Body) != `{"at":1}` || rows[0].Version != 1 {
		t.Fatalf("added row: %+v", rows)
	}
	// A new version of a claimed row waits for the claim to end.
	it := store.OutboxItem{Target: "notify:hook", Key: "incident/002", Kind: "incident", Tenant: Alpha, Body: json.RawMessage(`{"n":2}`)}
	_, err = s.PutOutbox(ctx, &it)
	must(t, err)
	if again, _ := s.ClaimOutbox(ctx, "notify:hook", "other", now.Add(time.Minute+time.Second), time.Minute, 100); len(again) != 0 {
		t.Errorf("a changed row claimed while claimed: %+v", again)
	}
}

// testOutboxPrune: PruneOutbox deletes the delivered rows of the targets
// with the prefix that have not changed since the cut, and nothing else:
// not a row still pending, not one changed later, not another target's.
func testOutboxPrune(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	add := func(target, key string) {
		t.Helper()
		if _, err := s.AddOutbox(ctx, &store.OutboxItem{Target: target, Key: key, Kind: "incident", Body: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	add("notify:hook", "delivered")
	add("notify:hook", "pending")
	add("psa", "delivered-ticket")
	must(t, s.AckOutbox(ctx, "notify:hook", "delivered", 1, ""))
	must(t, s.AckOutbox(ctx, "psa", "delivered-ticket", 1, "T-1"))
	time.Sleep(2 * time.Millisecond)
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	add("notify:hook", "delivered-later")
	must(t, s.AckOutbox(ctx, "notify:hook", "delivered-later", 1, ""))
	n, err := s.PruneOutbox(ctx, "notify:", cut)
	if err != nil || n != 1 {
		t.Fatalf("PruneOutbox = %d, %v; want 1 (the one delivered before the cut)", n, err)
	}
	var left []string
	for _, target := range []string{"notify:hook", "psa"} {
		items, err := s.ListOutbox(ctx, store.AllTenants(), store.OutboxFilter{Target: target})
		must(t, err)
		for _, it := range items {
			left = append(left, it.Target+"/"+it.Key)
		}
	}
	slices.Sort(left)
	if want := []string{"notify:hook/delivered-later", "notify:hook/pending", "psa/delivered-ticket"}; !slices.Equal(left, want) {
		t.Errorf("rows left %v, want %v", left, want)
	}
	// Added again after pruning, the alert is a new row (the dedupe window
	// is the retention's).
	if added, err := s.AddOutbox(ctx, &store.OutboxItem{Target: "notify:hook", Key: "delivered", Kind: "incident", Body: json.RawMessage(`{}`)}); err != nil || !added {
		t.Errorf("re-adding a pruned row: %v %v", added, err)
	}
}
