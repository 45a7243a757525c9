package storetest

import (
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// testIsolation fills every kind of tenant-owned data for alpha and bravo,
// then calls every scoped read as alpha and asserts nothing of bravo comes
// back.
func testIsolation(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	alpha := store.TenantScope(Alpha)
	snap, _, err := s.PutSnapshot(ctx, Estate(), "test")
	must(t, err)
	e2 := Estate()
	e2.Identities = append(e2.Identities, Estate().Identities[2])
	e2.Identities[3].ID = "bravo-new"
	snap2, _, err := s.PutSnapshot(ctx, e2, "test")
	must(t, err)
	r1, err := s.SaveRun(ctx, snap.ID, "t", Report("2026-03-01T09:00:00Z", false))
	must(t, err)
	r2, err := s.SaveRun(ctx, snap2.ID, "t", Report("2026-03-02T09:00:00Z", true))
	must(t, err)
	must(t, s.SaveBlast(ctx, &store.BlastResult{JSON: []byte(`{"x":"tenant-bravo"}`), Ranking: []store.BlastRank{
		{Node: "rmm", Tenants: []string{Alpha, Bravo}, TenantCount: 2}, {Node: "bravo-admin", Tenants: []string{Bravo}, TenantCount: 1}}}))
	must(t, s.AppendEvents(ctx, []store.EventRecord{
		Event(Alpha, "alice", "192.0.2.1", T0, "failure"), Event(Bravo, "bravo-bob", "192.0.2.1", T0, "failure")}))
	for _, inc := range []*store.Incident{
		{ID: "i1", Tenant: Bravo, Tenants: []string{Bravo}, Rule: "r", Title: "bravo only", Last: T0},
		{ID: "i2", Tenant: "msp", Tenants: []string{Alpha, Bravo}, Rule: "r", Title: "cross", Last: T0, Detail: []byte(`{"t":"tenant-bravo"}`)},
		{ID: "i3", Tenant: Alpha, Rule: "r", Title: "alpha only", Last: T0},
	} {
		_, _, err := s.UpsertIncident(ctx, inc)
		must(t, err)
	}
	must(t, s.CreateUser(ctx, &store.User{Username: "bravo-viewer", Role: store.RoleTenantViewer, Tenant: Bravo}))
	must(t, s.CreateAPIToken(ctx, "raw-bravo", &store.APIToken{ID: "bravo-token", Tenant: Bravo}))
	must(t, s.PutNotifyTarget(ctx, all, &store.NotifyTarget{ID: "bravo-hook", Kind: store.TargetWebhook, Tenant: Bravo}))
	must(t, s.AppendAudit(ctx, &store.AuditEntry{Actor: "x", Action: "user.create", Target: "bravo-viewer", Tenant: Bravo}))
	must(t, s.AppendAudit(ctx, &store.AuditEntry{Actor: "x", Action: "user.create", Target: "a", Tenant: Alpha}))

	check := func(what string, v any, err error) {
		t.Helper()
		must(t, err)
		leak(t, what, v)
	}
	sn, err := s.GetSnapshot(ctx, alpha, 0)
	check("GetSnapshot", sn, err)
	d, err := s.DiffSnapshots(ctx, alpha, snap.ID, snap2.ID)
	check("DiffSnapshots", d, err)
	ten, err := s.ListTenants(ctx, alpha)
	check("ListTenants", ten, err)
	if len(ten) != 1 {
		t.Errorf("alpha sees %d tenants", len(ten))
	}
	runs, err := s.ListRuns(ctx, alpha, 0)
	check("ListRuns", runs, err)
	_, rep, err := s.GetRun(ctx, alpha, 0)
	check("GetRun", rep, err)
	res, err := s.Results(ctx, alpha, store.ResultFilter{})
	check("Results", res, err)
	res, err = s.Results(ctx, alpha, store.ResultFilter{Subject: Bravo})
	check("Results(bravo)", res, err)
	h, err := s.ScoreHistory(ctx, alpha, Bravo, 0)
	check("ScoreHistory", h, err)
	ch, err := s.DiffRuns(ctx, alpha, r1.ID, r2.ID)
	check("DiffRuns", ch, err)
	b, err := s.GetBlast(ctx, alpha, 0)
	check("GetBlast", b, err)
	ev, err := s.SearchEvents(ctx, alpha, store.EventQuery{})
	check("SearchEvents", ev, err)
	ev, err = s.SearchEvents(ctx, alpha, store.EventQuery{Tenant: Bravo})
	check("SearchEvents(bravo)", ev, err)
	ev, err = s.SearchEvents(ctx, alpha, store.EventQuery{User: "bravo-bob"})
	check("SearchEvents(bravo user)", ev, err)
	if n, _ := s.CountEvents(ctx, alpha, store.EventQuery{}); n != 1 {
		t.Errorf("alpha counts %d events", n)
	}
	incs, err := s.ListIncidents(ctx, alpha, store.IncidentFilter{})
	check("ListIncidents", incs, err)
	if len(incs) != 2 {
		t.Errorf("alpha sees %d incidents, want 2", len(incs))
	}
	for _, id := range []string{"i2", "i3"} {
		inc, err := s.GetIncident(ctx, alpha, id)
		check("GetIncident", inc, err)
	}
	if _, err := s.GetIncident(ctx, alpha, "i1"); !isNotFound(err) {
		t.Errorf("alpha GetIncident(i1) = %v", err)
	}
	users, err := s.ListUsers(ctx, alpha)
	check("ListUsers", users, err)
	toks, err := s.ListAPITokens(ctx, alpha)
	check("ListAPITokens", toks, err)
	tg, err := s.ListNotifyTargets(ctx, alpha)
	check("ListNotifyTargets", tg, err)
	if _, err := s.GetNotifyTarget(ctx, alpha, "bravo-hook"); !isNotFound(err) {
		t.Errorf("alpha GetNotifyTarget(bravo-hook) = %v", err)
	}
	au, err := s.ListAudit(ctx, alpha, store.AuditFilter{})
	check("ListAudit", au, err)
	if len(au) != 1 {
		t.Errorf("alpha sees %d audit entries", len(au))
	}
	// The zero scope sees nothing at all.
	zero := store.Scope{}
	evs, _ := s.SearchEvents(ctx, zero, store.EventQuery{})
	incs, _ = s.ListIncidents(ctx, zero, store.IncidentFilter{})
	res, _ = s.Results(ctx, zero, store.ResultFilter{})
	ten, _ = s.ListTenants(ctx, zero)
	users, _ = s.ListUsers(ctx, zero)
	if len(evs)+len(incs)+len(res)+len(ten)+len(users) != 0 {
		t.Errorf("zero scope saw data: %d events %d incidents %d results %d tenants %d users", len(evs), len(incs), len(res), len(ten), len(users))
	}
	_ = time.Second
}
