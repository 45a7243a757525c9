package assess

import (
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// index holds the joins the policies need, computed once in Go so Rego
// only judges compact, pre-joined per-subject documents (see doc.go).
type index struct {
	e        *estate.Estate
	now      time.Time
	settings estate.Settings
	acc      *access.Facts   // the derived access facts trust reads too
	authMon  *AuthMonitoring // Options.AuthMonitoring (nil: no evidence)
	owners   *estate.Owners

	tenantIdx   map[string]int
	identityIdx map[string]int
	groupIdx    map[string]int
	toolIdx     map[string]int
	assetIdx    map[string]int
	vendorIdx   map[string]int
	grantIdx    map[string]int
	backupIdx   map[string]int
	planIdx     map[string]int
	contractIdx map[string]int

	members map[string][]int // group id -> identity indexes

	subj map[string]*subjectData // "msp" or tenant id

	// per identity (index into e.Identities)
	adminTenants []int32 // distinct tenants reached at admin or above

	// per tenant (index into e.Tenants): admin credential reuse
	// (access.Facts.AdminsByTenant), what FB-NET-005 and FB-TRUST-004 judge
	tenantAdmins []access.TenantAdmins

	toolCustomers []int32 // tenants each tool reaches
	toolVendor    []bool  // a vendor entry supplies the tool

	kev       *kev.Catalog
	assetKEV  map[int][]kev.Vuln // open KEV matches per asset (only non-empty)
	toolKEV   map[int][]kev.Vuln
	gapsBySub map[string][]int
	collected bool // some object carries provenance (see fresh.go)

	principalUsed map[principalKey]bool // principals with a path into some tenant
	vendorStaff   map[int][]int         // vendor -> identity indexes of its staff

	attestations map[string][]int // control+"\x00"+subject -> attestation indexes
	exceptions   map[string][]int // control -> exception indexes
}

// principalKey names a principal: an identity, a group or a vendor (the
// others -1).
type principalKey struct{ identity, group, vendor int }

// subjectData lists the estate objects belonging to one subject.
type subjectData struct {
	identities []int
	assets     []int
	backups    []int
	plans      []int
	contracts  []int
	domains    []int
	exposures  []int
	grants     []int
	tools      []int // MSP: its tools; tenant: tools reaching the tenant
	gdap       []int
	access     []accessPath
	toolAccess []accessPath  // grants held by tools (RMM, remote control, vault) into the subject
	vendors    map[int][]int // vendor -> grants into the subject
	toolSeen   map[int]bool
}

// accessPath is one way a principal — an identity homed elsewhere, or a
// group whose members are — reaches a tenant. Group paths are not expanded
// per member: member facts are summarised once per run (principals.rego).
type accessPath struct {
	identity int // principal identity, or -1 for a group
	group    int // principal group, or -1
	vendor   int // principal vendor (its staff are the members), or -1
	grant    int // -1 for GDAP access groups
	tool     int // GDAP tool, or -1
	priv     estate.Privilege
	standing bool
	roles    []string
	scope    string
	expired  bool
}

var gaRoles = map[string]bool{"global administrator": true, "company administrator": true}

// gdapPrivilege is the privilege GDAP roles convey (access.RolePrivilege,
// the mapping the trust graph uses too); read when no role is listed.
func gdapPrivilege(roles []string) estate.Privilege {
	p, _ := access.RolePrivilege(roles)
	if p == "" {
		return estate.PrivRead
	}
	return p
}

func hasGA(roles []string) bool {
	for _, r := range roles {
		if gaRoles[strings.ToLower(r)] {
			return true
		}
	}
	return false
}

func mapIDs[T any](xs []T, id func(*T) string) map[string]int {
	m := make(map[string]int, len(xs))
	for i := range xs {
		m[id(&xs[i])] = i
	}
	return m
}

func newIndex(e *estate.Estate, now time.Time, kc *kev.Catalog, acc *access.Facts) *index {
	if acc == nil || !acc.Now.Equal(now) {
		acc = access.Compute(e, access.Options{Now: now, KEV: kc})
	}
	x := &index{
		e:        e,
		now:      now,
		settings: e.Settings.WithDefaults(),
		acc:      acc,
		owners:   estate.NewOwners(e),
		kev:      kc,
		subj:     make(map[string]*subjectData, len(e.Tenants)+1),
	}
	x.tenantIdx = mapIDs(e.Tenants, func(t *estate.Tenant) string { return t.ID })
	x.identityIdx = mapIDs(e.Identities, func(t *estate.Identity) string { return t.ID })
	x.groupIdx = mapIDs(e.Groups, func(t *estate.Group) string { return t.ID })
	x.toolIdx = mapIDs(e.Tools, func(t *estate.Tool) string { return t.ID })
	x.assetIdx = mapIDs(e.Assets, func(t *estate.Asset) string { return t.ID })
	x.vendorIdx = mapIDs(e.Vendors, func(t *estate.Vendor) string { return t.ID })
	x.grantIdx = mapIDs(e.Grants, func(t *estate.Grant) string { return t.ID })
	x.backupIdx = mapIDs(e.Backups, func(t *estate.Backup) string { return t.ID })
	x.planIdx = mapIDs(e.IRPlans, func(t *estate.IRPlan) string { return t.ID })
	x.contractIdx = mapIDs(e.Contracts, func(t *estate.Contract) string { return t.ID })

	x.sub(estate.MSP)
	for i := range e.Tenants {
		x.sub(e.Tenants[i].ID)
	}

	// Group membership: Group.Members and Identity.Groups, deduplicated.
	x.members = make(map[string][]int, len(e.Groups))
	for gi := range e.Groups {
		g := &e.Groups[gi]
		for _, m := range g.Members {
			if ii, ok := x.identityIdx[m]; ok {
				x.members[g.ID] = append(x.members[g.ID], ii)
			}
		}
	}
	for ii := range e.Identities {
		for _, g := range e.Identities[ii].Groups {
			if !slices.Contains(x.members[g], ii) {
				x.members[g] = append(x.members[g], ii)
			}
		}
	}

	for i := range e.Identities {
		x.sub(e.Identities[i].Home).identities = append(x.sub(e.Identities[i].Home).identities, i)
	}
	for i := range e.Assets {
		s := x.sub(e.Assets[i].Tenant)
		s.assets = append(s.assets, i)
	}
	for i := range e.Backups {
		s := x.sub(e.Backups[i].Tenant)
		s.backups = append(s.backups, i)
	}
	for i := range e.IRPlans {
		s := x.sub(e.IRPlans[i].Party)
		s.plans = append(s.plans, i)
	}
	for i := range e.Contracts {
		s := x.sub(e.Contracts[i].Tenant)
		s.contracts = append(s.contracts, i)
	}
	for i := range e.DomainChecks {
		s := x.sub(e.DomainChecks[i].Tenant)
		s.domains = append(s.domains, i)
	}
	for i := range e.Exposures {
		ex := &e.Exposures[i]
		t := ex.Tenant
		if t == "" {
			t = x.ownerOf(ex.Object)
		}
		s := x.sub(t)
		s.exposures = append(s.exposures, i)
	}
	x.attestations = map[string][]int{}
	for i := range e.Attestations {
		a := &e.Attestations[i]
		k := a.Control + "\x00" + nonEmpty(a.Subject)
		x.attestations[k] = append(x.attestations[k], i)
	}
	x.exceptions = map[string][]int{}
	for i := range e.Exceptions {
		x.exceptions[e.Exceptions[i].Control] = append(x.exceptions[e.Exceptions[i].Control], i)
	}
	x.collected = anyProvenance(e)
	x.gapsBySub = map[string][]int{}
	for i := range e.CollectionGap {
		t := e.CollectionGap[i].Tenant
		x.gapsBySub[t] = append(x.gapsBySub[t], i)
	}

	n := len(e.Identities)
	x.adminTenants = make([]int32, n)
	x.toolCustomers = make([]int32, len(e.Tools))
	x.toolVendor = make([]bool, len(e.Tools))

	// Tools: MSP tools belong to the MSP subject; GDAP tools reach their customer.
	for ti := range e.Tools {
		t := &e.Tools[ti]
		if t.GDAP != nil {
			if _, ok := x.tenantIdx[t.GDAP.Customer]; ok {
				x.reachTool(t.GDAP.Customer, ti)
				s := x.sub(t.GDAP.Customer)
				s.gdap = append(s.gdap, ti)
				inactive := t.GDAP.Status.Inactive() || acc.Expired(t.GDAP.EndDate)
				for _, g := range t.GDAP.AccessGroups {
					if gi := x.groupIdxOr(g); gi >= 0 {
						s.access = append(s.access, accessPath{identity: -1, group: gi, vendor: -1, grant: -1, tool: ti,
							priv: gdapPrivilege(t.GDAP.Roles), standing: true, roles: t.GDAP.Roles, expired: inactive})
					}
				}
				for _, a := range t.GDAP.Assignments {
					if gi := x.groupIdxOr(a.Group); gi >= 0 {
						roles := a.Roles
						if len(roles) == 0 {
							roles = t.GDAP.Roles
						}
						s.access = append(s.access, accessPath{identity: -1, group: gi, vendor: -1, grant: -1, tool: ti,
							priv: gdapPrivilege(roles), standing: !a.Eligible(), roles: roles, expired: inactive})
					}
				}
			}
		}
		if t.Owner == "" || t.Owner == estate.MSP {
			s := x.sub(estate.MSP)
			s.tools = append(s.tools, ti)
		} else if _, ok := x.tenantIdx[t.Owner]; ok {
			// The customer's own tools (its remote access, its logging)
			// are judged in its document too.
			s := x.sub(t.Owner)
			if s.toolSeen == nil {
				s.toolSeen = map[int]bool{}
			}
			if !s.toolSeen[ti] {
				s.toolSeen[ti] = true
				s.tools = append(s.tools, ti)
			}
		}
	}
	for vi := range e.Vendors {
		for _, tid := range e.Vendors[vi].Supplies {
			if ti, ok := x.toolIdx[tid]; ok {
				x.toolVendor[ti] = true
			}
		}
	}
	// Agents on assets: the tool reaches the asset's tenant.
	for ai := range e.Assets {
		a := &e.Assets[ai]
		if _, ok := x.tenantIdx[a.Tenant]; !ok {
			continue
		}
		for _, tid := range a.Agents {
			if ti, ok := x.toolIdx[tid]; ok {
				x.reachTool(a.Tenant, ti)
			}
		}
	}

	// Grants.
	for gi := range e.Grants {
		g := &e.Grants[gi]
		tenant := x.targetTenant(g.Target)
		owner := tenant
		if owner == "" {
			owner = estate.MSP
		}
		if g.Expires != nil {
			// input.grants carries the grants with an expiry (FB-PRIV-005);
			// who can reach what is input.access.
			os := x.sub(owner)
			os.grants = append(os.grants, gi)
		}
		expired := acc.Expired(g.Expires)
		if tenant == "" {
			continue
		}
		s := x.sub(tenant)
		path := accessPath{identity: -1, group: -1, vendor: -1, grant: gi, tool: -1, priv: acc.Grants[gi],
			standing: g.IsStanding(), roles: g.Roles, scope: g.Scope, expired: expired}
		switch {
		case x.has(x.identityIdx, g.Subject):
			ii := x.identityIdx[g.Subject]
			if x.e.Identities[ii].Home != tenant {
				path.identity = ii
				s.access = append(s.access, path)
			}
		case x.has(x.groupIdx, g.Subject):
			if x.e.Groups[x.groupIdx[g.Subject]].Home != tenant {
				path.group = x.groupIdx[g.Subject]
				s.access = append(s.access, path)
			}
		case x.has(x.toolIdx, g.Subject):
			// A tool's grant into the tenant (an RMM agent running as
			// SYSTEM) is an access path too: whoever operates the tool
			// holds it (FB-PRIV-001, FB-PRIV-004).
			path.tool = x.toolIdx[g.Subject]
			s.toolAccess = append(s.toolAccess, path)
			x.reachTool(tenant, x.toolIdx[g.Subject])
		case x.has(x.vendorIdx, g.Subject):
			// Vendor-held access is judged like any other (MFA, privilege,
			// idle accounts) through the vendor's staff, and listed with
			// the vendor for the supply-chain checks.
			if s.vendors == nil {
				s.vendors = map[int][]int{}
			}
			vi := x.vendorIdx[g.Subject]
			s.vendors[vi] = append(s.vendors[vi], gi)
			path.vendor = vi
			s.access = append(s.access, path)
		}
	}

	// Vendor staff, for vendor-held access.
	x.vendorStaff = map[int][]int{}
	for ii := range e.Identities {
		if v := acc.Identities[ii].Vendor; v != "" {
			if vi, ok := x.vendorIdx[v]; ok {
				x.vendorStaff[vi] = append(x.vendorStaff[vi], ii)
			}
		}
	}
	// Admin tenants come from the access facts (the trust graph's
	// FB-TRUST-004 reads the same); who reaches a customer at all is the
	// access matrix's (input.trust.customer_reach, FB-MFA-003).
	for ii := range e.Identities {
		x.adminTenants[ii] = int32(len(acc.Identities[ii].AdminTenants))
	}
	x.tenantAdmins = acc.AdminsByTenant(e)
	x.principalUsed = map[principalKey]bool{}
	for ti := range e.Tenants {
		for _, p := range x.sub(e.Tenants[ti].ID).access {
			x.principalUsed[principalKey{p.identity, p.group, p.vendor}] = true
		}
	}
	// KEV entries still open after patching (access facts).
	if kc != nil {
		x.assetKEV = map[int][]kev.Vuln{}
		x.toolKEV = map[int][]kev.Vuln{}
		for ai := range acc.Assets {
			if vs := acc.Assets[ai].KEV; len(vs) > 0 {
				x.assetKEV[ai] = vs
			}
		}
		for ti := range acc.Tools {
			if vs := acc.Tools[ti].KEV; len(vs) > 0 {
				x.toolKEV[ti] = vs
			}
		}
	}
	return x
}

func (x *index) has(m map[string]int, id string) bool { _, ok := m[id]; return ok }

func (x *index) groupIdxOr(id string) int {
	if i, ok := x.groupIdx[id]; ok {
		return i
	}
	return -1
}

func (x *index) sub(id string) *subjectData {
	if id == "" {
		id = estate.MSP
	}
	s := x.subj[id]
	if s == nil {
		s = &subjectData{}
		x.subj[id] = s
	}
	return s
}

func (x *index) reachTool(tenant string, ti int) {
	s := x.sub(tenant)
	if s.toolSeen == nil {
		s.toolSeen = map[int]bool{}
	}
	if s.toolSeen[ti] {
		return
	}
	s.toolSeen[ti] = true
	s.tools = append(s.tools, ti)
	x.toolCustomers[ti]++
}

// targetTenant resolves a grant target to the tenant it lies in, or "".
func (x *index) targetTenant(target string) string {
	if _, ok := x.tenantIdx[target]; ok {
		return target
	}
	if t := x.ownerOf(target); t != estate.MSP {
		return t
	}
	return ""
}

// ownerOf returns the subject an object id belongs to ("msp" when
// unknown): estate.Owners, the one ownership rule.
func (x *index) ownerOf(id string) string { return x.owners.Of(id) }

func nonEmpty(s string) string {
	if s == "" {
		return estate.MSP
	}
	return s
}

// eachMember calls fn for every identity behind a principal: the identity
// itself, a group's members, or a vendor's staff.
func (x *index) eachMember(identity, group, vendor int, fn func(ii int)) {
	switch {
	case identity >= 0:
		fn(identity)
	case group >= 0:
		for _, ii := range x.members[x.e.Groups[group].ID] {
			fn(ii)
		}
	case vendor >= 0:
		for _, ii := range x.vendorStaff[vendor] {
			fn(ii)
		}
	}
}

func (x *index) days(d *estate.Date) (int, bool) {
	if d == nil {
		return 0, false
	}
	return int(x.now.Sub(d.Time).Hours() / 24), true
}
