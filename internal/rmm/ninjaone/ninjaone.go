// Package ninjaone is the NinjaOne (NinjaRMM) connector: organisations →
// tenants, devices → endpoints with the NinjaOne agent, technicians and
// their access, and the activity log → RMM audit events for detection.
//
// Vendor documentation followed: the NinjaOne Public API v2 reference
// (https://app.ninjarmm.com/apidocs/?links.active=core, one per region:
// app, us2, ca, eu, oc .ninjarmm.com): OAuth 2.0 client credentials at
// POST /ws/oauth/token (scope "monitoring management"); GET
// /v2/organizations, /v2/organization/{id}/devices and /v2/users, paged
// with pageSize and after=<last id>; GET /v2/activities with pageSize,
// newerThan and olderThan (activity ids), answering {lastActivityId,
// activities:[{id, activityTime (epoch seconds), deviceId, activityType,
// statusCode, status, activityResult, userId, sourceName, subject,
// message}]}.
package ninjaone

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/rmm"
)

// Regions are NinjaOne's regional API hosts.
var Regions = map[string]string{
	"us":  "https://app.ninjarmm.com",
	"us2": "https://us2.ninjarmm.com",
	"ca":  "https://ca.ninjarmm.com",
	"eu":  "https://eu.ninjarmm.com",
	"oc":  "https://oc.ninjarmm.com",
}

// Config is the connector's section of firebreak.yaml.
type Config struct {
	Region       string              `yaml:"region"`        // us, us2, ca, eu, oc
	URL          string              `yaml:"url,omitempty"` // overrides region
	ClientID     string              `yaml:"client_id"`
	ClientSecret connector.SecretRef `yaml:"client_secret"`
	// Tenants maps NinjaOne organisations (id or name) to estate tenants
	// where the names differ.
	Tenants map[string]string `yaml:"tenants,omitempty"`
	// Lookback bounds the first activity poll (default 24h).
	Lookback time.Duration `yaml:"lookback,omitempty"`
	PageSize int           `yaml:"page_size,omitempty"` // default 1000
}

// Permission names.
const (
	permMonitoring = "monitoring (OAuth scope of the API client app)"
	permManagement = "management (OAuth scope of the API client app)"
)

// Connector reads one NinjaOne instance.
type Connector struct {
	c      Config
	base   string
	host   string
	client *connector.Client
	tokens *connector.TokenSource
	limit  int

	mu      sync.Mutex
	devices map[int]deviceRef // device id → tenant and name, for activities
	users   map[int]string    // user id → e-mail
}

type deviceRef struct{ tenant, name string }

// New validates c.
func New(c Config, env connector.Env) (*Connector, error) {
	base := c.URL
	if base == "" {
		var ok bool
		if base, ok = Regions[strings.ToLower(c.Region)]; !ok {
			return nil, fmt.Errorf("ninjaone: region %q: want one of us, us2, ca, eu, oc (or url)", c.Region)
		}
	}
	if c.ClientID == "" {
		return nil, fmt.Errorf("ninjaone: client_id is required")
	}
	sec, err := c.ClientSecret.Resolve(env)
	if err != nil {
		return nil, fmt.Errorf("ninjaone: client_secret: %w", err)
	}
	if c.PageSize <= 0 {
		c.PageSize = 1000
	}
	if c.Lookback <= 0 {
		c.Lookback = 24 * time.Hour
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("ninjaone: url %q is not an absolute URL", base)
	}
	client := connector.NewClient("ninjaone", env)
	ts := &connector.TokenSource{Client: client, URL: connector.JoinURL(base, "/ws/oauth/token"), Permission: permMonitoring,
		Form: url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ClientID}, "client_secret": {string(sec)}, "scope": {"monitoring management"}}}
	limit := env.Concurrency
	if limit <= 0 {
		limit = connector.DefaultConcurrency
	}
	return &Connector{c: c, base: base, host: u.Host, client: client, tokens: ts, limit: limit, devices: map[int]deviceRef{}, users: map[int]string{}}, nil
}

func (n *Connector) get(ctx context.Context, tenant, path, perm string, v any) error {
	_, err := n.client.JSON(ctx, connector.CallSpec{Tenant: tenant, URL: connector.JoinURL(n.base, path), Auth: n.tokens.Auth(), Permission: perm}, v)
	return err
}

