// Package oktatest is a fake Okta org (many orgs on one server) for tests
// and benchmarks, built from Okta's published Management API reference:
//   - listUsers: GET /api/v1/users?limit (max 200), Link: <…>; rel="next"
//     with an opaque after cursor; user objects with status, created,
//     lastLogin, profile.login;
//   - listFactors: GET /api/v1/users/{id}/factors, factorType/provider/status;
//   - listUsersWithRoleAssignments: GET /api/v1/iam/assignees/users
//     ({"value":[{"id","orn"}],"_links":{"next"}}) and
//     listAssignedRolesForUser: GET /api/v1/users/{id}/roles;
//   - listLogEvents: GET /api/v1/logs?since&limit, polling with the Link
//     next of each page (an empty page keeps the same next link);
//   - errors {"errorCode","errorSummary","errorLink","errorId","errorCauses"}:
//     E0000011 invalid token (401), E0000006 forbidden (403), E0000047 rate
//     limit (429 with X-Rate-Limit-Limit/Remaining/Reset, per
//     developer.okta.com/docs/reference/rate-limits);
//   - service apps: POST /oauth2/v1/token, client_credentials with a
//     private_key_jwt client assertion;
//   - listPolicies: GET /api/v1/policies?type=OKTA_SIGN_ON|ACCESS_POLICY|
//     MFA_ENROLL (a bare JSON array of policies with id, type, status,
//     priority, system, conditions.people.groups.include/exclude, and for
//     MFA_ENROLL settings.authenticators[].enroll.self), listPolicyRules:
//     GET /api/v1/policies/{id}/rules (conditions.people, conditions.network
//     .connection ANYWHERE|ZONE; actions.signon.access/requireFactor for
//     sign-on rules, actions.appSignOn.access/verificationMethod.factorMode
//     1FA|2FA for authentication-policy rules), per
//     developer.okta.com/docs/api/resources/policy; getGroup and
//     listGroupUsers: GET /api/v1/groups/{id} (type BUILT_IN for Everyone)
//     and /api/v1/groups/{id}/users (Link: next). An org without Policies
//     set serves Okta's defaults: a global session policy whose rule asks
//     no factor, an authentication policy whose catch-all rule allows
//     password only, an enrollment policy with Okta Verify optional;
//   - listApplications: GET /api/v1/apps?limit (max 200, Link: next), app
//     objects with id, name, label, status, signOnMode and
//     _links.accessPolicy.href (".../api/v1/policies/{id}", the
//     authentication policy the app is mapped to, per "Authentication
//     policy reference in HAL link in Application API Object"); an org
//     without Apps set has Okta's own apps (okta_enduser "Okta Dashboard",
//     saasure "Okta Admin Console") on the default policy;
//     listApplicationUsers: GET /api/v1/apps/{id}/users?limit (max 500,
//     Link: next), app user objects with id, scope USER|GROUP, status;
//   - getWellknownOrgMetadata: GET /.well-known/okta-organization (no
//     credentials) {"id","pipeline":"idx"|"v1"}; a Classic org answers
//     ACCESS_POLICY with 400 E0000002 "Invalid policy type specified" and
//     its apps carry no accessPolicy link.
package oktatest

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/connector/connectortest"
)

// Org is one fake Okta org.
type Org struct {
	Slug  string
	Users int
	Token string // SSWS token accepted
	// ClientID + Key accept a service app instead.
	ClientID string
	Key      *rsa.PublicKey
	// Forbid answers 403 E0000006 on paths with these prefixes.
	Forbid []string
	// Events are System Log events (LogEvent JSON objects) in order.
	Events []map[string]any
	// MaxConcurrent answers 429 E0000047 above this many requests in
	// flight (Okta's concurrent rate limit; 0: none).
	MaxConcurrent int64
	// HTML answers the users list with an HTML page (a proxy error).
	HTML bool
	// FactorTypes overrides the factors of a user index (one ACTIVE factor
	// of each type given).
	FactorTypes map[int][]string
	// Policies replaces the default policies, by type; Rules are the
	// rules by policy id; Groups are groups by id (members as user
	// indexes; the group "everyone" is the built-in Everyone group).
	Policies map[string][]map[string]any
	Rules    map[string][]map[string]any
	Groups   map[string][]int
	// Apps replaces the default apps; AppUsers are each app's assigned
	// users (indexes) by app id.
	Apps     []map[string]any
	AppUsers map[string][]int
	// Classic makes the org a Classic Engine org.
	Classic bool
	// FactorCalls counts factor requests.
	FactorCalls atomic.Int64

	inFlight atomic.Int64
}

