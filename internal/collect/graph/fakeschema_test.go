package graph

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
)

// checkJSON reports every property of v (a decoded JSON value) that the
// CSDL type typ (or, for a directoryObject, the type its @odata.type
// names) does not have, recursing into complex and entity properties.
func checkJSON(report func(string), types map[string]csdlType, v any, typ, path string) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			checkJSON(report, types, e, typ, path+"[]")
		}
	case map[string]any:
		if ot, ok := x["@odata.type"].(string); ok {
			typ = strings.TrimPrefix(ot, "#microsoft.graph.")
		}
		if _, ok := types[typ]; !ok {
			if !strings.HasPrefix(typ, "Edm.") {
				report(path + ": type " + typ + " is not in the schema excerpt")
			}
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if strings.HasPrefix(k, "@") {
				continue
			}
			pt, ok := prop(types, typ, k)
			if !ok {
				report(path + "." + k + ": not a property of " + typ + " in the v1.0 CSDL")
				continue
			}
			inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(pt, "Collection("), "graph."), ")")
			checkJSON(report, types, x[k], inner, path+"."+k)
		}
	}
}

// TestFakeSpeaksTheSchema: every property the fake Graph answers with
// exists in Microsoft's published v1.0 schema (the CSDL excerpt), for
// every read the collector makes, so the collector is never tested
// against a property the real service does not send.
func TestFakeSpeaksTheSchema(t *testing.T) {
	types := loadCSDL(t)
	tn := graphtest.Tenant{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 6}
	f := graphtest.NewServer(t, []graphtest.Tenant{tn})
	c := testClient(t, f, nil, 4)
	ctx := context.Background()
	for _, r := range []struct{ tenant, path, typ string }{
		{f.Partner, "/v1.0/tenantRelationships/delegatedAdminRelationships", "delegatedAdminRelationship"},
		{f.Partner, "/v1.0/tenantRelationships/delegatedAdminRelationships/rel-0/accessAssignments", "delegatedAdminAccessAssignment"},
		{tn.ID, "/v1.0/domains?$select=" + domainSelect, "domain"},
		{tn.ID, "/v1.0/users?$select=" + userSelect + ",signInActivity&$top=120", "user"},
		{tn.ID, "/v1.0/users/delta?$select=" + userSelect, "user"},
		{tn.ID, "/v1.0/reports/authenticationMethods/userRegistrationDetails?$top=999", "userRegistrationDetails"},
		{tn.ID, "/v1.0/roleManagement/directory/roleDefinitions?$select=" + roleDefSelect, "unifiedRoleDefinition"},
		{tn.ID, "/v1.0/roleManagement/directory/roleAssignments?$expand=principal", "unifiedRoleAssignment"},
		{tn.ID, "/v1.0/roleManagement/directory/roleEligibilitySchedules?$expand=principal", "unifiedRoleEligibilitySchedule"},
		{tn.ID, "/v1.0/servicePrincipals?$select=" + spSelect + "&$top=999", "servicePrincipal"},
		{tn.ID, "/v1.0/identity/conditionalAccess/policies", "conditionalAccessPolicy"},
		{tn.ID, membersPath("grp-admins"), "directoryObject"},
		{tn.ID, "/v1.0/auditLogs/signIns?$filter=createdDateTime+ge+2026-11-26T00:00:00Z+and+createdDateTime+lt+2026-11-28T00:00:00Z&$top=1000", "signIn"},
	} {
		var pg struct {
			Value []any `json:"value"`
		}
		if err := c.Get(ctx, r.tenant, r.path, &pg); err != nil {
			t.Errorf("%s: %v", r.path, err)
			continue
		}
		if len(pg.Value) == 0 {
			t.Errorf("%s: the fake answered no items", r.path)
		}
		checkJSON(func(s string) { t.Error(r.path + ": " + s) }, types, pg.Value, r.typ, r.typ)
	}
	var sd map[string]any
	if err := c.Get(ctx, tn.ID, "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy", &sd); err != nil {
		t.Fatal(err)
	}
	checkJSON(func(s string) { t.Error(s) }, types, sd, "identitySecurityDefaultsEnforcementPolicy", "securityDefaults")
	// The check can fail: a property the schema does not have.
	var bad []string
	checkJSON(func(s string) { bad = append(bad, s) }, types, json.RawMessage(nil), "user", "x")
	checkJSON(func(s string) { bad = append(bad, s) }, types, map[string]any{"lastSuccessfulSignIn": "x"}, "signInActivity", "x")
	if len(bad) != 1 {
		t.Errorf("a property missing from the schema was accepted: %v", bad)
	}
}
