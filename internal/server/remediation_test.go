package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// The remediation queue on the dashboard: a handler sets owner (one of
// the handlers only), due date and state; the CSV export defuses formulas
// and a tenant viewer's export and tenant page show only the steps that
// make its tenant safer.
func TestRemediationQueue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	steps := []store.Remediation{
		{Key: "k1", Rank: 1, Action: "=HYPERLINK(\"http://evil\")", Tenants: []string{tenantA, tenantB}, Gain: 12, Proof: "tech-01 → rmm → " + tenantA, Controls: []string{"FB-PRIV-001"}},
		{Key: "k2", Rank: 2, Action: "Require MFA on the vault", Tenants: []string{tenantB}, Gain: 3, Proof: "vault → " + tenantB},
	}
	if err := f.st.SyncRemediation(ctx, 1, steps, f.clk.now()); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.login("analyst1")
	if resp, body := a.form("/remediation/k1", url.Values{"owner": {"viewer-a"}, "state": {"open"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("owner outside the handlers: %d %.200s", resp.StatusCode, body)
	}
	if resp, body := a.form("/remediation/k1", url.Values{"owner": {"analyst1"}, "due": {"2026-12-31"}, "state": {"in_progress"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update step: %d %.200s", resp.StatusCode, body)
	}
	q, err := f.st.ListRemediation(ctx, store.AllTenants(), store.RemediationFilter{})
	if err != nil || len(q) != 2 || q[0].Owner != "analyst1" || q[0].State != store.RemediationInProgress || !q[0].Due.Equal(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("queue after update: %+v %v", q, err)
	}
	_, csv := a.do("GET", "/remediation.csv", nil, nil)
	if !strings.Contains(csv, `'=HYPERLINK`) || !strings.Contains(csv, "analyst1,2026-12-31,in_progress") || !strings.Contains(csv, "Require MFA on the vault") {
		t.Errorf("CSV export:\n%s", csv)
	}
	v := f.client()
	v.login("viewer-a")
	_, vcsv := v.do("GET", "/remediation.csv", nil, nil)
	if strings.Contains(vcsv, "vault") || strings.Contains(vcsv, tenantB) || !strings.Contains(vcsv, tenantA) {
		t.Errorf("tenant viewer's CSV names another tenant's step:\n%s", vcsv)
	}
	if resp, _ := v.form("/remediation/k1", url.Values{"state": {"done"}}); resp.StatusCode == http.StatusSeeOther {
		t.Errorf("a viewer changed a step")
	}
	_, tp := a.do("GET", "/tenants/"+tenantA, nil, nil)
	if !strings.Contains(tp, "Remediation steps that make this tenant safer") || strings.Contains(tp, "Require MFA on the vault") {
		t.Errorf("tenant page queue: want step 1 only")
	}
}