// Server serves many orgs under /org/<slug>.
type Server struct {
	Orgs    map[string]*Org
	Latency time.Duration
	// ThrottleEvery answers every Nth request with 429 (X-Rate-Limit-Reset
	// one second ahead); a URL is throttled at most once, so a client that
	// retries always gets through.
	ThrottleEvery int64
	Srv           *httptest.Server
	Calls         atomic.Int64
	Throttled     atomic.Int64
	Now           func() time.Time

	mu         sync.Mutex
	bearer     map[string]string // service app token → org slug
	throttled  map[string]bool
	factorJSON [4][]byte
}

// NewServer starts the fake (closed by t.Cleanup).
func NewServer(t testing.TB, orgs ...*Org) *Server {
	s := &Server{Orgs: map[string]*Org{}, bearer: map[string]string{}, throttled: map[string]bool{}, Now: time.Now}
	for _, o := range orgs {
		s.Orgs[o.Slug] = o
	}
	s.Srv = connectortest.StartFake(s)
	t.Cleanup(s.Srv.Close)
	return s
}

// URL is an org's org_url.
func (s *Server) URL(slug string) string { return s.Srv.URL + "/org/" + slug }

// UserID is the id of user i of an org.
func UserID(slug string, i int) string { return fmt.Sprintf("00u%s%05d", slug, i) }

