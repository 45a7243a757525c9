package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
)

// GraphAppID is Microsoft Graph's application id (the resource whose app
// roles are the application permissions).
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// CustomerPermissions are the application permissions the app needs in
// each customer tenant (the partner tenant also needs PermGDAP).
var CustomerPermissions = []string{PermUsers, PermAuditLog, PermDirectory, PermRoles, PermPolicy, PermApps, PermGroupMembers, PermDomains}

// ConsentResult is one customer's consent state.
type ConsentResult struct {
	Tenant           string   `json:"tenant"`
	ServicePrincipal string   `json:"service_principal"`
	Created          bool     `json:"created,omitempty"` // the app's service principal was created now
	Granted          []string `json:"granted,omitempty"` // permissions granted now
	Present          []string `json:"present,omitempty"` // permissions already granted
	Missing          []string `json:"missing,omitempty"` // still missing after the run (or in --check)
	Error            string   `json:"error,omitempty"`
}

// OK reports a tenant where every permission is granted.
func (r ConsentResult) OK() bool { return r.Error == "" && len(r.Missing) == 0 }

// consentSPSelect is what the consent helper reads of a service principal
// (TestSchemaProperties checks it against the CSDL).
const consentSPSelect = "id,appId,appRoles"

type appRole struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

type spWithRoles struct {
	ID       string    `json:"id"`
	AppID    string    `json:"appId"`
	AppRoles []appRole `json:"appRoles"`
}

type appRoleAssignment struct {
	AppRoleID  string `json:"appRoleId"`
	ResourceID string `json:"resourceId"`
}

// Consent makes the partner's multi-tenant app usable app-only in one
// customer tenant, the way Microsoft documents for GDAP partners: with a
// delegated client (a partner admin holding Cloud Application
// Administrator or Application Administrator there through GDAP) it
// creates the app's service principal when missing
// (POST /servicePrincipals) and grants each permission as an app role
// assignment on Microsoft Graph's service principal
// (POST /servicePrincipals/{graph}/appRoleAssignedTo), then reads the
// assignments back to verify. With check set it changes nothing and only
// reports what is missing.
func Consent(ctx context.Context, c *Client, tenant, appID string, perms []string, check bool) ConsentResult {
	r := ConsentResult{Tenant: tenant}
	fail := func(err error) ConsentResult { r.Error = err.Error(); r.Missing = perms; return r }
	find := func(id string) (*spWithRoles, error) {
		var out *spWithRoles
		q := url.Values{"$filter": {"appId eq '" + id + "'"}, "$select": {consentSPSelect}}
		err := List(ctx, c, tenant, "/v1.0/servicePrincipals?"+q.Encode(), func(s spWithRoles) error { out = &s; return nil })
		return out, err
	}
	ours, err := find(appID)
	if err != nil {
		return fail(err)
	}
	if ours == nil {
		if check {
			r.Missing = perms
			r.Error = "the app has no service principal in this tenant (not consented)"
			return r
		}
		body, _ := json.Marshal(map[string]string{"appId": appID})
		var created spWithRoles
		if err := c.post(ctx, tenant, "/v1.0/servicePrincipals", body, &created); err != nil {
			return fail(fmt.Errorf("creating the app's service principal: %w", err))
		}
		ours, r.Created = &created, true
	}
	r.ServicePrincipal = ours.ID
	res, err := find(GraphAppID)
	if err != nil || res == nil {
		return fail(fmt.Errorf("finding Microsoft Graph's service principal: %v", err))
	}
	roleID := map[string]string{}
	for _, ar := range res.AppRoles {
		roleID[ar.Value] = ar.ID
	}
	have := func() (map[string]bool, error) {
		m := map[string]bool{}
		err := List(ctx, c, tenant, "/v1.0/servicePrincipals/"+url.PathEscape(ours.ID)+"/appRoleAssignments", func(a appRoleAssignment) error {
			if a.ResourceID == res.ID {
				m[a.AppRoleID] = true
			}
			return nil
		})
		return m, err
	}
	before, err := have()
	if err != nil {
		return fail(err)
	}
	for _, p := range perms {
		id, ok := roleID[p]
		switch {
		case !ok:
			r.Missing = append(r.Missing, p)
		case before[id]:
			r.Present = append(r.Present, p)
		case check:
			r.Missing = append(r.Missing, p)
		default:
			body, _ := json.Marshal(map[string]string{"principalId": ours.ID, "resourceId": res.ID, "appRoleId": id})
			if err := c.post(ctx, tenant, "/v1.0/servicePrincipals/"+url.PathEscape(res.ID)+"/appRoleAssignedTo", body, nil); err != nil {
				r.Missing = append(r.Missing, p)
				r.Error = err.Error()
				continue
			}
			r.Granted = append(r.Granted, p)
		}
	}
	if check || len(r.Granted) == 0 {
		return r
	}
	// Verify: read the assignments back.
	after, err := have()
	if err != nil {
		return fail(fmt.Errorf("verifying: %w", err))
	}
	for _, p := range r.Granted {
		if !after[roleID[p]] && !slices.Contains(r.Missing, p) {
			r.Missing = append(r.Missing, p)
		}
	}
	return r
}
