// Package tenantctx derives what the detection engine knows of each tenant
// from the estate (account counts, benign networks, service accounts) and
// the Sigma placeholder values the estate can give. The CLI (detect
// --estate) and the service's detectors both call it, so they agree.
// It imports internal/estate and internal/detect only.
package tenantctx

import (
	"slices"

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