func oktaError(w http.ResponseWriter, status int, code, summary string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae" + code, "errorCauses": []any{}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.Calls.Add(1)
	if s.Latency > 0 {
		time.Sleep(s.Latency)
	}
	rest := strings.TrimPrefix(r.URL.Path, "/org/")
	slug, path, _ := strings.Cut(rest, "/")
	path = "/" + path
	o := s.Orgs[slug]
	if o == nil {
		http.NotFound(w, r)
		return
	}
	base := s.URL(slug)
	if path == "/.well-known/okta-organization" {
		pipeline := "idx"
		if o.Classic {
			pipeline = "v1"
		}
		writeJSON(w, map[string]any{"id": "00o" + slug, "pipeline": pipeline, "settings": map[string]any{"analyticsCollectionEnabled": false}})
		return
	}
	if path == "/oauth2/v1/token" {
		s.token(w, r, o, base)
		return
	}
	if in := o.inFlight.Add(1); o.MaxConcurrent > 0 && in > o.MaxConcurrent {
		o.inFlight.Add(-1)
		s.throttle(w)
		return
	}
	defer o.inFlight.Add(-1)
	auth := r.Header.Get("Authorization")
	s.mu.Lock()
	bearerOrg := s.bearer[strings.TrimPrefix(auth, "Bearer ")]
	s.mu.Unlock()
	if !(o.Token != "" && auth == "SSWS "+o.Token) && bearerOrg != slug {
		oktaError(w, 401, "E0000011", "Invalid token provided")
		return
	}
	if s.ThrottleEvery > 0 && n%s.ThrottleEvery == 0 {
		s.mu.Lock()
		again := s.throttled[r.URL.String()]
		s.throttled[r.URL.String()] = true
		s.mu.Unlock()
		if !again {
			s.throttle(w)
			return
		}
	}
	for _, p := range o.Forbid {
		if strings.HasPrefix(path, p) {
			oktaError(w, 403, "E0000006", "You do not have permission to perform the requested action")
			return
		}
	}
	q := r.URL.Query()
	switch {
	case path == "/api/v1/users":
		if o.HTML {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<!DOCTYPE html><html><head><title>Okta</title></head><body>Service unavailable</body></html>")
			return
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit <= 0 || limit > 200 {
			limit = 200
		}
		after, _ := strconv.Atoi(strings.TrimPrefix(q.Get("after"), "00u"))
		end := min(after+limit, o.Users)
		out := make([]any, 0, end-after)
		for i := after; i < end; i++ {
			out = append(out, user(slug, i))
		}
		if end < o.Users {
			w.Header().Add("Link", fmt.Sprintf(`<%s/api/v1/users?limit=%d>; rel="self"`, base, limit))
			w.Header().Add("Link", fmt.Sprintf(`<%s/api/v1/users?after=00u%d&limit=%d>; rel="next"`, base, end, limit))
		}
		writeJSON(w, out)
	case strings.HasPrefix(path, "/api/v1/users/") && strings.HasSuffix(path, "/factors"):
		i := userIndex(slug, path)
		o.FactorCalls.Add(1)
		if ts, ok := o.FactorTypes[i]; ok {
			var fs []any
			for _, t := range ts {
				fs = append(fs, factor(t, "OKTA", "ACTIVE"))
			}
			writeJSON(w, fs)
			return
		}
		// Four answers, encoded once (keeps the fake's CPU out of the
		// benchmark's way).
		s.mu.Lock()
		b := s.factorJSON[i%4]
		s.mu.Unlock()
		if b != nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
			return
		}
		var fs []any
		switch i % 4 {
		case 0:
			fs = append(fs, factor("push", "OKTA", "ACTIVE"), factor("token:software:totp", "OKTA", "ACTIVE"))
		case 1:
			fs = append(fs, factor("sms", "OKTA", "ACTIVE"))
		case 2:
			fs = append(fs, factor("webauthn", "FIDO", "ACTIVE"))
		case 3:
			fs = append(fs, factor("question", "OKTA", "ACTIVE"), factor("push", "OKTA", "PENDING_ACTIVATION"))
		}
		b, _ = json.Marshal(fs)
		s.mu.Lock()
		s.factorJSON[i%4] = b
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case path == "/api/v1/iam/assignees/users":
		writeJSON(w, map[string]any{"value": []any{
			map[string]any{"id": UserID(slug, 0), "orn": "orn:okta:directory:00o1:users:" + UserID(slug, 0), "_links": map[string]any{"self": map[string]string{"href": base + "/api/v1/users/" + UserID(slug, 0)}}},
			map[string]any{"id": UserID(slug, 1), "orn": "orn:okta:directory:00o1:users:" + UserID(slug, 1)},
		}, "_links": map[string]any{}})
	case strings.HasPrefix(path, "/api/v1/users/") && strings.HasSuffix(path, "/roles"):
		i := userIndex(slug, path)
		role := map[string]any{"id": "ra1", "label": "Super Administrator", "type": "SUPER_ADMIN", "status": "ACTIVE", "created": "2024-01-01T00:00:00.000Z",
			"lastUpdated": "2024-01-01T00:00:00.000Z", "assignmentType": "USER"}
		if i == 1 {
			role = map[string]any{"id": "ra2", "label": "Help Desk Administrator", "type": "HELP_DESK_ADMIN", "status": "ACTIVE", "assignmentType": "GROUP"}
		}
		writeJSON(w, []any{role})
	case path == "/api/v1/logs":
		s.logs(w, r, o, base)
	case path == "/api/v1/policies" && o.Classic && q.Get("type") == "ACCESS_POLICY":
		oktaError(w, 400, "E0000002", "The request was not valid: Invalid policy type specified")
	case path == "/api/v1/apps":
		apps := o.Apps
		if apps == nil {
			apps = DefaultApps
		}
		after, end := offsetPage(w, q, len(apps), 20, 200, base+"/api/v1/apps")
		out := make([]any, 0, end-after)
		for _, a := range apps[after:end] {
			x := map[string]any{"signOnMode": "SAML_2_0", "created": "2024-01-01T00:00:00.000Z", "lastUpdated": "2024-01-01T00:00:00.000Z"}
			links := map[string]any{"users": map[string]string{"href": base + "/api/v1/apps/" + a["id"].(string) + "/users"}}
			for k, v := range a {
				if k == "accessPolicy" {
					if !o.Classic {
						links["accessPolicy"] = map[string]string{"href": base + "/api/v1/policies/" + v.(string)}
					}
					continue
				}
				x[k] = v
			}
			x["_links"] = links
			out = append(out, x)
		}
		writeJSON(w, out)
	case strings.HasPrefix(path, "/api/v1/apps/") && strings.HasSuffix(path, "/users"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/api/v1/apps/"), "/users")
		members, ok := o.AppUsers[id]
		if !ok && !slicesContainsApp(o.Apps, id) {
			oktaError(w, 404, "E0000007", "Not found: Resource not found: "+id+" (AppInstance)")
			return
		}
		after, end := offsetPage(w, q, len(members), 50, 500, base+"/api/v1/apps/"+id+"/users")
		out := make([]any, 0, end-after)
		for _, i := range members[after:end] {
			out = append(out, map[string]any{"id": UserID(slug, i), "scope": "USER", "status": "ACTIVE", "syncState": "DISABLED",
				"credentials": map[string]any{"userName": fmt.Sprintf("user%d@%s.example", i, slug)}, "profile": map[string]any{}})
		}
		writeJSON(w, out)
	case path == "/api/v1/policies":
		ps, ok := o.Policies[q.Get("type")]
		if o.Policies == nil {
			ps, ok = DefaultPolicies[q.Get("type")], true
		}
		if !ok {
			ps = []map[string]any{}
		}
		writeJSON(w, ps)
	case strings.HasPrefix(path, "/api/v1/policies/") && strings.HasSuffix(path, "/rules"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/api/v1/policies/"), "/rules")
		rs, ok := o.Rules[id]
		if o.Rules == nil {
			rs, ok = DefaultRules[id]
		}
		if !ok {
			oktaError(w, 404, "E0000007", "Not found: Resource not found: "+id+" (Policy)")
			return
		}
		writeJSON(w, rs)
	case strings.HasPrefix(path, "/api/v1/groups/"):
		id, sub, _ := strings.Cut(strings.TrimPrefix(path, "/api/v1/groups/"), "/")
		members, ok := o.Groups[id]
		if id == "everyone" {
			ok = true
		}
		if !ok {
			oktaError(w, 404, "E0000007", "Not found: Resource not found: "+id+" (UserGroup)")
			return
		}
		switch sub {
		case "":
			typ, name := "OKTA_GROUP", id
			if id == "everyone" {
				typ, name = "BUILT_IN", "Everyone"
			}
			writeJSON(w, map[string]any{"id": id, "type": typ, "profile": map[string]any{"name": name, "description": nil}})
		case "users":
			after, end := offsetPage(w, q, len(members), 200, 200, base+"/api/v1/groups/"+id+"/users")
			out := make([]any, 0, end-after)
			for _, i := range members[after:end] {
				out = append(out, user(slug, i))
			}
			writeJSON(w, out)
		default:
			oktaError(w, 404, "E0000007", "Not found: Resource not found: "+path)
		}
	default:
		oktaError(w, 404, "E0000007", "Not found: Resource not found: "+path)
	}
}

func (s *Server) throttle(w http.ResponseWriter) {
	s.Throttled.Add(1)
	w.Header().Set("X-Rate-Limit-Limit", "600")
	w.Header().Set("X-Rate-Limit-Remaining", "0")
	w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(s.Now().Add(time.Second).Unix(), 10))
	oktaError(w, 429, "E0000047", "API call exceeded rate limit due to too many requests.")
}

func userIndex(slug, path string) int {
	id := strings.Split(strings.TrimPrefix(path, "/api/v1/users/"), "/")[0]
	i, _ := strconv.Atoi(strings.TrimPrefix(id, "00u"+slug))
	return i
}

func user(slug string, i int) map[string]any {
	status := "ACTIVE"
	switch {
	case i%50 == 49:
		status = "SUSPENDED"
	case i%50 == 48:
		status = "DEPROVISIONED"
	case i%50 == 47:
		status = "LOCKED_OUT"
	}
	var last any = "2026-11-25T09:00:00.000Z"
	if i%10 == 5 {
		last = nil // never signed in
	}
	return map[string]any{"id": UserID(slug, i), "status": status, "created": "2023-03-01T08:00:00.000Z", "activated": "2023-03-01T08:00:00.000Z",
		"statusChanged": "2023-03-01T08:00:00.000Z", "lastLogin": last, "lastUpdated": "2026-11-25T09:00:00.000Z", "passwordChanged": "2025-01-01T00:00:00.000Z",
		"type": map[string]string{"id": "oty1"},
		"profile": map[string]any{"firstName": "User", "lastName": strconv.Itoa(i), "email": fmt.Sprintf("user%d@%s.example", i, slug),
			"login": fmt.Sprintf("user%d@%s.example", i, slug), "mobilePhone": nil},
		"credentials": map[string]any{"provider": map[string]string{"type": "OKTA", "name": "OKTA"}},
		"_links":      map[string]any{"self": map[string]string{"href": "/api/v1/users/" + UserID(slug, i)}}}
}

func factor(typ, provider, status string) map[string]any {
	return map[string]any{"id": "mfa" + strings.ReplaceAll(typ, ":", ""), "factorType": typ, "provider": provider, "vendorName": provider,
		"status": status, "created": "2024-01-01T00:00:00.000Z", "lastUpdated": "2024-01-01T00:00:00.000Z", "profile": map[string]any{}}
}

// logs serves the System Log: events at or after since, after the
// opaque cursor, limit per page; the next link always comes (polling).
func (s *Server) logs(w http.ResponseWriter, r *http.Request, o *Org, base string) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	start := 0
	if a := q.Get("after"); a != "" {
		start, _ = strconv.Atoi(a)
	} else if since := q.Get("since"); since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			oktaError(w, 400, "E0000001", "Api validation failed: since")
			return
		}
		for start < len(o.Events) {
			pub, _ := time.Parse(time.RFC3339, o.Events[start]["published"].(string))
			if !pub.Before(t) {
				break
			}
			start++
		}
	}
	// filter=eventType sw "prefix" (the only filter the collector uses).
	events := o.Events
	if f := q.Get("filter"); f != "" {
		prefix := strings.Trim(strings.TrimPrefix(f, "eventType sw "), `"`)
		if !strings.HasPrefix(f, "eventType sw ") {
			oktaError(w, 400, "E0000031", "Invalid search criteria.")
			return
		}
		// The cursor counts positions in the filtered list.
		var sel []map[string]any
		for _, e := range o.Events {
			if strings.HasPrefix(e["eventType"].(string), prefix) {
				sel = append(sel, e)
			}
		}
		events = sel
		if q.Get("after") == "" && q.Get("since") != "" {
			t, _ := time.Parse(time.RFC3339, q.Get("since"))
			start = 0
			for start < len(events) {
				pub, _ := time.Parse(time.RFC3339, events[start]["published"].(string))
				if !pub.Before(t) {
					break
				}
				start++
			}
		}
	}
	start = min(start, len(events))
	end := min(start+limit, len(events))
	page := events[start:end]
	if page == nil {
		page = []map[string]any{}
	}
	w.Header().Add("Link", fmt.Sprintf(`<%s/api/v1/logs?%s>; rel="self"`, base, r.URL.RawQuery))
	next := url.Values{"after": {strconv.Itoa(end)}, "limit": {strconv.Itoa(limit)}}
	if f := q.Get("filter"); f != "" {
		next.Set("filter", f)
	}
	w.Header().Add("Link", fmt.Sprintf(`<%s/api/v1/logs?%s>; rel="next"`, base, next.Encode()))
	writeJSON(w, page)
}

