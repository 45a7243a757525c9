package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// DefaultPartnerCenterURL is the Partner Center REST API.
const DefaultPartnerCenterURL = "https://api.partnercenter.microsoft.com"

// PartnerCenterScope is the delegated scope of a Partner Center token
// (the Secure Application Model's user_impersonation on the Partner
// Center API, application fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd).
const PartnerCenterScope = "https://api.partnercenter.microsoft.com/user_impersonation"

// PartnerConsentRoles are the GDAP roles Microsoft names for consenting an
// app through the Partner Center consent API (learn.microsoft.com
// powershell/partnercenter/exchange-online-gdap-app: "A GDAP relationship
// approved by the customer that has one of the following roles: Global
// admin, Privileged role admin, Cloud application admin", the signed-in
// user also a member of AdminAgents).
var PartnerConsentRoles = []string{"Cloud Application Administrator", "Privileged Role Administrator", "Global Administrator"}

// applicationConsent is Partner Center's ApplicationConsent
// (learn.microsoft.com/partner-center/developer/control-panel-vendor-apis).
type applicationConsent struct {
	ApplicationID     string             `json:"applicationId"`
	ApplicationGrants []applicationGrant `json:"applicationGrants"`
}

type applicationGrant struct {
	EnterpriseApplicationID string `json:"enterpriseApplicationId"`
	Scope                   string `json:"scope"` // comma-separated permission values
}

// PartnerConsent consents the app in one customer tenant through Partner
// Center (POST {pc}/v1/customers/{tenant}/applicationconsents with
// Microsoft Graph's application permissions as one applicationGrant),
// with a Partner Center token from the delegated sign-in of a partner
// admin, then verifies with the consent checker (Consent with check set)
// that the app's service principal and every permission are there. An
// answer 409 (the consent exists) counts as present; a 403 names the GDAP
// roles the admin lacks in this customer. Only the delegated access model
// can do this (the partner admin's GDAP roles authorise it).
func PartnerConsent(ctx context.Context, c *Client, pcURL, tenant, appID string, perms []string) ConsentResult {
	r := ConsentResult{Tenant: tenant}
	d, ok := c.tokens.(*Delegated)
	if !ok {
		r.Error, r.Missing = "consent through Partner Center needs the delegated sign-in of a partner admin (--delegated-token)", perms
		return r
	}
	if pcURL == "" {
		pcURL = DefaultPartnerCenterURL
	}
	partner := d.Partner
	if partner == "" {
		partner = c.cfg.Credentials.TenantID
	}
	body, _ := json.Marshal(applicationConsent{ApplicationID: appID,
		ApplicationGrants: []applicationGrant{{EnterpriseApplicationID: GraphAppID, Scope: strings.Join(perms, ",")}}})
	var last Secret
	auth := func(ctx context.Context, req *http.Request, refresh bool) error {
		stale := Secret("")
		if refresh {
			stale = last
		}
		tok, err := d.scoped(ctx, partner, PartnerCenterScope, stale)
		if err != nil {
			return err
		}
		last = tok
		req.Header.Set("Authorization", "Bearer "+string(tok))
		return nil
	}
	u := strings.TrimRight(pcURL, "/") + "/v1/customers/" + url.PathEscape(tenant) + "/applicationconsents"
	var out applicationConsent
	_, err := c.http.JSON(ctx, connector.CallSpec{Tenant: tenant, Method: http.MethodPost, URL: u, Body: body,
		Header: http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}, Auth: auth}, &out)
	var ae *APIError
	existed := false
	switch {
	case err == nil:
	case errors.As(err, &ae) && ae.Status == http.StatusConflict:
		existed = true
	case errors.As(err, &ae) && ae.Status == http.StatusForbidden:
		r.Error = fmt.Sprintf("Partner Center refused the consent (HTTP 403): the signed-in partner admin needs a GDAP role of %s in this customer and membership of AdminAgents (%v)",
			strings.Join(PartnerConsentRoles, ", "), err)
		r.Missing = perms
		return r
	default:
		r.Error, r.Missing = fmt.Sprintf("Partner Center consent: %v", err), perms
		return r
	}
	// Verify with the checker: the app's service principal exists and
	// holds every permission.
	v := Consent(ctx, c, tenant, appID, perms, true)
	r.ServicePrincipal, r.Missing = v.ServicePrincipal, v.Missing
	if v.Error != "" {
		r.Error = "verifying the consent: " + v.Error
	}
	for _, p := range perms {
		switch {
		case slices.Contains(r.Missing, p):
		case existed:
			r.Present = append(r.Present, p)
		default:
			r.Granted = append(r.Granted, p)
		}
	}
	r.Created = !existed && r.ServicePrincipal != ""
	return r
}
