package assess

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/collect"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

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
		{"stale", days(45), 0, StatusNotEvaluable, "identities.mfa.enforced, identities.roles evidence collected 45 days ago (max 30) by graph; re-run firebreak collect graph (would be fail: "},
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
