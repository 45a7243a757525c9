package graph

import (
	"strings"
	"testing"
)

// A tenant without Entra ID P2 (most small customers) answers the PIM
// eligibility read with AadPremiumLicenseRequired — HTTP 400 as Graph
// sends it, or 403. That is a licence gap: not a tenant error (the run
// exited non-zero for every customer without P2) and not an application
// permission to consent.
func TestLicenceGapP2(t *testing.T) {
	col := &collector{c: &Client{}}
	for _, status := range []int{400, 403} {
		r := &TenantResult{Tenant: "t"}
		col.gap(r, EvRolesEligible, PermRoles, &APIError{Service: "graph", Status: status, Code: "AadPremiumLicenseRequired",
			Message: "The tenant needs to have Microsoft Entra ID P2 or Microsoft Entra ID Governance license."})
		if len(r.Errors) != 0 {
			t.Errorf("HTTP %d: a licence gap counted as a tenant error: %v", status, r.Errors)
		}
		if len(r.Gaps) != 1 || r.Gaps[0].Permission != "" || !strings.Contains(r.Gaps[0].Reason, "P2") {
			t.Errorf("HTTP %d: gap %+v, want a licence gap naming P2 and no permission", status, r.Gaps)
		}
	}
}
