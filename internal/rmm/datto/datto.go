// Package datto is the Datto RMM connector: sites → tenants, devices →
// endpoints with the Datto RMM agent, console users, and the activity log
// → RMM audit events for detection.
//
// Vendor documentation followed: Datto RMM API v2
// (https://rmm.datto.com/help/en/Content/2SETUP/APIv2.htm and the
// Swagger UI of each platform, https://{platform}-api.centrastage.net/api/swagger-ui/):
// the API key and secret are exchanged for a token at POST
// /auth/oauth/token (grant_type=password, username=key, password=secret,
// HTTP Basic public-client:public; the token lives 100 hours); GET
// /api/v2/account/sites, /api/v2/site/{siteUid}/devices and
// /api/v2/account/users answer {pageDetails:{count, nextPageUrl}, …}
// with at most 250 items a page; GET /api/v2/activity-logs (from, until,
// size, order=asc) pages with a searchAfter cursor in nextPageUrl and
// answers {pageDetails, activities:[{id, entity, category, action, date
// (epoch seconds), site:{id,name}, deviceId, hostname, user:{userName}}]};
// read requests are limited to 600 per rolling 60 seconds per account
// (429 beyond), which the connector keeps to on its side.
package datto

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/rmm"
)

// Platforms are Datto RMM's regional API hosts.
var Platforms = []string{"pinotage", "merlot", "concord", "vidal", "zinfandel", "syrah"}

// Config is the connector's section of firebreak.yaml.
type Config struct {
	Platform  string              `yaml:"platform"`      // pinotage, merlot, concord, vidal, zinfandel, syrah
	URL       string              `yaml:"url,omitempty"` // overrides platform
	APIKey    string              `yaml:"api_key"`
	APISecret connector.SecretRef `yaml:"api_secret"`
	Tenants   map[string]string   `yaml:"tenants,omitempty"` // site uid or name → estate tenant
	Lookback  time.Duration       `yaml:"lookback,omitempty"`
	// RequestsPerMinute is the read budget (default 600, Datto's limit).
	RequestsPerMinute int `yaml:"requests_per_minute,omitempty"`
}

const perm = "API access enabled for the API user (Setup > Global Settings > Access Control), with read access to the sites"

// Connector reads one Datto RMM account.
type Connector struct {
	c       Config
	base    string
	host    string
	client  *connector.Client
	tokens  *connector.TokenSource
	limit   int
	limiter *window
	now     func() time.Time
}

