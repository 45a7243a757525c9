// Package googletest is a fake Google Workspace Admin SDK and OAuth token
// endpoint for tests and benchmarks, from Google's published references:
//   - Directory API users.list (customer, maxResults ≤ 500, pageToken →
//     {"kind":"admin#directory#users","users":[…],"nextPageToken"}), the
//     User resource (primaryEmail, isAdmin, isDelegatedAdmin,
//     lastLoginTime "1970-01-01T00:00:00.000Z" when never, creationTime,
//     suspended, archived, isEnrolledIn2Sv, isEnforcedIn2Sv);
//   - roles.list and roleAssignments.list ({"items":[…]}, assigneeType,
//     scopeType CUSTOMER/ORG_UNIT);
//   - Reports API activities.list for applicationName=login (newest first,
//     startTime, pageToken; events login_success, login_failure with
//     login_failure_type, login_challenge);
//   - errors {"error":{"code","message","errors":[{"reason"}],"status"}};
//     403 forbidden / PERMISSION_DENIED; 429 rateLimitExceeded;
//   - the token endpoint's JWT bearer grant (service account with
//     domain-wide delegation: sub = the impersonated admin), answering
//     unauthorized_client when delegation is not granted.
package googletest

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/connector/connectortest"
)

// Customer is one fake Workspace.
type Customer struct {
	ID     string // C0… customer id
	Domain string
	Admin  string // the admin the service account may impersonate
	Users  int
	// NoDelegation answers the token request with unauthorized_client.
	NoDelegation bool
	// Forbid answers 403 on paths with these prefixes.
	Forbid []string
	// Activities are login activities, oldest first (served newest first).
	Activities []map[string]any
	// Truncate answers users pages cut short (truncated JSON); such a
	// customer is never throttled, so the error it ends with is stable.
	Truncate bool
}

// Server is the fake.
type Server struct {
	Customers map[string]*Customer // by Admin email
	Key       *rsa.PublicKey       // the service account's public key
	Email     string               // the service account
	Latency   time.Duration
	// ThrottleEvery answers every Nth API request 429 without Retry-After.
	ThrottleEvery int64
	Srv           *httptest.Server
	Calls         atomic.Int64

	mu        sync.Mutex
	tokens    map[string]*Customer
	throttled map[string]bool
}

// NewServer starts the fake (closed by t.Cleanup).
func NewServer(t testing.TB, key *rsa.PublicKey, email string, cs ...*Customer) *Server {
	s := &Server{Customers: map[string]*Customer{}, Key: key, Email: email, tokens: map[string]*Customer{}, throttled: map[string]bool{}}
	for _, c := range cs {
		s.Customers[c.Admin] = c
	}
	s.Srv = connectortest.StartFake(s)
	t.Cleanup(s.Srv.Close)
	return s
}

func googleError(w http.ResponseWriter, code int, status, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status,
		"errors": []any{map[string]string{"message": msg, "domain": "global", "reason": reason}}}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.Calls.Add(1)
	if s.Latency > 0 {
		time.Sleep(s.Latency)
	}
	if r.URL.Path == "/token" {
		s.token(w, r)
		return
	}
	s.mu.Lock()
	c := s.tokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
	s.mu.Unlock()
	if c == nil {
		googleError(w, 401, "UNAUTHENTICATED", "authError", "Request had invalid authentication credentials.")
		return
	}
	s.mu.Lock()
	again := s.throttled[r.URL.String()]
	if s.ThrottleEvery > 0 && n%s.ThrottleEvery == 0 {
		s.throttled[r.URL.String()] = true
	}
	s.mu.Unlock()
	if s.ThrottleEvery > 0 && n%s.ThrottleEvery == 0 && !again && !c.Truncate { // each URL at most once
		googleError(w, 429, "RESOURCE_EXHAUSTED", "rateLimitExceeded", "Quota exceeded for quota metric 'Queries'.")
		return
	}
	p := r.URL.Path
	for _, f := range c.Forbid {
		if strings.HasPrefix(p, f) {
			googleError(w, 403, "PERMISSION_DENIED", "forbidden", "Not Authorized to access this resource/api")
			return
		}
	}
	q := r.URL.Query()
	tok, _ := strconv.Atoi(q.Get("pageToken"))
	switch {
	case p == "/admin/directory/v1/users":
		if q.Get("customer") != "my_customer" && q.Get("customer") != c.ID {
			googleError(w, 400, "INVALID_ARGUMENT", "badRequest", "Bad Request")
			return
		}
		max, _ := strconv.Atoi(q.Get("maxResults"))
		if max <= 0 || max > 500 {
			max = 100
		}
		end := min(tok+max, c.Users)
		var users []any
		for i := tok; i < end; i++ {
			users = append(users, user(c, i))
		}
		out := map[string]any{"kind": "admin#directory#users", "etag": `"e"`, "users": users}
		if end < c.Users {
			out["nextPageToken"] = strconv.Itoa(end)
		}
		if c.Truncate {
			b, _ := json.Marshal(out)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b[:len(b)/2])
			return
		}
		writeJSON(w, out)
	case strings.HasSuffix(p, "/roles"):
		writeJSON(w, map[string]any{"kind": "admin#directory#roles", "items": []any{
			map[string]any{"kind": "admin#directory#role", "roleId": "91447453409034752", "roleName": "_SEED_ADMIN_ROLE", "isSystemRole": true, "isSuperAdminRole": true},
			map[string]any{"kind": "admin#directory#role", "roleId": "91447453409034753", "roleName": "_GROUPS_ADMIN_ROLE", "isSystemRole": true, "isSuperAdminRole": false},
			map[string]any{"kind": "admin#directory#role", "roleId": "91447453409034757", "roleName": "_HELP_DESK_ADMIN_ROLE", "isSystemRole": true, "isSuperAdminRole": false},
		}})
	case strings.HasSuffix(p, "/roleassignments"):
		writeJSON(w, map[string]any{"kind": "admin#directory#roleAssignments", "items": []any{
			map[string]any{"kind": "admin#directory#roleAssignment", "roleAssignmentId": "1", "roleId": "91447453409034752", "assignedTo": userID(c, 0), "assigneeType": "user", "scopeType": "CUSTOMER"},
			map[string]any{"kind": "admin#directory#roleAssignment", "roleAssignmentId": "2", "roleId": "91447453409034757", "assignedTo": userID(c, 1), "assigneeType": "user", "scopeType": "ORG_UNIT", "orgUnitId": "03ph8a2z1"},
		}})
	case p == "/admin/reports/v1/activity/users/all/applications/login":
		since, err := time.Parse(time.RFC3339, q.Get("startTime"))
		if err != nil {
			googleError(w, 400, "INVALID_ARGUMENT", "invalid", "Invalid value for: startTime")
			return
		}
		var items []map[string]any
		for i := len(c.Activities) - 1; i >= 0; i-- {
			t, _ := time.Parse(time.RFC3339Nano, c.Activities[i]["id"].(map[string]any)["time"].(string))
			if !t.Before(since) {
				items = append(items, c.Activities[i])
			}
		}
		max, _ := strconv.Atoi(q.Get("maxResults"))
		if max <= 0 || max > 1000 {
			max = 1000
		}
		end := min(tok+max, len(items))
		out := map[string]any{"kind": "admin#reports#activities", "items": items[tok:end]}
		if end < len(items) {
			out["nextPageToken"] = strconv.Itoa(end)
		}
		writeJSON(w, out)
	default:
		googleError(w, 404, "NOT_FOUND", "notFound", "Not Found")
	}
}

