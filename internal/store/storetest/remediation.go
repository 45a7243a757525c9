package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// testRemediation: the queue keeps owner, due and state across plans,
// closes a step the next plan no longer lists once its controls pass
// (keeps it while they still fail), reopens one that returns,
// and shows a tenant only the steps that make it safer.
func testRemediation(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	step := func(key string, rank int, tenants ...string) store.Remediation {
		return store.Remediation{Key: key, Rank: rank, Action: "cut " + key, Tenants: tenants, Gain: 10 * rank, Proof: "a → b", Controls: []string{"FB-PRIV-001"}}
	}
	if err := s.SyncRemediation(ctx, 1, []store.Remediation{step("rmm", 1, Alpha, Bravo), step("vault", 2, Bravo)}, nil, T0); err != nil {
		t.Fatal(err)
	}
	due := T0.Add(14 * 24 * time.Hour)
	if _, err := s.UpdateRemediation(ctx, all, "rmm", "alice", due, store.RemediationInProgress); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateRemediation(ctx, store.TenantScope(Alpha), "rmm", "mallory", time.Time{}, store.RemediationDone); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("tenant scope updating a step: %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateRemediation(ctx, all, "rmm", "alice", due, "later"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown state: %v, want ErrInvalid", err)
	}
	// Run 2: vault's path is cut (absent), rmm re-ranked; owner, due, state kept.
	at2 := T0.Add(24 * time.Hour)
	if err := s.SyncRemediation(ctx, 2, []store.Remediation{step("rmm", 3, Alpha, Bravo)}, nil, at2); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListRemediation(ctx, all, store.RemediationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Key, Owner, State string
		Rank              int
		Due, DoneAt       time.Time
		RunID             int64
	}
	var rows []row
	for _, r := range got {
		rows = append(rows, row{r.Key, r.Owner, r.State, r.Rank, r.Due, r.DoneAt, r.RunID})
	}
	want := []row{
		{"rmm", "alice", store.RemediationInProgress, 3, due, time.Time{}, 2},
		{"vault", "", store.RemediationDone, 2, time.Time{}, at2, 1},
	}
	if diff := cmp.Diff(rows, want); diff != "" {
		t.Errorf("queue after run 2 (-got +want):\n%s", diff)
	}
	if open, _ := s.ListRemediation(ctx, all, store.RemediationFilter{Open: true}); len(open) != 1 || open[0].Key != "rmm" {
		t.Errorf("open steps: %+v", open)
	}
	// Tenant scope: only steps reaching it, naming no other tenant.
	a, err := s.ListRemediation(ctx, store.TenantScope(Alpha), store.RemediationFilter{})
	if err != nil || len(a) != 1 || a[0].Key != "rmm" || !cmp.Equal(a[0].Tenants, []string{Alpha}) {
		t.Errorf("alpha's queue: %+v %v", a, err)
	}
	// Run 3: vault's path is back: reopened.
	if err := s.SyncRemediation(ctx, 3, []store.Remediation{step("rmm", 1, Alpha, Bravo), step("vault", 2, Bravo)}, nil, T0.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ListRemediation(ctx, all, store.RemediationFilter{Open: true})
	if len(got) != 2 || got[1].Key != "vault" || got[1].State != store.RemediationOpen || !got[1].DoneAt.IsZero() {
		t.Errorf("after run 3: %+v", got)
	}
	// Run 4: the plan drops both, but rmm's control still fails: rmm
	// stays as it was (in progress, its controls narrowed to the failing one), vault
	// is done.
	at4 := T0.Add(72 * time.Hour)
	if err := s.SyncRemediation(ctx, 4, nil, map[string][]string{"rmm": {"FB-PRIV-001"}}, at4); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ListRemediation(ctx, all, store.RemediationFilter{})
	if len(got) != 2 || got[0].Key != "rmm" || got[0].State != store.RemediationInProgress || got[0].RunID != 3 || !got[0].DoneAt.IsZero() ||
		got[1].Key != "vault" || got[1].State != store.RemediationDone || !got[1].DoneAt.Equal(at4) {
		t.Errorf("after run 4: %+v", got)
	}
	// Run 5: rmm's control passes: done.
	at5 := T0.Add(96 * time.Hour)
	if err := s.SyncRemediation(ctx, 5, nil, nil, at5); err != nil {
		t.Fatal(err)
	}
	if open, _ := s.ListRemediation(ctx, all, store.RemediationFilter{Open: true}); len(open) != 0 {
		t.Errorf("after run 5, open: %+v", open)
	}
	if none, _ := s.ListRemediation(ctx, store.Scope{}, store.RemediationFilter{}); len(none) != 0 {
		t.Errorf("zero scope sees %d steps", len(none))
	}
}
