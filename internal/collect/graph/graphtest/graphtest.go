// Package graphtest is a fake Microsoft Graph and token endpoint for tests
// and benchmarks: the documented v1.0 response shapes for a partner tenant
// and its GDAP customers, with paging, throttling (429 + Retry-After), 403
// error bodies, an HTML error page, token errors and an expired token.
package graphtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const roleGlobalAdmin = "62e90394-69f5-4237-9190-012177145e10"

// Server serves the documented Graph v1.0 response shapes for a partner
// tenant and its customers, with paging, throttling and error bodies.
type Server struct {
	Partner  string // partner tenant id
	Secret   string // the client secret the token endpoint accepts
	Tenants  []Tenant
	Latency  time.Duration // added to every answer
	PageSize int
	// ThrottleEvery answers every Nth Graph request with 429 + Retry-After.
	ThrottleEvery int64
	RetryAfter    string
	// CertKey verifies client assertions instead of the secret when set.
	CertKey *rsa.PublicKey

	Srv      *httptest.Server
	Calls    atomic.Int64 // requests served
	MaxSeen  atomic.Int64 // highest number of requests in flight at once
	inFlight atomic.Int64

	mu      sync.Mutex
	tokens  map[string]string // token → tenant
	expired map[string]bool   // tenants whose first token is rejected once
	n       int
}

type Tenant struct {
	ID, Name, Slug string
	Users          int
	Forbid         map[string]string // path prefix → Graph error code answered with 403
	TokenError     string            // AADSTS error for the token endpoint
	HTMLUsers      bool              // /users answers an HTML page with 200
	ExpireOnce     bool              // the first token gets a 401
	GlobalAdmin    bool              // the GDAP relationship includes Global Administrator
	RelStatus      string            // GDAP relationship status (default active)
}

// NewServer starts a fake Graph + token endpoint (closed by t.Cleanup).
// Point Config.Authority and Config.GraphURL at Srv.URL.
func NewServer(t testing.TB, tenants []Tenant) *Server {
	f := &Server{Partner: "00000000-0000-4000-8000-00000000ffff", Secret: "s3cr3t-Value~xyz", Tenants: tenants, PageSize: 100,
		tokens: map[string]string{}, expired: map[string]bool{}, RetryAfter: "0"}
	for _, tn := range tenants {
		if tn.ExpireOnce {
			f.expired[tn.ID] = true
		}
	}
	f.Srv = httptest.NewServer(f)
	t.Cleanup(f.Srv.Close)
	return f
}

// TenantGUID is the Entra tenant id the fake uses for tenant i.
func TenantGUID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1) }

func (f *Server) tenant(id string) *Tenant {
	for i := range f.Tenants {
		if f.Tenants[i].ID == id {
			return &f.Tenants[i]
		}
	}
	return nil
}

// WriteJSON writes v as a JSON answer.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// GraphError writes a Graph error body.
func GraphError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg,
		"innerError": map[string]string{"date": "2026-11-27T06:00:00", "request-id": "req-123", "client-request-id": "c-1"}}})
}

// ServeHTTP answers token and Graph requests.
func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.MaxSeen.Load()
		if n <= m || f.MaxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	call := f.Calls.Add(1)
	if f.Latency > 0 {
		time.Sleep(f.Latency)
	}
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		f.token(w, r)
		return
	}
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	tenant, ok := f.tokens[auth]
	f.mu.Unlock()
	if !ok {
		GraphError(w, 401, "InvalidAuthenticationToken", "Access token is empty or invalid.")
		return
	}
	if strings.HasSuffix(auth, "-expired") {
		GraphError(w, 401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.")
		return
	}
	if f.ThrottleEvery > 0 && call%f.ThrottleEvery == 0 {
		w.Header().Set("Retry-After", f.RetryAfter)
		GraphError(w, 429, "TooManyRequests", "Too many requests.")
		return
	}
	if tenant == f.Partner {
		f.partnerAPI(w, r)
		return
	}
	f.customerAPI(w, r, f.tenant(tenant))
}

