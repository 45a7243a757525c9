package estate

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// GenOptions sizes a generated estate.
type GenOptions struct {
	Tenants    int
	Identities int
	Grants     int
	Assets     int
	Seed       int64
	// Now anchors generated dates (sign-ins, patches, backups); zero means
	// 2026-11-27, the date the bundled example is written for.
	Now time.Time
}

// Generate builds a synthetic but plausible estate of the requested size for
// benchmarks and load tests: the standard MSP tools, one GDAP relationship
// per Microsoft 365 tenant, technicians and tenant users with a mix of MFA
// states, grants from tools, groups and people, assets with agents, and
// per-tenant backups, plans and contracts. The same options give the same
// estate. Counts below the minimum the structure needs are raised (there is
// at least one tenant; Grants counts include the per-tenant tool grants).
func Generate(o GenOptions) *Estate {
	if o.Tenants < 1 {
		o.Tenants = 1
	}
	now := o.Now
	if now.IsZero() {
		now = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	}
	r := rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15))
	day := func(maxAgo int) *Date {
		d := Date{now.AddDate(0, 0, -r.IntN(maxAgo+1))}
		return &d
	}
	e := &Estate{Provider: Provider{ID: MSP, Name: "Generated MSP", Domains: []string{"msp.example"},
		Network: ProviderNetwork{CustomerDataSegregated: Bool(true), AdminNetworkSeparate: Bool(true)}}}
	crits := []Criticality{CritLow, CritMedium, CritMedium, CritHigh, CritCritical}
	e.Tenants = make([]Tenant, o.Tenants)
	for i := range e.Tenants {
		id := fmt.Sprintf("t%05d", i+1)
		e.Tenants[i] = Tenant{ID: id, Name: "Tenant " + id, Domains: []string{id + ".example"},
			Criticality: crits[r.IntN(len(crits))], Endpoints: 5 + r.IntN(300), Sector: "generated",
			Network: TenantNetwork{DataSegregated: Bool(r.IntN(4) != 0), DedicatedConnection: Bool(r.IntN(2) == 0)}}
	}
	tid := func(i int) string { return e.Tenants[i%len(e.Tenants)].ID }

	logging := func(days int, seg bool) Logging {
		return Logging{Enabled: Bool(true), RetentionDays: days, Segregated: Bool(seg)}
	}
	e.Tools = []Tool{
		{ID: "rmm", Name: "RMM", Kind: ToolRMM, Vendor: "Kaseya", Product: "Virtual System/Server Administrator (VSA)", Version: "9.5.6",
			InternetExposed: Bool(true), MFAEnforced: Bool(false), Logging: logging(30, false), LastPatched: day(400)},
		{ID: "remote-access", Kind: ToolRemoteAccess, Vendor: "ConnectWise", Product: "ScreenConnect", Version: "24.1.0",
			InternetExposed: Bool(true), MFAEnforced: Bool(true), MFAMethods: []MFAMethod{MFAAuthenticator}, Logging: logging(90, false), LastPatched: day(60)},
		{ID: "psa", Kind: ToolPSA, Vendor: "ConnectWise", Product: "PSA", InternetExposed: Bool(true), MFAEnforced: Bool(true), Logging: logging(365, true), LastPatched: day(30)},
		{ID: "vault", Kind: ToolVault, Vendor: "Keeper Security", Product: "Keeper Enterprise", InternetExposed: Bool(true), MFAEnforced: Bool(true),
			MFAMethods: []MFAMethod{MFAFIDO2}, Logging: logging(365, true), LastPatched: day(30)},
		{ID: "backup-console", Kind: ToolBackupConsole, Vendor: "Veeam", Product: "Backup & Replication", Version: "12.2.0.334",
			InternetExposed: Bool(false), MFAEnforced: Bool(true), Logging: logging(90, false), LastPatched: day(45)},
		{ID: "vpn", Kind: ToolVPN, Vendor: "Fortinet", Product: "FortiOS", Version: "7.4.5", InternetExposed: Bool(true), MFAEnforced: Bool(true), Logging: logging(365, true), LastPatched: day(30)},
		{ID: "jump-host", Kind: ToolJumpHost, Vendor: "Microsoft", Product: "Windows Server", Version: "2022", InternetExposed: Bool(false), MFAEnforced: Bool(false), Logging: logging(60, false), LastPatched: day(60)},
		{ID: "entra", Kind: ToolIdP, Vendor: "Microsoft", Product: "Entra ID", InternetExposed: Bool(true), MFAEnforced: Bool(true), Logging: logging(180, true)},
	}
	e.Groups = []Group{
		{ID: "grp-admins", Name: "GDAP admins", Home: MSP},
		{ID: "grp-helpdesk", Name: "GDAP helpdesk", Home: MSP},
	}
	for i := range e.Tenants {
		if i%5 == 4 {
			continue // not a Microsoft 365 customer
		}
		roles := []string{"Helpdesk Administrator", "User Administrator"}
		auto := false
		if r.IntN(8) == 0 {
			roles, auto = []string{"Global Administrator"}, true
		}
		e.Tools = append(e.Tools, Tool{ID: "gdap-" + e.Tenants[i].ID, Kind: ToolGDAP, Vendor: "Microsoft", Product: "Partner Center GDAP",
			InternetExposed: Bool(false), MFAEnforced: Bool(true), Logging: logging(180, true),
			GDAP: &GDAP{Customer: e.Tenants[i].ID, Roles: roles, Duration: "P730D", AutoExtend: Bool(auto), Status: GDAPActive,
				EndDate: &Date{now.AddDate(0, 0, 30+r.IntN(700))}, AccessGroups: []string{"grp-admins", "grp-helpdesk"}}})
	}

	// Identities: ~2% MSP technicians (at least one), the rest tenant users.
	nTech := max(1, o.Identities/50)
	if o.Identities < 1 {
		nTech = 0
	}
	e.Identities = make([]Identity, o.Identities)
	methods := [][]MFAMethod{{MFAFIDO2}, {MFAAuthenticator}, {MFAAuthenticator}, {MFAAuthenticator}, {MFASMS}, {MFAPush}}
	for i := range e.Identities {
		id := &e.Identities[i]
		if i < nTech {
			id.ID = fmt.Sprintf("tech-%05d", i+1)
			id.Home = MSP
			id.UPN = id.ID + "@msp.example"
			id.Groups = []string{[]string{"grp-admins", "grp-helpdesk"}[r.IntN(2)]}
		} else {
			id.ID = fmt.Sprintf("u%07d", i+1)
			id.Home = tid(r.IntN(len(e.Tenants)))
			id.UPN = id.ID + "@" + id.Home + ".example"
		}
		id.Name = "User " + id.ID
		id.Kind = KindHuman
		switch x := r.IntN(100); {
		case x < 3:
			id.Kind = KindService
		case x < 4:
			id.Kind = KindShared
		}
		id.Enabled = Bool(r.IntN(20) != 0)
		id.Personnel = PersonnelActive
		if r.IntN(50) == 0 {
			id.Personnel = PersonnelDeparted
		}
		id.Created = day(3000)
		id.LastSignIn = day(200)
		if r.IntN(10) == 0 {
			id.MFA = MFA{Enforced: Bool(false)}
		} else {
			id.MFA = MFA{Enforced: Bool(true), Methods: methods[r.IntN(len(methods))]}
		}
	}
	for i := 0; i < nTech; i++ {
		g := &e.Groups[0]
		if e.Identities[i].Groups[0] != g.ID {
			g = &e.Groups[1]
		}
		g.Members = append(g.Members, e.Identities[i].ID)
	}

	// Grants: tools into every tenant, GDAP groups, then people into tools and tenants.
	e.Grants = make([]Grant, 0, max(o.Grants, 2*len(e.Tenants)))
	add := func(g Grant) {
		g.ID = fmt.Sprintf("g%07d", len(e.Grants)+1)
		e.Grants = append(e.Grants, g)
	}
	for i := range e.Tenants {
		if len(e.Grants) >= o.Grants {
			break
		}
		add(Grant{Subject: "rmm", Target: e.Tenants[i].ID, Privilege: PrivFull, Scope: "agents"})
	}
	for _, t := range e.Tools {
		if t.GDAP == nil || len(e.Grants) >= o.Grants {
			continue
		}
		g := Grant{Subject: "grp-helpdesk", Target: t.GDAP.Customer, Privilege: PrivOperate, Via: t.ID, Roles: []string{"Helpdesk Administrator"}}
		if t.GDAP.Roles[0] == "Global Administrator" {
			g = Grant{Subject: "grp-admins", Target: t.GDAP.Customer, Privilege: PrivFull, Via: t.ID, Roles: t.GDAP.Roles}
		}
		add(g)
	}
	tools := []string{"rmm", "remote-access", "psa", "vault", "backup-console", "vpn", "jump-host"}
	privs := []Privilege{PrivRead, PrivOperate, PrivOperate, PrivAdmin, PrivFull}
	for len(e.Grants) < o.Grants && len(e.Identities) > 0 {
		var g Grant
		if nTech > 0 && r.IntN(3) == 0 {
			g.Subject = e.Identities[r.IntN(nTech)].ID
			g.Target = tools[r.IntN(len(tools))]
		} else {
			x := e.Identities[r.IntN(len(e.Identities))]
			g.Subject = x.ID
			g.Target = x.Home
			if x.Home == MSP {
				g.Target = tools[r.IntN(len(tools))]
			}
		}
		g.Privilege = privs[r.IntN(len(privs))]
		if r.IntN(6) == 0 {
			g.Mode = ModeJIT
			g.Expires = &Date{now.AddDate(0, 0, r.IntN(30))}
		}
		add(g)
	}

	kinds := []string{"workstation", "workstation", "workstation", "server", "firewall", "nas"}
	e.Assets = make([]Asset, o.Assets)
	for i := range e.Assets {
		a := &e.Assets[i]
		a.ID = fmt.Sprintf("a%07d", i+1)
		a.Tenant = tid(r.IntN(len(e.Tenants)))
		a.Hostname = fmt.Sprintf("host-%07d", i+1)
		a.Kind = kinds[r.IntN(len(kinds))]
		a.Critical = a.Kind == "server" && r.IntN(2) == 0
		switch a.Kind {
		case "firewall":
			a.Software = []Software{{Vendor: "Fortinet", Product: "FortiOS", Version: []string{"7.0.11", "7.2.8", "7.4.5"}[r.IntN(3)]}}
			a.InternetPorts = []int{443}
		case "server":
			a.Software = []Software{{Vendor: "Microsoft", Product: "Windows Server", Version: []string{"2016", "2019", "2022"}[r.IntN(3)]}}
			if r.IntN(40) == 0 {
				a.InternetPorts = []int{3389}
			}
		default:
			a.Software = []Software{{Vendor: "Microsoft", Product: "Windows 11", Version: "23H2"}}
		}
		a.EndOfLife = Bool(r.IntN(30) == 0)
		a.LastPatched = day(120)
		a.Agents = []string{"rmm", "remote-access"}
	}

	for i, t := range e.Tenants {
		e.Backups = append(e.Backups, Backup{ID: "backup-" + t.ID, Tenant: t.ID, Scope: "servers", Console: "backup-console",
			RPOHours: 24, RTOHours: 48, LastSuccess: day(3), Offline: Bool(r.IntN(3) != 0), Immutable: Bool(r.IntN(2) == 0),
			KeysSeparate: Bool(r.IntN(2) == 0), LastRestoreTest: day(500), GoldImages: Bool(r.IntN(2) == 0)})
		if i%3 != 2 {
			e.IRPlans = append(e.IRPlans, IRPlan{ID: "ir-" + t.ID, Party: t.ID,
				Roles:         IRRoles{Executive: "Director", Technical: "MSP service desk", Procurement: "Office manager"},
				LastExercised: day(700), HardCopy: Bool(r.IntN(2) == 0)})
		}
		clauses := Clauses
		if r.IntN(3) == 0 {
			clauses = Clauses[:7]
		}
		e.Contracts = append(e.Contracts, Contract{ID: "contract-" + t.ID, Tenant: t.ID, Clauses: clauses, NotificationHours: 72, Reviewed: day(900)})
	}
	e.IRPlans = append(e.IRPlans, IRPlan{ID: "ir-msp", Party: MSP, Roles: IRRoles{Executive: "CEO", Technical: "Security lead", Procurement: "COO"},
		LastExercised: day(300), HardCopy: Bool(true)})
	e.Vendors = []Vendor{
		{ID: "kaseya", Name: "Kaseya", Kind: "software", Supplies: []string{"rmm"}, Assessed: day(800)},
		{ID: "connectwise", Name: "ConnectWise", Kind: "software", Supplies: []string{"remote-access", "psa"}, Assessed: day(400)},
		{ID: "noc-subcontractor", Name: "After-hours NOC", Kind: "subcontractor", Assessed: day(900)},
	}
	return e
}
