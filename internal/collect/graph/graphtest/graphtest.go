// Package graphtest is a fake Microsoft Graph and token endpoint for tests
// and benchmarks: the documented v1.0 response shapes for a partner tenant
// and its GDAP customers, with paging, throttling (429 + Retry-After), 403
// error bodies, an HTML error page, token errors and an expired token.
//
// Shapes follow Microsoft's published response examples and the v1.0 CSDL
// (microsoftgraph/msgraph-metadata schemas/v1.0-Prod.csdl); the pages:
//   - user-list (Example: signInActivity; "$top … maximum page size 120
//     when $select=signInActivity"), user-delta (@odata.deltaLink, @removed);
//   - rbacapplication-list-roleassignments (principalOrganizationId,
//     directoryScopeId "/administrativeUnits/{id}"),
//     rbacapplication-list-roleeligibilityschedules;
//   - conditionalaccessroot-list-policies (grantControls operator OR/AND,
//     conditions.locations/platforms/clientAppTypes);
//   - identitysecuritydefaultsenforcementpolicy-get;
//   - signin-list ($filter on createdDateTime);
//   - v2-oauth2-client-creds-grant-flow, v2-oauth2-device-code,
//     refresh-token grant (invalid_grant AADSTS50173 on a revoked token);
//     certificate-credentials (PS256 with x5t#S256, RS256 with x5t).
package graphtest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector/connectortest"
)

const roleGlobalAdmin = "62e90394-69f5-4237-9190-012177145e10"

// Debug, when set, sees token requests.
var Debug func(string)

// signInAt is when the fake's sign-ins happened.
var signInAt = time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)

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
	// RefreshTokens are the delegated refresh tokens the token endpoint
	// accepts (each use rotates it: the old one stays valid, as Entra ID
	// does); Revoked ones answer invalid_grant AADSTS50173.
	RefreshTokens map[string]bool
	Revoked       map[string]bool
	// DevicePending is how many device-code polls answer
	// authorization_pending before the sign-in completes.
	DevicePending int
	// SawConsistencyLevel counts requests sent with ConsistencyLevel.
	SawConsistencyLevel atomic.Int64
	// DeltaRounds counts users/delta repeat rounds served.
	DeltaRounds atomic.Int64
	// Batches counts $batch requests; reqs counts Graph requests, batched
	// ones included (throttling counts these).
	Batches atomic.Int64
	reqs    atomic.Int64
	cache   map[string][]byte
	caCalls map[string]int
	// consent is per tenant: the app's service principal id ("" none)
	// and its granted Graph app role ids.
	consentSP    map[string]string
	consentRoles map[string]map[string]bool
	pcTokens     map[string]bool
	// PCConsents counts Partner Center applicationconsents requests.
	PCConsents atomic.Int64

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
	// SecurityDefaults is identitySecurityDefaultsEnforcementPolicy.isEnabled.
	SecurityDefaults bool
	// CA replaces the default Conditional Access policies when set.
	CA []any
	// SignInTimeoutOver answers 504 for sign-in windows longer than this.
	SignInTimeoutOver time.Duration
	// BadRequestActivity answers any users query with signInActivity with
	// HTTP 400 (as a page size above 120 is answered).
	BadRequestActivity bool
	// CAThrottleOnce answers the first CA request with 429 and no
	// Retry-After (CA's documented 1 request/s per tenant).
	CAThrottleOnce bool
	// NoAppAdmin: the partner holds no GDAP role that may create service
	// principals or grant app roles here (POST answers 403).
	NoAppAdmin bool
	// DeltaChanges are served by the users/delta link after the first
	// round: user index → "removed" or "disabled".
	DeltaChanges map[int]string
	// GroupMembers are groups' transitive members (user indexes), served
	// by GET /groups/{id}/transitiveMembers as a flat directoryObject
	// collection, paged (learn.microsoft.com/graph/api/group-list-transitivemembers:
	// "transitive and returns a flat list of all nested members").
	// NestedGroups lists, per group, the group objects that the flat list
	// also holds (a nested group is itself a member).
	GroupMembers map[string][]int
	NestedGroups map[string][]string
}

