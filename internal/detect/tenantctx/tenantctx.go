// Package tenantctx derives what the detection engine knows of each tenant
// from the estate (account counts, benign networks, service accounts) and
// the Sigma placeholder values the estate can give. The CLI (detect
// --estate) and the service's detectors both call it, so they agree.
// It imports internal/estate and internal/detect only.
package tenantctx

import (
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Tenants derives what the detection engine knows of each tenant from
// the estate: its account count (the identities whose home it is), its
// benign networks, and its service accounts (identities of kind service plus
// the names listed under detection.service_accounts).
func Tenants(e *estate.Estate) map[string]detect.TenantContext {
	out := map[string]detect.TenantContext{}
	for _, t := range e.Tenants {
		tc := detect.TenantContext{ServiceAccounts: slices.Clone(t.Detection.ServiceAccounts)}
		for _, n := range t.Detection.BenignNetworks {
			if p, err := estate.ParseNetwork(n); err == nil { // Load has validated them
				tc.BenignNetworks = append(tc.BenignNetworks, p)
			}
		}
		out[t.ID] = tc
	}
	for _, id := range e.Identities {
		tc, ok := out[id.Home]
		if !ok || !id.IsEnabled() {
			continue
		}
		tc.Accounts++
		if id.Kind == estate.KindService {
			for _, n := range []string{id.Name, id.UPN} {
				if n != "" {
					tc.ServiceAccounts = append(tc.ServiceAccounts, n)
				}
			}
		}
		out[id.Home] = tc
	}
	return out
}

// Placeholders gives Sigma placeholders values the estate knows for
// every tenant at once: internal_domains (the MSP's and tenants' domains)
// and the benign networks (legit_ips, Legitimate_IP_Ranges).
func Placeholders(e *estate.Estate) map[string][]string {
	var doms, nets []string
	doms = append(doms, e.Provider.Domains...)
	for _, t := range e.Tenants {
		doms = append(doms, t.Domains...)
		nets = append(nets, t.Detection.BenignNetworks...)
	}
	ph := map[string][]string{}
	if len(doms) > 0 {
		ph["internal_domains"] = doms
	}
	if len(nets) > 0 {
		ph["legit_ips"], ph["Legitimate_IP_Ranges"] = nets, nets
	}
	return ph
}

// Context is the whole detection context of an estate: Tenants, the
// placeholders shared by every tenant (Placeholders) and each tenant's
// own values where the estate knows them per tenant, which replace the
// shared ones for that tenant's events:
//   - internal_domains: the tenant's domains and the MSP's;
//   - legit_ips, Legitimate_IP_Ranges: the tenant's benign networks;
//   - Workstations: host names of its assets of kind workstation;
//   - dc_machine_accounts: HOST$ of its domain controllers (asset kind
//     domain_controller, dc, active_directory or ad).
func Context(e *estate.Estate) *detect.Context {
	c := &detect.Context{Tenants: Tenants(e), Placeholders: Placeholders(e), TenantPlaceholders: map[string]map[string][]string{}}
	add := func(tenant, name string, vals ...string) {
		if len(vals) == 0 {
			return
		}
		m := c.TenantPlaceholders[tenant]
		if m == nil {
			m = map[string][]string{}
			c.TenantPlaceholders[tenant] = m
		}
		m[name] = append(m[name], vals...)
	}
	for _, t := range e.Tenants {
		if len(t.Domains) > 0 {
			add(t.ID, "internal_domains", slices.Concat(t.Domains, e.Provider.Domains)...)
		}
		add(t.ID, "legit_ips", t.Detection.BenignNetworks...)
		add(t.ID, "Legitimate_IP_Ranges", t.Detection.BenignNetworks...)
	}
	var ws, dcs []string
	for _, a := range e.Assets {
		if a.Hostname == "" {
			continue
		}
		host := a.Hostname
		if i := strings.IndexByte(host, '.'); i > 0 {
			host = host[:i]
		}
		switch strings.ToLower(a.Kind) {
		case "workstation":
			add(a.Tenant, "Workstations", host)
			ws = append(ws, host)
		case "domain_controller", "dc", "active_directory", "ad":
			add(a.Tenant, "dc_machine_accounts", host+"$")
			dcs = append(dcs, host+"$")
		}
	}
	if len(ws) > 0 {
		c.Placeholders["Workstations"] = ws
	}
	if len(dcs) > 0 {
		c.Placeholders["dc_machine_accounts"] = dcs
	}
	return c
}
