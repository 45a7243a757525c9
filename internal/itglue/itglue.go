// Package itglue is the IT Glue connector, an estate source:
// organisations → tenants, configurations → assets, contacts (counted),
// and password *metadata* — which credentials the MSP keeps for which
// customer, never the secret: the list endpoint is the only one called
// (it does not return passwords), and the decoded attributes have no
// field a password could land in.
//
// Vendor documentation followed: the IT Glue API reference
// (https://api.itglue.com/developer/): "x-api-key" header, Content-Type
// application/vnd.api+json, JSON:API documents {data:[{id, type,
// attributes}], meta:{current-page, next-page, total-pages}, links:{next}}
// paged with page[size] (at most 1000) and page[number]; regional hosts
// api.itglue.com, api.eu.itglue.com, api.au.itglue.com; GET
// /organizations, /configurations, /contacts and /passwords.
package itglue

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
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/rmm"
)

// Regions are IT Glue's API hosts.
var Regions = map[string]string{"us": "https://api.itglue.com", "eu": "https://api.eu.itglue.com", "au": "https://api.au.itglue.com"}

// Config is the connector's section of firebreak.yaml.
type Config struct {
	Region  string              `yaml:"region"`
	URL     string              `yaml:"url,omitempty"`
	APIKey  connector.SecretRef `yaml:"api_key"`
	Tenants map[string]string   `yaml:"tenants,omitempty"` // organisation id or name → estate tenant
}

const perm = "an API key (Account > API Keys) — password access is not needed and should stay off"

// Connector reads one IT Glue account.
type Connector struct {
	base   string
	host   string
	key    connector.Secret
	c      Config
	client *connector.Client
	limit  int

	mu   sync.Mutex
	last []PasswordMeta
}

// Passwords returns the credential metadata of the last Collect.
func (c *Connector) Passwords() []PasswordMeta {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.last)
}

// New validates c.
func New(c Config, env connector.Env) (*Connector, error) {
	base := c.URL
	if base == "" {
		var ok bool
		if base, ok = Regions[strings.ToLower(c.Region)]; !ok {
			return nil, fmt.Errorf("itglue: region %q: want us, eu or au (or url)", c.Region)
		}
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("itglue: url %q is not an absolute URL", base)
	}
	key, err := c.APIKey.Resolve(env)
	if err != nil {
		return nil, fmt.Errorf("itglue: api_key: %w", err)
	}
	limit := env.Concurrency
	if limit <= 0 {
		limit = connector.DefaultConcurrency
	}
	return &Connector{base: base, host: u.Host, key: key, c: c, client: connector.NewClient("itglue", env), limit: limit}, nil
}

// doc is a JSON:API list document.
type doc[A any] struct {
	Data []struct {
		ID         string `json:"id"`
		Attributes A      `json:"attributes"`
	} `json:"data"`
	Links struct {
		Next string `json:"next"`
	} `json:"links"`
	Meta struct {
		NextPage *int `json:"next-page"`
	} `json:"meta"`
}

func list[A any](ctx context.Context, c *Connector, tenant, path string, fn func(id string, a *A)) error {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	first := connector.JoinURL(c.base, path+sep+"page[size]=1000&page[number]=1")
	cs := connector.CallSpec{Tenant: tenant, URL: first, Permission: perm,
		Header: http.Header{"x-api-key": {string(c.key)}, "Accept": {"application/vnd.api+json"}}}
	return connector.Pages(ctx, c.client, cs, func(_ http.Header, p *doc[A]) string {
		if p.Links.Next != "" {
			return p.Links.Next
		}
		if p.Meta.NextPage != nil {
			u, _ := url.Parse(first)
			q := u.Query()
			q.Set("page[number]", strconv.Itoa(*p.Meta.NextPage))
			u.RawQuery = q.Encode()
			return u.String()
		}
		return ""
	}, func(p *doc[A]) error {
		for i := range p.Data {
			fn(p.Data[i].ID, &p.Data[i].Attributes)
		}
		return nil
	})
}

