package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
)

func testSnapshots(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	if _, err := s.GetSnapshot(ctx, all, 0); !isNotFound(err) {
		t.Fatalf("empty store: GetSnapshot = %v, want ErrNotFound", err)
	}
	tenants, err := s.ListTenants(ctx, all)
	must(t, err)
	if len(tenants) != 0 {
		t.Fatalf("empty store tenants = %v", tenants)
	}
	e1 := Estate()
	m1, created, err := s.PutSnapshot(ctx, e1, "test")
	must(t, err)
	if !created || m1.ID == 0 || len(m1.Hash) != 64 || m1.Tenants != 2 {
		t.Fatalf("first put: %+v created=%v", m1, created)
	}
	// Same content with moved positions: not a new snapshot.
	e1b := Estate()
	e1b.Tenants[0].Pos.Line = 99
	m1b, created, err := s.PutSnapshot(ctx, e1b, "test again")
	must(t, err)
	if created || m1b.ID != m1.ID {
		t.Fatalf("identical estate made a new snapshot: %+v", m1b)
	}
	got, err := s.GetSnapshot(ctx, all, m1.ID)
	must(t, err)
	if diff := cmp.Diff(e1, got.Estate); diff != "" {
		t.Errorf("snapshot round trip (-want +got):\n%s", diff)
	}
	// Change: bravo-admin gets MFA, alpha-dc removed, a new alpha identity.
	e2 := Estate()
	e2.Identities[2].MFA.Enforced = estate.Bool(true)
	e2.Assets = e2.Assets[1:]
	e2.Identities = append(e2.Identities, estate.Identity{ID: "alpha-svc", Kind: estate.KindService, Home: Alpha})
	m2, created, err := s.PutSnapshot(ctx, e2, "test")
	must(t, err)
	if !created || m2.ID <= m1.ID || m2.Hash == m1.Hash {
		t.Fatalf("changed estate: %+v created=%v", m2, created)
	}
	d, err := s.DiffSnapshots(ctx, all, m1.ID, m2.ID)
	must(t, err)
	type ch struct{ Kind, ID, Tenant, Change string }
	var gotCh []ch
	for _, c := range d.Changes {
		gotCh = append(gotCh, ch{c.Kind, c.ID, c.Tenant, c.Change})
	}
	want := []ch{
		{"assets", "alpha-dc", Alpha, store.ChangeRemoved},
		{"identities", "alpha-svc", Alpha, store.ChangeAdded},
		{"identities", "bravo-admin", Bravo, store.ChangeChanged},
	}
	if diff := cmp.Diff(want, gotCh); diff != "" {
		t.Errorf("diff (-want +got):\n%s", diff)
	}
	d, err = s.DiffSnapshots(ctx, store.TenantScope(Alpha), m1.ID, m2.ID)
	must(t, err)
	if len(d.Changes) != 2 {
		t.Errorf("alpha diff = %+v, want 2 changes", d.Changes)
	}
	leak(t, "DiffSnapshots", d)
	snaps, err := s.ListSnapshots(ctx, 0)
	must(t, err)
	if len(snaps) != 2 || snaps[0].ID != m2.ID {
		t.Errorf("ListSnapshots = %+v", snaps)
	}
	latest, err := s.GetSnapshot(ctx, all, 0)
	must(t, err)
	if latest.ID != m2.ID {
		t.Errorf("latest = %d, want %d", latest.ID, m2.ID)
	}
	tenants, err = s.ListTenants(ctx, all)
	must(t, err)
	if diff := cmp.Diff([]store.Tenant{
		{ID: Alpha, Name: "Alpha Dental", Criticality: "high", Sector: "health", Endpoints: 12},
		{ID: Bravo, Name: "Bravo Law", Criticality: "low", Endpoints: 40},
	}, tenants); diff != "" {
		t.Errorf("ListTenants (-want +got):\n%s", diff)
	}
	alpha, err := s.GetSnapshot(ctx, store.TenantScope(Alpha), 0)
	must(t, err)
	var ids []string
	for _, o := range store.EstateObjects(alpha.Estate) {
		ids = append(ids, o.Kind+"/"+o.ID)
	}
	wantIDs := []string{"grants/g-rmm-alpha", "identities/alpha-admin", "identities/alpha-svc", "provider/msp", "settings/settings", "tenants/" + Alpha, "tools/gdap-alpha"}
	if diff := cmp.Diff(wantIDs, ids); diff != "" {
		t.Errorf("alpha's view of the estate (-want +got):\n%s", diff)
	}
	if _, err := s.GetSnapshot(ctx, store.Scope{}, 0); !isNotFound(err) {
		t.Errorf("zero scope GetSnapshot = %v, want ErrNotFound", err)
	}
	if _, err := s.GetSnapshot(ctx, all, 999); !isNotFound(err) {
		t.Errorf("GetSnapshot(999) = %v, want ErrNotFound", err)
	}
}

