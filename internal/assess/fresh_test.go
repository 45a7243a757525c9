package assess

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/collect"
	"github.com/firebreak-msp/firebreak/internal/collect/graph"
	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

var collectedAt = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

// graphEstate collects from the fake Graph server (riverside-clinic's app
// lacks AuditLog.Read.All for registration details and Policy.Read.All;
// oakfield-school refuses the token), writes the fragment as `firebreak
// collect graph` does and loads it with a hand-written provider file.
func graphEstate(t *testing.T) *estate.Estate {
	t.Helper()
	f := graphtest.NewServer(t, []graphtest.Tenant{
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 30},
		{ID: graphtest.TenantGUID(1), Name: "Riverside Clinic", Slug: "riverside-clinic", Users: 12,
			Forbid: map[string]string{
				"/v1.0/reports/authenticationMethods": "Authorization_RequestDenied",
				"/v1.0/identity/conditionalAccess":    "AccessDenied",
			}},
		{ID: graphtest.TenantGUID(2), Name: "Oakfield School", Slug: "oakfield-school", Users: 5,
			TokenError: "AADSTS700016: Application with identifier 'app-1' was not found in the directory 'Oakfield School'."},
	})
	c, err := graph.New(graph.Config{
		Credentials: graph.Credentials{ClientID: "app-1", TenantID: f.Partner, Secret: graph.Secret(f.Secret)},
		Authority:   f.Srv.URL, GraphURL: f.Srv.URL, Concurrency: 2,
		Now: func() time.Time { return collectedAt }, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := graph.Collect(context.Background(), c, graph.Options{Now: func() time.Time { return collectedAt }, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := collect.WriteFragment(dir, "graph.yaml", "graph", collectedAt, res.Fragment); err != nil {
		t.Fatal(err)
	}
	prov := "provider:\n  id: msp\n  name: Harbourview IT Services\n  domains: [harbourview-it.example]\n"
	if err := os.WriteFile(filepath.Join(dir, "provider.yaml"), []byte(prov), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func runAt(t *testing.T, e *estate.Estate, now time.Time) map[string]Result {
	t.Helper()
	en, err := New(loadCatalog(t), Options{Clock: func() time.Time { return now }, KEVMissing: "CISA KEV catalog (test: none)"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Result{}
	for _, r := range rep.Results {
		k := r.Subject + " " + r.Control
		if prev, ok := out[k]; ok && prev.Status == StatusNotEvaluable {
			continue // keep the worst-informed result per pair for the checks below
		}
		out[k] = r
	}
	return out
}

// TestGraphGapsAndStaleness runs assess over a real collector fragment:
// a permission gap makes the affected MFA controls not_evaluable naming
// the permission (never fail); fresh evidence gives normal verdicts;
// the same evidence judged 34 days later is not_evaluable with its age
// (34, not more: the collected GDAP relationships end 36 days after
// collection, and an ended relationship gives no access to judge).
func TestGraphGapsAndStaleness(t *testing.T) {
	e := graphEstate(t)

	fresh := runAt(t, e, collectedAt.Add(2*time.Hour))
	for _, ctl := range []string{"FB-MFA-006", "FB-MFA-007"} {
		r := fresh["riverside-clinic "+ctl]
		if r.Status != StatusNotEvaluable || !strings.Contains(strings.Join(r.Missing, "; "), "needs permission AuditLog.Read.All") {
			t.Errorf("riverside-clinic %s with a 403 on registration details: %s %q missing %q, want not_evaluable naming AuditLog.Read.All", ctl, r.Status, r.Message, r.Missing)
		}
		if !strings.Contains(strings.Join(r.Missing, "; "), "needs permission Policy.Read.All") {
			t.Errorf("riverside-clinic %s: missing %q, want Policy.Read.All (conditional access) named too", ctl, r.Missing)
		}
		r = fresh["oakfield-school "+ctl]
		if r.Status != StatusNotEvaluable || !strings.Contains(r.Message, "AADSTS700016") {
			t.Errorf("oakfield-school %s with a refused token: %s %q, want not_evaluable giving the reason", ctl, r.Status, r.Message)
		}
	}
	if r := fresh["cedar-law FB-MFA-007"]; r.Status != StatusPass && r.Status != StatusFail {
		t.Errorf("cedar-law FB-MFA-007 on fresh, complete evidence: %s %q %q, want a verdict", r.Status, r.Message, r.Missing)
	}
	// Gaps never leak into other tenants.
	for k, r := range fresh {
		if strings.HasPrefix(k, "cedar-law ") && strings.Contains(r.Message, "could not be collected") {
			t.Errorf("%s: %q", k, r.Message)
		}
	}

	late := collectedAt.Add(34*24*time.Hour + time.Hour)
	stale := runAt(t, e, late)
	judged := 0
	for k, was := range fresh {
		ctl, ok := strings.CutPrefix(k, "cedar-law ")
		if !ok || (was.Status != StatusPass && was.Status != StatusFail) {
			continue
		}
		// Controls resting on the tenant's collected identities.
		if c, _ := loadCatalog(t).Control(ctl); c == nil || !slices.ContainsFunc(c.Evidence, func(s string) bool { return strings.HasPrefix(s, "identities") }) {
			continue
		}
		judged++
		r := stale[k]
		if r.Status != StatusNotEvaluable || !strings.Contains(r.Message, "collected 34 days ago (max 30) by graph; re-run firebreak collect graph") {
			t.Errorf("cedar-law %s 34 days after collection: %s %q, want not_evaluable with the age", ctl, r.Status, r.Message)
		}
		if !strings.Contains(strings.Join(r.Missing, "\n"), "collected 34 days ago by graph:"+graphtest.TenantGUID(0)+")") {
			t.Errorf("cedar-law %s: missing %q, want the stale objects", ctl, r.Missing)
		}
	}
	if judged == 0 {
		t.Error("no cedar-law control on collected identities had a verdict on fresh evidence")
	}
	// Gaps still win over staleness: the permission is what to fix.
	if r := stale["riverside-clinic FB-MFA-007"]; !strings.Contains(r.Message, "could not be collected") {
		t.Errorf("riverside-clinic FB-MFA-007 stale and gapped: %q", r.Message)
	}
}

// TestStaleEvidence checks the staleness rule on a small in-test estate:
// hand-written objects are never stale; collected objects are fresh up to
// evidence_max_age_days and not_evaluable (with their age) beyond.
func TestStaleEvidence(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	build := func(p *estate.Provenance, maxAge int) *estate.Estate {
		no := estate.Bool(false)
		return &estate.Estate{
			Provider: estate.Provider{ID: "msp", Name: "MSP"},
			Tenants:  []estate.Tenant{{ID: "t1", Name: "T1"}},
			Identities: []estate.Identity{
				{ID: "t1-admin", Name: "Admin", Kind: estate.KindHuman, Home: "t1", Enabled: estate.Bool(true), Roles: []string{"Global Administrator"},
					MFA: estate.MFA{Enforced: no}, Provenance: p},
			},
			Settings: estate.Settings{EvidenceMaxAgeDays: maxAge},
		}
	}
	days := func(n int) *estate.Provenance {
		return &estate.Provenance{Source: "graph:tenant-guid", CollectedAt: now.Add(-time.Duration(n)*24*time.Hour - time.Hour)}
	}
	tests := []struct {
		name    string
		prov    *estate.Provenance
		maxAge  int
		status  Status
		message string // substring
	}{
		{"hand-written", nil, 0, StatusFail, ""},
		{"fresh", days(3), 0, StatusFail, ""},
		{"at the limit", days(30), 0, StatusFail, ""},
		{"stale", days(45), 0, StatusNotEvaluable, "identities.mfa, identities.roles evidence collected 45 days ago (max 30) by graph; re-run firebreak collect graph (would be fail: "},
		{"stale under a tighter limit", days(10), 7, StatusNotEvaluable, "collected 10 days ago (max 7) by graph"},
		{"csv import", &estate.Provenance{Source: "csv:identities.csv", CollectedAt: now.AddDate(0, 0, -60)}, 0, StatusNotEvaluable, "by csv; refresh it from csv:identities.csv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runAt(t, build(tc.prov, tc.maxAge), now)["t1 FB-MFA-006"]
			if got.Status != tc.status || !strings.Contains(got.Message, tc.message) {
				t.Fatalf("FB-MFA-006: %s %q, want %s containing %q", got.Status, got.Message, tc.status, tc.message)
			}
			if tc.status == StatusNotEvaluable {
				_, age := collect.Stale(tc.prov, now, 1)
				if diff := cmp.Diff(got.Missing[:1], []string{"fresh evidence for identity t1-admin (collected " + itoa(age) + " days ago by " + tc.prov.Source + ")"}); diff != "" {
					t.Errorf("missing (-got +want):\n%s", diff)
				}
			}
		})
	}
}

// TestGapVocabulary: every evidence name the graph collector records in a
// gap reaches at least one catalog control (except sign-in logs, which
// feed detect), and every name it maps to is catalog vocabulary.
func TestGapVocabulary(t *testing.T) {
	cat := loadCatalog(t)
	var vocab []string
	for _, c := range cat.Controls() {
		vocab = append(vocab, c.Evidence...)
	}
	for _, ev := range []string{graph.EvGDAP, graph.EvGDAP + ".access_assignments", graph.EvIdentities, graph.EvLastSignIn, graph.EvMFA,
		graph.EvMFAEnforced, graph.EvRoles, graph.EvSPs, graph.EvSignIns, graph.EvGroups, graph.EvDomains, graph.EvTenant} {
		needs, ok := gapAffects[ev]
		if !ok {
			t.Errorf("graph gap evidence %q has no entry in gapAffects", ev)
			continue
		}
		if ev == graph.EvSignIns {
			continue
		}
		hit := false
		for _, n := range needs {
			if slices.ContainsFunc(vocab, func(v string) bool { return evidenceOverlaps(n, v) }) {
				hit = true
			} else {
				t.Errorf("gapAffects[%q]: %q matches no catalog evidence", ev, n)
			}
		}
		if !hit {
			t.Errorf("graph gap evidence %q affects no control", ev)
		}
	}
}

// BenchmarkStaleness measures the freshness check on a generated estate of
// 200 tenants whose every identity, tool, grant and asset was collected
// 45 days before the run (so every control on them is re-judged stale),
// against the same estate written by hand (sub-benchmark "hand").
func BenchmarkStaleness(b *testing.B) {
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	cat := loadCatalog(b)
	for _, collected := range []bool{false, true} {
		name := "hand"
		e := estate.Generate(estate.GenOptions{Tenants: 200, Identities: 10_000, Grants: 20_000, Assets: 20_000, Seed: 1, Now: now})
		if collected {
			name = "collected-stale"
			p := &estate.Provenance{Source: "graph:bench", CollectedAt: now.AddDate(0, 0, -45)}
			for i := range e.Identities {
				e.Identities[i].Provenance = p
			}
			for i := range e.Tools {
				e.Tools[i].Provenance = p
			}
			for i := range e.Grants {
				e.Grants[i].Provenance = p
			}
			for i := range e.Assets {
				e.Assets[i].Provenance = p
			}
		}
		b.Run(name, func(b *testing.B) {
			en, err := New(cat, Options{Clock: func() time.Time { return now }, KEVMissing: "none"})
			if err != nil {
				b.Fatal(err)
			}
			var rep *Report
			for b.Loop() {
				if rep, err = en.Run(context.Background(), e); err != nil {
					b.Fatal(err)
				}
			}
			ne := 0
			for _, r := range rep.Results {
				if r.Status == StatusNotEvaluable {
					ne++
				}
			}
			b.ReportMetric(float64(ne), "not-evaluable")
			b.ReportMetric(rep.Timing.Evaluate.Seconds(), "eval-s")
		})
	}
}

// TestGapsReachControls: each gap makes the affected controls of its
// tenant not_evaluable naming the permission, partner-tenant gaps reach
// every tenant's access controls, and unrelated controls keep their verdict.
func TestGapsReachControls(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	base := func(gaps ...estate.Gap) *estate.Estate {
		return &estate.Estate{
			Provider: estate.Provider{ID: "msp", Name: "MSP"},
			Tenants:  []estate.Tenant{{ID: "t1", Name: "T1"}, {ID: "t2", Name: "T2"}},
			Identities: []estate.Identity{
				{ID: "t1-user", Kind: estate.KindHuman, Home: "t1", Enabled: estate.Bool(true), MFA: estate.MFA{Enforced: estate.Bool(false)}},
				{ID: "t1-admin", Kind: estate.KindHuman, Home: "t1", Enabled: estate.Bool(true), Roles: []string{"Global Administrator"}, MFA: estate.MFA{Enforced: estate.Bool(false)}},
			},
			CollectionGap: gaps,
		}
	}
	gap := func(tenant, ev, perm string) estate.Gap {
		return estate.Gap{Tenant: tenant, Evidence: ev, Permission: perm, Reason: "HTTP 403 Authorization_RequestDenied"}
	}
	tests := []struct {
		name    string
		gap     estate.Gap
		key     string // subject + control
		status  Status
		missing string
	}{
		{"no gap", estate.Gap{}, "t1 FB-MFA-007", StatusFail, ""},
		{"mfa registration 403", gap("t1", "identities.mfa", "AuditLog.Read.All"), "t1 FB-MFA-007", StatusNotEvaluable, "identities.mfa (needs permission AuditLog.Read.All): HTTP 403"},
		{"conditional access 403", gap("t1", "identities.mfa.enforced", "Policy.Read.All"), "t1 FB-MFA-006", StatusNotEvaluable, "needs permission Policy.Read.All"},
		{"other tenant untouched", gap("t2", "identities.mfa", "AuditLog.Read.All"), "t1 FB-MFA-007", StatusFail, ""},
		{"refused token", gap("t1", "tenant", ""), "t1 FB-MFA-006", StatusNotEvaluable, "tenant: HTTP 403"},
		{"sign-in activity", gap("t1", "identities.last_sign_in", "AuditLog.Read.All"), "t1 FB-ACC-001", StatusNotEvaluable, "needs permission AuditLog.Read.All"},
		{"partner GDAP 403 reaches tenants", gap("msp", "gdap", "DelegatedAdminRelationship.Read.All"), "t1 FB-PRIV-002", StatusNotEvaluable, "needs permission DelegatedAdminRelationship.Read.All"},
		{"partner access assignments", gap("msp", "gdap.access_assignments", "DelegatedAdminRelationship.Read.All"), "t2 FB-PRIV-001", StatusNotEvaluable, "gdap.access_assignments (needs permission"},
		{"partner gap spares tenant-only controls", gap("msp", "identities.mfa", "AuditLog.Read.All"), "t1 FB-MFA-007", StatusFail, ""},
		{"sign-in logs feed detect only", gap("t1", "signins", "AuditLog.Read.All"), "t1 FB-MFA-007", StatusFail, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gaps []estate.Gap
			if tc.gap.Evidence != "" {
				gaps = append(gaps, tc.gap)
			}
			got := runAt(t, base(gaps...), now)[tc.key]
			if got.Status != tc.status || !strings.Contains(strings.Join(got.Missing, "; "), tc.missing) {
				t.Fatalf("%s: %s %q missing %q, want %s with %q", tc.key, got.Status, got.Message, got.Missing, tc.status, tc.missing)
			}
		})
	}
}
