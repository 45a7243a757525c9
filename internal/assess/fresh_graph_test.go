package assess_test

// These tests use the Graph collector, which imports the store, which
// imports assess: they live in the external test package to keep the
// import graph acyclic.

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect"
	"github.com/firebreak-msp/firebreak/internal/collect/graph"
	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

var collectedAt = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func loadCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func runAt(t *testing.T, e *estate.Estate, now time.Time) map[string]assess.Result {
	t.Helper()
	en, err := assess.New(loadCatalog(t), assess.Options{Clock: func() time.Time { return now }, KEVMissing: "CISA KEV catalog (test: none)"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]assess.Result{}
	for _, r := range rep.Results {
		k := r.Subject + " " + r.Control
		if prev, ok := out[k]; ok && prev.Status == assess.StatusNotEvaluable {
			continue // keep the worst-informed result per pair for the checks below
		}
		out[k] = r
	}
	return out
}

// graphEstate collects from the fake Graph server (riverside-clinic's app
// lacks AuditLog.Read.All for registration details and Policy.Read.All;
// oakfield-school refuses the token), writes the fragment as `firebreak
// collect graph` does and loads it with a hand-written provider file.
func graphEstate(t *testing.T) *estate.Estate {
	t.Helper()
	return graphEstateOf(t, []graphtest.Tenant{
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 30},
		{ID: graphtest.TenantGUID(1), Name: "Riverside Clinic", Slug: "riverside-clinic", Users: 12,
			Forbid: map[string]string{
				"/v1.0/reports/authenticationMethods": "Authorization_RequestDenied",
				"/v1.0/identity/conditionalAccess":    "AccessDenied",
			}},
		{ID: graphtest.TenantGUID(2), Name: "Oakfield School", Slug: "oakfield-school", Users: 5,
			TokenError: "AADSTS700016: Application with identifier 'app-1' was not found in the directory 'Oakfield School'."},
	})
}

