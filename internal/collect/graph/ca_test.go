package graph

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
	"github.com/firebreak-msp/firebreak/internal/estate"
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
			e, k := mfaRequired(ps, caUser{ID: "u", Roles: []string{RoleGlobalAdmin}, RolesOK: true})
			if e != tt.enforced || k != tt.known {
				t.Errorf("got %v,%v want %v,%v", e, k, tt.enforced, tt.known)
			}
		})
	}
	// Roles unreadable: a role-based policy cannot decide.
	if e, k := mfaRequired([]ConditionalAccessPolicy{caPolicy(t, `{"conditions":{"users":{"includeUsers":[],"includeRoles":["x"]}}}`)}, caUser{ID: "u"}); e || k {
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
			e, k := mfaEnforced(tt.sdOn, tt.sdOK, tt.caOK, tt.caNonPremium, pass, caUser{ID: "u", RolesOK: tt.rolesOK})
			if e != tt.enforced || k != tt.known {
				t.Errorf("got %v,%v want %v,%v", e, k, tt.enforced, tt.known)
			}
		})
	}
}

// Conditional access scoped to groups is judged by the groups' transitive
// members, read with paging: an admin excluded through a (nested)
// break-glass group is not covered; a user covered only through an
// included group is; an unreadable group leaves the users it decides
// not-evaluable, with a gap naming GroupMember.Read.All.
func TestCAGroupMembership(t *testing.T) {
	mfaAllBut := map[string]any{"id": "ca-all", "displayName": "MFA for all users but break-glass", "state": "enabled",
		"conditions": map[string]any{"users": map[string]any{"includeUsers": []string{"All"}, "excludeGroups": []string{"grp-breakglass"}},
			"applications": map[string]any{"includeApplications": []string{"All"}}, "clientAppTypes": []string{"all"}},
		"grantControls": map[string]any{"operator": "OR", "builtInControls": []string{"mfa"}}}
	mfaHelpdesk := map[string]any{"id": "ca-hd", "displayName": "MFA for helpdesk", "state": "enabled",
		"conditions": map[string]any{"users": map[string]any{"includeGroups": []string{"grp-helpdesk"}},
			"applications": map[string]any{"includeApplications": []string{"All"}}, "clientAppTypes": []string{"all"}},
		"grantControls": map[string]any{"operator": "AND", "builtInControls": []string{"mfa"}}}
	tenants := []graphtest.Tenant{
		// user0 is Global Administrator (the fake's default assignment)
		// and a member of break-glass through a nested group.
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 8, CA: []any{mfaAllBut},
			GroupMembers: map[string][]int{"grp-breakglass": {0, 7}}, NestedGroups: map[string][]string{"grp-breakglass": {"grp-emergency"}}},
		{ID: graphtest.TenantGUID(1), Name: "Help Desk Co", Slug: "helpdesk-co", Users: 8, CA: []any{mfaHelpdesk},
			GroupMembers: map[string][]int{"grp-helpdesk": {1, 2, 3, 4, 5}}},
		{ID: graphtest.TenantGUID(2), Name: "Locked Groups", Slug: "locked-groups", Users: 4, CA: []any{mfaAllBut},
			Forbid: map[string]string{"/v1.0/groups/grp-breakglass": "Authorization_RequestDenied"}},
	}
	f := graphtest.NewServer(t, tenants)
	f.PageSize = 2 // members arrive over several pages
	c := testClient(t, f, nil, 8)
	res, err := Collect(t.Context(), c, Options{SkipPartner: true, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, x := range res.Fragment.Identities {
		switch {
		case x.MFA.Enforced == nil:
			got[x.UPN] = "unknown"
		case *x.MFA.Enforced:
			got[x.UPN] = "yes"
		default:
			got[x.UPN] = "no"
		}
	}
	for upn, want := range map[string]string{
		"user0@cedar-law.example":     "no", // GA excluded through the break-glass group
		"user7@cedar-law.example":     "no",
		"user1@cedar-law.example":     "yes",
		"user5@helpdesk-co.example":   "yes", // on the fourth page of members
		"user6@helpdesk-co.example":   "no",  // not in the included group
		"user1@locked-groups.example": "unknown",
	} {
		if got[upn] != want {
			t.Errorf("%s: MFA enforced %q, want %q", upn, got[upn], want)
		}
	}
	for _, r := range res.Tenants {
		hasGap := slices.ContainsFunc(r.Gaps, func(g estate.Gap) bool {
			return g.Evidence == EvMFAEnforced && strings.Contains(g.Reason, PermGroupMembers)
		})
		if hasGap != (r.Tenant == "locked-groups") {
			t.Errorf("%s: group-membership gap %v: %+v", r.Tenant, hasGap, r.Gaps)
		}
	}
}

func TestMFARequiredGroups(t *testing.T) {
	excl := caPolicy(t, `{"conditions":{"users":{"excludeGroups":["bg"]}}}`)
	incl := caPolicy(t, `{"conditions":{"users":{"includeUsers":[],"includeGroups":["hd"]}}}`)
	grp := &caGroups{members: map[string]map[string]bool{"bg": {"admin": true}, "hd": {"tech": true}}}
	for _, tc := range []struct {
		name            string
		p               ConditionalAccessPolicy
		user            string
		groups          *caGroups
		enforced, known bool
	}{
		{"excluded-by-group", excl, "admin", grp, false, true},
		{"not-in-excluded-group", excl, "tech", grp, true, true},
		{"excluded-group-unread", excl, "tech", nil, false, false},
		{"included-by-group", incl, "tech", grp, true, true},
		{"not-in-included-group", incl, "admin", grp, false, true},
		{"included-group-unread", incl, "tech", &caGroups{members: map[string]map[string]bool{}}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, k := mfaRequired([]ConditionalAccessPolicy{tc.p}, caUser{ID: tc.user, RolesOK: true, Groups: tc.groups})
			if e != tc.enforced || k != tc.known {
				t.Errorf("got %v,%v want %v,%v", e, k, tc.enforced, tc.known)
			}
		})
	}
}
