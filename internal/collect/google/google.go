// Package google collects identity evidence and login events from Google
// Workspace customers: users with 2-Step Verification enrolment and
// enforcement, suspended and archived state, last login, admin roles
// (role assignments, super admins), and login audit activities from the
// Reports API as events. It authenticates as a service account with
// domain-wide delegation, impersonating an admin of each customer
// (scopes admin.directory.user.readonly,
// admin.directory.rolemanagement.readonly, admin.reports.audit.readonly).
//
// Built on internal/connector; imported by cmd/firebreak and the server.
package google

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
)

// OAuth scopes (domain-wide delegation grants them in each customer's
// Admin console: Security → API controls → Domain-wide delegation).
const (
	ScopeUsers   = "https://www.googleapis.com/auth/admin.directory.user.readonly"
	ScopeRoles   = "https://www.googleapis.com/auth/admin.directory.rolemanagement.readonly"
	ScopeReports = "https://www.googleapis.com/auth/admin.reports.audit.readonly"
)

// LoginAuditRetentionDays is how long the Reports API keeps login
// activities (six months).
const LoginAuditRetentionDays = 180

// Evidence names used in gaps.
const (
	EvIdentities = "identities"
	EvRoles      = "identities.roles"
	EvLogins     = "signins"
	EvLogging    = "tools.logging"
)

// Defaults.
const (
	DefaultAPI      = "https://admin.googleapis.com"
	DefaultTokenURI = "https://oauth2.googleapis.com/token"
)

// Spec describes the connector.
var Spec = connector.Spec{
	Name:         "google",
	Title:        "Google Workspace",
	Summary:      "users (2-Step Verification enrolment and enforcement, suspended/archived, last login), admin roles, and login audit events of each customer's Google Workspace",
	Capabilities: []connector.Capability{connector.CapEvidence, connector.CapEvents},
	Schedule:     time.Hour,
	Config: []connector.Field{
		{Name: "customers", Type: "list", Required: true, Doc: "one entry per customer Workspace"},
		{Name: "customers[].tenant", Type: "string", Required: true, Doc: "the estate tenant id"},
		{Name: "customers[].customer_id", Type: "string", Default: "my_customer", Doc: "the Workspace customer id (C0…)"},
		{Name: "customers[].admin_email", Type: "string", Required: true, Doc: "the admin the service account impersonates (domain-wide delegation)"},
		{Name: "customers[].service_account_key", Type: "secret", Secret: true, Required: true, Doc: "the service account's JSON key ({file: PATH} or {env: NAME})"},
		{Name: "login_since", Type: "duration", Default: "24h", Doc: "login activities read on the first poll"},
		{Name: "api_url", Type: "string", Default: DefaultAPI, Doc: "Admin SDK base URL (tests)"},
	},
	Permissions: []connector.Permission{
		{Name: ScopeUsers, Kind: "oauth-scope", For: []string{EvIdentities, "identities.mfa", "identities.sign_in"}, Doc: "domain-wide delegation"},
		{Name: ScopeRoles, Kind: "oauth-scope", For: []string{EvRoles}, Doc: "domain-wide delegation"},
		{Name: ScopeReports, Kind: "oauth-scope", For: []string{EvLogins}, Doc: "domain-wide delegation"},
	},
	Calls: []connector.Call{
		{Method: "POST", Path: "https://oauth2.googleapis.com/token (JWT bearer grant: iss = service account, sub = admin_email)"},
		{Method: "GET", Path: "/admin/directory/v1/users?customer=…&maxResults=500&projection=basic", Permission: ScopeUsers},
		{Method: "GET", Path: "/admin/directory/v1/customer/{customer}/roles", Permission: ScopeRoles},
		{Method: "GET", Path: "/admin/directory/v1/customer/{customer}/roleassignments", Permission: ScopeRoles},
		{Method: "GET", Path: "/admin/reports/v1/activity/users/all/applications/login?startTime=…", Permission: ScopeReports},
	},
	Docs: []string{
		"https://developers.google.com/admin-sdk/directory/reference/rest/v1/users/list",
		"https://developers.google.com/admin-sdk/directory/reference/rest/v1/users#User",
		"https://developers.google.com/admin-sdk/directory/reference/rest/v1/roleAssignments/list",
		"https://developers.google.com/admin-sdk/reports/reference/rest/v1/activities/list",
		"https://developers.google.com/admin-sdk/reports/v1/appendix/activity/login",
		"https://developers.google.com/identity/protocols/oauth2/service-account#delegatingauthority",
	},
}

