package storetest

import (
	"encoding/json"
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