// pages reads a list paged with pageSize and after=<last id>.
func pages[T any](ctx context.Context, n *Connector, tenant, path, perm string, id func(*T) int, fn func([]T) error) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	first := connector.JoinURL(n.base, path+sep+"pageSize="+strconv.Itoa(n.c.PageSize))
	return connector.Pages(ctx, n.client, connector.CallSpec{Tenant: tenant, URL: first, Auth: n.tokens.Auth(), Permission: perm},
		func(_ http.Header, p *[]T) string {
			if len(*p) < n.c.PageSize {
				return ""
			}
			return first + "&after=" + strconv.Itoa(id(&(*p)[len(*p)-1]))
		}, func(p *[]T) error { return fn(*p) })
}

type org struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

type device struct {
	ID             int     `json:"id"`
	OrganizationID int     `json:"organizationId"`
	NodeClass      string  `json:"nodeClass"`
	DisplayName    string  `json:"displayName"`
	SystemName     string  `json:"systemName"`
	DNSName        string  `json:"dnsName"`
	Offline        bool    `json:"offline"`
	LastContact    float64 `json:"lastContact"`
}

type user struct {
	ID               int    `json:"id"`
	FirstName        string `json:"firstName"`
	LastName         string `json:"lastName"`
	Email            string `json:"email"`
	UserType         string `json:"userType"` // TECHNICIAN, END_USER
	Administrator    bool   `json:"administrator"`
	PermitAllClients bool   `json:"permitAllClients"`
	MFAConfigured    *bool  `json:"mfaConfigured"`
	InvitationStatus string `json:"invitationStatus"`
}

// kind turns NinjaOne's nodeClass into an estate asset kind.
func kind(nodeClass string) string {
	c := strings.ToUpper(nodeClass)
	switch {
	case strings.Contains(c, "SERVER"):
		return "server"
	case strings.Contains(c, "WORKSTATION"), strings.HasPrefix(c, "MAC"), strings.Contains(c, "LAPTOP"):
		return "workstation"
	case strings.Contains(c, "VMWARE"), strings.Contains(c, "HYPERV"):
		return "hypervisor"
	case strings.Contains(c, "NMS"):
		return "network"
	}
	return strings.ToLower(nodeClass)
}

