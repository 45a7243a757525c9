// Package okta collects identity evidence and System Log events from Okta
// orgs, one per customer: users with status and last login, enrolled
// factors, admin role assignments, and the System Log polled with Link
// next (since/after) — written as JSON lines for `firebreak detect` (the
// ingest package's okta parser reads them) and returned as event records.
// It authenticates with an SSWS API token or an OAuth 2.0 service app
// (client credentials with a private_key_jwt assertion; scopes
// okta.users.read, okta.logs.read, okta.roles.read).
//
// Built on internal/connector; imported by cmd/firebreak and the server.
package okta

import (
	"bufio"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Scopes and permissions.
const (
	ScopeUsers = "okta.users.read"
	ScopeLogs  = "okta.logs.read"
	ScopeRoles = "okta.roles.read"
	// ScopePolicies and ScopeGroups read the sign-in policies and the
	// membership of the groups they name (policy.go).
	ScopePolicies = "okta.policies.read"
	ScopeGroups   = "okta.groups.read"
	// ScopeApps reads the apps (each mapped to an authentication policy)
	// and the users assigned to them.
	ScopeApps = "okta.apps.read"
)

// scopes are every scope the connector asks a service app's token for.
var scopes = []string{ScopeUsers, ScopeRoles, ScopeLogs, ScopePolicies, ScopeGroups, ScopeApps}

// SystemLogRetentionDays is how long Okta keeps the System Log.
const SystemLogRetentionDays = 90

// Evidence names used in gaps.
const (
	EvIdentities = "identities"
	EvMFA        = "identities.mfa"
	// EvMFAEnforced: whether sign-in demands a second factor (policies).
	EvMFAEnforced = "identities.mfa.enforced"
	EvRoles       = "identities.roles"
	EvLogs        = "signins"
	EvLogging     = "tools.logging"
	EvTenant      = "tenant"
)

// Spec describes the connector.
var Spec = connector.Spec{
	Name:         "okta",
	Title:        "Okta",
	Summary:      "users (status, last login), enrolled factors, admin roles and the System Log of each customer's Okta org",
	Capabilities: []connector.Capability{connector.CapEvidence, connector.CapEvents},
	Schedule:     time.Hour,
	Config: []connector.Field{
		{Name: "orgs", Type: "list", Required: true, Doc: "one entry per customer Okta org"},
		{Name: "orgs[].tenant", Type: "string", Required: true, Doc: "the estate tenant id"},
		{Name: "orgs[].org_url", Type: "string", Required: true, Doc: "https://{yourOktaDomain}"},
		{Name: "orgs[].token", Type: "secret", Secret: true, Doc: "SSWS API token ({env: NAME} or {file: PATH}); or use client_id + private_key"},
		{Name: "orgs[].client_id", Type: "string", Doc: "OAuth 2.0 service app client id (private_key_jwt)"},
		{Name: "orgs[].private_key", Type: "secret", Secret: true, Doc: "the service app's RSA private key (PEM)"},
		{Name: "log_since", Type: "duration", Default: "24h", Doc: "System Log read on the first poll"},
		{Name: "factor_concurrency", Type: "int", Default: "8", Doc: "factor requests in flight per org (under Okta's concurrent limit)"},
		{Name: "log_dir", Type: "string", Doc: "also append System Log events as JSON lines here (okta-<tenant>.jsonl)"},
		{Name: "factor_state_file", Type: "string", Doc: "keep factors between runs; repeats read them only for users the System Log shows changed"},
	},
	Permissions: []connector.Permission{
		{Name: ScopeUsers, Kind: "oauth-scope", For: []string{EvIdentities, EvMFA}, Doc: "or an SSWS token of a Read-Only Administrator"},
		{Name: ScopeRoles, Kind: "oauth-scope", For: []string{EvRoles}},
		{Name: ScopeLogs, Kind: "oauth-scope", For: []string{EvLogs}},
		{Name: ScopePolicies, Kind: "oauth-scope", For: []string{EvMFAEnforced}},
		{Name: ScopeGroups, Kind: "oauth-scope", For: []string{EvMFAEnforced}, Doc: "members of the groups the policies name"},
		{Name: ScopeApps, Kind: "oauth-scope", For: []string{EvMFAEnforced}, Doc: "the apps, the authentication policy each is mapped to, and their assigned users (Identity Engine)"},
	},
	Calls: []connector.Call{
		{Method: "POST", Path: "/oauth2/v1/token (service app only: client_credentials, private_key_jwt)"},
		{Method: "GET", Path: "/api/v1/users?limit=200 (Link: next)", Permission: ScopeUsers},
		{Method: "GET", Path: "/api/v1/users/{id}/factors", Permission: ScopeUsers, Note: "per active user"},
		{Method: "GET", Path: "/api/v1/iam/assignees/users", Permission: ScopeRoles},
		{Method: "GET", Path: "/api/v1/users/{id}/roles", Permission: ScopeRoles, Note: "per admin"},
		{Method: "GET", Path: "/api/v1/policies?type=OKTA_SIGN_ON|ACCESS_POLICY|MFA_ENROLL", Permission: ScopePolicies, Note: "global session, authentication and authenticator enrollment policies"},
		{Method: "GET", Path: "/.well-known/okta-organization", Note: "the org's engine: pipeline v1 (Classic) or idx (Identity Engine); no credentials"},
		{Method: "GET", Path: "/api/v1/apps?limit=200 (Link: next)", Permission: ScopeApps, Note: "active apps and their _links.accessPolicy (Identity Engine)"},
		{Method: "GET", Path: "/api/v1/policies/{id}/rules", Permission: ScopePolicies, Note: "per active sign-on policy and per authentication policy an active app is mapped to"},
		{Method: "GET", Path: "/api/v1/apps/{id}/users?limit=500 (Link: next)", Permission: ScopeApps, Note: "only for apps whose policy lets some user in on one factor"},
		{Method: "GET", Path: "/api/v1/groups/{id} and /api/v1/groups/{id}/users (Link: next)", Permission: ScopeGroups, Note: "per group a policy or rule names"},
		{Method: "GET", Path: "/api/v1/logs?limit=1", Permission: ScopeLogs, Note: "evidence: the System Log is on (kept 90 days)"},
		{Method: "GET", Path: "/api/v1/logs?since=…&limit=1000 (Link: next, kept as the poll cursor)", Permission: ScopeLogs},
	},
	Docs: []string{
		"https://developer.okta.com/docs/api/openapi/okta-management/management/tag/User/#tag/User/operation/listUsers",
		"https://developer.okta.com/docs/api/openapi/okta-management/management/tag/UserFactor/#tag/UserFactor/operation/listFactors",
		"https://developer.okta.com/docs/api/openapi/okta-management/management/tag/RoleAssignmentAUser/",
		"https://developer.okta.com/docs/api/openapi/okta-management/management/tag/SystemLog/",
		"https://developer.okta.com/docs/reference/rate-limits/",
		"https://developer.okta.com/docs/api/resources/policy (policy evaluation; OKTA_SIGN_ON, ACCESS_POLICY, MFA_ENROLL)",
		"https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Group/#tag/Group/operation/listGroupUsers",
		"https://developer.okta.com/docs/api/openapi/okta-management/management/tag/Application/#tag/Application/operation/listApplications (_links.accessPolicy)",
		"https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationUsers/#tag/ApplicationUsers/operation/listApplicationUsers",
		"https://developer.okta.com/docs/api/openapi/okta-management/management/tag/OrgSettingMetadata/#tag/OrgSettingMetadata/operation/getWellknownOrgMetadata (pipeline)",
		"https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/",
	},
}

// OrgConfig is one customer org.
type OrgConfig struct {
	Tenant     string              `yaml:"tenant"`
	OrgURL     string              `yaml:"org_url"`
	Token      connector.SecretRef `yaml:"token"`
	ClientID   string              `yaml:"client_id"`
	PrivateKey connector.SecretRef `yaml:"private_key"`
}

// Config is the connector's config section.
type Config struct {
	Orgs              []OrgConfig   `yaml:"orgs"`
	LogSince          time.Duration `yaml:"log_since"`
	FactorConcurrency int           `yaml:"factor_concurrency"`
	// LogDir, when set, receives System Log events as JSON lines
	// (okta-<tenant>.jsonl) for `firebreak detect`.
	LogDir string `yaml:"log_dir"`
	// FactorStateFile, when set, keeps each org's enrolled factors between
	// runs: a repeat reads factors only for new users and users whose
	// factors the System Log shows changed (user.mfa.factor.* events).
	FactorStateFile string `yaml:"factor_state_file"`
}

// Validate checks the config, naming the entry.
func (c *Config) Validate() error {
	if len(c.Orgs) == 0 {
		return errors.New("okta: orgs: at least one org is required")
	}
	seen := map[string]bool{}
	for i, o := range c.Orgs {
		where := fmt.Sprintf("okta: orgs[%d]", i)
		switch {
		case o.Tenant == "":
			return fmt.Errorf("%s: tenant is required", where)
		case seen[o.Tenant]:
			return fmt.Errorf("%s: tenant %q listed twice", where, o.Tenant)
		case o.OrgURL == "":
			return fmt.Errorf("%s: org_url is required", where)
		case o.Token.IsZero() == (o.ClientID == ""):
			return fmt.Errorf("%s: give either token (SSWS) or client_id + private_key (service app)", where)
		case o.ClientID != "" && o.PrivateKey.IsZero():
			return fmt.Errorf("%s: client_id needs private_key", where)
		}
		if u, err := url.Parse(o.OrgURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%s: org_url %q: expected https://{yourOktaDomain}", where, o.OrgURL)
		}
		seen[o.Tenant] = true
	}
	if c.LogSince < 0 || c.FactorConcurrency < 0 {
		return errors.New("okta: log_since and factor_concurrency must not be negative")
	}
	return nil
}

// Definition registers the connector.
var Definition = connector.Definition{Spec: Spec, New: connector.Build(New)}

// Connector is an Okta evidence and event source.
type Connector struct {
	cfg   Config
	env   connector.Env
	http  *connector.Client
	orgs  map[string]*org
	state *FactorState
}

// FactorState is each org's enrolled factors as of a run.
type FactorState struct {
	mu   sync.Mutex
	Orgs map[string]*OrgFactors `json:"orgs"`
}

// OrgFactors is one org's factors by user id, read at At.
type OrgFactors struct {
	At    time.Time           `json:"at"`
	Users map[string][]Factor `json:"users"`
}

func (s *FactorState) get(tenant string) *OrgFactors {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Orgs[tenant]
}

func (s *FactorState) set(tenant string, f *OrgFactors) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Orgs == nil {
		s.Orgs = map[string]*OrgFactors{}
	}
	s.Orgs[tenant] = f
}

