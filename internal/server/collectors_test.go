package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

func TestCollectorRows(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	runs := []connector.TenantRun{
		{Tenant: "acme", Finished: now.Add(-2 * time.Hour), Counts: map[string]int{"users": 500, "mfa_enrolled": 480}},
		{Tenant: "beta", Finished: now.AddDate(0, 0, -40)},
		{Tenant: "gamma", Finished: now.Add(-time.Hour), Errors: []string{"okta /api/v1/users (tenant gamma): HTTP 503"}},
	}
	var gamma connector.TenantRun
	gamma.Tenant = "delta"
	gamma.Finished = now
	gamma.Gap("identities.mfa", "okta.users.read", &connector.APIError{Status: 403, Code: "E0000006"}, now)
	gamma.Gap("signins", "", errors.New("timeout"), now)
	runs = append(runs, gamma)
	rows := collectorRows("okta", "okta", runs, now, 30)
	if rows[0].Stale || rows[0].Counts != "mfa enrolled 480 · users 500" || rows[0].Age != "2h0m0s" {
		t.Errorf("acme %+v", rows[0])
	}
	if !rows[1].Stale {
		t.Errorf("a 40-day-old run must be stale at 30 days: %+v", rows[1])
	}
	if len(rows[2].Errors) != 1 {
		t.Errorf("gamma %+v", rows[2])
	}
	if len(rows[3].Gaps) != 2 || rows[3].Gaps[0] != "identities.mfa (needs okta.users.read)" || rows[3].Gaps[1] != "signins" {
		t.Errorf("delta gaps %v", rows[3].Gaps)
	}
}

func TestCollectorsPageAccess(t *testing.T) {
	f := newFixture(t)
	owner := f.client()
	owner.login("owner1")
	resp, body := owner.do("GET", "/collectors", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Collectors") || !strings.Contains(body, "No collectors have run") {
		t.Fatalf("owner: %d %.300s", resp.StatusCode, body)
	}
	viewer := f.client()
	viewer.login("viewer-a")
	if resp, _ := viewer.do("GET", "/collectors", nil, nil); resp.StatusCode == http.StatusOK {
		t.Errorf("a tenant viewer sees every tenant's collectors: %d", resp.StatusCode)
	}
}