type orgAttrs struct {
	Name   string `json:"name"`
	Status string `json:"organization-status-name"`
	Type   string `json:"organization-type-name"`
}

type configAttrs struct {
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
	Type     string `json:"configuration-type-name"`
	Status   string `json:"configuration-status-name"`
	Archived bool   `json:"archived"`
}

type contactAttrs struct {
	FirstName string `json:"first-name"`
	LastName  string `json:"last-name"`
	Important bool   `json:"important"`
}

// passwordAttrs is a password entry's metadata. It has deliberately no
// field for the secret: whatever an answer holds, the value is dropped
// by the decoder.
type passwordAttrs struct {
	Name      string `json:"name"`
	Username  string `json:"username"`
	Category  string `json:"password-category-name"`
	UpdatedAt string `json:"updated-at"`
	Archived  bool   `json:"archived"`
}

// PasswordMeta is what firebreak keeps of one stored credential.
type PasswordMeta struct {
	Tenant   string
	Name     string
	Username string
	Category string
	Updated  string
}

func kind(t string) string {
	t = strings.ToLower(t)
	switch {
	case strings.Contains(t, "server"):
		return "server"
	case strings.Contains(t, "workstation"), strings.Contains(t, "laptop"), strings.Contains(t, "desktop"):
		return "workstation"
	case strings.Contains(t, "firewall"):
		return "firewall"
	case strings.Contains(t, "switch"), strings.Contains(t, "router"), strings.Contains(t, "network"):
		return "network"
	}
	return t
}