func (k *Connector) loadState() error {
	k.state = &FactorState{}
	if k.cfg.FactorStateFile == "" {
		return nil
	}
	b, err := os.ReadFile(k.cfg.FactorStateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("okta factor state: %w", err)
	}
	if err := json.Unmarshal(b, k.state); err != nil {
		return fmt.Errorf("okta factor state %s: %w (delete it to read every user's factors)", k.cfg.FactorStateFile, err)
	}
	return nil
}

func (k *Connector) saveState() error {
	if k.cfg.FactorStateFile == "" {
		return nil
	}
	k.state.mu.Lock()
	b, err := json.Marshal(k.state)
	k.state.mu.Unlock()
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(k.cfg.FactorStateFile, 0o600, b)
}

// factorChanges lists the users whose factors changed since (System Log
// events user.mfa.factor.*, their User targets), with a minute's overlap
// for the log's publication lag.
func (k *Connector) factorChanges(ctx context.Context, o *org, since time.Time) (map[string]bool, error) {
	q := url.Values{"since": {since.Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")}, "limit": {"1000"}, "filter": {`eventType sw "user.mfa.factor"`}}
	changed := map[string]bool{}
	u := o.base + "/api/v1/logs?" + q.Encode()
	seen := map[string]bool{}
	for u != "" && !seen[u] {
		seen[u] = true
		var events []struct {
			Target []struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"target"`
		}
		h, err := k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, URL: u, Auth: k.auth(o), Permission: ScopeLogs}, &events)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			for _, t := range e.Target {
				if t.Type == "User" {
					changed[t.ID] = true
				}
			}
		}
		if len(events) == 0 {
			break
		}
		u = connector.LinkNext(h)
	}
	return changed, nil
}

var (
	_ connector.EvidenceSource = (*Connector)(nil)
	_ connector.EventSource    = (*Connector)(nil)
)

type org struct {
	OrgConfig
	base   string
	token  connector.Secret // SSWS
	key    *rsa.PrivateKey  // service app
	bearer connector.TokenCache
}

// New builds the connector; secrets are read now (from env or files).
func New(c Config, env connector.Env) (*Connector, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.LogSince == 0 {
		c.LogSince = 24 * time.Hour
	}
	if c.FactorConcurrency == 0 {
		c.FactorConcurrency = 8
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	k := &Connector{cfg: c, env: env, http: connector.NewClient("okta", env), orgs: map[string]*org{}}
	for _, oc := range c.Orgs {
		o := &org{OrgConfig: oc, base: strings.TrimRight(oc.OrgURL, "/")}
		if !oc.Token.IsZero() {
			t, err := oc.Token.Resolve(env)
			if err != nil {
				return nil, fmt.Errorf("okta org %s: token: %w", oc.Tenant, err)
			}
			o.token = t
		} else {
			pk, err := oc.PrivateKey.Resolve(env)
			if err != nil {
				return nil, fmt.Errorf("okta org %s: private_key: %w", oc.Tenant, err)
			}
			if o.key, err = connector.ParseRSAKey([]byte(pk)); err != nil {
				return nil, fmt.Errorf("okta org %s: private_key: %w", oc.Tenant, err)
			}
		}
		k.orgs[oc.Tenant] = o
	}
	return k, nil
}

// Stats returns the HTTP counters.
func (k *Connector) Stats() connector.Stats { return k.http.Stats() }

// auth sets SSWS or a service-app bearer token (fetched, cached, and
// fetched anew after a 401).
func (k *Connector) auth(o *org) connector.Auth {
	if o.key == nil {
		return func(_ context.Context, req *http.Request, _ bool) error {
			req.Header.Set("Authorization", "SSWS "+string(o.token))
			return nil
		}
	}
	return o.bearer.Auth(k.env.Now, func(ctx context.Context, now time.Time) (connector.Secret, time.Time, error) {
		return k.serviceToken(ctx, o, now)
	})
}

// serviceToken gets an access token with client credentials and a
// private_key_jwt client assertion.
func (k *Connector) serviceToken(ctx context.Context, o *org, now time.Time) (connector.Secret, time.Time, error) {
	aud := o.base + "/oauth2/v1/token"
	jti := fmt.Sprintf("%x", now.UnixNano())
	assertion, err := connector.SignJWT(o.key, "RS256", nil, map[string]any{"aud": aud, "iss": o.ClientID, "sub": o.ClientID,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": jti})
	if err != nil {
		return "", time.Time{}, err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {strings.Join(scopes, " ")},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_, err = k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, Method: http.MethodPost, URL: aud, Body: []byte(form.Encode()),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}}, &tr)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("okta service app token: %w", err)
	}
	if tr.ExpiresIn <= 0 {
		tr.ExpiresIn = 3600
	}
	return connector.Secret(tr.AccessToken), now.Add(time.Duration(tr.ExpiresIn) * time.Second), nil
}

// User is an Okta user (listUsers).
type User struct {
	ID         string `json:"id"`
	Status     string `json:"status"` // STAGED, PROVISIONED, ACTIVE, RECOVERY, PASSWORD_EXPIRED, LOCKED_OUT, SUSPENDED, DEPROVISIONED
	Created    string `json:"created"`
	LastLogin  string `json:"lastLogin"`
	StatusChgd string `json:"statusChanged"`
	Profile    struct {
		Login     string `json:"login"`
		Email     string `json:"email"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
	} `json:"profile"`
}

// Factor is an enrolled factor (listFactors).
type Factor struct {
	ID         string `json:"id"`
	FactorType string `json:"factorType"`
	Provider   string `json:"provider"`
	Status     string `json:"status"`
}

// Role is a role assigned to a user (listAssignedRolesForUser).
type Role struct {
	ID             string `json:"id"`
	Label          string `json:"label"`
	Type           string `json:"type"`
	Status         string `json:"status"`
	AssignmentType string `json:"assignmentType"` // USER or GROUP
}

// linksNext is the body paging of the IAM APIs.
type linksNext struct {
	Links struct {
		Next struct {
			Href string `json:"href"`
		} `json:"next"`
	} `json:"_links"`
}

func parseTime(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// enabled maps an Okta status: suspended and deprovisioned users cannot
// sign in; every other status can (or can be made to) and counts as
// enabled.
func enabled(status string) bool {
	return status != "SUSPENDED" && status != "DEPROVISIONED"
}

// factorMethod maps an Okta factorType to an estate MFA method ("" for
// factors that are not a second factor, such as security questions).
func factorMethod(f Factor) estate.MFAMethod {
	switch f.FactorType {
	case "webauthn", "u2f":
		return estate.MFAFIDO2
	case "push":
		return estate.MFAPush
	case "signed_nonce": // Okta FastPass
		return estate.MFAAuthenticator
	case "token:software:totp", "token:hotp", "token:hardware", "token":
		return estate.MFATOTP
	case "sms":
		return estate.MFASMS
	case "call":
		return estate.MFAVoice
	case "email":
		return estate.MFAEmail
	}
	return ""
}

// Collect reads every org (or those in req.Only); a failing org is
// recorded in its TenantRun and never stops the others.
func (k *Connector) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	now := req.Now
	if now.IsZero() {
		now = k.env.Now()
	}
	tenants := k.tenants(req.Only)
	if err := k.loadState(); err != nil {
		return nil, err
	}
	frag := &estate.Estate{}
	var mu sync.Mutex
	runs := connector.ForEachTenant(ctx, "okta", tenants, len(tenants), func(ctx context.Context, r *connector.TenantRun) {
		o := k.orgs[r.Tenant]
		r.VendorID = o.base
		ids, tool := k.collectOrg(ctx, o, r, now)
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
	return &connector.Evidence{Fragment: frag, Tenants: runs, Stats: k.http.Stats()}, k.saveState()
}

func (k *Connector) tenants(only []string) []string {
	var all []string
	for _, o := range k.cfg.Orgs {
		all = append(all, o.Tenant)
	}
	return connector.Only(all, only)
}

func (k *Connector) collectOrg(ctx context.Context, o *org, r *connector.TenantRun, now time.Time) ([]estate.Identity, *estate.Tool) {
	prov := connector.Prov("okta:"+o.base, now)
	var users []User
	err := connector.Pages(ctx, k.http, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/api/v1/users?limit=200", Auth: k.auth(o), Permission: ScopeUsers},
		func(h http.Header, _ *[]User) string { return connector.LinkNext(h) },
		func(p *[]User) error { users = append(users, *p...); return nil })
	if err != nil {
		r.Gap(EvIdentities, ScopeUsers, err, now)
		return nil, nil
	}
	r.Count("users", len(users))

	// Sign-in policies, read alongside the factors.
	var pols *policySet
	var perr error
	polDone := make(chan struct{})
	uids := make([]string, len(users))
	for i, u := range users {
		uids[i] = u.ID
	}
	go func() { defer close(polDone); pols, perr = k.readPolicies(ctx, o, uids) }()

	// Factors, per user, bounded per org under Okta's concurrent limit;
	// on a repeat only for new users and those the System Log shows
	// changed.
	factors := make([][]Factor, len(users))
	ferrs := make([]error, len(users))
	prev := k.state.get(o.Tenant)
	var changed map[string]bool
	if prev != nil {
		var err error
		if changed, err = k.factorChanges(ctx, o, prev.At); err != nil {
			r.Notes = append(r.Notes, "reading every user's factors: "+err.Error())
			prev = nil
		}
	}
	sem := make(chan struct{}, k.cfg.FactorConcurrency)
	var wg sync.WaitGroup
	for i, u := range users {
		if !enabled(u.Status) {
			continue
		}
		if prev != nil && !changed[u.ID] {
			if f, ok := prev.Users[u.ID]; ok {
				factors[i] = f
				r.Count("factors_kept", 1)
				continue
			}
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, ferrs[i] = k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/api/v1/users/" + url.PathEscape(u.ID) + "/factors",
				Auth: k.auth(o), Permission: ScopeUsers}, &factors[i])
		}()
	}
	wg.Wait()
	<-polDone
	if perr != nil {
		perm := ScopePolicies + " + " + ScopeGroups + " + " + ScopeApps
		if ae := (*connector.APIError)(nil); errors.As(perr, &ae) && ae.Permission != "" {
			perm = ae.Permission
		}
		r.Gap(EvMFAEnforced, perm, perr, now)
	}
	var ferr error
	for _, e := range ferrs {
		if e != nil {
			ferr = e
			break
		}
	}
	if ferr != nil {
		r.Gap(EvMFA, ScopeUsers, ferr, now)
	} else {
		st := &OrgFactors{At: now, Users: map[string][]Factor{}}
		for i, u := range users {
			if enabled(u.Status) {
				st.Users[u.ID] = factors[i]
			}
		}
		k.state.set(o.Tenant, st)
	}

	// Admin roles: users with role assignments, then each one's roles.
	roles := map[string][]string{}
	var admins []string
	err = connector.Pages(ctx, k.http, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/api/v1/iam/assignees/users?limit=100", Auth: k.auth(o), Permission: ScopeRoles},
		func(h http.Header, p *struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			linksNext
		}) string {
			if n := connector.LinkNext(h); n != "" {
				return n
			}
			return p.Links.Next.Href
		},
		func(p *struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			linksNext
		}) error {
			for _, v := range p.Value {
				admins = append(admins, v.ID)
			}
			return nil
		})
	for _, id := range admins {
		if err != nil {
			break
		}
		var rs []Role
		_, err = k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/api/v1/users/" + url.PathEscape(id) + "/roles", Auth: k.auth(o), Permission: ScopeRoles}, &rs)
		for _, x := range rs {
			if x.Status == "" || x.Status == "ACTIVE" {
				roles[id] = append(roles[id], roleName(x))
			}
		}
	}
	rolesOK := err == nil
	if !rolesOK {
		r.Gap(EvRoles, ScopeRoles, err, now)
	}
	r.Count("admins", len(roles))

	ids := make([]estate.Identity, 0, len(users))
	var unknownMFA int
	var unknownWhy string
	for i, u := range users {
		x := estate.Identity{ID: o.Tenant + "/okta/" + strings.ToLower(u.Profile.Login), Name: strings.TrimSpace(u.Profile.FirstName + " " + u.Profile.LastName),
			UPN: u.Profile.Login, Kind: estate.KindHuman, Home: o.Tenant, Enabled: estate.Bool(enabled(u.Status)), Provenance: prov}
		if t, ok := parseTime(u.Created); ok {
			x.Created = &estate.Date{Time: t}
		}
		if t, ok := parseTime(u.LastLogin); ok {
			x.LastSignIn = &estate.Date{Time: t}
		}
		if ferr == nil {
			for _, f := range factors[i] {
				if m := factorMethod(f); m != "" && f.Status == "ACTIVE" && !slices.Contains(x.MFA.Methods, m) {
					x.MFA.Methods = append(x.MFA.Methods, m)
				}
			}
			if len(x.MFA.Methods) > 0 {
				r.Count("mfa_enrolled", 1)
			}
			if perr == nil && enabled(u.Status) {
				// Policies demand a second factor and the user has one
				// enrolled (without one, whoever holds the password
				// enrols the first factor at sign-in).
				// Without roles every user might reach the Admin Console.
				enf, why := pols.mfaEnforced(u.ID, !rolesOK || len(roles[u.ID]) > 0)
				switch {
				case enf == nil && len(x.MFA.Methods) > 0:
					unknownMFA++
					unknownWhy = why
				case enf == nil:
					x.MFA.Enforced = estate.Bool(false)
				default:
					x.MFA.Enforced = estate.Bool(*enf && len(x.MFA.Methods) > 0)
				}
				if x.MFA.Enforced != nil && *x.MFA.Enforced {
					r.Count("mfa_enforced", 1)
				}
				if !pols.enrollRequired(u.ID) {
					r.Count("mfa_enrollment_not_required", 1)
				}
			}
		}
		if rolesOK {
			x.Roles = roles[u.ID]
		}
		ids = append(ids, x)
	}
	if unknownMFA > 0 {
		r.Count("mfa_enforcement_unknown", unknownMFA)
		r.Gaps = append(r.Gaps, estate.Gap{Tenant: o.Tenant, Evidence: EvMFAEnforced, At: now,
			Reason: fmt.Sprintf("%d users' MFA enforcement not evaluable: %s", unknownMFA, unknownWhy)})
	}
	tool := &estate.Tool{ID: "okta-" + o.Tenant, Name: "Okta (" + o.Tenant + ")", Kind: estate.ToolIdP, Owner: o.Tenant, Vendor: "Okta", Product: "Workforce Identity",
		Host: o.base, Provenance: prov}
	// The System Log as evidence: readable means logging is on; Okta keeps
	// it 90 days (developer.okta.com/docs/reference/api/system-log), short
	// of the advisory's six months unless it is exported.
	var probe []json.RawMessage
	if _, err := k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, URL: o.base + "/api/v1/logs?limit=1", Auth: k.auth(o), Permission: ScopeLogs}, &probe); err != nil {
		r.Gap(EvLogging, ScopeLogs, err, now)
	} else {
		tool.Logging = estate.Logging{Enabled: estate.Bool(true), RetentionDays: SystemLogRetentionDays}
	}
	return ids, tool
}

