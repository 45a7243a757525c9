package okta

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/collect/okta/oktatest"
	"github.com/firebreak-msp/firebreak/internal/connector/connectortest"
)

// TestOktaSchema: every property the Okta connector reads exists in
// Okta's published Management API spec, and every property the fake org
// answers with does too (for each read the connector makes), so neither
// the connector nor its tests rest on a property Okta does not send.
func TestOktaSchema(t *testing.T) {
	sch, err := connectortest.LoadSchemas("testdata/okta-management-excerpt.json")
	if err != nil {
		t.Fatal(err)
	}
	// Read on purpose though the spec has them on policy rules only: a
	// policy-level exclusion, if Okta sends one, must narrow who is
	// covered rather than be ignored (ignoring it could be a false pass).
	defensive := map[string]bool{
		"Policy.conditions.people.groups.Exclude": true,
		"Policy.conditions.people.Users":          true,
	}
	seen := map[string]bool{}
	for _, c := range []struct {
		v   any
		typ string
	}{
		{User{}, "User"}, {Factor{}, "UserFactor"}, {Role{}, "StandardRole"}, {Policy{}, "Policy"}, {PolicyRule{}, "PolicyRule"},
	} {
		gt := reflect.TypeOf(c.v)
		sch.CheckStruct(func(s string) {
			where, _, _ := strings.Cut(s, ":")
			if defensive[where] {
				seen[where] = true
				return
			}
			t.Error(s)
		}, gt, c.typ, gt.Name())
	}
	for w := range defensive {
		if !seen[w] {
			t.Errorf("%s is in the published spec now: drop it from the defensive list", w)
		}
	}

	srv := oktatest.NewServer(t, &oktatest.Org{Slug: "acme", Users: 5, Token: "ssws-acme",
		Events:   []map[string]any{oktatest.Event("ev-1", "2026-11-26T10:00:00.000Z", "user.session.start", "SUCCESS", "user0@acme.example", "203.0.113.7")},
		Groups:   map[string][]int{"everyone": {0, 1, 2}},
		AppUsers: map[string][]int{"0oadashboard": {0, 1}}})
	base := srv.URL("acme")
	get := func(path string) any {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "SSWS ssws-acme")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v any
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&v) != nil {
			t.Errorf("%s: HTTP %d", path, resp.StatusCode)
		}
		return v
	}
	uid := oktatest.UserID("acme", 0)
	for _, r := range []struct{ path, typ string }{
		{"/api/v1/users?limit=200", "User"},
		{"/api/v1/users/" + uid + "/factors", "UserFactor"},
		{"/api/v1/users/" + uid + "/roles", "StandardRole"},
		{"/api/v1/iam/assignees/users", "RoleAssignedUsers"},
		{"/api/v1/logs?since=2026-11-01T00:00:00.000Z&limit=100", "LogEvent"},
		{"/api/v1/apps?limit=200", "Application"},
		{"/api/v1/apps/0oadashboard/users?limit=500", "AppUser"},
		{"/api/v1/policies?type=OKTA_SIGN_ON", "Policy"},
		{"/api/v1/policies?type=ACCESS_POLICY", "Policy"},
		{"/api/v1/policies?type=MFA_ENROLL", "Policy"},
		{"/api/v1/policies/00pdefaultsignon/rules", "PolicyRule"},
		{"/api/v1/policies/00pdefaultaccess/rules", "PolicyRule"},
		{"/api/v1/groups/everyone", "Group"},
		{"/api/v1/groups/everyone/users", "User"},
	} {
		v := get(r.path)
		if a, ok := v.([]any); ok && len(a) == 0 {
			t.Errorf("%s: the fake answered no items", r.path)
		}
		sch.CheckJSON(func(s string) { t.Error(r.path + ": " + s) }, v, r.typ, r.typ)
	}
	// The check can fail.
	var bad []string
	sch.CheckJSON(func(s string) { bad = append(bad, s) }, map[string]any{"lastSignIn": "x"}, "User", "x")
	if len(bad) != 1 {
		t.Errorf("a property missing from the spec was accepted: %v", bad)
	}
}