// New validates c.
func New(c Config, env connector.Env) (*Connector, error) {
	base := c.URL
	if base == "" {
		if !slices.Contains(Platforms, strings.ToLower(c.Platform)) {
			return nil, fmt.Errorf("datto: platform %q: want one of %v (or url)", c.Platform, Platforms)
		}
		base = "https://" + strings.ToLower(c.Platform) + "-api.centrastage.net"
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("datto: url %q is not an absolute URL", base)
	}
	if c.APIKey == "" {
		return nil, fmt.Errorf("datto: api_key is required")
	}
	sec, err := c.APISecret.Resolve(env)
	if err != nil {
		return nil, fmt.Errorf("datto: api_secret: %w", err)
	}
	if c.Lookback <= 0 {
		c.Lookback = 24 * time.Hour
	}
	if c.RequestsPerMinute <= 0 {
		c.RequestsPerMinute = 600
	}
	client := connector.NewClient("datto", env)
	ts := &connector.TokenSource{Client: client, URL: connector.JoinURL(base, "/auth/oauth/token"), BasicUser: "public-client", BasicPass: "public",
		Form: url.Values{"grant_type": {"password"}, "username": {c.APIKey}, "password": {string(sec)}}, Permission: perm}
	limit := env.Concurrency
	if limit <= 0 {
		limit = connector.DefaultConcurrency
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	return &Connector{c: c, base: base, host: u.Host, client: client, tokens: ts, limit: limit,
		limiter: newWindow(c.RequestsPerMinute, time.Minute, now, env.Retry.Sleep), now: now}, nil
}

// window keeps calls under n per rolling period.
type window struct {
	mu     sync.Mutex
	n      int
	period time.Duration
	times  []time.Time
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
}

func newWindow(n int, period time.Duration, now func() time.Time, sleep func(context.Context, time.Duration) error) *window {
	if sleep == nil {
		sleep = connector.SleepContext
	}
	return &window{n: n, period: period, now: now, sleep: sleep}
}

// wait blocks until a call fits in the window.
func (w *window) wait(ctx context.Context) error {
	for {
		w.mu.Lock()
		now := w.now()
		cut := 0
		for cut < len(w.times) && now.Sub(w.times[cut]) >= w.period {
			cut++
		}
		w.times = w.times[cut:]
		if len(w.times) < w.n {
			w.times = append(w.times, now)
			w.mu.Unlock()
			return nil
		}
		d := w.period - now.Sub(w.times[0])
		w.mu.Unlock()
		if err := w.sleep(ctx, d); err != nil {
			return err
		}
	}
}

type pageDetails struct {
	Count       int    `json:"count"`
	NextPageURL string `json:"nextPageUrl"`
}

// list reads every page of a paged list, following nextPageUrl.
func list[P any](ctx context.Context, d *Connector, tenant, path string, details func(*P) pageDetails, fn func(*P) error) error {
	cs := connector.CallSpec{Tenant: tenant, URL: connector.JoinURL(d.base, path), Auth: d.tokens.Auth(), Permission: perm}
	if err := d.limiter.wait(ctx); err != nil {
		return err
	}
	return connector.Pages(ctx, d.client, cs, func(_ http.Header, p *P) string {
		next := details(p).NextPageURL
		if next != "" {
			if d.limiter.wait(ctx) != nil {
				return ""
			}
		}
		return next
	}, fn)
}

type site struct {
	ID   int    `json:"id"`
	UID  string `json:"uid"`
	Name string `json:"name"`
}

type sitesPage struct {
	PageDetails pageDetails `json:"pageDetails"`
	Sites       []site      `json:"sites"`
}

type device struct {
	ID         int    `json:"id"`
	UID        string `json:"uid"`
	SiteUID    string `json:"siteUid"`
	Hostname   string `json:"hostname"`
	Online     bool   `json:"online"`
	DeviceType struct {
		Category string `json:"category"` // Desktop, Laptop, Server, ESXi Host, Network Device, …
	} `json:"deviceType"`
}

type devicesPage struct {
	PageDetails pageDetails `json:"pageDetails"`
	Devices     []device    `json:"devices"`
}

type user struct {
	Username   string `json:"username"`
	Email      string `json:"email"`
	FirstName  string `json:"firstName"`
	LastName   string `json:"lastName"`
	Disabled   bool   `json:"disabled"`
	LastAccess int64  `json:"lastAccess"` // epoch ms
}

type usersPage struct {
	PageDetails pageDetails `json:"pageDetails"`
	Users       []user      `json:"users"`
}

func kind(category string) string {
	c := strings.ToLower(category)
	switch {
	case strings.Contains(c, "server"):
		return "server"
	case c == "desktop" || c == "laptop":
		return "workstation"
	case strings.Contains(c, "esxi"), strings.Contains(c, "hyper"):
		return "hypervisor"
	case strings.Contains(c, "network"):
		return "network"
	}
	return c
}

// Collect implements connector.EvidenceSource.
func (d *Connector) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	now := req.Now
	if now.IsZero() {
		now = d.now()
	}
	b := rmm.NewBuilder("datto-rmm", "Datto RMM", "Datto", d.host, "datto:"+d.host, now)
	tm := rmm.TenantMap{Explicit: d.c.Tenants, Estate: req.Estate}
	var sites []site
	err := list(ctx, d, "", "/api/v2/account/sites?max=250", func(p *sitesPage) pageDetails { return p.PageDetails }, func(p *sitesPage) error {
		sites = append(sites, p.Sites...)
		return nil
	})
	if err != nil {
		var ae *connector.APIError
		if errors.As(err, &ae) && ae.Forbidden() {
			run := connector.TenantRun{Connector: "datto", Tenant: "msp"}
			run.Gap("tenants", perm, err, now)
			b.Gap(run.Gaps[0])
			return &connector.Evidence{Fragment: b.Fragment(), Tenants: []connector.TenantRun{run}, Stats: d.client.Stats()}, nil
		}
		return nil, fmt.Errorf("datto: listing sites: %w", err)
	}
	msp := connector.TenantRun{Connector: "datto", Tenant: "msp"}
	siteOf := map[string]site{}
	var tenants []string
	for _, s := range sites {
		t, ok := tm.Resolve(s.UID, s.Name)
		if !ok {
			msp.Notes = append(msp.Notes, rmm.Unmapped("Datto RMM", s.UID, s.Name))
			continue
		}
		if _, dup := siteOf[t]; dup {
			continue
		}
		siteOf[t] = s
		tenants = append(tenants, t)
		b.Tenant(t, s.Name)
	}
	if len(req.Only) > 0 {
		tenants = slices.DeleteFunc(tenants, func(t string) bool { return !slices.Contains(req.Only, t) })
	}
	var users []user
	if err := list(ctx, d, "msp", "/api/v2/account/users?max=250", func(p *usersPage) pageDetails { return p.PageDetails }, func(p *usersPage) error {
		users = append(users, p.Users...)
		return nil
	}); err != nil {
		msp.Gap("identities.rmm_technicians", perm, err, now)
	}
	for _, u := range users {
		login := u.Email
		if login == "" {
			login = u.Username
		}
		t := rmm.Technician{Login: login, Name: strings.TrimSpace(u.FirstName + " " + u.LastName), Enabled: !u.Disabled, AllClients: true}
		if u.LastAccess > 0 {
			t.LastLogin = time.UnixMilli(u.LastAccess)
		}
		b.Technician(t)
		msp.Count("technicians", 1)
	}
	if len(users) > 0 {
		msp.Notes = append(msp.Notes, "Datto RMM's API does not expose a user's security level or site restrictions: every console user is recorded with operate access to all sites")
	}
	var mu sync.Mutex
	runs := connector.ForEachTenant(ctx, "datto", tenants, d.limit, func(ctx context.Context, run *connector.TenantRun) {
		s := siteOf[run.Tenant]
		run.VendorID = s.UID
		var devs []device
		err := list(ctx, d, run.Tenant, "/api/v2/site/"+url.PathEscape(s.UID)+"/devices?max=250", func(p *devicesPage) pageDetails { return p.PageDetails }, func(p *devicesPage) error {
			devs = append(devs, p.Devices...)
			return nil
		})
		if err != nil {
			run.Gap("assets.rmm_agents", perm, err, now)
			if len(devs) == 0 {
				return
			}
			run.Notes = append(run.Notes, fmt.Sprintf("%d devices read before the error are kept", len(devs)))
		}
		mu.Lock()
		defer mu.Unlock()
		for _, dv := range devs {
			b.Endpoint(run.Tenant, dv.UID, dv.Hostname, kind(dv.DeviceType.Category))
			if !dv.Online {
				run.Count("offline", 1)
			}
		}
		run.Count("devices", len(devs))
	})
	for _, r := range append([]connector.TenantRun{msp}, runs...) {
		for _, g := range r.Gaps {
			b.Gap(g)
		}
	}
	return &connector.Evidence{Fragment: b.Fragment(), Tenants: append([]connector.TenantRun{msp}, runs...), Stats: d.client.Stats()}, nil
}

