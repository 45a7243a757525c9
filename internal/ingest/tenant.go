package ingest

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
)

// TenantMap assigns events to tenants (organization.id) by, in order: the
// Entra tenant id (Fields "tenantId"), the host name (exact, then its domain
// suffix), and the user's domain or UPN suffix. Keys are case-insensitive.
// A nil *TenantMap assigns nothing. It is read-only after construction and
// safe for concurrent use.
type TenantMap struct {
	Hosts    map[string]string `yaml:"hosts,omitempty" json:"hosts,omitempty"`                 // host name (FQDN or short) -> tenant
	Domains  map[string]string `yaml:"domains,omitempty" json:"domains,omitempty"`             // DNS domain / UPN suffix / NetBIOS domain -> tenant
	EntraIDs map[string]string `yaml:"entra_tenants,omitempty" json:"entra_tenants,omitempty"` // Entra tenant id (GUID) -> tenant
	Default  string            `yaml:"default,omitempty" json:"default,omitempty"`             // tenant when nothing matches ("" = none)
}

// LoadTenantMap reads a TenantMap from a YAML file (keys hosts, domains,
// entra_tenants, default). Unknown keys are errors.
func LoadTenantMap(path string) (*TenantMap, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading tenant map: %w", err)
	}
	var m TenantMap
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.normalize()
	return &m, nil
}

// TenantMapFromEstate builds a TenantMap from the tenants' domains, Entra
// tenant ids and asset host names. The provider's own domains map to
// "msp" (or the provider id).
func TenantMapFromEstate(e *estate.Estate) *TenantMap {
	m := &TenantMap{Hosts: map[string]string{}, Domains: map[string]string{}, EntraIDs: map[string]string{}}
	if e == nil {
		return m
	}
	// The provider's domains are the MSP's own: its subject is "msp"
	// whatever provider.id says (estate.Load writes "msp" wherever the
	// provider's id names the MSP; assess judges the MSP as "msp").
	for _, d := range e.Provider.Domains {
		m.Domains[d] = estate.MSP
	}
	for _, t := range e.Tenants {
		for _, d := range t.Domains {
			m.Domains[d] = t.ID
		}
		if t.EntraTenantID != "" {
			m.EntraIDs[t.EntraTenantID] = t.ID
		}
	}
	for _, a := range e.Assets {
		if a.Hostname != "" && a.Tenant != "" {
			m.Hosts[a.Hostname] = a.Tenant
		}
	}
	m.normalize()
	return m
}

func (m *TenantMap) normalize() {
	low := func(in map[string]string) map[string]string {
		out := make(map[string]string, len(in))
		for k, v := range in {
			out[strings.ToLower(strings.TrimSpace(k))] = v
		}
		return out
	}
	m.Hosts, m.Domains, m.EntraIDs = low(m.Hosts), low(m.Domains), low(m.EntraIDs)
}

// Lookup returns the tenant for ev, or Default.
func (m *TenantMap) Lookup(ev *event.Event) string {
	if m == nil {
		return ""
	}
	if id := ev.Fields["tenantId"]; id != "" && len(m.EntraIDs) > 0 {
		if t, ok := m.lookup(m.EntraIDs, id); ok {
			return t
		}
	}
	if t, ok := m.lookupHost(ev.HostName); ok {
		return t
	}
	return m.lookupUser(ev)
}

// lookupHost is Lookup's answer from the host name alone.
func (m *TenantMap) lookupHost(h string) (string, bool) {
	if h != "" && (len(m.Hosts) > 0 || len(m.Domains) > 0) {
		if t, ok := m.lookup(m.Hosts, h); ok {
			return t, true
		}
		// host.example.com -> example.com, com
		for i := 0; i < len(h); i++ {
			if h[i] == '.' {
				if t, ok := m.lookup(m.Hosts, h[:i]); ok { // short name
					return t, true
				}
				if t, ok := m.suffix(h[i+1:]); ok {
					return t, true
				}
				break
			}
		}
	}
	return "", false
}

// lookupUser is Lookup's answer when neither the Entra tenant id nor the
// host decide: the user's domain, else Default.
func (m *TenantMap) lookupUser(ev *event.Event) string {
	if d := ev.UserDomain; d != "" && len(m.Domains) > 0 {
		if t, ok := m.suffix(d); ok {
			return t
		}
	}
	if u := ev.UserName; u != "" && len(m.Domains) > 0 {
		if at := strings.LastIndexByte(u, '@'); at >= 0 {
			if t, ok := m.suffix(u[at+1:]); ok {
				return t
			}
		}
	}
	return m.Default
}

// suffix looks a domain up, then each parent domain.
func (m *TenantMap) suffix(d string) (string, bool) {
	for d != "" {
		if t, ok := m.lookup(m.Domains, d); ok {
			return t, true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	return "", false
}

// lookup tries k as is, then lower-cased (allocating only when needed).
func (m *TenantMap) lookup(tab map[string]string, k string) (string, bool) {
	if t, ok := tab[k]; ok {
		return t, true
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c >= 'A' && c <= 'Z' {
			t, ok := tab[strings.ToLower(k)]
			return t, ok
		}
	}
	return "", false
}

// hostTenants caches a TenantMap's answer per host name for one reader
// (a log names few hosts, each on many lines).
type hostTenants struct {
	m     *TenantMap
	cache map[string]hostTenant
}

type hostTenant struct {
	tenant string
	ok     bool
}

// lookup is m.Lookup(ev).
func (c *hostTenants) lookup(ev *event.Event) string {
	m := c.m
	if len(m.EntraIDs) > 0 && ev.Fields["tenantId"] != "" {
		return m.Lookup(ev)
	}
	h, hit := c.cache[ev.HostName]
	if !hit {
		if c.cache == nil || len(c.cache) >= 1<<14 {
			c.cache = make(map[string]hostTenant)
		}
		h.tenant, h.ok = m.lookupHost(ev.HostName)
		c.cache[ev.HostName] = h
	}
	if h.ok {
		return h.tenant
	}
	return m.lookupUser(ev)
}