func userID(c *Customer, i int) string {
	return fmt.Sprintf("1%s%05d", strings.TrimPrefix(c.ID, "C"), i)
}

func user(c *Customer, i int) map[string]any {
	last := "2026-11-25T09:00:00.000Z"
	if i%10 == 5 {
		last = "1970-01-01T00:00:00.000Z"
	}
	return map[string]any{"kind": "admin#directory#user", "id": userID(c, i), "primaryEmail": fmt.Sprintf("user%d@%s", i, c.Domain),
		"name":    map[string]string{"givenName": "User", "familyName": strconv.Itoa(i), "fullName": "User " + strconv.Itoa(i)},
		"isAdmin": i == 0, "isDelegatedAdmin": i == 1, "lastLoginTime": last, "creationTime": "2023-03-01T08:00:00.000Z",
		"agreedToTerms": true, "suspended": i%50 == 49, "archived": i%50 == 48, "changePasswordAtNextLogin": false,
		"ipWhitelisted": false, "emails": []any{map[string]any{"address": fmt.Sprintf("user%d@%s", i, c.Domain), "primary": true}},
		"customerId": c.ID, "orgUnitPath": "/", "isMailboxSetup": true,
		"isEnrolledIn2Sv": i%3 != 2, "isEnforcedIn2Sv": i%2 == 0, "includeInGlobalAddressList": true}
}

// token serves the JWT bearer grant of a service account.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		w.WriteHeader(400)
		writeJSON(w, map[string]string{"error": "unsupported_grant_type", "error_description": "Invalid grant_type"})
		return
	}
	_, claims, err := connector.VerifyJWT(r.Form.Get("assertion"), s.Key)
	if err != nil || claims["iss"] != s.Email || claims["aud"] != s.Srv.URL+"/token" {
		w.WriteHeader(400)
		writeJSON(w, map[string]string{"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
		return
	}
	c := s.Customers[fmt.Sprint(claims["sub"])]
	scopes := strings.Fields(fmt.Sprint(claims["scope"]))
	sort.Strings(scopes)
	if c == nil || c.NoDelegation {
		w.WriteHeader(401)
		writeJSON(w, map[string]string{"error": "unauthorized_client", "error_description": "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."})
		return
	}
	tok := fmt.Sprintf("ya29.%s.%d", c.ID, s.Calls.Load())
	s.mu.Lock()
	s.tokens[tok] = c
	s.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

// Login is a login activity in the published shape.
func Login(c *Customer, i int, at time.Time, name, failureType, email, ip string) map[string]any {
	params := []any{map[string]any{"name": "login_type", "value": "google_password"}}
	if failureType != "" {
		params = append(params, map[string]any{"name": "login_failure_type", "value": failureType})
	}
	return map[string]any{"kind": "admin#reports#activity",
		"id":        map[string]any{"time": at.UTC().Format("2006-01-02T15:04:05.000Z"), "uniqueQualifier": fmt.Sprintf("-%d", 1000+i), "applicationName": "login", "customerId": c.ID},
		"etag":      `"x"`,
		"actor":     map[string]any{"email": email, "profileId": "1" + strconv.Itoa(i)},
		"ipAddress": ip,
		"events":    []any{map[string]any{"type": "login", "name": name, "parameters": params}},
	}
}