// Collect implements connector.EvidenceSource.
func (c *Connector) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	prov := connector.Prov("itglue:"+c.host, now)
	fr := &estate.Estate{Tools: []estate.Tool{{ID: "itglue", Name: "IT Glue", Kind: estate.ToolVault, Vendor: "Kaseya", Product: "IT Glue", Host: c.host, Provenance: prov}}}
	tm := rmm.TenantMap{Explicit: c.c.Tenants, Estate: req.Estate}
	msp := connector.TenantRun{Connector: "itglue", Tenant: "msp"}
	orgTenant := map[string]string{}
	var tenants []string
	err := list(ctx, c, "", "/organizations", func(id string, a *orgAttrs) {
		if strings.EqualFold(a.Status, "Inactive") {
			return
		}
		t, ok := tm.Resolve(id, a.Name)
		if !ok {
			msp.Notes = append(msp.Notes, rmm.Unmapped("IT Glue", id, a.Name))
			return
		}
		if slices.Contains(tenants, t) {
			return
		}
		orgTenant[id] = t
		tenants = append(tenants, t)
		fr.Tenants = append(fr.Tenants, estate.Tenant{ID: t, Name: a.Name})
	})
	if err != nil {
		var ae *connector.APIError
		if errors.As(err, &ae) && ae.Forbidden() {
			msp.Gap("tenants", perm, err, now)
			fr.CollectionGap = append(fr.CollectionGap, msp.Gaps...)
			return &connector.Evidence{Fragment: fr, Tenants: []connector.TenantRun{msp}, Stats: c.client.Stats()}, nil
		}
		return nil, fmt.Errorf("itglue: listing organisations: %w", err)
	}
	if len(req.Only) > 0 {
		tenants = slices.DeleteFunc(tenants, func(t string) bool { return !slices.Contains(req.Only, t) })
	}
	idOf := map[string]string{}
	for id, t := range orgTenant {
		idOf[t] = id
	}
	var mu sync.Mutex
	var metas []PasswordMeta
	runs := connector.ForEachTenant(ctx, "itglue", tenants, c.limit, func(ctx context.Context, run *connector.TenantRun) {
		org := idOf[run.Tenant]
		run.VendorID = org
		filter := "?filter[organization_id]=" + url.QueryEscape(org)
		var assets []estate.Asset
		if err := list(ctx, c, run.Tenant, "/configurations"+filter, func(id string, a *configAttrs) {
			if a.Archived {
				return
			}
			assets = append(assets, estate.Asset{ID: "itglue-" + id, Tenant: run.Tenant, Hostname: cmp.Or(a.Hostname, a.Name), Kind: kind(a.Type), Provenance: prov})
		}); err != nil {
			run.Gap("assets", perm, err, now)
		}
		contacts, important := 0, 0
		if err := list(ctx, c, run.Tenant, "/contacts"+filter, func(_ string, a *contactAttrs) {
			contacts++
			if a.Important {
				important++
			}
		}); err != nil {
			run.Gap("contacts", perm, err, now)
		}
		var pw []PasswordMeta
		if err := list(ctx, c, run.Tenant, "/passwords"+filter, func(_ string, a *passwordAttrs) {
			if !a.Archived {
				pw = append(pw, PasswordMeta{Tenant: run.Tenant, Name: a.Name, Username: a.Username, Category: a.Category, Updated: a.UpdatedAt})
			}
		}); err != nil {
			run.Gap("credentials.vault", perm, err, now)
		}
		run.Count("configurations", len(assets))
		run.Count("contacts", contacts)
		run.Count("important_contacts", important)
		run.Count("passwords", len(pw))
		mu.Lock()
		defer mu.Unlock()
		fr.Assets = append(fr.Assets, assets...)
		metas = append(metas, pw...)
		if len(pw) > 0 {
			cats := map[string]bool{}
			for _, p := range pw {
				if p.Category != "" {
					cats[p.Category] = true
				}
			}
			names := make([]string, 0, len(cats))
			for k := range cats {
				names = append(names, k)
			}
			slices.Sort(names)
			scope := fmt.Sprintf("%d stored credentials", len(pw))
			if len(names) > 0 {
				scope += " (" + strings.Join(names, ", ") + ")"
			}
			fr.Grants = append(fr.Grants, estate.Grant{ID: "itglue-credentials-" + run.Tenant, Subject: "itglue", Target: run.Tenant,
				Privilege: estate.PrivOperate, Scope: scope, Provenance: prov})
		}
	})
	for _, r := range runs {
		fr.CollectionGap = append(fr.CollectionGap, r.Gaps...)
	}
	slices.SortFunc(fr.Assets, func(a, b estate.Asset) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(fr.Grants, func(a, b estate.Grant) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(metas, func(a, b PasswordMeta) int { return strings.Compare(a.Tenant+a.Name, b.Tenant+b.Name) })
	c.mu.Lock()
	c.last = metas
	c.mu.Unlock()
	return &connector.Evidence{Fragment: fr, Tenants: append([]connector.TenantRun{msp}, runs...), Stats: c.client.Stats()}, nil
}

var _ connector.EvidenceSource = (*Connector)(nil)

// Definition registers the connector.
func Definition() connector.Definition {
	return connector.Definition{
		Spec: connector.Spec{
			Name: "itglue", Title: "IT Glue",
			Summary:      "tenants from organisations, assets from configurations, contacts counted, and which credentials the MSP stores per customer (metadata only, never a password)",
			Capabilities: []connector.Capability{connector.CapEvidence},
			Config: []connector.Field{
				{Name: "region", Type: "string", Required: true, Doc: "us, eu or au"},
				{Name: "url", Type: "string", Doc: "API URL (overrides region)"},
				{Name: "api_key", Type: "secret", Required: true, Secret: true, Doc: "API key, without password access"},
				{Name: "tenants", Type: "tenants", Doc: "organisation id or name → estate tenant, where names differ"},
			},
			Permissions: []connector.Permission{{Name: perm, Kind: "api-key", For: []string{"tenants", "assets", "contacts", "credentials.vault"}}},
			Calls: []connector.Call{
				{Method: "GET", Path: "/organizations?page[size]=1000", Permission: perm},
				{Method: "GET", Path: "/configurations?filter[organization_id]={id}", Permission: perm},
				{Method: "GET", Path: "/contacts?filter[organization_id]={id}", Permission: perm},
				{Method: "GET", Path: "/passwords?filter[organization_id]={id}", Permission: perm, Note: "the list, which carries no password values"},
			},
			Schedule: 6 * time.Hour,
			Docs:     []string{"https://api.itglue.com/developer/"},
		},
		New: connector.Construct(New),
	}
}
