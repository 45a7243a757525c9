package server

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// GET /api/v1/cases groups the incidents a caller may see by attacker, with
// the CLI's derivation (detect.Cases): one source that sprayed and then
// signed in is one case over two incidents; a tenant's token never sees a
// case built from another tenant's incidents.
func TestAPICases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, in := range []store.Incident{
		{ID: "case-spray", Tenant: tenantA, Tenants: []string{tenantA}, Rule: "password_spray_source", Title: "Password spray from one source", Severity: "high",
			Key: map[string]string{"source.ip": "203.0.113.66"}},
		{ID: "case-success", Tenant: tenantA, Tenants: []string{tenantA}, Rule: "success_after_spray", Title: "Successful sign-in from a source that was password spraying", Severity: "critical",
			Key: map[string]string{"source.ip": "203.0.113.66"}},
		{ID: "case-bravo", Tenant: tenantB, Tenants: []string{tenantB}, Rule: "password_spray_source", Title: "Password spray from one source", Severity: "high",
			Key: map[string]string{"source.ip": "203.0.113.66"}},
	} {
		in.Status, in.First, in.Last, in.Count = store.StatusOpen, f.clk.now(), f.clk.now(), 5
		if _, _, err := f.st.UpsertIncident(ctx, &in); err != nil {
			t.Fatal(err)
		}
	}
	get := func(auth map[string]string) []detect.Case {
		t.Helper()
		resp, body := f.client().do("GET", "/api/v1/cases", nil, auth)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /api/v1/cases: %d %s", resp.StatusCode, body)
		}
		var doc struct {
			Cases []detect.Case `json:"cases"`
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Cases
	}
	find := func(cs []detect.Case, attacker string) *detect.Case {
		for i := range cs {
			if cs[i].Attacker == attacker {
				return &cs[i]
			}
		}
		return nil
	}
	a := get(map[string]string{"Authorization": "Bearer " + f.tokenA})
	c := find(a, "source.ip=203.0.113.66")
	if c == nil || c.Severity != "critical" || len(c.IncidentIDs) != 2 || slices.Contains(c.IncidentIDs, "case-bravo") || slices.Contains(c.Tenants, tenantB) {
		t.Errorf("tenant A's view: %+v", c)
	}
	for _, x := range a {
		if slices.Contains(x.IncidentIDs, "case-bravo") || slices.Contains(x.IncidentIDs, "inc-bravo") {
			t.Errorf("tenant A's token sees case %s built from tenant B's incidents", x.Attacker)
		}
	}
	owner := f.client()
	owner.login("analyst1")
	resp, body := owner.do("GET", "/api/v1/cases", nil, nil)
	var all struct {
		Cases []detect.Case `json:"cases"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &all) != nil {
		t.Fatalf("MSP GET /api/v1/cases: %d %s", resp.StatusCode, body)
	}
	if c := find(all.Cases, "source.ip=203.0.113.66"); c == nil || len(c.IncidentIDs) != 3 || len(c.Tenants) != 2 {
		t.Errorf("MSP view of the attacker: %+v", c)
	}
}