// Collect implements connector.EvidenceSource.
func (n *Connector) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	b := rmm.NewBuilder("ninjaone", "NinjaOne", "NinjaOne", n.host, "ninjaone:"+n.host, now)
	tm := rmm.TenantMap{Explicit: n.c.Tenants, Estate: req.Estate}
	var orgs []org
	err := pages(ctx, n, "", "/v2/organizations", permMonitoring, func(o *org) int { return o.ID }, func(p []org) error {
		orgs = append(orgs, p...)
		return nil
	})
	if err != nil {
		var ae *connector.APIError
		if errors.As(err, &ae) && ae.Forbidden() {
			run := connector.TenantRun{Connector: "ninjaone", Tenant: "msp"}
			run.Gap("tenants", permMonitoring, err, now)
			b.Gap(run.Gaps[0])
			return &connector.Evidence{Fragment: b.Fragment(), Tenants: []connector.TenantRun{run}, Stats: n.client.Stats()}, nil
		}
		return nil, fmt.Errorf("ninjaone: listing organisations: %w", err)
	}
	var notes []string
	tenantOf := map[string]org{}
	var tenants []string
	for _, o := range orgs {
		t, ok := tm.Resolve(strconv.Itoa(o.ID), o.Name)
		if !ok {
			notes = append(notes, rmm.Unmapped("NinjaOne", strconv.Itoa(o.ID), o.Name))
			continue
		}
		if _, dup := tenantOf[t]; dup {
			continue
		}
		tenantOf[t] = o
		tenants = append(tenants, t)
		b.Tenant(t, o.Name)
	}
	if len(req.Only) > 0 {
		tenants = slices.DeleteFunc(tenants, func(t string) bool { return !slices.Contains(req.Only, t) })
	}
	// Technicians and their access (one call, MSP-wide).
	mspRun := connector.TenantRun{Connector: "ninjaone", Tenant: "msp", Notes: notes}
	var users []user
	if err := pages(ctx, n, "msp", "/v2/users", permManagement, func(u *user) int { return u.ID }, func(p []user) error {
		users = append(users, p...)
		return nil
	}); err != nil {
		mspRun.Gap("identities.rmm_technicians", permManagement, err, now)
	}
	n.mu.Lock()
	for _, u := range users {
		n.users[u.ID] = u.Email
	}
	n.mu.Unlock()
	for _, u := range users {
		if !strings.EqualFold(u.UserType, "TECHNICIAN") {
			continue
		}
		b.Technician(rmm.Technician{Login: u.Email, Name: strings.TrimSpace(u.FirstName + " " + u.LastName), Enabled: !strings.EqualFold(u.InvitationStatus, "EXPIRED"),
			Admin: u.Administrator, AllClients: u.PermitAllClients, MFA: u.MFAConfigured})
		mspRun.Count("technicians", 1)
	}
	// Devices per organisation, with bounded concurrency; a failing
	// organisation is recorded in its own run.
	var mu sync.Mutex
	runs := connector.ForEachTenant(ctx, "ninjaone", tenants, n.limit, func(ctx context.Context, run *connector.TenantRun) {
		o := tenantOf[run.Tenant]
		run.VendorID = strconv.Itoa(o.ID)
		var devs []device
		err := pages(ctx, n, run.Tenant, "/v2/organization/"+strconv.Itoa(o.ID)+"/devices", permMonitoring, func(d *device) int { return d.ID }, func(p []device) error {
			devs = append(devs, p...)
			return nil
		})
		if err != nil {
			run.Gap("assets.rmm_agents", permMonitoring, err, now)
			if len(devs) == 0 {
				return
			}
			run.Notes = append(run.Notes, fmt.Sprintf("%d devices read before the error are kept", len(devs)))
		}
		mu.Lock()
		defer mu.Unlock()
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, d := range devs {
			name := cmp.Or(d.SystemName, d.DNSName, d.DisplayName, strconv.Itoa(d.ID))
			b.Endpoint(run.Tenant, strconv.Itoa(d.ID), name, kind(d.NodeClass))
			n.devices[d.ID] = deviceRef{tenant: run.Tenant, name: name}
			if d.Offline {
				run.Count("offline", 1)
			}
		}
		run.Count("devices", len(devs))
	})
	for _, r := range runs {
		for _, g := range r.Gaps {
			b.Gap(g)
		}
	}
	for _, g := range mspRun.Gaps {
		b.Gap(g)
	}
	return &connector.Evidence{Fragment: b.Fragment(), Tenants: append([]connector.TenantRun{mspRun}, runs...), Stats: n.client.Stats()}, nil
}

type activity struct {
	ID             int64   `json:"id"`
	ActivityTime   float64 `json:"activityTime"`
	DeviceID       int     `json:"deviceId"`
	ActivityType   string  `json:"activityType"`
	StatusCode     string  `json:"statusCode"`
	Status         string  `json:"status"`
	ActivityResult string  `json:"activityResult"`
	UserID         int     `json:"userId"`
	SourceName     string  `json:"sourceName"`
	Subject        string  `json:"subject"`
	Message        string  `json:"message"`
	SourceConfig   string  `json:"sourceConfigUid"`
}

type activityPage struct {
	LastActivityID int64      `json:"lastActivityId"`
	Activities     []activity `json:"activities"`
}

// maxPerPoll bounds the activities one poll holds in memory; the rest
// come with the next poll.
const maxPerPoll = 200000

// Action is the RMM audit action of a NinjaOne activity (documented in
// docs/connectors.md): scripts and actions run on a device are
// "script.run" (what the fan-out rules count), remote sessions
// "remote.session", sign-ins "login", the rest "ninjaone.<type>".
func Action(a *activity) string {
	t, code := strings.ToUpper(a.ActivityType), strings.ToUpper(a.StatusCode)
	switch {
	case t == "SCRIPTING", t == "ACTION", t == "ACTIONSET", strings.Contains(code, "SCRIPT"):
		return "script.run"
	case t == "REMOTE_TOOLS", t == "NINJA_REMOTE", t == "TEAMVIEWER", t == "SPLASHTOP", t == "RDP", strings.Contains(code, "REMOTE"):
		return "remote.session"
	case strings.Contains(code, "LOGIN") || strings.Contains(code, "LOGGED_IN"):
		return "login"
	}
	return "ninjaone." + strings.ToLower(a.ActivityType)
}