// roleName names an Okta standard role by type (labels are kept for
// custom roles).
func roleName(r Role) string {
	names := map[string]string{
		"SUPER_ADMIN": "Super Administrator", "ORG_ADMIN": "Organization Administrator", "APP_ADMIN": "Application Administrator",
		"USER_ADMIN": "Group Administrator", "HELP_DESK_ADMIN": "Help Desk Administrator", "READ_ONLY_ADMIN": "Read-only Administrator",
		"MOBILE_ADMIN": "Mobile Administrator", "API_ACCESS_MANAGEMENT_ADMIN": "API Access Management Administrator",
		"REPORT_ADMIN": "Report Administrator", "GROUP_MEMBERSHIP_ADMIN": "Group Membership Administrator",
	}
	if n, ok := names[r.Type]; ok {
		return n
	}
	if r.Label != "" {
		return r.Label
	}
	return r.Type
}

// Poll reads System Log events since each org's cursor (the last Link
// next URL; on the first poll, since=now-log_since), calls emit for each
// event (format "okta"), and writes them as JSON lines to LogDir when set.
// Okta's polling pattern: the next link of a page is followed until a page
// comes back empty; that last link is the new cursor.
func (k *Connector) Poll(ctx context.Context, req connector.Request, cur connector.Cursor, emit func(connector.Record) error) (connector.Cursor, []connector.TenantRun, error) {
	now := req.Now
	if now.IsZero() {
		now = k.env.Now()
	}
	next := connector.Cursor{}
	for t, v := range cur {
		next[t] = v
	}
	var mu sync.Mutex
	tenants := k.tenants(req.Only)
	runs := connector.ForEachTenant(ctx, "okta", tenants, len(tenants), func(ctx context.Context, r *connector.TenantRun) {
		o := k.orgs[r.Tenant]
		mu.Lock()
		start := cur[o.Tenant]
		mu.Unlock()
		if start == "" {
			start = o.base + "/api/v1/logs?" + url.Values{"since": {now.Add(-k.cfg.LogSince).UTC().Format("2006-01-02T15:04:05.000Z")}, "limit": {"1000"}}.Encode()
		}
		var w *bufio.Writer
		if k.cfg.LogDir != "" {
			f, err := os.OpenFile(filepath.Join(k.cfg.LogDir, "okta-"+o.Tenant+".jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				r.Gap(EvLogs, "", err, now)
				return
			}
			defer func() { _ = f.Close() }()
			w = bufio.NewWriter(f)
			defer func() { _ = w.Flush() }()
		}
		last := start
		u := start
		seen := map[string]bool{}
		for u != "" {
			if seen[u] {
				r.Gap(EvLogs, ScopeLogs, fmt.Errorf("okta %s: %w", "/api/v1/logs", connector.ErrRepeatingPage), now)
				break
			}
			seen[u] = true
			var events []json.RawMessage
			h, err := k.http.JSON(ctx, connector.CallSpec{Tenant: o.Tenant, URL: u, Auth: k.auth(o), Permission: ScopeLogs}, &events)
			if err != nil {
				r.Gap(EvLogs, ScopeLogs, err, now)
				break
			}
			for _, ev := range events {
				if w != nil {
					_, _ = w.Write(ev)
					w.WriteByte('\n')
				}
				if emit != nil {
					if err := emit(connector.Record{Tenant: o.Tenant, Format: "okta", Raw: ev}); err != nil {
						r.Errors = append(r.Errors, err.Error())
						return
					}
				}
			}
			r.Count("events", len(events))
			last = u
			nx := connector.LinkNext(h)
			if nx != "" {
				last = nx
			}
			if len(events) == 0 {
				break
			}
			u = nx
		}
		mu.Lock()
		next[o.Tenant] = last
		mu.Unlock()
	})
	return next, runs, nil
}