func (f *Server) token(w http.ResponseWriter, r *http.Request) {
	tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != f.Srv.URL+"/.default" {
		WriteJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "AADSTS900144: The request body must contain the following parameter: 'grant_type'."})
		return
	}
	if f.CertKey != nil {
		if err := VerifyAssertion(r.Form.Get("client_assertion"), f.CertKey, f.Srv.URL+r.URL.Path); err != nil {
			WriteJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "AADSTS700027: Client assertion failed signature validation. " + err.Error()})
			return
		}
	} else if r.Form.Get("client_secret") != f.Secret {
		WriteJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.", "error_codes": []int{7000215}})
		return
	}
	if tn := f.tenant(tenant); tn != nil && tn.TokenError != "" {
		WriteJSON(w, 400, map[string]any{"error": "unauthorized_client", "error_description": tn.TokenError, "error_codes": []int{700016}})
		return
	}
	if tenant != f.Partner && f.tenant(tenant) == nil {
		WriteJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "AADSTS90002: Tenant '" + tenant + "' not found."})
		return
	}
	f.mu.Lock()
	f.n++
	tok := fmt.Sprintf("tok-%s-%d", tenant, f.n)
	if f.expired[tenant] {
		delete(f.expired, tenant)
		tok += "-expired"
	}
	f.tokens[tok] = tenant
	f.mu.Unlock()
	WriteJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": tok})
}

// page serves items[skip:skip+pageSize] with an @odata.nextLink. Like
// Graph, users with signInActivity come at most 120 per page.
func (f *Server) page(w http.ResponseWriter, r *http.Request, items []any) {
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	size := f.PageSize
	if strings.Contains(r.URL.Query().Get("$select"), "signInActivity") || r.URL.Query().Get("$sia") != "" {
		size = min(size, 120)
	}
	end := min(skip+size, len(items))
	out := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#" + r.URL.Path, "value": items[skip:end]}
	if end < len(items) {
		next := fmt.Sprintf("%s%s?$skiptoken=%d", f.Srv.URL, r.URL.Path, end)
		if size < f.PageSize {
			next += "&$sia=1" // the real skiptoken remembers the query
		}
		out["@odata.nextLink"] = next
	}
	WriteJSON(w, 200, out)
}

func (f *Server) partnerAPI(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/v1.0/tenantRelationships/delegatedAdminRelationships":
		var items []any
		for i, tn := range f.Tenants {
			roles := []any{map[string]string{"roleDefinitionId": "729827e3-9c14-49f7-bb1b-9608f156bbb8"}}
			if tn.GlobalAdmin {
				roles = append(roles, map[string]string{"roleDefinitionId": roleGlobalAdmin})
			}
			status := tn.RelStatus
			if status == "" {
				status = "active"
			}
			items = append(items, map[string]any{
				"@odata.etag": `W/"JyIwMDAwIg=="`, "id": fmt.Sprintf("rel-%d", i), "displayName": "Harbourview_" + tn.Slug,
				"duration": "P730D", "status": status, "autoExtendDuration": map[bool]string{true: "P180D", false: "PT0S"}[tn.GlobalAdmin],
				"createdDateTime": "2025-01-01T10:00:00Z", "activatedDateTime": "2025-01-02T10:00:00Z", "lastModifiedDateTime": "2025-01-02T10:00:00Z",
				"endDateTime":   "2027-01-02T10:00:00Z",
				"customer":      map[string]string{"tenantId": tn.ID, "displayName": tn.Name},
				"accessDetails": map[string]any{"unifiedRoles": roles},
			})
		}
		f.page(w, r, items)
	case strings.HasSuffix(p, "/accessAssignments"):
		f.page(w, r, []any{map[string]any{
			"@odata.etag": `W/"JyIwMDAwIg=="`, "id": "asg-1", "status": "active",
			"accessContainer": map[string]string{"accessContainerId": "11111111-2222-4333-8444-555555555555", "accessContainerType": "securityGroup"},
			"accessDetails":   map[string]any{"unifiedRoles": []any{map[string]string{"roleDefinitionId": "729827e3-9c14-49f7-bb1b-9608f156bbb8"}}},
			"createdDateTime": "2025-01-02T10:00:00Z", "lastModifiedDateTime": "2025-01-02T10:00:00Z",
		}})
	case strings.HasPrefix(p, "/v1.0/groups/") && strings.HasSuffix(p, "/members"):
		f.page(w, r, []any{
			map[string]any{"@odata.type": "#microsoft.graph.user", "id": "p-0", "displayName": "Tech 0", "userPrincipalName": "tech0@harbourview-it.example"},
			map[string]any{"@odata.type": "#microsoft.graph.user", "id": "p-1", "displayName": "Tech 1", "userPrincipalName": "tech1@harbourview-it.example"},
		})
	case strings.HasPrefix(p, "/v1.0/groups/"):
		WriteJSON(w, 200, map[string]any{"id": "11111111-2222-4333-8444-555555555555", "displayName": "M365 GDAP Helpdesk Administrator"})
	default:
		f.customerAPI(w, r, &Tenant{ID: f.Partner, Name: "Harbourview IT Services", Slug: "harbourview-it", Users: 3})
	}
}

