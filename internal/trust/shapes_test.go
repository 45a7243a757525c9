package trust

import (
	"fmt"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Estates built in code for the tests: small shapes with known answers.

func yes() *bool { return estate.Bool(true) }
func no() *bool  { return estate.Bool(false) }

func mfa(methods ...estate.MFAMethod) estate.MFA {
	if len(methods) == 0 {
		return estate.MFA{Enforced: no()}
	}
	return estate.MFA{Enforced: yes(), Methods: methods}
}

func tenantIDs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("t%02d", i+1)
	}
	return out
}

// kaseyaEstate: one internet-exposed RMM with a known-exploited flaw and an
// agent on every tenant's domain controller; its vendor ships its updates;
// a technicians group administers it; a vault holds each tenant's admin
// account.
func kaseyaEstate(n int) *estate.Estate {
	e := &estate.Estate{Provider: estate.Provider{ID: "msp"}}
	e.Vendors = []estate.Vendor{{ID: "rmm-vendor", Kind: "software", Supplies: []string{"rmm"}}}
	e.Tools = []estate.Tool{
		{ID: "rmm", Kind: estate.ToolRMM, InternetExposed: yes(), MFAEnforced: yes(), MFAMethods: []estate.MFAMethod{estate.MFAAuthenticator}},
		{ID: "vault", Kind: estate.ToolVault},
	}
	e.Identities = []estate.Identity{
		{ID: "tech-01", Kind: estate.KindHuman, Home: "msp", MFA: mfa(estate.MFAFIDO2)},
		{ID: "tech-02", Kind: estate.KindHuman, Home: "msp", MFA: mfa(estate.MFAPush)},
	}
	e.Groups = []estate.Group{{ID: "techs", Home: "msp", Members: []string{"tech-01", "tech-02"}}}
	e.Grants = []estate.Grant{
		{ID: "g-techs-rmm", Subject: "techs", Target: "rmm", Privilege: estate.PrivAdmin},
		{ID: "g-techs-vault", Subject: "techs", Target: "vault", Privilege: estate.PrivAdmin},
	}
	for _, t := range tenantIDs(n) {
		e.Tenants = append(e.Tenants, estate.Tenant{ID: t, Criticality: estate.CritMedium, Endpoints: 10})
		e.Assets = append(e.Assets,
			estate.Asset{ID: t + "-dc", Tenant: t, Kind: "domain_controller", Agents: []string{"rmm"}},
			estate.Asset{ID: t + "-ws", Tenant: t, Kind: "workstation", Agents: []string{"rmm"}},
		)
		e.Identities = append(e.Identities, estate.Identity{ID: t + "-admin", Kind: estate.KindShared, Home: t, Roles: []string{"Global Administrator"}, MFA: mfa(estate.MFASMS)})
		e.Grants = append(e.Grants, estate.Grant{ID: "g-vault-" + t, Subject: "vault", Target: t + "-admin", Privilege: estate.PrivFull})
	}
	return e
}

// segregatedEstate: one technician, one GDAP relationship and one
// remote-access tool per tenant, nothing shared.
func segregatedEstate(n int) *estate.Estate {
	e := &estate.Estate{Provider: estate.Provider{ID: "msp"}}
	for i, t := range tenantIDs(n) {
		tech := fmt.Sprintf("tech-%02d", i+1)
		e.Tenants = append(e.Tenants, estate.Tenant{ID: t, Criticality: estate.CritHigh, Endpoints: 5})
		e.Identities = append(e.Identities, estate.Identity{ID: tech, Kind: estate.KindHuman, Home: "msp", MFA: mfa(estate.MFAFIDO2)})
		e.Groups = append(e.Groups, estate.Group{ID: "gdap-grp-" + t, Home: "msp", Members: []string{tech}})
		e.Tools = append(e.Tools,
			estate.Tool{ID: "gdap-" + t, Kind: estate.ToolGDAP, GDAP: &estate.GDAP{Customer: t, Roles: []string{"Exchange Administrator", "Helpdesk Administrator"}, AccessGroups: []string{"gdap-grp-" + t}}},
			estate.Tool{ID: "ra-" + t, Kind: estate.ToolRemoteAccess, MFAEnforced: yes(), MFAMethods: []estate.MFAMethod{estate.MFAFIDO2}},
		)
		e.Assets = append(e.Assets, estate.Asset{ID: t + "-srv", Tenant: t, Kind: "server", Critical: true, Agents: []string{"ra-" + t}})
		e.Grants = append(e.Grants, estate.Grant{ID: "g-" + tech, Subject: tech, Target: "ra-" + t, Privilege: estate.PrivAdmin})
	}
	return e
}