// token serves a service app's client_credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request, o *Org, base string) {
	_ = r.ParseForm()
	if o.Key == nil || r.Form.Get("grant_type") != "client_credentials" {
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	_, claims, err := connector.VerifyJWT(r.Form.Get("client_assertion"), o.Key)
	if err != nil || claims["iss"] != o.ClientID || claims["aud"] != base+"/oauth2/v1/token" {
		w.WriteHeader(401)
		writeJSON(w, map[string]string{"error": "invalid_client", "error_description": "The client_assertion signature is invalid."})
		return
	}
	for _, sc := range []string{"okta.users.read", "okta.logs.read", "okta.roles.read", "okta.policies.read", "okta.groups.read", "okta.apps.read"} {
		if !strings.Contains(r.Form.Get("scope"), sc) {
			w.WriteHeader(400)
			writeJSON(w, map[string]string{"error": "invalid_scope", "error_description": "The following scopes are not allowed: " + sc})
			return
		}
	}
	tok := fmt.Sprintf("eyJ.%s.%d", o.Slug, s.Calls.Load())
	s.mu.Lock()
	s.bearer[tok] = o.Slug
	s.mu.Unlock()
	writeJSON(w, map[string]any{"token_type": "Bearer", "expires_in": 3600, "access_token": tok, "scope": r.Form.Get("scope")})
}