func testRuns(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	if _, _, err := s.GetRun(ctx, all, 0); !isNotFound(err) {
		t.Fatalf("GetRun on empty store = %v, want ErrNotFound", err)
	}
	r1, err := s.SaveRun(ctx, 0, "schedule", Report("2026-03-01T09:00:00Z", false))
	must(t, err)
	r2, err := s.SaveRun(ctx, 0, "manual", Report("2026-03-02T09:00:00Z", true))
	must(t, err)
	if r2.ID <= r1.ID || r2.Fail != 3 || r2.Pass != 1 || r2.Other != 1 {
		t.Fatalf("runs: %+v %+v", r1, r2)
	}
	runs, err := s.ListRuns(ctx, all, 0)
	must(t, err)
	if len(runs) != 2 || runs[0].ID != r2.ID || runs[0].Trigger != "manual" || len(runs[0].Scores) != 3 || !runs[0].At.Equal(mustTime("2026-03-02T09:00:00Z")) {
		t.Fatalf("ListRuns = %+v", runs)
	}
	// The KEV catalog version judged by goes with the run (issue 15: the
	// dashboard's report said "KEV: none").
	if want := Report("2026-03-02T09:00:00Z", true).KEV; runs[0].KEV != want || r2.KEV != want {
		t.Errorf("ListRuns KEV = %q, SaveRun KEV = %q, want %q", runs[0].KEV, r2.KEV, want)
	}
	ar, err := s.ListRuns(ctx, store.TenantScope(Alpha), 0)
	must(t, err)
	if len(ar) != 2 || len(ar[0].Scores) != 1 || ar[0].Scores[0].Subject != Alpha || ar[0].Pass != 1 || ar[0].Other != 1 {
		t.Fatalf("alpha ListRuns = %+v", ar)
	}
	leak(t, "ListRuns", ar)

	run, rep, err := s.GetRun(ctx, all, 0)
	must(t, err)
	want := Report("2026-03-02T09:00:00Z", true)
	if run.ID != r2.ID {
		t.Fatalf("latest run %d, want %d", run.ID, r2.ID)
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report round trip (-want +got):\n%s", diff)
	}
	_, arep, err := s.GetRun(ctx, store.TenantScope(Alpha), r2.ID)
	must(t, err)
	if len(arep.Results) != 2 || len(arep.Scores) != 1 {
		t.Errorf("alpha report: %d results, %d scores", len(arep.Results), len(arep.Scores))
	}
	leak(t, "GetRun", arep)

	for _, tc := range []struct {
		name string
		f    store.ResultFilter
		want int
	}{
		{"all", store.ResultFilter{}, 5},
		{"first_run", store.ResultFilter{RunID: r1.ID, Status: assess.StatusFail}, 2},
		{"failing", store.ResultFilter{Status: assess.StatusFail}, 3},
		{"control", store.ResultFilter{Control: "logging"}, 2},
		{"subject", store.ResultFilter{Subject: Bravo}, 2},
		{"severity", store.ResultFilter{Severity: "critical"}, 1},
		{"page", store.ResultFilter{Limit: 2, Offset: 4}, 1},
		{"brief", store.ResultFilter{Brief: true, Status: assess.StatusFail}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Results(ctx, all, tc.f)
			must(t, err)
			if len(got) != tc.want {
				t.Errorf("Results(%+v) = %d results, want %d", tc.f, len(got), tc.want)
			}
		})
	}
	brief, err := s.Results(ctx, all, store.ResultFilter{Brief: true, Subject: Bravo, Control: "mfa-tenant"})
	must(t, err)
	wantBrief := []assess.Result{{Control: "mfa-tenant", Title: "MFA in tenant", Heading: 3, Severity: "high", Subject: Bravo, Status: assess.StatusFail, Message: "bravo-admin has no MFA"}}
	if diff := cmp.Diff(wantBrief, brief); diff != "" {
		t.Errorf("brief results (-want +got):\n%s", diff)
	}
	ares, err := s.Results(ctx, store.TenantScope(Alpha), store.ResultFilter{Subject: Bravo})
	must(t, err)
	if len(ares) != 0 {
		t.Errorf("alpha asking for bravo's results got %d", len(ares))
	}

	hist, err := s.ScoreHistory(ctx, all, Alpha, 0)
	must(t, err)
	if len(hist) != 2 || hist[0].Score.Score != 100 || hist[1].Score.Score != 40 || hist[0].RunID != r1.ID {
		t.Errorf("ScoreHistory = %+v", hist)
	}
	hist, err = s.ScoreHistory(ctx, store.TenantScope(Alpha), Bravo, 0)
	must(t, err)
	if len(hist) != 0 {
		t.Errorf("alpha read bravo's score history: %+v", hist)
	}
	hist, err = s.ScoreHistory(ctx, store.TenantScope(Alpha), "msp", 0)
	must(t, err)
	if len(hist) != 0 {
		t.Errorf("alpha read the MSP's score history: %+v", hist)
	}

	changes, err := s.DiffRuns(ctx, all, r1.ID, r2.ID)
	must(t, err)
	wantCh := []store.ResultChange{{Control: "mfa-tenant", Title: "MFA in tenant", Severity: "high", Subject: Alpha, From: assess.StatusPass, To: assess.StatusFail}}
	if diff := cmp.Diff(wantCh, changes); diff != "" {
		t.Errorf("DiffRuns (-want +got):\n%s", diff)
	}
	if !changes[0].Drift() {
		t.Error("pass→fail is not reported as drift")
	}
	changes, err = s.DiffRuns(ctx, store.TenantScope(Bravo), r1.ID, r2.ID)
	must(t, err)
	if len(changes) != 0 {
		t.Errorf("bravo sees alpha's drift: %+v", changes)
	}
	if _, err := s.DiffRuns(ctx, all, r1.ID, 999); !isNotFound(err) {
		t.Errorf("DiffRuns with unknown run = %v", err)
	}
}

