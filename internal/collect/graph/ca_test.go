package graph

import (
	"encoding/json"
	"testing"
)

// Policies in the shape of the published conditionalAccessPolicy examples
// (conditionalaccessroot-list-policies, conditionalaccesspolicy-get): the
// first "requires MFA for everyone"; each variant is a way a policy can
// look like that and still let sign-ins through without MFA.
const caBase = `{"id":"p","displayName":"Require MFA","state":"enabled",
 "conditions":{"userRiskLevels":[],"signInRiskLevels":[],"clientAppTypes":["all"],"platforms":null,"locations":null,"devices":null,
   "applications":{"includeApplications":["All"],"excludeApplications":[],"includeUserActions":[]},
   "users":{"includeUsers":["All"],"excludeUsers":[],"includeGroups":[],"excludeGroups":[],"includeRoles":[],"excludeRoles":[]}},
 "grantControls":{"operator":"OR","builtInControls":["mfa"],"customAuthenticationFactors":[],"termsOfUse":[]}}`

func caPolicy(t *testing.T, patch string) ConditionalAccessPolicy {
	t.Helper()
	var base, p map[string]any
	if err := json.Unmarshal([]byte(caBase), &base); err != nil {
		t.Fatal(err)
	}
	if patch != "" {
		if err := json.Unmarshal([]byte(patch), &p); err != nil {
			t.Fatal(err)
		}
		merge(base, p)
	}
	b, _ := json.Marshal(base)
	var out ConditionalAccessPolicy
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				merge(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func TestMFARequired(t *testing.T) {
	tests := []struct {
		name            string
		patches         []string // one policy per patch
		enforced, known bool
	}{
		{"none", nil, false, true},
		{"all-users", []string{""}, true, true},
		{"report-only", []string{`{"state":"enabledForReportingButNotEnforced"}`}, false, true},
		{"disabled", []string{`{"state":"disabled"}`}, false, true},
		{"block-not-mfa", []string{`{"grantControls":{"builtInControls":["block"]}}`}, false, true},
		{"or-compliant-device", []string{`{"grantControls":{"operator":"OR","builtInControls":["mfa","compliantDevice"]}}`}, false, true},
		{"or-hybrid-joined", []string{`{"grantControls":{"operator":"OR","builtInControls":["mfa","domainJoinedDevice"]}}`}, false, true},
		{"and-compliant-device", []string{`{"grantControls":{"operator":"AND","builtInControls":["mfa","compliantDevice"]}}`}, true, true},
		{"auth-strength", []string{`{"grantControls":{"builtInControls":[],"authenticationStrength":{"id":"00000000-0000-0000-0000-000000000002","displayName":"Multifactor authentication"}}}`}, true, true},
		{"excluded-app", []string{`{"conditions":{"applications":{"excludeApplications":["00000002-0000-0ff1-ce00-000000000000"]}}}`}, false, true},
		{"one-app-only", []string{`{"conditions":{"applications":{"includeApplications":["00000003-0000-0ff1-ce00-000000000000"]}}}`}, false, true},
		{"excluded-location", []string{`{"conditions":{"locations":{"includeLocations":["All"],"excludeLocations":["AllTrusted"]}}}`}, false, true},
		{"all-locations", []string{`{"conditions":{"locations":{"includeLocations":["All"],"excludeLocations":[]}}}`}, true, true},
		{"excluded-platform", []string{`{"conditions":{"platforms":{"includePlatforms":["all"],"excludePlatforms":["iOS"]}}}`}, false, true},
		{"some-platforms", []string{`{"conditions":{"platforms":{"includePlatforms":["windows"],"excludePlatforms":[]}}}`}, false, true},
		{"browser-only", []string{`{"conditions":{"clientAppTypes":["browser","mobileAppsAndDesktopClients"]}}`}, false, true},
		{"risk-based", []string{`{"conditions":{"signInRiskLevels":["high","medium"]}}`}, false, true},
		{"device-filter", []string{`{"conditions":{"devices":{"deviceFilter":{"mode":"exclude","rule":"device.trustType -eq \"ServerAD\""}}}}`}, false, true},
		{"excluded-user", []string{`{"conditions":{"users":{"excludeUsers":["u"]}}}`}, false, true},
		{"by-role", []string{`{"conditions":{"users":{"includeUsers":[],"includeRoles":["62e90394-69f5-4237-9190-012177145e10"]}}}`}, true, true},
		{"group-include-unknown", []string{`{"conditions":{"users":{"includeUsers":[],"includeGroups":["g"]}}}`}, false, false},
		{"group-exclude-unknown", []string{`{"conditions":{"users":{"excludeGroups":["breakglass"]}}}`}, false, false},
		{"group-exclude-but-other-covers", []string{`{"conditions":{"users":{"excludeGroups":["g"]}}}`, `{"conditions":{"users":{"includeUsers":["u"]}}}`}, true, true},
		{"false-pass-plus-real", []string{`{"grantControls":{"builtInControls":["mfa","compliantDevice"]}}`, ""}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps []ConditionalAccessPolicy
			for _, p := range tt.patches {
				ps = append(ps, caPolicy(t, p))
			}
			e, k := mfaRequired(ps, "u", []string{RoleGlobalAdmin}, true)
			if e != tt.enforced || k != tt.known {
				t.Errorf("got %v,%v want %v,%v", e, k, tt.enforced, tt.known)
			}
		})
	}
	// Roles unreadable: a role-based policy cannot decide.
	if e, k := mfaRequired([]ConditionalAccessPolicy{caPolicy(t, `{"conditions":{"users":{"includeUsers":[],"includeRoles":["x"]}}}`)}, "u", nil, false); e || k {
		t.Errorf("roles unknown: got %v,%v", e, k)
	}
}

func TestMFAEnforcedSecurityDefaults(t *testing.T) {
	pass := []ConditionalAccessPolicy{}
	tests := []struct {
		name                                    string
		sdOn, sdOK, caOK, caNonPremium, rolesOK bool
		enforced, known                         bool
	}{
		{"sd-on-ca-unreadable", true, true, false, false, false, true, true},
		{"sd-on-no-p1", true, true, false, true, true, true, true},
		{"sd-off-no-p1", false, true, false, true, true, false, true},
		{"sd-off-ca-forbidden", false, true, false, false, true, false, false},
		{"sd-unreadable", false, false, true, false, true, false, false},
		{"sd-off-ca-none", false, true, true, false, true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, k := mfaEnforced(tt.sdOn, tt.sdOK, tt.caOK, tt.caNonPremium, tt.rolesOK, pass, "u", nil)
			if e != tt.enforced || k != tt.known {
				t.Errorf("got %v,%v want %v,%v", e, k, tt.enforced, tt.known)
			}
		})
	}
}