// Event is a System Log event in the published LogEvent shape.
func Event(uuid, published, eventType, outcome, login, ip string) map[string]any {
	return map[string]any{
		"uuid": uuid, "published": published, "eventType": eventType, "version": "0", "severity": "INFO",
		"legacyEventType": "core.user_auth.login_success", "displayMessage": "User login to Okta",
		"actor":                 map[string]any{"id": "00u1", "type": "User", "alternateId": login, "displayName": login},
		"client":                map[string]any{"ipAddress": ip, "userAgent": map[string]any{"rawUserAgent": "Mozilla/5.0", "os": "Windows", "browser": "CHROME"}, "zone": "null", "device": "Computer"},
		"outcome":               map[string]any{"result": outcome, "reason": map[bool]any{true: "INVALID_CREDENTIALS", false: nil}[outcome == "FAILURE"]},
		"request":               map[string]any{"ipChain": []any{map[string]any{"ip": ip}}},
		"target":                []any{},
		"transaction":           map[string]any{"type": "WEB", "id": "tx" + uuid},
		"authenticationContext": map[string]any{"authenticationStep": 0, "externalSessionId": "x"},
		"securityContext":       map[string]any{"asNumber": 64496, "asOrg": "example", "isp": "example", "domain": "example.net", "isProxy": false},
	}
}