func testBlast(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	if _, err := s.GetBlast(ctx, store.AllTenants(), 0); !isNotFound(err) {
		t.Fatalf("GetBlast on empty store = %v", err)
	}
	b := &store.BlastResult{RunID: 1, JSON: []byte(`{"entry_points":["rmm"],"tenants":["tenant-alpha","tenant-bravo"]}`), Ranking: []store.BlastRank{
		{Node: "rmm", Kind: "tool", Name: "RMM", Score: 8, TenantCount: 2, Tenants: []string{Alpha, Bravo}, Privilege: "full_control"},
		{Node: "bravo-admin", Kind: "identity", Score: 1, TenantCount: 1, Tenants: []string{Bravo}, Privilege: "admin"},
	}}
	must(t, s.SaveBlast(ctx, b))
	if b.ID == 0 || b.Created.IsZero() {
		t.Fatalf("SaveBlast did not set id/created: %+v", b)
	}
	got, err := s.GetBlast(ctx, store.AllTenants(), 0)
	must(t, err)
	if diff := cmp.Diff(b.Ranking, got.Ranking); diff != "" {
		t.Errorf("ranking (-want +got):\n%s", diff)
	}
	if string(got.JSON) != string(b.JSON) {
		t.Errorf("JSON = %s", got.JSON)
	}
	a, err := s.GetBlast(ctx, store.TenantScope(Alpha), b.ID)
	must(t, err)
	if a.JSON != nil || len(a.Ranking) != 1 || a.Ranking[0].Node != "rmm" || len(a.Ranking[0].Tenants) != 1 {
		t.Errorf("alpha's blast view = %+v", a)
	}
	leak(t, "GetBlast", a)
}

func isNotFound(err error) bool { return err != nil && errorsIs(err, store.ErrNotFound) }
