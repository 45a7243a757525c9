package graph

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"reflect"
	"strings"
	"testing"
)

// csdlType is one EntityType or ComplexType of the schema excerpt.
type csdlType struct {
	Name  string `xml:"Name,attr"`
	Base  string `xml:"BaseType,attr"`
	Props []struct {
		Name string `xml:"Name,attr"`
		Type string `xml:"Type,attr"`
	} `xml:",any"`
}

func loadCSDL(t *testing.T) map[string]csdlType {
	t.Helper()
	b, err := os.ReadFile("testdata/graph-v1.0-excerpt.csdl.xml")
	if err != nil {
		t.Fatal(err)
	}
	var sch struct {
		Entities []csdlType `xml:"EntityType"`
		Complex  []csdlType `xml:"ComplexType"`
	}
	if err := xml.Unmarshal(b, &sch); err != nil {
		t.Fatal(err)
	}
	out := map[string]csdlType{}
	for _, x := range append(sch.Entities, sch.Complex...) {
		out[x.Name] = x
	}
	return out
}

// prop finds a property on a type or its base types; it returns the
// property's type ("" when absent).
func prop(types map[string]csdlType, typ, name string) (string, bool) {
	for typ != "" {
		x, ok := types[typ]
		if !ok {
			return "", false
		}
		for _, p := range x.Props {
			if p.Name == name {
				return p.Type, true
			}
		}
		typ = strings.TrimPrefix(x.Base, "graph.")
	}
	return "", false
}

// checkStruct checks that every JSON property of a Go type exists on the
// CSDL type, recursing into nested structs through the property's type.
func checkStruct(report func(string, ...any), types map[string]csdlType, gt reflect.Type, typ, path string) {
	if _, ok := types[typ]; !ok {
		report("%s: type %s is not in the schema excerpt", path, typ)
		return
	}
	for i := range gt.NumField() {
		f := gt.Field(i)
		if f.Anonymous {
			checkStruct(report, types, f.Type, typ, path)
			continue
		}
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if name == "" || name == "-" || strings.HasPrefix(name, "@") {
			continue
		}
		pt, ok := prop(types, typ, name)
		if !ok {
			report("%s.%s: property %q does not exist on %s (or its base types) in the v1.0 CSDL", path, f.Name, name, typ)
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(json.RawMessage{}) {
			inner := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(pt, "Collection("), "graph."), ")")
			checkStruct(report, types, ft, inner, path+"."+name)
		}
	}
}

// TestSchemaProperties proves every property the collector reads (struct
// json tags and $select lists) exists in Microsoft Graph v1.0 as
// published, so a typo or a beta-only property cannot silently read as
// empty.
func TestSchemaProperties(t *testing.T) {
	types := loadCSDL(t)
	for _, c := range []struct {
		v   any
		typ string
	}{
		{User{}, "user"},
		{UserRegistrationDetails{}, "userRegistrationDetails"},
		{RoleDefinition{}, "unifiedRoleDefinition"},
		{RoleAssignment{}, "unifiedRoleAssignment"},
		{ConditionalAccessPolicy{}, "conditionalAccessPolicy"},
		{SecurityDefaults{}, "identitySecurityDefaultsEnforcementPolicy"},
		{ServicePrincipal{}, "servicePrincipal"},
		{DelegatedAdminRelationship{}, "delegatedAdminRelationship"},
		{DelegatedAdminAccessAssignment{}, "delegatedAdminAccessAssignment"},
		{Group{}, "group"},
		{Domain{}, "domain"},
		{deltaUser{}, "user"},
		// The consent helper: the app's and Graph's service principals
		// with their app roles, and the app role assignments.
		{spWithRoles{}, "servicePrincipal"},
		{appRoleAssignment{}, "appRoleAssignment"},
	} {
		gt := reflect.TypeOf(c.v)
		checkStruct(t.Errorf, types, gt, c.typ, gt.Name())
	}
	// An eligibility decodes into RoleAssignment too; what it reads exists
	// on unifiedRoleEligibilitySchedule (principalOrganizationId is not
	// read from it: absent, so eligibility principals are never "foreign").
	for _, p := range []string{"id", "roleDefinitionId", "principalId", "directoryScopeId", "principal"} {
		if _, ok := prop(types, "unifiedRoleEligibilitySchedule", p); !ok {
			t.Errorf("unifiedRoleEligibilitySchedule has no %s", p)
		}
	}
	// The expanded principal and group members are users, service
	// principals or groups: each property exists on one of them.
	for _, gt := range []reflect.Type{reflect.TypeOf(principal{}), reflect.TypeOf(DirectoryObject{})} {
		for i := range gt.NumField() {
			name := strings.Split(gt.Field(i).Tag.Get("json"), ",")[0]
			if name == "" || name == "-" || strings.HasPrefix(name, "@") {
				continue
			}
			found := false
			for _, typ := range []string{"user", "servicePrincipal", "group"} {
				if _, ok := prop(types, typ, name); ok {
					found = true
				}
			}
			if !found {
				t.Errorf("%s.%s: %q is on none of user, servicePrincipal, group", gt.Name(), gt.Field(i).Name, name)
			}
		}
	}
	// $select lists.
	for typ, sel := range map[string]string{"user": userSelect + ",signInActivity", "servicePrincipal": spSelect,
		"unifiedRoleDefinition": roleDefSelect, "domain": domainSelect} {
		for _, p := range strings.Split(sel, ",") {
			if _, ok := prop(types, typ, p); !ok {
				t.Errorf("$select on %s names %q, which does not exist", typ, p)
			}
		}
	}
	// What the consent helper selects and posts.
	for _, p := range strings.Split(consentSPSelect, ",") {
		if _, ok := prop(types, "servicePrincipal", p); !ok {
			t.Errorf("consent $select names %q, not a servicePrincipal property", p)
		}
	}
	for _, p := range []string{"principalId", "resourceId", "appRoleId"} {
		if _, ok := prop(types, "appRoleAssignment", p); !ok {
			t.Errorf("the consent helper posts %q, not an appRoleAssignment property", p)
		}
	}
	if _, ok := prop(types, "servicePrincipal", "appId"); !ok {
		t.Error("the consent helper posts appId, not a servicePrincipal property")
	}
	for _, p := range strings.Split(memberSelect, ",") {
		if _, ok := prop(types, "user", p); !ok {
			t.Errorf("member $select names %q, not a user property", p)
		}
	}
}

// TestSchemaCheckFails proves the check can fail: a misspelt property.
func TestSchemaCheckFails(t *testing.T) {
	types := loadCSDL(t)
	var bad struct {
		LastSuccess string `json:"lastSuccessfulSignIn"`
	}
	var problems []string
	checkStruct(func(f string, a ...any) { problems = append(problems, f) }, types, reflect.TypeOf(bad), "signInActivity", "bad")
	if len(problems) != 1 {
		t.Error("a property missing from the schema was accepted")
	}
}