// DefaultPolicies are the policies of an org that set none: Okta's
// defaults as a new org has them.
var DefaultPolicies = map[string][]map[string]any{
	"OKTA_SIGN_ON": {{"id": "00pdefaultsignon", "type": "OKTA_SIGN_ON", "name": "Default Policy", "status": "ACTIVE", "priority": 1, "system": true,
		"conditions": map[string]any{"people": map[string]any{"groups": map[string]any{"include": []string{"everyone"}}}}}},
	"ACCESS_POLICY": {{"id": "00pdefaultaccess", "type": "ACCESS_POLICY", "name": "Default Policy", "status": "ACTIVE", "priority": 1, "system": true, "conditions": nil}},
	"MFA_ENROLL": {{"id": "00pdefaultenroll", "type": "MFA_ENROLL", "name": "Default Policy", "status": "ACTIVE", "priority": 1, "system": true,
		"conditions": map[string]any{"people": map[string]any{"groups": map[string]any{"include": []string{"everyone"}}}},
		"settings":   map[string]any{"type": "AUTHENTICATORS", "authenticators": []any{map[string]any{"key": "okta_verify", "enroll": map[string]any{"self": "OPTIONAL"}}}}}},
}

// DefaultApps are Okta's own apps on the default authentication policy
// (accessPolicy: the policy id the app is mapped to).
var DefaultApps = []map[string]any{
	{"id": "0oadashboard", "name": "okta_enduser", "label": "Okta Dashboard", "status": "ACTIVE", "signOnMode": "OPENID_CONNECT", "accessPolicy": "00pdefaultaccess"},
	{"id": "0oaadminconsole", "name": "saasure", "label": "Okta Admin Console", "status": "ACTIVE", "signOnMode": "OPENID_CONNECT", "accessPolicy": "00pdefaultaccess"},
}