// CustomerConfig is one customer Workspace.
type CustomerConfig struct {
	Tenant            string              `yaml:"tenant"`
	CustomerID        string              `yaml:"customer_id"`
	AdminEmail        string              `yaml:"admin_email"`
	ServiceAccountKey connector.SecretRef `yaml:"service_account_key"`
}

// Config is the connector's config section.
type Config struct {
	Customers  []CustomerConfig `yaml:"customers"`
	LoginSince time.Duration    `yaml:"login_since"`
	APIURL     string           `yaml:"api_url"`
}

// Validate checks the config, naming the entry.
func (c *Config) Validate() error {
	if len(c.Customers) == 0 {
		return errors.New("google: customers: at least one customer is required")
	}
	seen := map[string]bool{}
	for i, x := range c.Customers {
		where := fmt.Sprintf("google: customers[%d]", i)
		switch {
		case x.Tenant == "":
			return fmt.Errorf("%s: tenant is required", where)
		case seen[x.Tenant]:
			return fmt.Errorf("%s: tenant %q listed twice", where, x.Tenant)
		case !strings.Contains(x.AdminEmail, "@"):
			return fmt.Errorf("%s: admin_email %q: expected the address of an admin to impersonate", where, x.AdminEmail)
		case x.ServiceAccountKey.IsZero():
			return fmt.Errorf("%s: service_account_key is required", where)
		}
		seen[x.Tenant] = true
	}
	return nil
}

// Definition registers the connector.
var Definition = connector.Definition{Spec: Spec, New: connector.Build(New)}

// Connector is a Google Workspace evidence and event source.
type Connector struct {
	cfg       Config
	env       connector.Env
	http      *connector.Client
	customers map[string]*customer
}

var (
	_ connector.EvidenceSource = (*Connector)(nil)
	_ connector.EventSource    = (*Connector)(nil)
)

type customer struct {
	CustomerConfig
	email    string
	key      *rsa.PrivateKey
	tokenURI string
	bearer   connector.TokenCache
}