type activity struct {
	ID       string  `json:"id"`
	Entity   string  `json:"entity"`   // DEVICE, USER
	Category string  `json:"category"` // job, remote, device, user, …
	Action   string  `json:"action"`
	Date     float64 `json:"date"` // epoch seconds
	Site     struct {
		ID   int    `json:"id"`
		UID  string `json:"uid"`
		Name string `json:"name"`
	} `json:"site"`
	Hostname string `json:"hostname"`
	User     struct {
		UserName string `json:"userName"`
	} `json:"user"`
	Details string `json:"details"`
}

type activitiesPage struct {
	PageDetails pageDetails `json:"pageDetails"`
	Activities  []activity  `json:"activities"`
}

// Action is the RMM audit action of a Datto RMM activity (documented in
// docs/connectors.md): jobs (components, quick jobs, scripts) are
// "job.run" — what the fan-out rules count — remote sessions
// "remote.session", console logins "login", the rest
// "datto.<category>.<action>".
func Action(a *activity) string {
	c, act := strings.ToLower(a.Category), strings.ToLower(a.Action)
	switch {
	case c == "job" || strings.Contains(act, "job") || strings.Contains(act, "script"):
		return "job.run"
	case c == "remote" || strings.HasPrefix(act, "remote"):
		return "remote.session"
	case strings.Contains(act, "login"):
		return "login"
	}
	return "datto." + c + "." + act
}

// maxPerPoll bounds the activities one poll reads.
const maxPerPoll = 200000

