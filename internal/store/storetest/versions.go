package storetest

import (
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// IncidentVersions checks that every write of an incident increases its
// Updated, which pages use as the incident's version (a cache of its
// decoded detail is current while Updated is the same), on a store whose
// clock (store.Options.Now) does not move. IDs lists only those
// incidents.
func IncidentVersions(t *testing.T, s store.Store) {
	ctx := Ctx(t)
	all := store.AllTenants()
	inc := &store.Incident{ID: "inc-v", Tenant: Alpha, Tenants: []string{Alpha}, Rule: "brute-force", Title: "Brute force", Severity: "medium",
		First: T0, Last: T0, Count: 1, Level: 1, Detail: []byte(`{"pattern":"pending"}`)}
	var last time.Time
	step := func(what string, got *store.Incident, err error) {
		t.Helper()
		must(t, err)
		if !got.Updated.After(last) {
			t.Errorf("%s: updated %v, not after the previous write's %v", what, got.Updated, last)
		}
		if l, err := s.ListIncidents(ctx, all, store.IncidentFilter{IDs: []string{inc.ID}, Brief: true}); err != nil || len(l) != 1 || !l[0].Updated.Equal(got.Updated) {
			t.Errorf("%s: brief listing %+v (%v), want updated %v", what, l, err, got.Updated)
		}
		last = got.Updated
	}
	got, _, err := s.UpsertIncident(ctx, inc)
	step("created", got, err)
	inc.Detail, inc.Count = []byte(`{"pattern":"spray"}`), 2
	got, _, err = s.UpsertIncident(ctx, inc)
	step("detail changed", got, err)
	got, _, err = s.UpsertIncident(ctx, inc)
	step("written again", got, err)
	got, err = s.SetIncidentStatus(ctx, all, inc.ID, store.StatusAcknowledged, "alice")
	step("acknowledged", got, err)
	got, err = s.AssignIncident(ctx, all, inc.ID, "bob")
	step("assigned", got, err)
	got, err = s.AddIncidentNote(ctx, all, inc.ID, store.Note{Author: "bob", Text: "looked"})
	step("noted", got, err)
	inc.Detail = []byte(`{"pattern":"self-recovering"}`)
	got, _, err = s.UpsertIncident(ctx, inc)
	step("detail changed after the workflow", got, err)
	if string(got.Detail) != `{"pattern":"self-recovering"}` {
		t.Errorf("detail %s", got.Detail)
	}

	other := &store.Incident{ID: "inc-w", Tenant: Bravo, Tenants: []string{Bravo}, Rule: "brute-force", Title: "Brute force", Severity: "low", First: T0, Last: T0, Count: 1, Level: 1}
	_, _, err = s.UpsertIncident(ctx, other)
	must(t, err)
	for _, tc := range []struct {
		ids  []string
		want int
	}{{nil, 2}, {[]string{"inc-w"}, 1}, {[]string{"inc-v", "inc-w", "nope"}, 2}, {[]string{"nope"}, 0}} {
		l, err := s.ListIncidents(ctx, all, store.IncidentFilter{IDs: tc.ids})
		must(t, err)
		if len(l) != tc.want {
			t.Errorf("IDs %v: %d incidents, want %d", tc.ids, len(l), tc.want)
		}
	}
	if l, err := s.ListIncidents(ctx, store.TenantScope(Alpha), store.IncidentFilter{IDs: []string{"inc-w"}}); err != nil || len(l) != 0 {
		t.Errorf("alpha lists bravo's incident by id: %+v (%v)", l, err)
	}
}
