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

// CA conditions of the v1.0 schema that also leave sign-ins out of a
// policy that otherwise "requires MFA for everyone": guests and external
// users excluded (excludeGuestsOrExternalUsers), only some authentication
// flows (authenticationFlows.transferMethods, e.g. device code), only some
// insider risk levels. Each was ignored, so the policy counted as MFA on
// every sign-in: a false "MFA enforced".
func TestCAOtherConditionsNotEverywhere(t *testing.T) {
	member := caUser{ID: "m", RolesOK: true}
	guest := caUser{ID: "g", RolesOK: true, External: true}
	for _, tt := range []struct {
		name  string
		patch string
		u     caUser
		want  bool // enforced and known
	}{
		{"base-member", ``, member, true},
		{"base-guest", ``, guest, true},
		{"device-code-only", `{"conditions":{"authenticationFlows":{"transferMethods":"deviceCodeFlow"}}}`, member, false},
		{"flows-none", `{"conditions":{"authenticationFlows":{"transferMethods":"none"}}}`, member, true},
		{"insider-risk", `{"conditions":{"insiderRiskLevels":"elevated"}}`, member, false},
		{"guests-excluded-member", `{"conditions":{"users":{"excludeGuestsOrExternalUsers":{"guestOrExternalUserTypes":"internalGuest,b2bCollaborationGuest,serviceProvider","externalTenants":{"@odata.type":"#microsoft.graph.conditionalAccessAllExternalTenants","membershipKind":"all"}}}}}`, member, true},
		{"guests-excluded-guest", `{"conditions":{"users":{"excludeGuestsOrExternalUsers":{"guestOrExternalUserTypes":"internalGuest,b2bCollaborationGuest,serviceProvider","externalTenants":{"@odata.type":"#microsoft.graph.conditionalAccessAllExternalTenants","membershipKind":"all"}}}}}`, guest, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, k := mfaRequired([]ConditionalAccessPolicy{caPolicy(t, tt.patch)}, tt.u)
			if got := e && k; got != tt.want {
				t.Errorf("enforced=%v known=%v, want enforced and known = %v", e, k, tt.want)
			}
		})
	}
}
