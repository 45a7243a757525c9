// Package rmm holds what the RMM connectors (internal/rmm/ninjaone,
// internal/rmm/datto) share: the estate fragment they build — tenants
// from the RMM's organisations or sites, endpoints with the RMM agent,
// technicians and the access they hold — and the RMM audit record their
// activity logs become, read by the built-in ingest format "rmm" so the
// RMM fan-out rules see them live.
//
// Imports connector, estate and event; imported by the RMM connectors.
package rmm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Audit is one console action in the RMM audit shape (ingest format
// "rmm", internal/ingest/mappings/rmm.yaml).
type Audit struct {
	TS         time.Time `json:"ts"`
	Console    string    `json:"console,omitempty"`  // the RMM instance (host name)
	Operator   string    `json:"operator,omitempty"` // technician (login or e-mail) or API account
	SrcIP      string    `json:"src_ip,omitempty"`
	Action     string    `json:"action"` // login, script.run, remote.session, job.run, …
	Result     string    `json:"result,omitempty"`
	Tenant     string    `json:"tenant,omitempty"` // estate tenant id
	Agent      string    `json:"agent,omitempty"`  // endpoint host name
	Script     string    `json:"script,omitempty"`
	JobID      string    `json:"job_id,omitempty"`
	Vendor     string    `json:"vendor"`
	ActivityID string    `json:"activity_id"`
}

// Record is the audit record for the connector framework.
func (a *Audit) Record() connector.Record {
	a.TS = a.TS.UTC()
	b, _ := json.Marshal(a)
	return connector.Record{Tenant: a.Tenant, Format: "rmm", Raw: b}
}

// TenantMap resolves an RMM organisation (or site) to an estate tenant:
// an explicit mapping first (by vendor id or name), then an estate tenant
// whose id or name matches the name, case and punctuation aside; without
// an estate, the slug of the name.
type TenantMap struct {
	Explicit map[string]string // vendor id or name → tenant id
	Estate   *estate.Estate
}

// Resolve returns the tenant for an organisation; ok is false when an
// estate is given and no tenant matches (the organisation is reported,
// not invented).
func (m TenantMap) Resolve(vendorID, name string) (string, bool) {
	if t, ok := m.Explicit[vendorID]; ok {
		return t, true
	}
	if t, ok := m.Explicit[name]; ok {
		return t, true
	}
	key := Slug(name)
	if m.Estate == nil {
		return key, key != ""
	}
	for _, t := range m.Estate.Tenants {
		if Slug(t.ID) == key || Slug(t.Name) == key {
			return t.ID, true
		}
	}
	return "", false
}

// Slug lowercases s and joins its letters and digits with "-".
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}

// Builder accumulates one RMM's estate fragment.
type Builder struct {
	e       *estate.Estate
	tool    string
	prov    *estate.Provenance
	tenants map[string]int // tenant id → index in e.Tenants
	idents  map[string]bool
}

// NewBuilder starts a fragment for the RMM tool toolID (its console at
// host), read from source at at.
func NewBuilder(toolID, name, vendor, host, source string, at time.Time) *Builder {
	prov := connector.Prov(source, at)
	e := &estate.Estate{Tools: []estate.Tool{{ID: toolID, Name: name, Kind: estate.ToolRMM, Vendor: vendor, Host: host, Delivered: true, Provenance: prov}}}
	return &Builder{e: e, tool: toolID, prov: prov, tenants: map[string]int{}, idents: map[string]bool{}}
}

// Tenant adds (once) a tenant the RMM manages, and the RMM's standing
// full control over it through its agents.
func (b *Builder) Tenant(id, name string) {
	if _, ok := b.tenants[id]; ok {
		return
	}
	b.tenants[id] = len(b.e.Tenants)
	b.e.Tenants = append(b.e.Tenants, estate.Tenant{ID: id, Name: name})
	b.e.Grants = append(b.e.Grants, estate.Grant{ID: b.tool + "-agents-" + id, Subject: b.tool, Target: id, Privilege: estate.PrivFull,
		Scope: "RMM agent on the tenant's endpoints (SYSTEM)", Provenance: b.prov})
}

// Endpoint adds a managed endpoint of tenant with the RMM agent, and
// counts it in the tenant's endpoints.
func (b *Builder) Endpoint(tenant, vendorID, hostname, kind string) {
	if i, ok := b.tenants[tenant]; ok {
		b.e.Tenants[i].Endpoints++
	}
	b.e.Assets = append(b.e.Assets, estate.Asset{ID: b.tool + "-" + vendorID, Tenant: tenant, Hostname: hostname, Kind: kind,
		Agents: []string{b.tool}, Provenance: b.prov})
}

// Technician is an RMM console account.
type Technician struct {
	Login      string // e-mail or user name
	Name       string
	Enabled    bool
	Admin      bool     // full administrator of the console
	AllClients bool     // may act on every tenant
	Tenants    []string // the tenants it may act on when not AllClients
	MFA        *bool    // MFA configured, when the RMM says
	LastLogin  time.Time
}

// Technician adds a console account: an MSP identity with standing
// access to the RMM (admin or operate), and, when restricted to some
// tenants, its access to those through the RMM.
func (b *Builder) Technician(t Technician) {
	id := b.tool + "-" + Slug(t.Login)
	if b.idents[id] {
		return
	}
	b.idents[id] = true
	en := t.Enabled
	ident := estate.Identity{ID: id, Name: t.Name, UPN: t.Login, Kind: estate.KindHuman, Home: "msp", Enabled: &en, Provenance: b.prov}
	if t.MFA != nil {
		ident.MFA.Enforced = t.MFA
	}
	if !t.LastLogin.IsZero() {
		d := estate.Date{Time: t.LastLogin.UTC()}
		ident.LastSignIn = &d
	}
	b.e.Identities = append(b.e.Identities, ident)
	priv := estate.PrivOperate
	if t.Admin {
		priv = estate.PrivAdmin
	}
	scope := "all clients"
	if !t.AllClients && !t.Admin {
		scope = "clients: " + strings.Join(t.Tenants, ", ")
	}
	b.e.Grants = append(b.e.Grants, estate.Grant{ID: id + "-console", Subject: id, Target: b.tool, Privilege: priv, Scope: scope, Provenance: b.prov})
	if !t.AllClients && !t.Admin {
		for _, tn := range t.Tenants {
			b.e.Grants = append(b.e.Grants, estate.Grant{ID: id + "-" + tn, Subject: id, Target: tn, Privilege: estate.PrivOperate, Via: b.tool, Provenance: b.prov})
		}
	}
}

// Gap records evidence that could not be read.
func (b *Builder) Gap(g estate.Gap) { b.e.CollectionGap = append(b.e.CollectionGap, g) }

// Fragment returns the fragment, sorted for stable output.
func (b *Builder) Fragment() *estate.Estate {
	slices.SortFunc(b.e.Assets, func(x, y estate.Asset) int { return strings.Compare(x.ID, y.ID) })
	slices.SortFunc(b.e.Identities, func(x, y estate.Identity) int { return strings.Compare(x.ID, y.ID) })
	slices.SortFunc(b.e.Grants, func(x, y estate.Grant) int { return strings.Compare(x.ID, y.ID) })
	return b.e
}

// Unmapped is the note for an organisation that matched no estate tenant.
func Unmapped(vendor, id, name string) string {
	return fmt.Sprintf("%s organisation %q (id %s) matches no estate tenant: skipped (map it under tenants: in the connector's configuration)", vendor, name, id)
}