// NewServer starts a fake Graph + token endpoint (closed by t.Cleanup).
// Point Config.Authority and Config.GraphURL at Srv.URL.
func NewServer(t testing.TB, tenants []Tenant) *Server {
	f := &Server{Partner: "00000000-0000-4000-8000-00000000ffff", Secret: "s3cr3t-Value~xyz", Tenants: tenants, PageSize: 100,
		tokens: map[string]string{}, expired: map[string]bool{}, RetryAfter: "0", RefreshTokens: map[string]bool{}, Revoked: map[string]bool{}, caCalls: map[string]int{},
		consentSP: map[string]string{}, consentRoles: map[string]map[string]bool{}, pcTokens: map[string]bool{}, cache: map[string][]byte{}}
	for _, tn := range tenants {
		if tn.ExpireOnce {
			f.expired[tn.ID] = true
		}
	}
	f.Srv = connectortest.StartFake(f)
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
	_ = json.NewEncoder(w).Encode(v)
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
	f.Calls.Add(1)
	if f.Latency > 0 {
		time.Sleep(f.Latency)
	}
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		if Debug != nil {
			Debug(r.URL.Path)
		}
		f.token(w, r)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/devicecode") {
		WriteJSON(w, 200, map[string]any{"device_code": "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS", "user_code": "FJL7KWBYQ",
			"verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 1,
			"message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FJL7KWBYQ to authenticate."})
		return
	}
	if strings.HasPrefix(r.URL.Path, "/v1/customers/") {
		f.partnerCenter(w, r)
		return
	}
	if r.Header.Get("ConsistencyLevel") != "" {
		f.SawConsistencyLevel.Add(1)
	}
	if r.URL.Path == "/v1.0/$batch" && r.Method == http.MethodPost {
		f.batch(w, r)
		return
	}
	f.graphAPI(w, r)
}