func (f *Server) customerAPI(w http.ResponseWriter, r *http.Request, tn *Tenant) {
	p := r.URL.Path
	for prefix, code := range tn.Forbid {
		if strings.HasPrefix(p, prefix) {
			msg := "Insufficient privileges to complete the operation."
			if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
				msg = "Neither tenant is B2C or tenant doesn't have premium license"
			}
			GraphError(w, 403, code, msg)
			return
		}
	}
	user := func(i int) string { return fmt.Sprintf("%s-u%d", tn.ID[len(tn.ID)-4:], i) }
	upn := func(i int) string {
		if tn.ID == f.Partner {
			return fmt.Sprintf("tech%d@harbourview-it.example", i)
		}
		return fmt.Sprintf("user%d@%s.example", i, tn.Slug)
	}
	switch p {
	case "/v1.0/domains":
		f.page(w, r, []any{
			map[string]any{"id": tn.Slug + ".example", "isVerified": true, "isDefault": true},
			map[string]any{"id": tn.Slug + ".onmicrosoft.com", "isVerified": true},
			map[string]any{"id": "pending." + tn.Slug + ".example", "isVerified": false},
		})
	case "/v1.0/users":
		if tn.HTMLUsers {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body><h1>Service Unavailable</h1></body></html>")
			return
		}
		withActivity := strings.Contains(r.URL.Query().Get("$select"), "signInActivity") || r.URL.Query().Get("$sia") != ""
		items := make([]any, tn.Users)
		for i := range tn.Users {
			u := map[string]any{"id": user(i), "displayName": fmt.Sprintf("User %d", i), "userPrincipalName": upn(i),
				"accountEnabled": i%10 != 9, "userType": "Member", "createdDateTime": "2023-03-01T08:00:00Z"}
			if withActivity {
				u["signInActivity"] = map[string]any{
					"lastSignInDateTime": "2026-11-20T09:00:00Z", "lastSignInRequestId": "r",
					"lastNonInteractiveSignInDateTime": "2026-11-25T09:00:00Z", "lastNonInteractiveSignInRequestId": "r",
					"lastSuccessfulSignInDateTime": "2026-11-25T09:00:00Z", "lastSuccessfulSignInRequestId": "r"}
				if i == 1 {
					u["signInActivity"] = map[string]any{"lastSignInDateTime": "2025-01-01T09:00:00Z", "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z"}
				}
			}
			items[i] = u
		}
		f.page(w, r, items)
	case "/v1.0/reports/authenticationMethods/userRegistrationDetails":
		items := make([]any, tn.Users)
		for i := range tn.Users {
			methods := []string{"microsoftAuthenticatorPush", "mobilePhone"}
			if i == 0 {
				methods = []string{"fido2"}
			} else if i%3 == 2 {
				methods = []string{}
			}
			items[i] = map[string]any{"id": user(i), "userPrincipalName": upn(i), "userDisplayName": fmt.Sprintf("User %d", i),
				"userType": "member", "isAdmin": i == 0, "isMfaCapable": i%3 != 2, "isMfaRegistered": i%3 != 2,
				"isPasswordlessCapable": i == 0, "isSsprCapable": false, "isSsprEnabled": false, "isSsprRegistered": false,
				"isSystemPreferredAuthenticationMethodEnabled": true, "lastUpdatedDateTime": "2026-11-01T00:00:00Z",
				"methodsRegistered": methods, "systemPreferredAuthenticationMethods": []string{"push"}, "userPreferredMethodForSecondaryAuthentication": "push"}
		}
		f.page(w, r, items)
	case "/v1.0/roleManagement/directory/roleDefinitions":
		f.page(w, r, []any{
			map[string]any{"id": roleGlobalAdmin, "displayName": "Global Administrator", "templateId": roleGlobalAdmin, "isBuiltIn": true},
			map[string]any{"id": "729827e3-9c14-49f7-bb1b-9608f156bbb8", "displayName": "Helpdesk Administrator", "templateId": "729827e3-9c14-49f7-bb1b-9608f156bbb8", "isBuiltIn": true},
			map[string]any{"id": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "displayName": "Application Administrator", "templateId": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "isBuiltIn": true},
		})
	case "/v1.0/roleManagement/directory/roleAssignments":
		f.page(w, r, []any{
			map[string]any{"id": "ra-1", "roleDefinitionId": roleGlobalAdmin, "principalId": user(0), "directoryScopeId": "/",
				"principal": map[string]any{"@odata.type": "#microsoft.graph.user", "id": user(0), "displayName": "User 0", "userPrincipalName": upn(0)}},
			// A partner-tenant principal: not an object of this tenant, principal not expandable.
			map[string]any{"id": "ra-2", "roleDefinitionId": "729827e3-9c14-49f7-bb1b-9608f156bbb8", "principalId": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "directoryScopeId": "/", "principal": nil},
			map[string]any{"id": "ra-3", "roleDefinitionId": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "principalId": "sp-rmm", "directoryScopeId": "/",
				"principal": map[string]any{"@odata.type": "#microsoft.graph.servicePrincipal", "id": "sp-rmm", "displayName": "ConnectWise Automate Integration", "appId": "app-rmm"}},
		})
	case "/v1.0/identity/conditionalAccess/policies":
		f.page(w, r, []any{
			map[string]any{"id": "ca-1", "displayName": "Require MFA for admins", "state": "enabled",
				"conditions": map[string]any{"users": map[string]any{"includeUsers": []string{}, "excludeUsers": []string{}, "includeGroups": []string{}, "excludeGroups": []string{},
					"includeRoles": []string{roleGlobalAdmin}, "excludeRoles": []string{}},
					"applications": map[string]any{"includeApplications": []string{"All"}}, "clientAppTypes": []string{"all"}},
				"grantControls": map[string]any{"operator": "OR", "builtInControls": []string{"mfa"}}},
			map[string]any{"id": "ca-2", "displayName": "MFA for all users (report-only)", "state": "enabledForReportingButNotEnforced",
				"conditions":    map[string]any{"users": map[string]any{"includeUsers": []string{"All"}}, "applications": map[string]any{"includeApplications": []string{"All"}}},
				"grantControls": map[string]any{"operator": "OR", "builtInControls": []string{"mfa"}}},
		})
	case "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy":
		WriteJSON(w, 200, map[string]any{"@odata.context": "x", "id": "00000000-0000-0000-0000-000000000005", "displayName": "Security Defaults", "isEnabled": false})
	case "/v1.0/servicePrincipals":
		f.page(w, r, []any{
			map[string]any{"id": "sp-rmm", "appId": "app-rmm", "displayName": "ConnectWise Automate Integration", "appOwnerOrganizationId": "99999999-0000-4000-8000-000000000001", "accountEnabled": true, "servicePrincipalType": "Application"},
			map[string]any{"id": "sp-ms", "appId": "00000003-0000-0000-c000-000000000000", "displayName": "Microsoft Graph", "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a", "accountEnabled": true, "servicePrincipalType": "Application"},
			map[string]any{"id": "sp-own", "appId": "app-own", "displayName": "Payroll sync", "appOwnerOrganizationId": tn.ID, "accountEnabled": true, "servicePrincipalType": "Application"},
			map[string]any{"id": "sp-msp", "appId": "app-msp", "displayName": "Harbourview Automation", "appOwnerOrganizationId": f.Partner, "accountEnabled": true, "servicePrincipalType": "Application"},
		})
	case "/v1.0/auditLogs/signIns":
		if !strings.HasPrefix(r.URL.Query().Get("$filter"), "createdDateTime ge ") {
			GraphError(w, 400, "BadRequest", "Invalid filter clause")
			return
		}
		var items []any
		for i := range 3 {
			items = append(items, map[string]any{"id": fmt.Sprintf("si-%d", i), "createdDateTime": "2026-11-27T05:00:00Z", "userPrincipalName": upn(i),
				"userId": user(i), "appDisplayName": "Office 365 Exchange Online", "ipAddress": "203.0.113.7", "clientAppUsed": "Browser",
				"isInteractive": true, "resourceTenantId": tn.ID, "homeTenantId": tn.ID, "conditionalAccessStatus": "notApplied",
				"status":   map[string]any{"errorCode": []int{0, 50126, 50126}[i], "failureReason": "", "additionalDetails": ""},
				"location": map[string]any{"city": "Leeds", "state": "", "countryOrRegion": "GB"}})
		}
		f.page(w, r, items)
	default:
		GraphError(w, 404, "Request_ResourceNotFound", "Resource not found: "+p)
	}
}

// VerifyAssertion checks a JWT client assertion.
func VerifyAssertion(jwt string, pub *rsa.PublicKey, aud string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return fmt.Errorf("malformed JWT")
	}
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	var hdr map[string]string
	var claims map[string]any
	if json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		return fmt.Errorf("bad JSON")
	}
	if hdr["x5t"] == "" || claims["aud"] != aud || claims["iss"] != claims["sub"] {
		return fmt.Errorf("bad header or claims: %v %v", hdr, claims)
	}
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch hdr["alg"] {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
	case "PS256":
		if hdr["x5t#S256"] == "" {
			return fmt.Errorf("PS256 without x5t#S256")
		}
		return rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	return fmt.Errorf("alg %q", hdr["alg"])
}