// Poll implements connector.EventSource. The cursor holds the time of the
// last activity emitted ("from", RFC 3339) and the ids emitted at exactly
// that time ("seen"): the next poll asks from that time and skips those.
func (d *Connector) Poll(ctx context.Context, req connector.Request, cur connector.Cursor, emit func(connector.Record) error) (connector.Cursor, []connector.TenantRun, error) {
	now := req.Now
	if now.IsZero() {
		now = d.now()
	}
	run := connector.TenantRun{Connector: "datto", Tenant: "msp", Started: now}
	from := now.Add(-d.c.Lookback)
	if t, err := time.Parse(time.RFC3339Nano, cur["from"]); err == nil {
		from = t
	}
	seen := map[string]bool{}
	for _, id := range strings.Split(cur["seen"], ",") {
		if id != "" {
			seen[id] = true
		}
	}
	next := connector.Cursor{"from": cur["from"], "seen": cur["seen"]}
	tm := rmm.TenantMap{Explicit: d.c.Tenants, Estate: req.Estate}
	q := url.Values{"from": {from.UTC().Format(time.RFC3339Nano)}, "until": {now.UTC().Format(time.RFC3339Nano)}, "size": {"250"}, "order": {"asc"}}
	n := 0
	var lastTS time.Time
	var atLast []string
	err := list(ctx, d, "msp", "/api/v2/activity-logs?"+q.Encode(), func(p *activitiesPage) pageDetails { return p.PageDetails }, func(p *activitiesPage) error {
		for i := range p.Activities {
			a := &p.Activities[i]
			ts := time.Unix(0, int64(a.Date*1e9)).UTC()
			if ts.Before(from) || (ts.Equal(from) && seen[a.ID]) {
				continue
			}
			tenant, _ := tm.Resolve(a.Site.UID, a.Site.Name)
			au := rmm.Audit{TS: ts, Console: d.host, Operator: a.User.UserName, Action: Action(a), Result: "success",
				Tenant: tenant, Agent: a.Hostname, Vendor: "datto", ActivityID: a.ID}
			if err := emit(au.Record()); err != nil {
				return err
			}
			if !ts.Equal(lastTS) {
				lastTS, atLast = ts, nil
				if ts.Equal(from) {
					atLast = slicesFromSet(seen)
				}
			}
			atLast = append(atLast, a.ID)
			next["from"], next["seen"] = ts.Format(time.RFC3339Nano), strings.Join(atLast, ",")
			n++
			if n >= maxPerPoll {
				run.Notes = append(run.Notes, fmt.Sprintf("more than %d new activities: the rest come with the next poll", maxPerPoll))
				return errStop
			}
		}
		return nil
	})
	run.Count("events", n)
	if err != nil && !errors.Is(err, errStop) {
		run.Gap("events.rmm_activity", perm, err, now)
	}
	run.Finished = now
	return next, []connector.TenantRun{run}, nil
}

func slicesFromSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var errStop = errors.New("stop")

var (
	_ connector.EvidenceSource = (*Connector)(nil)
	_ connector.EventSource    = (*Connector)(nil)
)

// Definition registers the connector.
func Definition() connector.Definition {
	return connector.Definition{
		Spec: connector.Spec{
			Name: "datto", Title: "Datto RMM",
			Summary:      "tenants from sites, endpoints with the Datto RMM agent, console users; the activity log as RMM events",
			Capabilities: []connector.Capability{connector.CapEvidence, connector.CapEvents},
			Config: []connector.Field{
				{Name: "platform", Type: "string", Required: true, Doc: strings.Join(Platforms, ", ")},
				{Name: "url", Type: "string", Doc: "API URL (overrides platform)"},
				{Name: "api_key", Type: "string", Required: true, Doc: "the API user's key"},
				{Name: "api_secret", Type: "secret", Required: true, Secret: true, Doc: "the API user's secret key"},
				{Name: "tenants", Type: "tenants", Doc: "site uid or name → estate tenant, where names differ"},
				{Name: "lookback", Type: "duration", Default: "24h", Doc: "how far back the first activity poll reads"},
				{Name: "requests_per_minute", Type: "int", Default: "600", Doc: "read budget per rolling minute (Datto's limit)"},
			},
			Permissions: []connector.Permission{{Name: perm, Kind: "admin-role", For: []string{"tenants", "assets.rmm_agents", "identities.rmm_technicians", "events.rmm_activity"}}},
			Calls: []connector.Call{
				{Method: "POST", Path: "/auth/oauth/token", Note: "password grant with the API key and secret"},
				{Method: "GET", Path: "/api/v2/account/sites?max=250", Permission: perm},
				{Method: "GET", Path: "/api/v2/site/{uid}/devices?max=250", Permission: perm},
				{Method: "GET", Path: "/api/v2/account/users?max=250", Permission: perm},
				{Method: "GET", Path: "/api/v2/activity-logs?from=…&until=…&size=250&order=asc", Permission: perm, Note: "nextPageUrl carries the searchAfter cursor"},
			},
			Schedule: 15 * time.Minute,
			Docs:     []string{"https://rmm.datto.com/help/en/Content/2SETUP/APIv2.htm"},
		},
		New: connector.Construct(New),
	}
}