func result(a *activity) string {
	switch strings.ToUpper(a.ActivityResult) {
	case "SUCCESS":
		return "success"
	case "FAILURE":
		return "failure"
	}
	return strings.ToLower(a.ActivityResult)
}

// Poll implements connector.EventSource: activities newer than the
// cursor ("activities": the last id read), oldest first.
func (n *Connector) Poll(ctx context.Context, req connector.Request, cur connector.Cursor, emit func(connector.Record) error) (connector.Cursor, []connector.TenantRun, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	run := connector.TenantRun{Connector: "ninjaone", Tenant: "msp", Started: now}
	since, _ := strconv.ParseInt(cur["activities"], 10, 64)
	floor := now.Add(-n.c.Lookback)
	var acts []activity
	older := int64(0)
	seen := map[int64]bool{}
	for {
		q := url.Values{"pageSize": {strconv.Itoa(n.c.PageSize)}, "class": {"ALL"}}
		if since > 0 {
			q.Set("newerThan", strconv.FormatInt(since, 10))
		}
		if older > 0 {
			q.Set("olderThan", strconv.FormatInt(older, 10))
		}
		var p activityPage
		if err := n.get(ctx, "msp", "/v2/activities?"+q.Encode(), permMonitoring, &p); err != nil {
			run.Gap("events.rmm_activity", permMonitoring, err, now)
			return cur, []connector.TenantRun{run}, nil
		}
		minID, fresh, stop := int64(0), 0, false
		for _, a := range p.Activities {
			if minID == 0 || a.ID < minID {
				minID = a.ID
			}
			if seen[a.ID] || a.ID <= since {
				continue
			}
			seen[a.ID] = true
			fresh++
			if since == 0 && time.Unix(0, int64(a.ActivityTime*1e9)).Before(floor) {
				stop = true // first poll: nothing older than the lookback
				continue
			}
			acts = append(acts, a)
		}
		if len(p.Activities) > 0 && fresh == 0 {
			return cur, []connector.TenantRun{run}, fmt.Errorf("ninjaone /v2/activities: %w", connector.ErrRepeatingPage)
		}
		if stop || len(p.Activities) < n.c.PageSize || len(acts) >= maxPerPoll {
			if len(acts) >= maxPerPoll {
				run.Notes = append(run.Notes, fmt.Sprintf("more than %d new activities: the oldest are read first, the rest next poll", maxPerPoll))
			}
			break
		}
		older = minID
	}
	slices.SortFunc(acts, func(a, b activity) int { return int(a.ID - b.ID) })
	if len(acts) > maxPerPoll {
		acts = acts[:maxPerPoll]
	}
	if err := n.refreshUsers(ctx, acts); err != nil {
		run.Notes = append(run.Notes, "technician names unavailable: "+err.Error())
	}
	next := connector.Cursor{"activities": cur["activities"]}
	for i := range acts {
		a := &acts[i]
		au := n.audit(ctx, a)
		if err := emit(au.Record()); err != nil {
			return next, []connector.TenantRun{run}, err
		}
		next["activities"] = strconv.FormatInt(a.ID, 10)
		run.Count("events", 1)
	}
	run.Finished = now
	return next, []connector.TenantRun{run}, nil
}

// refreshUsers reads the users when an activity names one not known yet.
func (n *Connector) refreshUsers(ctx context.Context, acts []activity) error {
	n.mu.Lock()
	missing := false
	for _, a := range acts {
		if _, ok := n.users[a.UserID]; a.UserID != 0 && !ok {
			missing = true
			break
		}
	}
	n.mu.Unlock()
	if !missing {
		return nil
	}
	return pages(ctx, n, "msp", "/v2/users", permManagement, func(u *user) int { return u.ID }, func(p []user) error {
		n.mu.Lock()
		defer n.mu.Unlock()
		for _, u := range p {
			n.users[u.ID] = u.Email
		}
		return nil
	})
}