// serviceAccountKey is the JSON key file Google issues.
type serviceAccountKey struct {
	Type        string `json:"type"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// New builds the connector; keys are read now (from env or files).
func New(c Config, env connector.Env) (*Connector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.LoginSince == 0 {
		c.LoginSince = 24 * time.Hour
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPI
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	if env.Now == nil {
		env.Now = time.Now
	}
	g := &Connector{cfg: c, env: env, http: connector.NewClient("google", env), customers: map[string]*customer{}}
	for _, x := range c.Customers {
		if x.CustomerID == "" {
			x.CustomerID = "my_customer"
		}
		raw, err := x.ServiceAccountKey.Resolve(env)
		if err != nil {
			return nil, fmt.Errorf("google customer %s: service_account_key: %w", x.Tenant, err)
		}
		var k serviceAccountKey
		if err := json.Unmarshal([]byte(raw), &k); err != nil || k.Type != "service_account" || k.ClientEmail == "" {
			return nil, fmt.Errorf("google customer %s: service_account_key (%s): expected a service account JSON key", x.Tenant, x.ServiceAccountKey)
		}
		pk, err := connector.ParseRSAKey([]byte(k.PrivateKey))
		if err != nil {
			return nil, fmt.Errorf("google customer %s: service_account_key private_key: %w", x.Tenant, err)
		}
		if k.TokenURI == "" {
			k.TokenURI = DefaultTokenURI
		}
		g.customers[x.Tenant] = &customer{CustomerConfig: x, email: k.ClientEmail, key: pk, tokenURI: k.TokenURI}
	}
	return g, nil
}

// Stats returns the HTTP counters.
func (g *Connector) Stats() connector.Stats { return g.http.Stats() }

func (g *Connector) auth(c *customer) connector.Auth {
	return c.bearer.Auth(g.env.Now, func(ctx context.Context, now time.Time) (connector.Secret, time.Time, error) {
		return g.token(ctx, c, now)
	})
}

// token gets an access token with the JWT bearer grant, impersonating the
// customer's admin (domain-wide delegation). iat is backdated a minute for
// clock skew.
func (g *Connector) token(ctx context.Context, c *customer, now time.Time) (connector.Secret, time.Time, error) {
	jwt, err := connector.SignJWT(c.key, "RS256", nil, map[string]any{"iss": c.email, "sub": c.AdminEmail,
		"scope": ScopeUsers + " " + ScopeRoles + " " + ScopeReports, "aud": c.tokenURI,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(59 * time.Minute).Unix()})
	if err != nil {
		return "", time.Time{}, err
	}
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {jwt}}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_, err = g.http.JSON(ctx, connector.CallSpec{Tenant: c.Tenant, Method: http.MethodPost, URL: c.tokenURI, Body: []byte(form.Encode()),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}, &tr)
	if err != nil {
		var ae *connector.APIError
		if errors.As(err, &ae) && ae.Code == "unauthorized_client" {
			return "", time.Time{}, fmt.Errorf("google token for %s: %w (domain-wide delegation is not granted for these scopes in this customer's Admin console)", c.Tenant, err)
		}
		return "", time.Time{}, fmt.Errorf("google token for %s: %w", c.Tenant, err)
	}
	if tr.ExpiresIn <= 0 {
		tr.ExpiresIn = 3599
	}
	return connector.Secret(tr.AccessToken), now.Add(time.Duration(tr.ExpiresIn) * time.Second), nil
}

// User is a Directory API user (the fields firebreak reads).
type User struct {
	ID           string `json:"id"`
	PrimaryEmail string `json:"primaryEmail"`
	Name         struct {
		FullName string `json:"fullName"`
	} `json:"name"`
	IsAdmin          bool   `json:"isAdmin"`
	IsDelegatedAdmin bool   `json:"isDelegatedAdmin"`
	LastLoginTime    string `json:"lastLoginTime"`
	CreationTime     string `json:"creationTime"`
	Suspended        bool   `json:"suspended"`
	Archived         bool   `json:"archived"`
	IsEnrolledIn2Sv  bool   `json:"isEnrolledIn2Sv"`
	IsEnforcedIn2Sv  bool   `json:"isEnforcedIn2Sv"`
}

type usersPage struct {
	Users         []User `json:"users"`
	NextPageToken string `json:"nextPageToken"`
}

type rolesPage struct {
	Items []struct {
		RoleID           string `json:"roleId"`
		RoleName         string `json:"roleName"`
		IsSuperAdminRole bool   `json:"isSuperAdminRole"`
	} `json:"items"`
	NextPageToken string `json:"nextPageToken"`
}

type assignmentsPage struct {
	Items []struct {
		RoleID       string `json:"roleId"`
		AssignedTo   string `json:"assignedTo"`
		AssigneeType string `json:"assigneeType"` // user or group
		ScopeType    string `json:"scopeType"`    // CUSTOMER or ORG_UNIT
		OrgUnitID    string `json:"orgUnitId"`
	} `json:"items"`
	NextPageToken string `json:"nextPageToken"`
}

// withToken returns first with pageToken set (Google's paging).
func withToken(first, tok string) string {
	if tok == "" {
		return ""
	}
	u, _ := url.Parse(first)
	q := u.Query()
	q.Set("pageToken", tok)
	u.RawQuery = q.Encode()
	return u.String()
}

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1970 { // 1970-01-01T00:00:00.000Z: never
		return time.Time{}, false
	}
	return t.UTC(), true
}

func (g *Connector) tenants(only []string) []string {
	var all []string
	for _, x := range g.cfg.Customers {
		all = append(all, x.Tenant)
	}
	return connector.Only(all, only)
}

// Collect reads every customer; a failing one is recorded in its
// TenantRun and never stops the others.
func (g *Connector) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	now := req.Now
	if now.IsZero() {
		now = g.env.Now()
	}
	frag := &estate.Estate{}
	var mu sync.Mutex
	ts := g.tenants(req.Only)
	runs := connector.ForEachTenant(ctx, "google", ts, len(ts), func(ctx context.Context, r *connector.TenantRun) {
		c := g.customers[r.Tenant]
		r.VendorID = c.CustomerID
		ids, tool := g.collectCustomer(ctx, c, r, now)
		mu.Lock()
		frag.Identities = append(frag.Identities, ids...)
		if tool != nil {
			frag.Tools = append(frag.Tools, *tool)
		}
		mu.Unlock()
	})
	frag.CollectionGap = connector.Gaps(runs)
	slices.SortFunc(frag.Identities, func(a, b estate.Identity) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(frag.Tools, func(a, b estate.Tool) int { return strings.Compare(a.ID, b.ID) })
	return &connector.Evidence{Fragment: frag, Tenants: runs, Stats: g.http.Stats()}, nil
}

func (g *Connector) collectCustomer(ctx context.Context, c *customer, r *connector.TenantRun, now time.Time) ([]estate.Identity, *estate.Tool) {
	prov := connector.Prov("google:"+c.CustomerID+"@"+c.Tenant, now)
	dir := g.cfg.APIURL + "/admin/directory/v1"
	first := dir + "/users?" + url.Values{"customer": {c.CustomerID}, "maxResults": {"500"}, "projection": {"basic"}, "orderBy": {"email"}}.Encode()
	var users []User
	err := connector.Pages(ctx, g.http, connector.CallSpec{Tenant: c.Tenant, URL: first, Auth: g.auth(c), Permission: ScopeUsers},
		func(_ http.Header, p *usersPage) string { return withToken(first, p.NextPageToken) },
		func(p *usersPage) error { users = append(users, p.Users...); return nil })
	if err != nil {
		r.Gap(EvIdentities, ScopeUsers, err, now)
		return nil, nil
	}
	r.Count("users", len(users))

	// Roles: names, then assignments (users only; scoped ones qualified).
	roleNames := map[string]string{}
	rolesURL := dir + "/customer/" + url.PathEscape(c.CustomerID) + "/roles?maxResults=100"
	err = connector.Pages(ctx, g.http, connector.CallSpec{Tenant: c.Tenant, URL: rolesURL, Auth: g.auth(c), Permission: ScopeRoles},
		func(_ http.Header, p *rolesPage) string { return withToken(rolesURL, p.NextPageToken) },
		func(p *rolesPage) error {
			for _, x := range p.Items {
				roleNames[x.RoleID] = x.RoleName
			}
			return nil
		})
	userRoles := map[string][]string{}
	if err == nil {
		asgURL := dir + "/customer/" + url.PathEscape(c.CustomerID) + "/roleassignments?maxResults=200"
		err = connector.Pages(ctx, g.http, connector.CallSpec{Tenant: c.Tenant, URL: asgURL, Auth: g.auth(c), Permission: ScopeRoles},
			func(_ http.Header, p *assignmentsPage) string { return withToken(asgURL, p.NextPageToken) },
			func(p *assignmentsPage) error {
				for _, a := range p.Items {
					name := roleNames[a.RoleID]
					if name == "" {
						name = "role " + a.RoleID
					}
					if a.ScopeType == "ORG_UNIT" {
						name += " (org unit " + a.OrgUnitID + ")"
					}
					if !slices.Contains(userRoles[a.AssignedTo], name) {
						userRoles[a.AssignedTo] = append(userRoles[a.AssignedTo], name)
					}
				}
				return nil
			})
	}
	rolesOK := err == nil
	if !rolesOK {
		r.Gap(EvRoles, ScopeRoles, err, now)
	}

	ids := make([]estate.Identity, 0, len(users))
	for _, u := range users {
		x := estate.Identity{ID: c.Tenant + "/google/" + strings.ToLower(u.PrimaryEmail), Name: u.Name.FullName, UPN: u.PrimaryEmail,
			Kind: estate.KindHuman, Home: c.Tenant, Enabled: estate.Bool(!u.Suspended && !u.Archived), Provenance: prov}
		if t, ok := parseTime(u.CreationTime); ok {
			x.Created = &estate.Date{Time: t}
		}
		if t, ok := parseTime(u.LastLoginTime); ok {
			x.LastSignIn = &estate.Date{Time: t}
		}
		// 2-Step Verification: enforcement is known for every user from
		// the Directory API; the enrolled methods are not listed there,
		// so an enrolled user's methods stay unknown (nil). Enforced but
		// not enrolled is no protection: during the new-user enrollment
		// period the password alone signs in, and whoever holds it enrols
		// the second step (the same judgement as Okta's).
		x.MFA.Enforced = estate.Bool(u.IsEnforcedIn2Sv && u.IsEnrolledIn2Sv)
		if u.IsEnrolledIn2Sv {
			r.Count("2sv_enrolled", 1)
		}
		if u.IsEnforcedIn2Sv {
			r.Count("2sv_enforced", 1)
			if !u.IsEnrolledIn2Sv {
				r.Count("2sv_enforced_not_enrolled", 1)
			}
		}
		switch {
		case rolesOK:
			x.Roles = userRoles[u.ID]
			if u.IsAdmin && !slices.Contains(x.Roles, "Super Admin") {
				x.Roles = append(x.Roles, "Super Admin")
			}
		case u.IsAdmin:
			x.Roles = []string{"Super Admin"} // isAdmin is read with the users scope
		}
		ids = append(ids, x)
	}
	tool := &estate.Tool{ID: "google-" + c.Tenant, Name: "Google Workspace (" + c.Tenant + ")", Kind: estate.ToolIdP, Owner: c.Tenant,
		Vendor: "Google", Product: "Workspace", Provenance: prov}
	// Login audit as evidence: readable means it is on; the Reports API
	// keeps login activities six months (data retention and lag times).
	var probe activitiesPage
	if _, err := g.http.JSON(ctx, connector.CallSpec{Tenant: c.Tenant, URL: g.cfg.APIURL + "/admin/reports/v1/activity/users/all/applications/login?maxResults=1&startTime=" + url.QueryEscape(now.Add(-time.Hour).UTC().Format(time.RFC3339)),
		Auth: g.auth(c), Permission: ScopeReports}, &probe); err != nil {
		r.Gap(EvLogging, ScopeReports, err, now)
	} else {
		tool.Logging = estate.Logging{Enabled: estate.Bool(true), RetentionDays: LoginAuditRetentionDays}
		g.loginMethods(ctx, c, r, now, ids)
	}
	return ids, tool
}

// Activity is a Reports API activity (login application).
type Activity struct {
	ID struct {
		Time            string `json:"time"`
		UniqueQualifier string `json:"uniqueQualifier"`
		ApplicationName string `json:"applicationName"`
		CustomerID      string `json:"customerId"`
	} `json:"id"`
	Actor struct {
		Email     string `json:"email"`
		ProfileID string `json:"profileId"`
	} `json:"actor"`
	IPAddress string `json:"ipAddress"`
	Events    []struct {
		Type       string `json:"type"`
		Name       string `json:"name"`
		Parameters []struct {
			Name       string   `json:"name"`
			Value      string   `json:"value"`
			MultiValue []string `json:"multiValue"`
			BoolValue  *bool    `json:"boolValue"`
		} `json:"parameters"`
	} `json:"events"`
}

type activitiesPage struct {
	Items         []json.RawMessage `json:"items"`
	NextPageToken string            `json:"nextPageToken"`
}

// Events maps one login activity to normalized events (one per event of
// the activity): login_success, login_failure (reason from
// login_failure_type), login_challenge, login_verification, logout, …
func Events(tenant string, raw json.RawMessage) ([]event.Event, error) {
	var a Activity
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("google login activity: %w", err)
	}
	ts, err := time.Parse(time.RFC3339Nano, a.ID.Time)
	if err != nil {
		return nil, fmt.Errorf("google login activity %s: id.time %q: %w", a.ID.UniqueQualifier, a.ID.Time, err)
	}
	var out []event.Event
	for _, e := range a.Events {
		ev := event.Event{Timestamp: ts.UTC(), Category: "authentication", Action: e.Name, Outcome: event.OutcomeUnknown,
			UserName: a.Actor.Email, Tenant: tenant, Dataset: "google_workspace.login", Fields: map[string]string{"event.provider": "login", "id.uniqueQualifier": a.ID.UniqueQualifier}}
		if _, dom, ok := strings.Cut(a.Actor.Email, "@"); ok {
			ev.UserDomain = dom
		}
		if ip, err := netip.ParseAddr(a.IPAddress); err == nil {
			ev.SourceIP = ip
		}
		switch e.Name {
		case "login_success":
			ev.Outcome = event.OutcomeSuccess
		case "login_failure":
			ev.Outcome = event.OutcomeFailure
			ev.Reason = "bad_password"
		case "login_challenge", "login_verification":
			ev.Category = "authentication"
		}
		for _, p := range e.Parameters {
			switch p.Name {
			case "login_failure_type":
				ev.Fields["login_failure_type"] = p.Value
				if p.Value != "login_failure_invalid_password" {
					ev.Reason = strings.TrimPrefix(p.Value, "login_failure_")
				}
			case "login_challenge_status":
				ev.Fields[p.Name] = p.Value
				if p.Value == "Challenge Failed" {
					ev.Outcome = event.OutcomeFailure
					ev.Reason = "mfa_denied"
				} else if p.Value == "Challenge Passed" {
					ev.Outcome = event.OutcomeSuccess
				}
			case "login_challenge_method":
				// A multi-value parameter ({"multiValue":["password",
				// "security_key"]}); older answers carry a single value.
				m := p.MultiValue
				if len(m) == 0 && p.Value != "" {
					m = []string{p.Value}
				}
				ev.Fields[p.Name] = strings.Join(m, ",")
				if s := ChallengeStrength(m); s != "" {
					ev.Fields["mfa.strength"] = s
				}
			case "login_type":
				ev.Fields[p.Name] = p.Value
			case "is_suspicious":
				if p.BoolValue != nil && *p.BoolValue {
					ev.Fields["is_suspicious"] = "true"
				}
			}
		}
		out = append(out, ev)
	}
	return out, nil
}

// Poll reads login activities since each customer's cursor (the time of
// the newest activity read; first poll: now - login_since). The Reports
// API lists newest first, so a poll pages to the end and then advances the
// cursor; activities at exactly the cursor time are skipped by their
// uniqueQualifier, kept in the cursor.
func (g *Connector) Poll(ctx context.Context, req connector.Request, cur connector.Cursor, emit func(connector.Record) error) (connector.Cursor, []connector.TenantRun, error) {
	now := req.Now
	if now.IsZero() {
		now = g.env.Now()
	}
	next := connector.Cursor{}
	for k, v := range cur {
		next[k] = v
	}
	var mu sync.Mutex
	ts := g.tenants(req.Only)
	runs := connector.ForEachTenant(ctx, "google", ts, len(ts), func(ctx context.Context, r *connector.TenantRun) {
		c := g.customers[r.Tenant]
		mu.Lock()
		since, seenIDs, _ := strings.Cut(cur[c.Tenant], " ")
		mu.Unlock()
		if since == "" {
			since = now.Add(-g.cfg.LoginSince).UTC().Format(time.RFC3339)
		}
		skip := map[string]bool{}
		for _, id := range strings.Split(seenIDs, ",") {
			if id != "" {
				skip[id] = true
			}
		}
		q := url.Values{"startTime": {since}, "maxResults": {"1000"}}
		if c.CustomerID != "my_customer" {
			q.Set("customerId", c.CustomerID)
		}
		first := g.cfg.APIURL + "/admin/reports/v1/activity/users/all/applications/login?" + q.Encode()
		var items []json.RawMessage
		err := connector.Pages(ctx, g.http, connector.CallSpec{Tenant: c.Tenant, URL: first, Auth: g.auth(c), Permission: ScopeReports},
			func(_ http.Header, p *activitiesPage) string { return withToken(first, p.NextPageToken) },
			func(p *activitiesPage) error { items = append(items, p.Items...); return nil })
		if err != nil {
			r.Gap(EvLogins, ScopeReports, err, now)
			return
		}
		sinceT, _ := time.Parse(time.RFC3339Nano, since)
		newest, newestIDs := sinceT, []string{}
		for i := len(items) - 1; i >= 0; i-- { // oldest first
			var id struct {
				ID struct {
					Time            string `json:"time"`
					UniqueQualifier string `json:"uniqueQualifier"`
				} `json:"id"`
			}
			if json.Unmarshal(items[i], &id) != nil {
				r.Count("bad_records", 1)
				continue
			}
			if skip[id.ID.UniqueQualifier] {
				continue
			}
			evs, err := Events(c.Tenant, items[i])
			if err != nil {
				r.Count("bad_records", 1)
				r.Notes = append(r.Notes, err.Error())
				continue
			}
			for j := range evs {
				if emit != nil {
					if err := emit(connector.Record{Tenant: c.Tenant, Format: "google.login", Raw: items[i], Event: &evs[j]}); err != nil {
						r.Errors = append(r.Errors, err.Error())
						return
					}
				}
				r.Count("events", 1)
			}
			t, _ := time.Parse(time.RFC3339Nano, id.ID.Time)
			switch {
			case t.After(newest):
				newest, newestIDs = t, []string{id.ID.UniqueQualifier}
			case t.Equal(newest):
				newestIDs = append(newestIDs, id.ID.UniqueQualifier)
			}
		}
		if newest.Equal(sinceT) {
			for id := range skip {
				newestIDs = append(newestIDs, id)
			}
		}
		slices.Sort(newestIDs)
		mu.Lock()
		next[c.Tenant] = newest.UTC().Format(time.RFC3339Nano) + " " + strings.Join(newestIDs, ",")
		mu.Unlock()
	})
	return next, runs, nil
}

// Sign-in strength of a login's challenge methods.
const (
	StrengthPhishingResistant = "phishing_resistant"
	StrengthOther             = "other"
)

// loginMethods maps the login_challenge_method values of the Reports API
// login audit (developers.google.com/admin-sdk/reports/v1/appendix/activity/login:
// "Login challenge method. Possible values: backup_code,
// google_authenticator, google_prompt, idv_any_phone,
// idv_preregistered_phone, internal_two_factor, knowledge_employee_id,
// knowledge_preregistered_email, knowledge_preregistered_phone,
// login_location, none, offline_otp, other, password, security_key,
// security_key_otp") to the estate's MFA methods, so that one rule
// (estate.MFAMethod.PhishingResistant) judges them:
//   - security_key is a FIDO security key (phishing resistant);
//     security_key_otp is a one-time code typed from a key — phishable, so
//     a code (TOTP), never FIDO2;
//   - google_prompt is the phone prompt (push); google_authenticator and
//     offline_otp are authenticator codes; internal_two_factor is a typed
//     security code (Google's own OS Login PAM module prompts "Enter your
//     security code" for it), so a code, not a push;
//   - idv_preregistered_phone and idv_any_phone are codes by SMS or voice;
//   - password, backup_code, knowledge_*, login_location, none and other
//     are no second factor.
//
// passkey (phishing resistant) and totp are not in that list, which
// predates Google's passkeys: they come from Google's and SIEM vendors'
// published samples and are kept as such (docs/collect.md).
var loginMethods = map[string]estate.MFAMethod{
	"security_key":            estate.MFAFIDO2,
	"passkey":                 estate.MFAPasskey,
	"google_prompt":           estate.MFAPush,
	"internal_two_factor":     estate.MFATOTP,
	"security_key_otp":        estate.MFATOTP,
	"offline_otp":             estate.MFATOTP,
	"idv_preregistered_phone": estate.MFASMS,
	"idv_any_phone":           estate.MFASMS,
	"google_authenticator":    estate.MFATOTP,
	"totp":                    estate.MFATOTP,
}

// LoginMethod is the estate MFA method of a login_challenge_method value.
func LoginMethod(v string) (estate.MFAMethod, bool) {
	m, ok := loginMethods[strings.ToLower(strings.TrimSpace(v))]
	return m, ok
}

// ChallengeStrength classes a login's challenge methods: phishing
// resistant when any is a security key or passkey, other when there are
// methods but none is, "" when none are known.
func ChallengeStrength(methods []string) string {
	if len(methods) == 0 {
		return ""
	}
	for _, v := range methods {
		if m, ok := LoginMethod(v); ok && m.PhishingResistant() {
			return StrengthPhishingResistant
		}
	}
	return StrengthOther
}

// StrengthByUser is each user's sign-in strength from their most recent
// successful login that names its challenge methods (events as Events
// maps them, in any order).
func StrengthByUser(evs []event.Event) map[string]string {
	out := map[string]string{}
	at := map[string]time.Time{}
	for _, e := range evs {
		s := e.Fields["mfa.strength"]
		if e.Action != "login_success" || e.Outcome != event.OutcomeSuccess || s == "" {
			continue
		}
		u := strings.ToLower(e.UserName)
		if t, ok := at[u]; ok && !e.Timestamp.After(t) {
			continue
		}
		at[u], out[u] = e.Timestamp, s
	}
	return out
}

// MethodWindow is how far back the identity collection reads successful
// logins for the 2-Step Verification methods users sign in with.
const MethodWindow = 30 * 24 * time.Hour

// loginMethods records, for each user whose methods are unknown, the MFA
// methods of their most recent successful login in the last MethodWindow
// (the Directory API says whether 2SV is enrolled, not with what). A read
// failure is a gap; the users keep unknown methods.
func (g *Connector) loginMethods(ctx context.Context, c *customer, r *connector.TenantRun, now time.Time, ids []estate.Identity) {
	q := url.Values{"eventName": {"login_success"}, "startTime": {now.Add(-MethodWindow).UTC().Format(time.RFC3339)}, "maxResults": {"1000"}}
	if c.CustomerID != "my_customer" {
		q.Set("customerId", c.CustomerID)
	}
	first := g.cfg.APIURL + "/admin/reports/v1/activity/users/all/applications/login?" + q.Encode()
	var evs []event.Event
	err := connector.Pages(ctx, g.http, connector.CallSpec{Tenant: c.Tenant, URL: first, Auth: g.auth(c), Permission: ScopeReports},
		func(_ http.Header, p *activitiesPage) string { return withToken(first, p.NextPageToken) },
		func(p *activitiesPage) error {
			for _, raw := range p.Items {
				if e, err := Events(c.Tenant, raw); err == nil {
					evs = append(evs, e...)
				}
			}
			return nil
		})
	if err != nil {
		r.Gap(EvLogging, ScopeReports, err, now)
		return
	}
	last := LastLoginMethods(evs)
	for i := range ids {
		if ms, ok := last[strings.ToLower(ids[i].UPN)]; ok && len(ids[i].MFA.Methods) == 0 {
			ids[i].MFA.Methods = ms
			r.Count("2sv_method_seen", 1)
		}
	}
}

// LastLoginMethods is each user's MFA methods (estate names) from their
// most recent successful login that names challenge methods it maps.
func LastLoginMethods(evs []event.Event) map[string][]estate.MFAMethod {
	out := map[string][]estate.MFAMethod{}
	at := map[string]time.Time{}
	for _, e := range evs {
		if e.Action != "login_success" || e.Outcome != event.OutcomeSuccess {
			continue
		}
		var ms []estate.MFAMethod
		for _, v := range strings.Split(e.Fields["login_challenge_method"], ",") {
			if m, ok := LoginMethod(v); ok && !slices.Contains(ms, m) {
				ms = append(ms, m)
			}
		}
		u := strings.ToLower(e.UserName)
		if len(ms) == 0 {
			continue
		}
		if t, ok := at[u]; ok && !e.Timestamp.After(t) {
			continue
		}
		at[u], out[u] = e.Timestamp, ms
	}
	return out
}