// App is an app mapped to the authentication policy policyID; the labels
// "Okta Dashboard" and "Okta Admin Console" give Okta's own apps.
func App(id, label, policyID string) map[string]any {
	name := strings.ToLower(strings.ReplaceAll(label, " ", ""))
	switch label {
	case "Okta Dashboard":
		name = "okta_enduser"
	case "Okta Admin Console":
		name = "saasure"
	}
	return map[string]any{"id": id, "name": name, "label": label, "status": "ACTIVE", "accessPolicy": policyID}
}

func slicesContainsApp(apps []map[string]any, id string) bool {
	for _, a := range apps {
		if a["id"] == id {
			return true
		}
	}
	return false
}

// DefaultRules are the rules of DefaultPolicies.
var DefaultRules = map[string][]map[string]any{
	"00pdefaultsignon": {SignOnRule("0prdefault", "Default Rule", 1, "ANYWHERE", false, nil)},
	"00pdefaultaccess": {AccessRule("0prcatchall", "Catch-all Rule", 99, "ANYWHERE", "1FA", nil)},
}

// SignOnRule is a global session policy rule; exclude lists excluded
// group ids.
func SignOnRule(id, name string, priority int, connection string, requireFactor bool, excludeGroups []string) map[string]any {
	return map[string]any{"id": id, "type": "SIGN_ON", "name": name, "status": "ACTIVE", "priority": priority, "system": false,
		"conditions": map[string]any{"people": map[string]any{"users": map[string]any{"exclude": []string{}}, "groups": map[string]any{"exclude": nonNil(excludeGroups)}},
			"network": map[string]any{"connection": connection}, "authContext": map[string]any{"authType": "ANY"}},
		"actions": map[string]any{"signon": map[string]any{"access": "ALLOW", "requireFactor": requireFactor, "factorPromptMode": "ALWAYS", "rememberDeviceByDefault": false,
			"session": map[string]any{"usePersistentCookie": false, "maxSessionIdleMinutes": 120, "maxSessionLifetimeMinutes": 0}}}}
}

// AccessRule is an authentication policy rule (factorMode 1FA or 2FA);
// includeGroups limits it to those groups.
func AccessRule(id, name string, priority int, connection, factorMode string, includeGroups []string) map[string]any {
	people := map[string]any{}
	if includeGroups != nil {
		people["groups"] = map[string]any{"include": includeGroups}
	}
	return map[string]any{"id": id, "type": "ACCESS_POLICY", "name": name, "status": "ACTIVE", "priority": priority, "system": priority == 99,
		"conditions": map[string]any{"people": people, "network": map[string]any{"connection": connection}},
		"actions": map[string]any{"appSignOn": map[string]any{"access": "ALLOW",
			"verificationMethod": map[string]any{"factorMode": factorMode, "type": "ASSURANCE", "reauthenticateIn": "PT2H", "constraints": []any{}}}}}
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// offsetPage reads a list call's limit (def when absent or above max) and
// after (an offset into n items), sets the Link header for the next page
// at link, and returns the page's bounds [from, to).
func offsetPage(w http.ResponseWriter, q url.Values, n, def, max int, link string) (from, to int) {
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > max {
		limit = def
	}
	from, _ = strconv.Atoi(q.Get("after"))
	to = min(from+limit, n)
	if to < n {
		w.Header().Add("Link", fmt.Sprintf(`<%s?after=%d&limit=%d>; rel="next"`, link, to, limit))
	}
	return from, to
}