// graphEstateOf is graphEstate over the given tenants.
func graphEstateOf(t *testing.T, tenants []graphtest.Tenant) *estate.Estate {
	t.Helper()
	f := graphtest.NewServer(t, tenants)
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

// TestGraphGapsAndStaleness runs assess over a real collector fragment:
// a permission gap makes the affected MFA controls not_evaluable naming
// the permission (never fail); fresh evidence gives normal verdicts;
// the same evidence judged 34 days later is not_evaluable with its age
// (34, not more: the collected GDAP relationships end 36 days after
// collection, and an ended relationship gives no access to judge).
func TestGraphGapsAndStaleness(t *testing.T) {
	e := graphEstate(t)

	fresh := runAt(t, e, collectedAt.Add(2*time.Hour))
	// Registration details (403) feed registered methods only (FB-MFA-002);
	// enforcement rests on conditional access (403: Policy.Read.All).
	if r := fresh["riverside-clinic FB-MFA-002"]; r.Status != assess.StatusNotEvaluable || !strings.Contains(strings.Join(r.Missing, "; "), "needs permission AuditLog.Read.All") {
		t.Errorf("riverside-clinic FB-MFA-002 with a 403 on registration details: %s %q missing %q, want not_evaluable naming AuditLog.Read.All", r.Status, r.Message, r.Missing)
	}
	for _, ctl := range []string{"FB-MFA-006", "FB-MFA-007"} {
		r := fresh["riverside-clinic "+ctl]
		if r.Status != assess.StatusNotEvaluable || !strings.Contains(strings.Join(r.Missing, "; "), "needs permission Policy.Read.All") {
			t.Errorf("riverside-clinic %s: %s missing %q, want not_evaluable naming Policy.Read.All (conditional access)", ctl, r.Status, r.Missing)
		}
		if strings.Contains(strings.Join(r.Missing, "; "), "AuditLog.Read.All") {
			t.Errorf("riverside-clinic %s: missing %q, registration details do not decide enforcement", ctl, r.Missing)
		}
		r = fresh["oakfield-school "+ctl]
		if r.Status != assess.StatusNotEvaluable || !strings.Contains(r.Message, "AADSTS700016") {
			t.Errorf("oakfield-school %s with a refused token: %s %q, want not_evaluable giving the reason", ctl, r.Status, r.Message)
		}
	}
	if r := fresh["cedar-law FB-MFA-007"]; r.Status != assess.StatusPass && r.Status != assess.StatusFail {
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
		if !ok || (was.Status != assess.StatusPass && was.Status != assess.StatusFail) {
			continue
		}
		// Controls resting on the tenant's collected identities.
		if c, _ := loadCatalog(t).Control(ctl); c == nil || !slices.ContainsFunc(c.Evidence, func(s string) bool { return strings.HasPrefix(s, "identities") }) {
			continue
		}
		judged++
		r := stale[k]
		if r.Status != assess.StatusNotEvaluable || !strings.Contains(r.Message, "collected 34 days ago (max 30) by graph; re-run firebreak collect graph") {
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

// TestNoP1SecurityDefaults: a tenant without Entra ID P1 answers 403
// NonPremiumTenant to the registration-details report and to conditional
// access; security defaults are its MFA. The controls judging MFA
// enforcement get a verdict; only those needing registered methods
// (phishing-resistant) are not evaluable, naming the licence.
func TestNoP1SecurityDefaults(t *testing.T) {
	const np = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
	e := graphEstateOf(t, []graphtest.Tenant{
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 8, SecurityDefaults: true,
			Forbid: map[string]string{
				"/v1.0/reports/authenticationMethods": np,
				"/v1.0/identity/conditionalAccess":    np,
			}},
	})
	res := runAt(t, e, collectedAt.Add(2*time.Hour))
	if r := res["cedar-law FB-MFA-006"]; r.Status != assess.StatusPass {
		t.Errorf("cedar-law FB-MFA-006, no P1, security defaults on: %s %q %q, want pass", r.Status, r.Message, r.Missing)
	}
	// FB-MFA-007 also counts the MSP's foreign principal, whose MFA is
	// judged in its home tenant (unknown here): every cedar-law user is
	// enforced, and no collection gap is named.
	r := res["cedar-law FB-MFA-007"]
	if strings.Contains(r.Message, "could not be collected") {
		t.Errorf("cedar-law FB-MFA-007, no P1, security defaults on: %s %q, want no collection gap", r.Status, r.Message)
	}
	for _, ev := range r.Evidence {
		if !strings.Contains(ev.ID, "/foreign/") {
			t.Errorf("cedar-law FB-MFA-007: %s %s, want every tenant user enforced", ev.ID, ev.Detail)
		}
	}
	if r := res["cedar-law FB-MFA-002"]; r.Status != assess.StatusNotEvaluable || !strings.Contains(r.Message, "P1") {
		t.Errorf("cedar-law FB-MFA-002 without registered methods: %s %q, want not_evaluable naming the P1 licence", r.Status, r.Message)
	}
}

// TestStaleEvidence checks the staleness rule on a small in-test estate:
// TestGapVocabulary: every evidence name the graph collector records in a
// gap reaches at least one catalog control (except sign-in logs, which
// feed detect), and every name it maps to is catalog vocabulary.
func TestGapVocabulary(t *testing.T) {
	cat := loadCatalog(t)
	var vocab []string
	for _, c := range cat.Controls() {
		vocab = append(vocab, c.Evidence...)
	}
	for _, ev := range []string{graph.EvGDAP, graph.EvGDAP + ".access_assignments", graph.EvIdentities, graph.EvLastSignIn, graph.EvMFA, graph.EvMFAMethods,
		graph.EvMFAEnforced, graph.EvRoles, graph.EvSPs, graph.EvSignIns, graph.EvGroups, graph.EvDomains, graph.EvTenant} {
		needs, ok := assess.GapAffects[ev]
		if !ok {
			t.Errorf("graph gap evidence %q has no entry in gapAffects", ev)
			continue
		}
		if ev == graph.EvSignIns {
			continue
		}
		hit := false
		for _, n := range needs {
			if slices.ContainsFunc(vocab, func(v string) bool { return assess.EvidenceOverlaps(n, v) }) {
				hit = true
			} else {
				t.Errorf("assess.GapAffects[%q]: %q matches no catalog evidence", ev, n)
			}
		}
		if !hit {
			t.Errorf("graph gap evidence %q affects no control", ev)
		}
	}
}