// batch serves JSON batching (json-batching: up to 20 requests, each
// answered with its own id, status, headers and body; throttling applies
// to each request on its own).
func (f *Server) batch(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Requests []struct {
			ID, Method, URL string
		} `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Requests) == 0 || len(in.Requests) > 20 {
		GraphError(w, 400, "BadRequest", "Invalid batch payload.")
		return
	}
	f.Batches.Add(1)
	// The envelope is written by hand: the inner bodies are already JSON,
	// and re-encoding them (validate + compact) made the fake's CPU, not
	// the client's, the larger part of the delta-repeat benchmark.
	parts := make([][]byte, 0, len(in.Requests))
	for _, q := range in.Requests {
		inner := httptest.NewRequest(q.Method, "/v1.0"+q.URL, nil)
		inner.Header.Set("Authorization", r.Header.Get("Authorization"))
		rec := httptest.NewRecorder()
		f.graphAPI(rec, inner)
		hdr := map[string]string{}
		for k := range rec.Header() {
			hdr[k] = rec.Header().Get(k)
		}
		id, _ := json.Marshal(q.ID)
		hb, _ := json.Marshal(hdr)
		body := bytes.TrimSpace(rec.Body.Bytes())
		if n := len(body); n == 0 || !(body[0] == '{' && body[n-1] == '}' || body[0] == '[' && body[n-1] == ']') {
			body, _ = json.Marshal(rec.Body.String())
		}
		part := fmt.Appendf(nil, `{"id":%s,"status":%d,"headers":%s,"body":`, id, rec.Code, hb)
		parts = append(parts, append(append(part, body...), '}'))
	}
	// Responses may come in any order.
	slices.Reverse(parts)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	_, _ = w.Write([]byte(`{"responses":[`))
	_, _ = w.Write(bytes.Join(parts, []byte{','}))
	_, _ = w.Write([]byte("]}\n"))
}

// graphAPI answers one Graph request (outside or inside a batch).
func (f *Server) graphAPI(w http.ResponseWriter, r *http.Request) {
	call := f.reqs.Add(1)
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
	if err := r.ParseForm(); err == nil && r.Form.Get("grant_type") == "refresh_token" {
		f.refreshGrant(w, r, tenant)
		return
	}
	if r.Form.Get("grant_type") == "urn:ietf:params:oauth:grant-type:device_code" {
		f.mu.Lock()
		f.DevicePending--
		pending := f.DevicePending >= 0
		f.mu.Unlock()
		if pending {
			WriteJSON(w, 400, map[string]any{"error": "authorization_pending", "error_description": "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling."})
			return
		}
		WriteJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "access_token": "tok-device", "refresh_token": "rt-1"})
		return
	}
	if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("scope") != f.Srv.URL+"/.default" {
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

// refreshGrant exchanges a delegated refresh token for a customer-tenant
// token (GDAP) and rotates it.
func (f *Server) refreshGrant(w http.ResponseWriter, r *http.Request, tenant string) {
	rt := r.Form.Get("refresh_token")
	f.mu.Lock()
	ok, revoked := f.RefreshTokens[rt], f.Revoked[rt]
	f.mu.Unlock()
	switch {
	case revoked:
		WriteJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.\r\nTrace ID: t"})
		return
	case !ok:
		WriteJSON(w, 400, map[string]any{"error": "invalid_grant", "error_description": "AADSTS9002313: Invalid request. Request is malformed or invalid."})
		return
	case r.Form.Get("scope") == partnerCenterScope && tenant == f.Partner:
		f.mu.Lock()
		f.n++
		tok := fmt.Sprintf("pctok-%d", f.n)
		f.pcTokens[tok] = true
		next := fmt.Sprintf("rt-%d", f.n)
		f.RefreshTokens[next] = true
		f.mu.Unlock()
		WriteJSON(w, 200, map[string]any{"token_type": "Bearer", "scope": "https://api.partnercenter.microsoft.com/user_impersonation", "expires_in": 3599, "access_token": tok, "refresh_token": next})
		return
	case r.Form.Get("scope") != f.Srv.URL+"/.default offline_access":
		WriteJSON(w, 400, map[string]any{"error": "invalid_scope", "error_description": "AADSTS70011: The provided value for the input parameter 'scope' is not valid."})
		return
	}
	if tenant != f.Partner && f.tenant(tenant) == nil {
		WriteJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "AADSTS90002: Tenant '" + tenant + "' not found."})
		return
	}
	f.mu.Lock()
	f.n++
	tok := fmt.Sprintf("tok-%s-%d", tenant, f.n)
	f.tokens[tok] = tenant
	next := fmt.Sprintf("rt-%d", f.n)
	f.RefreshTokens[next] = true
	f.mu.Unlock()
	WriteJSON(w, 200, map[string]any{"token_type": "Bearer", "scope": "https://graph.microsoft.com/.default", "expires_in": 4737, "access_token": tok, "refresh_token": next})
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

// GraphAppRoles are Microsoft Graph's application permissions (app role
// value → id, as published in the permissions reference).
var GraphAppRoles = map[string]string{
	"User.Read.All":                 "df021288-bdef-4463-88db-98f22de89214",
	"AuditLog.Read.All":             "b0afded3-3588-46d8-8b3d-9842eff778da",
	"Directory.Read.All":            "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
	"RoleManagement.Read.Directory": "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
	"Policy.Read.All":               "246dd0d5-5bd0-4def-940b-0421030a5b68",
	"Application.Read.All":          "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
	"GroupMember.Read.All":          "98830695-27a2-44f7-8c18-0c3ebc9698f6",
	"Domain.Read.All":               "dbb9058a-0e50-45d7-ae91-66909b5d4664",
}

// Consented reports the tenant's granted Graph app role values.
func (f *Server) Consented(tenant string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for v, id := range GraphAppRoles {
		if f.consentRoles[tenant][id] {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// consent serves the calls of per-customer app consent
// (serviceprincipal-post-serviceprincipals,
// serviceprincipal-post-approleassignedto, serviceprincipal-list-approleassignments).
func (f *Server) consent(w http.ResponseWriter, r *http.Request, tn *Tenant) bool {
	p := r.URL.Path
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case p == "/v1.0/servicePrincipals" && r.Method == http.MethodGet && strings.HasPrefix(r.URL.Query().Get("$filter"), "appId eq "):
		app := strings.Trim(strings.TrimPrefix(r.URL.Query().Get("$filter"), "appId eq "), "'")
		var items []any
		switch {
		case app == "00000003-0000-0000-c000-000000000000":
			var roles []any
			for v, id := range GraphAppRoles {
				roles = append(roles, map[string]any{"id": id, "value": v, "allowedMemberTypes": []string{"Application"}, "isEnabled": true})
			}
			items = append(items, map[string]any{"id": "sp-graph", "appId": app, "appRoles": roles})
		case f.consentSP[tn.ID] != "":
			items = append(items, map[string]any{"id": f.consentSP[tn.ID], "appId": app, "appRoles": []any{}})
		}
		WriteJSON(w, 200, map[string]any{"value": items})
	case p == "/v1.0/servicePrincipals" && r.Method == http.MethodPost:
		if tn.NoAppAdmin {
			GraphError(w, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
			return true
		}
		var body struct {
			AppID string `json:"appId"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.consentSP[tn.ID] = "sp-app-" + tn.Slug
		WriteJSON(w, 201, map[string]any{"id": f.consentSP[tn.ID], "appId": body.AppID, "appRoles": []any{}})
	case strings.HasSuffix(p, "/appRoleAssignments") && r.Method == http.MethodGet:
		var items []any
		for id := range f.consentRoles[tn.ID] {
			items = append(items, map[string]any{"appRoleId": id, "resourceId": "sp-graph", "principalId": f.consentSP[tn.ID]})
		}
		WriteJSON(w, 200, map[string]any{"value": items})
	case p == "/v1.0/servicePrincipals/sp-graph/appRoleAssignedTo" && r.Method == http.MethodPost:
		if tn.NoAppAdmin {
			GraphError(w, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
			return true
		}
		var body struct{ PrincipalID, ResourceID, AppRoleID string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if f.consentRoles[tn.ID] == nil {
			f.consentRoles[tn.ID] = map[string]bool{}
		}
		f.consentRoles[tn.ID][body.AppRoleID] = true
		WriteJSON(w, 201, map[string]any{"appRoleId": body.AppRoleID, "principalId": body.PrincipalID, "resourceId": body.ResourceID})
	default:
		return false
	}
	return true
}

func (f *Server) customerAPI(w http.ResponseWriter, r *http.Request, tn *Tenant) {
	p := r.URL.Path
	if f.consent(w, r, tn) {
		return
	}
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
	if g, ok := strings.CutPrefix(p, "/v1.0/groups/"); ok && strings.HasSuffix(g, "/transitiveMembers") {
		g = strings.TrimSuffix(g, "/transitiveMembers")
		if ms, ok := tn.GroupMembers[g]; ok {
			var items []any
			for _, n := range tn.NestedGroups[g] {
				items = append(items, map[string]any{"@odata.type": "#microsoft.graph.group", "id": n})
			}
			for _, i := range ms {
				items = append(items, map[string]any{"@odata.type": "#microsoft.graph.user", "id": user(i)})
			}
			f.page(w, r, items)
			return
		}
	}
	switch p {
	case "/v1.0/domains":
		f.page(w, r, []any{
			map[string]any{"id": tn.Slug + ".example", "isVerified": true, "isDefault": true},
			map[string]any{"id": tn.Slug + ".onmicrosoft.com", "isVerified": true},
			map[string]any{"id": "pending." + tn.Slug + ".example", "isVerified": false},
		})
	case "/v1.0/users", "/v1.0/users/delta":
		if tn.HTMLUsers {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body><h1>Service Unavailable</h1></body></html>")
			return
		}
		q := r.URL.Query()
		withActivity := strings.Contains(q.Get("$select"), "signInActivity") || q.Get("$sia") != ""
		if top, _ := strconv.Atoi(q.Get("$top")); withActivity && (top > 120 || tn.BadRequestActivity) {
			// user-list: "the maximum page size for $top is 120" with signInActivity.
			GraphError(w, 400, "Request_UnsupportedQuery", "The page size for signInActivity must be 120 or less.")
			return
		}
		if withActivity && r.Header.Get("ConsistencyLevel") != "" {
			withActivity = false // reported: advanced queries blank signInActivity
		}
		mk := func(i int) map[string]any {
			u := map[string]any{"id": user(i), "displayName": fmt.Sprintf("User %d", i), "userPrincipalName": upn(i),
				"accountEnabled": i%10 != 9, "userType": "Member", "createdDateTime": "2023-03-01T08:00:00Z"}
			if withActivity {
				u["signInActivity"] = map[string]any{
					"lastSignInDateTime": "2026-11-20T09:00:00Z", "lastSignInRequestId": "r",
					"lastNonInteractiveSignInDateTime": "2026-11-25T09:00:00Z", "lastNonInteractiveSignInRequestId": "r",
					"lastSuccessfulSignInDateTime": "2026-11-25T09:00:00Z", "lastSuccessfulSignInRequestId": "r"}
				switch i {
				case 1: // no successful sign-in recorded since December 2023
					u["signInActivity"] = map[string]any{"lastSignInDateTime": "2025-01-01T09:00:00Z", "lastNonInteractiveSignInDateTime": "0001-01-01T00:00:00Z", "lastSuccessfulSignInDateTime": nil}
				case 2: // dormant, then sprayed: failed attempts update lastSignInDateTime
					u["signInActivity"] = map[string]any{"lastSignInDateTime": "2026-11-26T03:12:00Z", "lastNonInteractiveSignInDateTime": "2024-06-01T00:00:00Z", "lastSuccessfulSignInDateTime": "2024-06-01T00:00:00Z"}
				}
			}
			return u
		}
		if p == "/v1.0/users/delta" {
			f.delta(w, r, tn, mk)
			return
		}
		items := make([]any, tn.Users)
		for i := range tn.Users {
			items[i] = mk(i)
		}
		f.page(w, r, items)
	case "/v1.0/roleManagement/directory/roleEligibilitySchedules":
		f.page(w, r, []any{
			map[string]any{"id": "es-1", "principalId": user(5), "roleDefinitionId": roleGlobalAdmin, "directoryScopeId": "/", "appScopeId": nil,
				"createdUsing": "es-1", "createdDateTime": "2025-06-01T00:00:00Z", "modifiedDateTime": nil, "status": "Provisioned", "memberType": "Direct",
				"scheduleInfo": map[string]any{"startDateTime": "2025-06-01T00:00:00Z", "expiration": map[string]any{"type": "noExpiration"}},
				"principal":    map[string]any{"@odata.type": "#microsoft.graph.user", "id": user(5), "displayName": "User 5", "userPrincipalName": upn(5)}},
		})
	case "/v1.0/groups/grp-admins/transitiveMembers":
		f.page(w, r, []any{map[string]any{"@odata.type": "#microsoft.graph.user", "id": user(3)}})
	case "/v1.0/reports/authenticationMethods/userRegistrationDetails":
		// The same answer every time: served from a cache (keeps the fake's
		// CPU out of the benchmarks' way).
		key := tn.ID + " " + r.URL.RequestURI()
		f.mu.Lock()
		cached, ok := f.cache[key]
		f.mu.Unlock()
		if ok {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(cached)
			return
		}
		rec := httptest.NewRecorder()
		defer func() {
			f.mu.Lock()
			f.cache[key] = rec.Body.Bytes()
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(rec.Body.Bytes())
		}()
		w := rec
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
			map[string]any{"id": "ra-1", "roleDefinitionId": roleGlobalAdmin, "principalId": user(0), "directoryScopeId": "/", "principalOrganizationId": tn.ID,
				"principal": map[string]any{"@odata.type": "#microsoft.graph.user", "id": user(0), "displayName": "User 0", "userPrincipalName": upn(0)}},
			// A partner-tenant principal: principalOrganizationId names the partner, principal not expandable.
			map[string]any{"id": "ra-2", "roleDefinitionId": "729827e3-9c14-49f7-bb1b-9608f156bbb8", "principalId": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "directoryScopeId": "/", "principalOrganizationId": f.Partner, "principal": nil},
			map[string]any{"id": "ra-3", "roleDefinitionId": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "principalId": "sp-rmm", "directoryScopeId": "/", "principalOrganizationId": tn.ID,
				"principal": map[string]any{"@odata.type": "#microsoft.graph.servicePrincipal", "id": "sp-rmm", "displayName": "ConnectWise Automate Integration", "appId": "app-rmm"}},
			// A role-assignable group: its members hold Global Administrator.
			map[string]any{"id": "ra-4", "roleDefinitionId": roleGlobalAdmin, "principalId": "grp-admins", "directoryScopeId": "/", "principalOrganizationId": tn.ID,
				"principal": map[string]any{"@odata.type": "#microsoft.graph.group", "id": "grp-admins", "displayName": "Tier 0 admins", "isAssignableToRole": true}},
			// Helpdesk Administrator scoped to one administrative unit.
			map[string]any{"id": "ra-5", "roleDefinitionId": "729827e3-9c14-49f7-bb1b-9608f156bbb8", "principalId": user(4), "directoryScopeId": "/administrativeUnits/au-branch", "principalOrganizationId": tn.ID,
				"principal": map[string]any{"@odata.type": "#microsoft.graph.user", "id": user(4), "displayName": "User 4", "userPrincipalName": upn(4)}},
			// A deleted principal of this tenant: not expandable, not foreign.
			map[string]any{"id": "ra-6", "roleDefinitionId": roleGlobalAdmin, "principalId": "dddddddd-0000-4000-8000-000000000001", "directoryScopeId": "/", "principalOrganizationId": tn.ID, "principal": nil},
		})
	case "/v1.0/identity/conditionalAccess/policies":
		f.mu.Lock()
		f.caCalls[tn.ID]++
		first := f.caCalls[tn.ID] == 1
		f.mu.Unlock()
		if tn.CAThrottleOnce && first {
			GraphError(w, 429, "TooManyRequests", "Too many requests.") // no Retry-After
			return
		}
		if tn.CA != nil {
			f.page(w, r, tn.CA)
			return
		}
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
		WriteJSON(w, 200, map[string]any{"@odata.context": "x", "id": "00000000-0000-0000-0000-000000000005", "displayName": "Security Defaults", "isEnabled": tn.SecurityDefaults})
	case "/v1.0/servicePrincipals":
		f.page(w, r, []any{
			map[string]any{"id": "sp-rmm", "appId": "app-rmm", "displayName": "ConnectWise Automate Integration", "appOwnerOrganizationId": "99999999-0000-4000-8000-000000000001", "accountEnabled": true, "servicePrincipalType": "Application"},
			map[string]any{"id": "sp-ms", "appId": "00000003-0000-0000-c000-000000000000", "displayName": "Microsoft Graph", "appOwnerOrganizationId": "f8cdef31-a31e-4b4a-93e4-5f571e91255a", "accountEnabled": true, "servicePrincipalType": "Application"},
			map[string]any{"id": "sp-own", "appId": "app-own", "displayName": "Payroll sync", "appOwnerOrganizationId": tn.ID, "accountEnabled": true, "servicePrincipalType": "Application"},
			map[string]any{"id": "sp-msp", "appId": "app-msp", "displayName": "Harbourview Automation", "appOwnerOrganizationId": f.Partner, "accountEnabled": true, "servicePrincipalType": "Application"},
		})
	case "/v1.0/auditLogs/signIns":
		// signin-list: $filter=createdDateTime ge {t} and createdDateTime lt {t}
		parts := strings.Fields(r.URL.Query().Get("$filter"))
		if len(parts) != 7 || parts[0] != "createdDateTime" || parts[1] != "ge" || parts[3] != "and" || parts[5] != "lt" {
			GraphError(w, 400, "BadRequest", "Invalid filter clause")
			return
		}
		from, err1 := time.Parse(time.RFC3339, parts[2])
		to, err2 := time.Parse(time.RFC3339, parts[6])
		if err1 != nil || err2 != nil {
			GraphError(w, 400, "BadRequest", "Invalid filter clause")
			return
		}
		if tn.SignInTimeoutOver > 0 && to.Sub(from) > tn.SignInTimeoutOver {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(504)
			fmt.Fprint(w, "<html><body>504 Gateway Time-out</body></html>")
			return
		}
		if !(from.Before(signInAt) || from.Equal(signInAt)) || !signInAt.Before(to) {
			f.page(w, r, []any{})
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

// delta serves users/delta: the first round pages every user and ends with
// an @odata.deltaLink; a later round (the link's $deltatoken) returns only
// DeltaChanges.
func (f *Server) delta(w http.ResponseWriter, r *http.Request, tn *Tenant, mk func(int) map[string]any) {
	link := f.Srv.URL + "/v1.0/users/delta?$deltatoken=tok-" + tn.Slug
	if r.URL.Query().Get("$deltatoken") != "" {
		f.DeltaRounds.Add(1)
		var items []any
		for i, ch := range tn.DeltaChanges {
			switch ch {
			case "removed":
				items = append(items, map[string]any{"id": mk(i)["id"], "@removed": map[string]string{"reason": "changed"}})
			case "disabled":
				u := mk(i)
				u["accountEnabled"] = false
				items = append(items, u)
			}
		}
		WriteJSON(w, 200, map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": items, "@odata.deltaLink": link})
		return
	}
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	end := min(skip+f.PageSize, tn.Users)
	var items []any
	for i := skip; i < end; i++ {
		items = append(items, mk(i))
	}
	out := map[string]any{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users", "value": items}
	if end < tn.Users {
		out["@odata.nextLink"] = fmt.Sprintf("%s/v1.0/users/delta?$skiptoken=%d", f.Srv.URL, end)
	} else {
		out["@odata.deltaLink"] = link
	}
	WriteJSON(w, 200, out)
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
	if (hdr["alg"] == "PS256" && hdr["x5t#S256"] == "") || (hdr["alg"] == "RS256" && hdr["x5t"] == "") || claims["aud"] != aud || claims["iss"] != claims["sub"] {
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

const partnerCenterScope = "https://api.partnercenter.microsoft.com/user_impersonation offline_access"

// partnerCenter serves Partner Center's consent API for control panel
// vendors and GDAP partners (learn.microsoft.com/partner-center/developer/
// control-panel-vendor-apis): POST /v1/customers/{customer_id}/applicationconsents
// with {applicationId, applicationGrants:[{enterpriseApplicationId, scope}]}
// (scope comma-separated) answers 201 Created with the ApplicationConsent;
// an existing consent answers 409 Conflict; a partner admin without a
// GDAP role allowing it (NoAppAdmin) gets 403 Forbidden. A consent
// creates the app's service principal and grants the Graph app roles
// named, so the Graph consent checker sees it.
func (f *Server) partnerCenter(w http.ResponseWriter, r *http.Request) {
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	okTok := f.pcTokens[auth]
	f.mu.Unlock()
	if !okTok {
		WriteJSON(w, 401, map[string]any{"code": 401, "description": "Unauthorized", "source": "PartnerFD"})
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/v1/customers/")
	id, tail, _ := strings.Cut(rest, "/")
	tn := f.tenant(id)
	if tail != "applicationconsents" || r.Method != http.MethodPost || tn == nil {
		WriteJSON(w, 404, map[string]any{"code": 600039, "description": "Customer not found", "source": "PartnerFD"})
		return
	}
	f.PCConsents.Add(1)
	var in struct {
		ApplicationID     string `json:"applicationId"`
		ApplicationGrants []struct {
			EnterpriseApplicationID string `json:"enterpriseApplicationId"`
			Scope                   string `json:"scope"`
		} `json:"applicationGrants"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.ApplicationID == "" || len(in.ApplicationGrants) == 0 {
		WriteJSON(w, 400, map[string]any{"code": 400, "description": "Invalid consent payload", "source": "PartnerFD"})
		return
	}
	if tn.NoAppAdmin {
		WriteJSON(w, 403, map[string]any{"code": 403, "description": "Forbidden: the caller has no delegated admin role that allows consent in this customer", "source": "PartnerFD"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.consentSP[tn.ID] != "" {
		WriteJSON(w, 409, map[string]any{"code": 409, "description": "Permission entry already exists.", "source": "PartnerFD"})
		return
	}
	f.consentSP[tn.ID] = "sp-app-" + tn.Slug
	if f.consentRoles[tn.ID] == nil {
		f.consentRoles[tn.ID] = map[string]bool{}
	}
	for _, g := range in.ApplicationGrants {
		if g.EnterpriseApplicationID != "00000003-0000-0000-c000-000000000000" {
			continue
		}
		for _, v := range strings.Split(g.Scope, ",") {
			if id, ok := GraphAppRoles[strings.TrimSpace(v)]; ok {
				f.consentRoles[tn.ID][id] = true
			}
		}
	}
	WriteJSON(w, 201, in)
}