func (n *Connector) audit(ctx context.Context, a *activity) rmm.Audit {
	n.mu.Lock()
	dev, ok := n.devices[a.DeviceID]
	op := n.users[a.UserID]
	n.mu.Unlock()
	if !ok && a.DeviceID != 0 {
		dev = n.lookupDevice(ctx, a.DeviceID)
	}
	if op == "" {
		op = a.SourceName
	}
	au := rmm.Audit{TS: time.Unix(0, int64(a.ActivityTime*1e9)), Console: n.host, Operator: op, Action: Action(a), Result: result(a),
		Tenant: dev.tenant, Agent: dev.name, Vendor: "ninjaone", ActivityID: strconv.FormatInt(a.ID, 10)}
	if au.Action == "script.run" {
		au.Script = cmp.Or(a.SourceName, a.Subject)
		au.JobID = a.SourceConfig
	}
	return au
}

// lookupDevice reads one device unknown to the cache (GET /v2/device/{id})
// and its organisation's tenant.
func (n *Connector) lookupDevice(ctx context.Context, id int) deviceRef {
	var d device
	if err := n.get(ctx, "msp", "/v2/device/"+strconv.Itoa(id), permMonitoring, &d); err != nil {
		return deviceRef{name: strconv.Itoa(id)}
	}
	var o org
	_ = n.get(ctx, "msp", "/v2/organization/"+strconv.Itoa(d.OrganizationID), permMonitoring, &o)
	t, _ := rmm.TenantMap{Explicit: n.c.Tenants}.Resolve(strconv.Itoa(o.ID), o.Name)
	ref := deviceRef{tenant: t, name: cmp.Or(d.SystemName, d.DNSName, d.DisplayName, strconv.Itoa(id))}
	n.mu.Lock()
	n.devices[id] = ref
	n.mu.Unlock()
	return ref
}

var (
	_ connector.EvidenceSource = (*Connector)(nil)
	_ connector.EventSource    = (*Connector)(nil)
)

// Definition registers the connector.
func Definition() connector.Definition {
	return connector.Definition{
		Spec: connector.Spec{
			Name: "ninjaone", Title: "NinjaOne",
			Summary:      "tenants, endpoints with the NinjaOne agent, technicians and their access; the activity log as RMM events",
			Capabilities: []connector.Capability{connector.CapEvidence, connector.CapEvents},
			Config: []connector.Field{
				{Name: "region", Type: "string", Doc: "us, us2, ca, eu or oc", Required: true},
				{Name: "url", Type: "string", Doc: "instance URL (overrides region)"},
				{Name: "client_id", Type: "string", Required: true, Doc: "API client app (client credentials)"},
				{Name: "client_secret", Type: "secret", Required: true, Secret: true, Doc: "API client app secret"},
				{Name: "tenants", Type: "tenants", Doc: "organisation id or name → estate tenant, where names differ"},
				{Name: "lookback", Type: "duration", Default: "24h", Doc: "how far back the first activity poll reads"},
				{Name: "page_size", Type: "int", Default: "1000", Doc: "page size"},
			},
			Permissions: []connector.Permission{
				{Name: permMonitoring, Kind: "oauth-scope", For: []string{"tenants", "assets.rmm_agents", "events.rmm_activity"}},
				{Name: permManagement, Kind: "oauth-scope", For: []string{"identities.rmm_technicians"}},
			},
			Calls: []connector.Call{
				{Method: "POST", Path: "/ws/oauth/token", Note: "client credentials"},
				{Method: "GET", Path: "/v2/organizations?pageSize=1000&after={id}", Permission: permMonitoring},
				{Method: "GET", Path: "/v2/organization/{id}/devices?pageSize=1000&after={id}", Permission: permMonitoring},
				{Method: "GET", Path: "/v2/users", Permission: permManagement},
				{Method: "GET", Path: "/v2/activities?class=ALL&pageSize=1000&newerThan={cursor}&olderThan={id}", Permission: permMonitoring},
			},
			Schedule: 15 * time.Minute,
			Docs:     []string{"https://app.ninjarmm.com/apidocs/?links.active=core"},
		},
		New: connector.Construct(New),
	}
}
