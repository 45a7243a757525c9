package trust

import (
	"math/bits"
	"slices"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// FactsDoc is the trust graph summary the assess engine puts in the Rego
// input as input.trust (see internal/assess/policies/trust.rego). Counts
// are of standing access at ≥ admin unless named otherwise.
type FactsDoc struct {
	Version int     `json:"version"`
	Tenants int     `json:"tenants"`
	Share   float64 `json:"share"`
	Limit   int     `json:"limit"`
	// Counts of nodes per kind (the population controls report on).
	Counts map[string]int `json:"counts"`
	// OverLimit: nodes whose compromise reaches more than Limit tenants.
	OverLimit []FactNode `json:"over_limit"`
	// EntryPoints an outsider takes directly (any privilege).
	EntryPoints []FactEntry `json:"entry_points"`
	// OutsiderAdmin: tenants an outsider reaches at ≥ admin.
	OutsiderAdmin []string `json:"outsider_admin"`
	// Vendors and subcontractors with their reach.
	Vendors []FactNode `json:"vendors"`
	// AdminIdentities: identities holding standing admin (or more) in two
	// or more tenants.
	AdminIdentities []FactNode `json:"admin_identities"`
	// IdentitiesWithAdmin counts identities reaching at least one tenant at ≥ admin.
	IdentitiesWithAdmin int `json:"identities_with_admin"`
	// CustomerReach are the enabled identities (break-glass accounts
	// aside) that reach a tenant other than their home by any path,
	// standing or just in time, at any privilege: the access matrix's rows
	// FB-MFA-003 judges. In node order.
	CustomerReach []string `json:"customer_reach"`
	// CustomerVia gives, for each of them, the first hops of its paths
	// into those tenants (JITVia: a tool, group or GDAP relationship), at
	// most viaCap, in tenant order: FB-MFA-003's evidence.
	CustomerVia map[string][]string `json:"customer_via"`
	// CrossTenant: objects of one tenant that reach another tenant.
	CrossTenant []FactCross `json:"cross_tenant"`
	// ByTenant: per tenant, the ids from the lists above that reach it.
	ByTenant map[string]*FactTenant `json:"by_tenant"`
}

// FactNode is one node and its reach.
type FactNode struct {
	ID           string   `json:"id"`
	Kind         string   `json:"kind"`
	Sub          string   `json:"sub,omitempty"`
	MFA          string   `json:"mfa,omitempty"`
	TenantsAdmin int      `json:"tenants_admin"`
	TenantsAny   int      `json:"tenants_any"`
	Tenants      []string `json:"tenants,omitempty"` // at ≥ admin (capped at 50)
	Path         string   `json:"path,omitempty"`    // a proof path to one of them
	// Standing counts, for admin credential reuse, the tenants held by
	// standing access (the rest are just in time).
	Standing int `json:"standing,omitempty"`
}

// FactEntry is one entry point.
type FactEntry struct {
	ID           string   `json:"id"`
	Kind         string   `json:"kind"`
	Why          string   `json:"why"`
	Privilege    string   `json:"privilege"`
	KEV          []string `json:"kev,omitempty"`
	TenantsAdmin int      `json:"tenants_admin"`
	TenantsAny   int      `json:"tenants_any"`
	Path         string   `json:"path,omitempty"`
}

// FactCross is a path from one tenant's objects into other tenants.
type FactCross struct {
	Tenant  string   `json:"tenant"`
	Via     string   `json:"via"` // the object of Tenant that reaches out
	Kind    string   `json:"kind"`
	Reaches []string `json:"reaches"`
	Path    string   `json:"path,omitempty"`
}

// FactTenant lists, for one tenant, what reaches it. Each list but Vendors
// is a sample of at most 10 ids, widest reach first (the MSP-level lists
// hold them all); the *N fields hold the full counts.
type FactTenant struct {
	OverLimit  []FactRef `json:"over_limit"`
	OverLimitN int       `json:"over_limit_n"`
	// OverLimitWeak: the over-limit identities and tools without
	// phishing-resistant MFA (what FB-TRUST-001 fails on).
	OverLimitWeak   []FactRef `json:"over_limit_weak"`
	OverLimitWeakN  int       `json:"over_limit_weak_n"`
	Entries         []FactRef `json:"entry_points"`
	EntriesN        int       `json:"entry_points_n"`
	Vendors         []FactRef `json:"vendors"`
	AdminIdentities []FactRef `json:"admin_identities"`
	AdminIdentityN  int       `json:"admin_identities_n"`
	CrossIn         []FactRef `json:"cross_in"`
	// Access is the tenant's column of the access matrix (Graph.Matrix).
	Access FactAccess `json:"access"`
}

// FactAccess is one tenant's column of the access matrix: how many
// principals (identities, groups, tools, vendors) reach it at ≥ each
// privilege over standing edges and with just-in-time access activated,
// and the first tenantCap of those reaching it at ≥ admin (eligible), in
// node order, with their standing and eligible privilege and first hop.
type FactAccess struct {
	Standing FactLevels       `json:"standing"`
	Eligible FactLevels       `json:"eligible"`
	Admins   []FactAccessCell `json:"admins"`
	AdminsN  int              `json:"admins_n"`
	// The identities homed outside the tenant (the MSP's, its vendors',
	// other tenants') that reach it, by any path: what FB-MFA-002 and
	// FB-PRIV-004 judge. Each list is a sample of tenantCap in node order;
	// the *N fields count them all.
	//
	// AdminsIDN counts those at ≥ admin with just-in-time access
	// activated; NoPR and PRUnknown are the ones among them whose sign-in
	// is not phishing-resistant, or not known to be (access.MFAStates).
	AdminsIDN  int              `json:"admin_identities_n"`
	NoPR       []FactAccessCell `json:"no_pr"`
	NoPRN      int              `json:"no_pr_n"`
	PRUnknown  []FactAccessCell `json:"pr_unknown"`
	PRUnknownN int              `json:"pr_unknown_n"`
	// ReachN counts those reaching the tenant at all (≥ read, just in
	// time activated): what FB-MFA-001 judges; NoMFA and MFAUnknown are
	// the ones among them whose sign-in has no MFA and no compensating
	// control, or not known to have (access.MFAStates' mfa state).
	ReachN int `json:"reach_n"`
	// Idle are those among them whose account is idle or departed
	// (access.Identity.Idle; a vendor by its staff): FB-ACC-004.
	Idle  []FactAccessCell `json:"idle"`
	IdleN int              `json:"idle_n"`
	// Unowned are the service accounts and tokens among them with no
	// accountable owner: FB-AUTH-002.
	Unowned     []FactAccessCell `json:"unowned"`
	UnownedN    int              `json:"unowned_n"`
	NoMFA       []FactAccessCell `json:"no_mfa"`
	NoMFAN      int              `json:"no_mfa_n"`
	MFAUnknown  []FactAccessCell `json:"mfa_unknown"`
	MFAUnknownN int              `json:"mfa_unknown_n"`
	// OperatorsN counts those at ≥ operate with just-in-time access
	// activated; StandingOps the ones holding ≥ operate without it.
	OperatorsN   int              `json:"operators_n"`
	StandingOps  []FactAccessCell `json:"standing_ops"`
	StandingOpsN int              `json:"standing_ops_n"`
	// AccountsN counts the people's accounts (human identities, break-glass
	// aside) among the operators: what FB-PRIV-008 judges as privileged
	// accounts (access.AccountState); NotKept are those with a practice
	// recorded as not followed, AccountUnknown those not recorded.
	AccountsN       int              `json:"accounts_n"`
	NotKept         []FactAccessCell `json:"not_kept"`
	NotKeptN        int              `json:"not_kept_n"`
	AccountUnknown  []FactAccessCell `json:"account_unknown"`
	AccountUnknownN int              `json:"account_unknown_n"`
}

// FactLevels counts principals at ≥ each privilege.
type FactLevels struct {
	Read    int `json:"read"`
	Operate int `json:"operate"`
	Admin   int `json:"admin"`
	Full    int `json:"full_control"`
}

func levelsOf(c [access.LevelFull + 1]int) FactLevels {
	return FactLevels{Read: c[access.LevelRead], Operate: c[access.LevelOperate], Admin: c[access.LevelAdmin], Full: c[access.LevelFull]}
}

// FactAccessCell is one principal's access to the tenant.
type FactAccessCell struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Privilege string `json:"privilege"` // eligible (≥ standing)
	Standing  string `json:"standing"`  // "none" when only just in time
	Via       string `json:"via"`       // first hop of the path giving Privilege
	// StandingVia is the first hop of the path giving Standing ("" when
	// only just in time).
	StandingVia string `json:"standing_via,omitempty"`
	MFA         string `json:"mfa,omitempty"`  // identities: the strength an attacker meets
	Idle        string `json:"idle,omitempty"` // why the account (a vendor: one of its staff) is idle
	// Account is why the account is not kept as privileged, or what is
	// not recorded (access.AccountState; people's accounts only).
	Account string `json:"account,omitempty"`
}

// FactRef names a node that reaches a tenant, with its MFA.
type FactRef struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	MFA  string `json:"mfa,omitempty"`
}

const factCap = 50

// viaCap bounds an identity's list of first hops into customers
// (CustomerVia).
const viaCap = 5

// tenantCap bounds each per-tenant sample: at 2,000 tenants reached by the
// same 2,000 technicians, listing 50 of them for every tenant made the
// per-tenant evidence (and its evaluation) the costliest part of an
// assessment, while the MSP-level results already list every one.
const tenantCap = 10

// weakMFA reports whether node n is an identity or tool without
// phishing-resistant MFA (FB-TRUST-001's failing condition).
func weakMFA(n *Node) bool {
	return (n.Kind == KindIdentity || n.Kind == KindTool) && n.MFA != estate.MFAPhishingResistant
}

// Facts summarises the graph for the graph controls. The result is plain
// JSON-able data (maps and slices), ready for assess.Options.Extra["trust"]:
// FactsOf's document as encoding/json would decode its JSON (same keys,
// omitempty fields left out), built directly rather than through a JSON
// round trip, with the per-tenant references shared between tenants.
func Facts(g *Graph) any { return FactsOf(g).plain() }

// plain converts the document to maps and slices (see Facts).
func (d *FactsDoc) plain() map[string]any {
	counts := make(map[string]any, len(d.Counts))
	for k, v := range d.Counts {
		counts[k] = v
	}
	byTenant := make(map[string]any, len(d.ByTenant))
	refs := map[FactRef]map[string]any{} // shared: the same node reaches many tenants
	refList := func(rs []FactRef) []any {
		out := make([]any, len(rs))
		for i, r := range rs {
			m, ok := refs[r]
			if !ok {
				m = map[string]any{"id": r.ID, "kind": r.Kind}
				if r.MFA != "" {
					m["mfa"] = r.MFA
				}
				refs[r] = m
			}
			out[i] = m
		}
		return out
	}
	for id, t := range d.ByTenant {
		byTenant[id] = map[string]any{
			"over_limit":         refList(t.OverLimit),
			"over_limit_n":       t.OverLimitN,
			"over_limit_weak":    refList(t.OverLimitWeak),
			"over_limit_weak_n":  t.OverLimitWeakN,
			"entry_points":       refList(t.Entries),
			"entry_points_n":     t.EntriesN,
			"vendors":            refList(t.Vendors),
			"admin_identities":   refList(t.AdminIdentities),
			"admin_identities_n": t.AdminIdentityN,
			"cross_in":           refList(t.CrossIn),
			"access":             t.Access.plain(),
		}
	}
	return map[string]any{
		"version":               d.Version,
		"tenants":               d.Tenants,
		"share":                 d.Share,
		"limit":                 d.Limit,
		"counts":                counts,
		"over_limit":            nodeList(d.OverLimit),
		"entry_points":          entryList(d.EntryPoints),
		"outsider_admin":        strList(d.OutsiderAdmin),
		"vendors":               nodeList(d.Vendors),
		"admin_identities":      nodeList(d.AdminIdentities),
		"identities_with_admin": d.IdentitiesWithAdmin,
		"customer_reach":        strList(d.CustomerReach),
		"customer_via":          viaMap(d.CustomerVia),
		"cross_tenant":          crossList(d.CrossTenant),
		"by_tenant":             byTenant,
	}
}

func (l FactLevels) plain() map[string]any {
	return map[string]any{"read": l.Read, "operate": l.Operate, "admin": l.Admin, "full_control": l.Full}
}

func (a *FactAccess) plain() map[string]any {
	return map[string]any{"standing": a.Standing.plain(), "eligible": a.Eligible.plain(), "admins": cellList(a.Admins), "admins_n": a.AdminsN,
		"admin_identities_n": a.AdminsIDN, "no_pr": cellList(a.NoPR), "no_pr_n": a.NoPRN, "pr_unknown": cellList(a.PRUnknown), "pr_unknown_n": a.PRUnknownN,
		"reach_n": a.ReachN, "idle": cellList(a.Idle), "idle_n": a.IdleN, "unowned": cellList(a.Unowned), "unowned_n": a.UnownedN, "no_mfa": cellList(a.NoMFA), "no_mfa_n": a.NoMFAN, "mfa_unknown": cellList(a.MFAUnknown), "mfa_unknown_n": a.MFAUnknownN,
		"operators_n": a.OperatorsN, "standing_ops": cellList(a.StandingOps), "standing_ops_n": a.StandingOpsN,
		"accounts_n": a.AccountsN, "not_kept": cellList(a.NotKept), "not_kept_n": a.NotKeptN, "account_unknown": cellList(a.AccountUnknown), "account_unknown_n": a.AccountUnknownN}
}

func cellList(cs []FactAccessCell) []any {
	out := make([]any, len(cs))
	for i, c := range cs {
		m := map[string]any{"id": c.ID, "kind": c.Kind, "privilege": c.Privilege, "standing": c.Standing, "via": c.Via}
		if c.StandingVia != "" {
			m["standing_via"] = c.StandingVia
		}
		if c.MFA != "" {
			m["mfa"] = c.MFA
		}
		if c.Idle != "" {
			m["idle"] = c.Idle
		}
		if c.Account != "" {
			m["account"] = c.Account
		}
		out[i] = m
	}
	return out
}

func viaMap(m map[string][]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = strList(v)
	}
	return out
}

func strList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func nodeList(ns []FactNode) []any {
	out := make([]any, len(ns))
	for i := range ns {
		n := &ns[i]
		m := map[string]any{"id": n.ID, "kind": n.Kind, "tenants_admin": n.TenantsAdmin, "tenants_any": n.TenantsAny}
		if n.Sub != "" {
			m["sub"] = n.Sub
		}
		if n.MFA != "" {
			m["mfa"] = n.MFA
		}
		if len(n.Tenants) > 0 {
			m["tenants"] = strList(n.Tenants)
		}
		if n.Path != "" {
			m["path"] = n.Path
		}
		if n.Standing != 0 {
			m["standing"] = n.Standing
		}
		out[i] = m
	}
	return out
}

func entryList(es []FactEntry) []any {
	out := make([]any, len(es))
	for i := range es {
		e := &es[i]
		m := map[string]any{"id": e.ID, "kind": e.Kind, "why": e.Why, "privilege": e.Privilege, "tenants_admin": e.TenantsAdmin, "tenants_any": e.TenantsAny}
		if len(e.KEV) > 0 {
			m["kev"] = strList(e.KEV)
		}
		if e.Path != "" {
			m["path"] = e.Path
		}
		out[i] = m
	}
	return out
}

func crossList(cs []FactCross) []any {
	out := make([]any, len(cs))
	for i := range cs {
		c := &cs[i]
		m := map[string]any{"tenant": c.Tenant, "via": c.Via, "kind": c.Kind, "reaches": strList(c.Reaches)}
		if c.Path != "" {
			m["path"] = c.Path
		}
		out[i] = m
	}
	return out
}

// FactsOf is Facts as a typed document.
func FactsOf(g *Graph) *FactsDoc {
	T := len(g.tenants)
	if T > 0 {
		// The access matrix (needed below) is computed meanwhile on the
		// other cores; Matrix waits for it.
		go g.Matrix()
	}
	rk := g.Ranking()
	doc := &FactsDoc{Version: 1, Tenants: T, Share: g.MaxTenantShare, Limit: Limit(T, g.MaxTenantShare),
		Counts: map[string]int{}, ByTenant: make(map[string]*FactTenant, T),
		OverLimit: []FactNode{}, EntryPoints: []FactEntry{}, OutsiderAdmin: []string{}, Vendors: []FactNode{},
		AdminIdentities: []FactNode{}, CrossTenant: []FactCross{}, CustomerReach: []string{}, CustomerVia: map[string][]string{}}
	for i := range g.Nodes {
		doc.Counts[g.Nodes[i].Kind.String()]++
	}
	// byBit[k] is the facts of tenant g.tenants[k] (the bit index of tenant
	// sets), so walking a set needs no map lookup per tenant.
	byBit := make([]*FactTenant, T)
	for k, t := range g.tenants {
		ft := &FactTenant{OverLimit: []FactRef{}, OverLimitWeak: []FactRef{}, Entries: []FactRef{}, Vendors: []FactRef{}, AdminIdentities: []FactRef{}, CrossIn: []FactRef{}}
		byBit[k] = ft
		doc.ByTenant[g.Nodes[t].ID] = ft
	}
	if T == 0 {
		return doc
	}
	eff := g.effective(false)
	entries := g.entries(rk)
	// Which nodes need their tenant sets at ≥ admin.
	want := map[int32]bool{0: true}
	for _, r := range rk.Ranks {
		n := &g.Nodes[r.Node]
		switch {
		case r.AtAdmin() > doc.Limit:
			want[r.Node] = true
		case n.Kind == KindVendor:
			want[r.Node] = true
		case n.Home != estate.MSP && n.Home != "" && r.AtAdmin() >= 2:
			want[r.Node] = true
		}
	}
	for _, e := range entries {
		if e.Priv >= Admin {
			want[e.Node] = true
		}
	}
	sets := g.setsAt(eff, Admin, want)
	// tenantsOf lists (in estate order) up to limit tenants node i reaches.
	tenantsOf := func(i int32, limit int) []string {
		var out []string
		for w, word := range sets[i] {
			for word != 0 {
				if len(out) == limit {
					return out
				}
				b := bits.TrailingZeros64(word)
				word &= word - 1
				out = append(out, g.Nodes[g.tenants[w*64+b]].ID)
			}
		}
		return out
	}
	var ps pathSearch
	paths := 0 // proof paths cost one search each: at most maxProofs
	const maxProofs = 100
	proof := func(i int32) string {
		if paths >= maxProofs {
			return ""
		}
		paths++
		if p := ps.first(g, i, Admin, eff); p != nil {
			return FormatPath(g.Steps(p))
		}
		return ""
	}
	node := func(r Rank, withPath bool) FactNode {
		n := &g.Nodes[r.Node]
		f := FactNode{ID: n.ID, Kind: n.Kind.String(), Sub: n.Sub, TenantsAdmin: r.AtAdmin(), TenantsAny: r.AtAny()}
		if n.Kind == KindIdentity || n.Kind == KindTool {
			f.MFA = string(n.MFA)
		}
		f.Tenants = tenantsOf(r.Node, factCap)
		if withPath {
			f.Path = proof(r.Node)
		}
		return f
	}
	ref := func(i int32) FactRef {
		n := &g.Nodes[i]
		r := FactRef{ID: n.ID, Kind: n.Kind.String()}
		if n.Kind == KindIdentity || n.Kind == KindTool {
			r.MFA = string(n.MFA)
		}
		return r
	}
	each := func(i int32, fn func(ft *FactTenant)) {
		for w, word := range sets[i] {
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &= word - 1
				fn(byBit[w*64+b])
			}
		}
	}
	for _, r := range rk.Ranks {
		n := &g.Nodes[r.Node]
		if r.AtAdmin() > doc.Limit {
			doc.OverLimit = append(doc.OverLimit, node(r, true))
			weak := weakMFA(n)
			rf := ref(r.Node)
			each(r.Node, func(ft *FactTenant) {
				ft.OverLimitN++
				if len(ft.OverLimit) < tenantCap {
					ft.OverLimit = append(ft.OverLimit, rf)
				}
				if weak {
					ft.OverLimitWeakN++
					if len(ft.OverLimitWeak) < tenantCap {
						ft.OverLimitWeak = append(ft.OverLimitWeak, rf)
					}
				}
			})
		}
		if n.Kind == KindVendor {
			doc.Vendors = append(doc.Vendors, node(r, true))
			rf := ref(r.Node)
			each(r.Node, func(ft *FactTenant) { ft.Vendors = append(ft.Vendors, rf) })
		}
		if home := n.Home; home != estate.MSP && home != "" && r.AtAdmin() >= 2 && n.Kind != KindVendor {
			var other []string
			for _, t := range tenantsOf(r.Node, -1) {
				if t != home {
					other = append(other, t)
				}
			}
			if len(other) > 0 && len(doc.CrossTenant) < 1000 {
				doc.CrossTenant = append(doc.CrossTenant, FactCross{Tenant: home, Via: n.ID, Kind: n.Kind.String(), Reaches: other, Path: proof(r.Node)})
				rf := ref(r.Node)
				each(r.Node, func(ft *FactTenant) {
					if len(ft.CrossIn) < tenantCap {
						ft.CrossIn = append(ft.CrossIn, rf)
					}
				})
			}
		}
	}
	// Admin credential reuse: the identities whose own credentials hold
	// admin in two or more customers, standing or just in time — the
	// access facts' list, the same one assess judges FB-NET-005 on.
	// Widest first, then by id.
	if acc := g.Access; acc != nil {
		for i := range acc.Identities {
			if len(acc.Identities[i].AdminTenants) > 0 {
				doc.IdentitiesWithAdmin++
			}
		}
		var reuse []int32
		for i := range acc.Identities {
			if len(acc.Identities[i].AdminTenants) >= 2 && !g.Nodes[g.identity0+int32(i)].Disabled {
				reuse = append(reuse, int32(i))
			}
		}
		slices.SortStableFunc(reuse, func(a, b int32) int {
			return len(acc.Identities[b].AdminTenants) - len(acc.Identities[a].AdminTenants)
		})
		for _, i := range reuse {
			fi := &acc.Identities[i]
			ni := g.identity0 + i
			n := &g.Nodes[ni]
			r := rk.Of(ni)
			f := FactNode{ID: n.ID, Kind: n.Kind.String(), Sub: n.Sub, MFA: string(n.MFA), TenantsAdmin: len(fi.AdminTenants),
				TenantsAny: r.AtAny(), Standing: fi.StandingAdmin}
			for k, t := range fi.AdminTenants {
				if k == factCap {
					break
				}
				f.Tenants = append(f.Tenants, acc.Tenants[t])
			}
			doc.AdminIdentities = append(doc.AdminIdentities, f)
			rf := ref(ni)
			for _, t := range fi.AdminTenants {
				ft := byBit[t]
				ft.AdminIdentityN++
				if len(ft.AdminIdentities) < tenantCap {
					ft.AdminIdentities = append(ft.AdminIdentities, rf)
				}
			}
		}
	}
	// Vendors reaching nothing are still listed (with zero reach).
	for i := range g.Nodes {
		if g.Nodes[i].Kind == KindVendor && rk.Of(int32(i)).AtAny() == 0 {
			doc.Vendors = append(doc.Vendors, FactNode{ID: g.Nodes[i].ID, Kind: "vendor", Sub: g.Nodes[i].Sub})
		}
	}
	var ob *Blast
	entered := map[int32]bool{} // a node entered by several edges counts once per tenant
	for _, e := range entries {
		n := &g.Nodes[e.Node]
		fe := FactEntry{ID: n.ID, Kind: n.Kind.String(), Why: e.Why, Privilege: e.Priv.String(), KEV: e.KEV, TenantsAdmin: e.AtAdmin, TenantsAny: e.AtAny}
		if e.AtAdmin > 0 && paths < maxProofs {
			if ob == nil {
				paths++
				ob = g.blast(0, Query{}, eff)
			}
			for _, r := range ob.Tenants {
				if r.Priv >= Admin && len(r.Path) > 0 && r.Path[0] == e.Edge {
					fe.Path = FormatPath(g.Steps(r.Path))
					break
				}
			}
			if fe.Path == "" {
				if p := proof(e.Node); p != "" {
					fe.Path = "outsider -[entry]-> " + p
				}
			}
		}
		doc.EntryPoints = append(doc.EntryPoints, fe)
		if e.Priv >= Admin && !entered[e.Node] {
			entered[e.Node] = true
			rf := ref(e.Node)
			each(e.Node, func(ft *FactTenant) {
				ft.EntriesN++
				if len(ft.Entries) < tenantCap {
					ft.Entries = append(ft.Entries, rf)
				}
			})
		}
	}
	doc.OutsiderAdmin = append(doc.OutsiderAdmin, tenantsOf(0, -1)...)
	// Each tenant's column of the access matrix.
	m := g.Matrix()
	outside := g.outsiders(m)
	reaches := make([]bool, len(m.Principals))
	vias := make([][]int32, len(m.Principals)) // customer_via: identities' first hops
	counts := m.ByTenant(func(p int, c access.Cell) {
		if c.Eligible < access.LevelRead {
			return
		}
		fa := &byBit[c.Tenant].Access
		pr := &m.Principals[p]
		cell := func() FactAccessCell {
			x := FactAccessCell{ID: pr.ID, Kind: pr.Kind, Privilege: c.Eligible.String(), Standing: c.Standing.String(), Via: m.Name(c.JITVia)}
			if c.Standing > access.LevelNone {
				x.StandingVia = m.Name(c.Via)
			}
			if o := &outside[p]; o.identity {
				x.MFA = string(g.Nodes[pr.Node].MFA)
			}
			x.Idle = outside[p].idle
			return x
		}
		add := func(list *[]FactAccessCell, n *int) {
			*n++
			if len(*list) < tenantCap {
				*list = append(*list, cell())
			}
		}
		if c.Eligible >= access.LevelAdmin {
			add(&fa.Admins, &fa.AdminsN)
		}
		o := &outside[p]
		if !o.actor || o.home == c.Tenant {
			return
		}
		// A supplier's reach through its update channel is supply-chain
		// risk (FB-TRUST-003), not access its staff sign in to.
		supplied := func(via int32) bool { return o.supplies != nil && o.supplies[via] }
		if supplied(c.JITVia) {
			return
		}
		fa.ReachN++
		if o.identity {
			reaches[p] = true
			if v := c.JITVia; len(vias[p]) < viaCap && !slices.Contains(vias[p], v) {
				vias[p] = append(vias[p], v)
			}
		}
		if o.idle != "" {
			add(&fa.Idle, &fa.IdleN)
		}
		if o.unowned {
			add(&fa.Unowned, &fa.UnownedN)
		}
		switch o.mfa {
		case "none":
			add(&fa.NoMFA, &fa.NoMFAN)
		case "unknown":
			add(&fa.MFAUnknown, &fa.MFAUnknownN)
		}
		if c.Eligible < access.LevelOperate {
			return
		}
		fa.OperatorsN++
		if c.Standing >= access.LevelOperate && !supplied(c.Via) {
			add(&fa.StandingOps, &fa.StandingOpsN)
		}
		if o.person {
			fa.AccountsN++
			addAccount := func(list *[]FactAccessCell, n *int) {
				*n++
				if len(*list) < tenantCap {
					x := cell()
					x.Account = o.accountWhy
					*list = append(*list, x)
				}
			}
			switch o.account {
			case "fail":
				addAccount(&fa.NotKept, &fa.NotKeptN)
			case "unknown":
				addAccount(&fa.AccountUnknown, &fa.AccountUnknownN)
			}
		}
		if c.Eligible >= access.LevelAdmin {
			fa.AdminsIDN++
			switch o.pr {
			case "fail":
				add(&fa.NoPR, &fa.NoPRN)
			case "unknown":
				add(&fa.PRUnknown, &fa.PRUnknownN)
			}
		}
	})
	for p, r := range reaches {
		if r {
			id := m.Principals[p].ID
			doc.CustomerReach = append(doc.CustomerReach, id)
			names := make([]string, len(vias[p]))
			for k, v := range vias[p] {
				names[k] = m.Name(v)
			}
			doc.CustomerVia[id] = names
		}
	}
	for k, ta := range counts {
		fa := &byBit[k].Access
		fa.Standing, fa.Eligible = levelsOf(ta.Standing), levelsOf(ta.Eligible)
		for _, l := range []*[]FactAccessCell{&fa.Admins, &fa.NoPR, &fa.PRUnknown, &fa.NoMFA, &fa.MFAUnknown, &fa.Idle, &fa.Unowned, &fa.StandingOps, &fa.NotKept, &fa.AccountUnknown} {
			if *l == nil {
				*l = []FactAccessCell{}
			}
		}
	}
	return doc
}

// principalFacts is what the per-tenant access facts need of one matrix
// principal: whether it is an actor (an enabled identity, or a vendor: the
// access it holds is its staff's), its home tenant's bit (-1 for the MSP
// or a vendor) and its MFA and phishing-resistance verdicts (a vendor's: the worst
// of its staff's, unknown when it has none recorded).
type principalFacts struct {
	actor, identity bool
	home            int32
	pr              string
	mfa             string         // access.MFAStates' mfa state: ok, none or unknown
	idle            string         // why it is idle (access.Identity.Idle; a vendor's: its first idle staff)
	unowned         bool           // a non-human identity with no accountable owner
	person          bool           // a human identity: its account is judged as privileged (FB-PRIV-008)
	account         string         // access.Identity.Account: ok, fail or unknown
	accountWhy      string         // access.Identity.AccountWhy
	supplies        map[int32]bool // a vendor's tools it supplies (update channel)
}

// outsiders returns, parallel to m.Principals, the facts of each principal
// (access.MFAStates over the graph's access facts: the rule assess judges
// identities' pr_state by).
func (g *Graph) outsiders(m *access.Matrix) []principalFacts {
	out := make([]principalFacts, len(m.Principals))
	homeBit := make(map[string]int32, len(g.tenants))
	for k, t := range g.tenants {
		homeBit[g.Nodes[t].ID] = int32(k)
	}
	facts := func(v int32) *access.Identity {
		if acc := g.Access; acc != nil {
			if i := v - g.identity0; i >= 0 && int(i) < len(acc.Identities) {
				return &acc.Identities[i]
			}
		}
		return nil
	}
	statesOf := func(v int32) (mfa, pr string) {
		var enforced *bool
		if fi := facts(v); fi != nil {
			enforced = fi.Enforced
		}
		return access.MFAStates(g.Nodes[v].MFA, enforced, g.Nodes[v].Sub == string(estate.KindAPIToken))
	}
	unownedOf := func(v int32) bool {
		fi := facts(v)
		return fi != nil && fi.Unowned
	}
	idleOf := func(v int32) string {
		if fi := facts(v); fi != nil {
			return fi.Idle
		}
		return ""
	}
	rank := map[string]int{"ok": 0, "unknown": 1, "fail": 2, "none": 2}
	for p := range m.Principals {
		v := m.Principals[p].Node
		n := &g.Nodes[v]
		switch {
		case n.Kind == KindIdentity && n.Sub == string(estate.KindBreakGlass):
			// Emergency access reaches every tenant through the MSP's
			// directory by design; FB-AUTH-008 judges it by its own
			// rules, not as standing or unprotected access.
		case n.Kind == KindIdentity && !n.Disabled:
			pf := principalFacts{actor: true, identity: true, home: -1, idle: idleOf(v), unowned: unownedOf(v)}
			if fi := facts(v); fi != nil && fi.Human {
				pf.person, pf.account, pf.accountWhy = true, fi.Account, fi.AccountWhy
			}
			pf.mfa, pf.pr = statesOf(v)
			if b, ok := homeBit[n.Home]; ok && n.Home != estate.MSP {
				pf.home = b
			}
			out[p] = pf
		case n.Kind == KindVendor:
			pf := principalFacts{actor: true, home: -1, pr: "unknown", mfa: "unknown"}
			staff := 0
			for s := g.adj.start[v]; s < g.adj.start[v+1]; s++ {
				e := &g.Edges[g.adj.edge[s]]
				if e.Kind == EdgeSupply {
					if pf.supplies == nil {
						pf.supplies = map[int32]bool{}
					}
					pf.supplies[e.To] = true
				}
				if e.Kind != EdgeStaff || g.Nodes[e.To].Disabled {
					continue
				}
				mfa, pr := statesOf(e.To)
				if staff == 0 || rank[pr] > rank[pf.pr] {
					pf.pr = pr
				}
				if staff == 0 || rank[mfa] > rank[pf.mfa] {
					pf.mfa = mfa
				}
				if idle := idleOf(e.To); idle != "" && pf.idle == "" {
					pf.idle = "staff " + g.Nodes[e.To].ID + ": " + idle
				}
				staff++
			}
			out[p] = pf
		}
	}
	return out
}

// setsAt returns the tenant bitsets at ≥ thr of the wanted nodes.
func (g *Graph) setsAt(eff []Priv, thr Priv, want map[int32]bool) map[int32][]uint64 {
	var ws workspace
	out := make(map[int32][]uint64, len(want))
	ws.keep = func(v int32, set []uint64) {
		if want[v] {
			out[v] = slices.Clone(set)
		}
	}
	g.passWS(&ws, eff, thr, false)
	return out
}

// pathSearch finds a shortest path at ≥ thr to the nearest tenant, reusing
// its buffers across calls.
type pathSearch struct {
	seen  []uint32
	stamp uint32
	par   []int32
	queue []int32
}

func (ps *pathSearch) first(g *Graph, src int32, thr Priv, eff []Priv) []int32 {
	n := len(g.Nodes)
	if len(ps.seen) != n {
		ps.seen, ps.par, ps.stamp = make([]uint32, n), make([]int32, n), 0
	}
	ps.stamp++
	ps.queue = append(ps.queue[:0], src)
	ps.seen[src] = ps.stamp
	for h := 0; h < len(ps.queue); h++ {
		v := ps.queue[h]
		for s := g.adj.start[v]; s < g.adj.start[v+1]; s++ {
			if eff[s] < thr {
				continue
			}
			w := g.adj.to[s]
			if ps.seen[w] == ps.stamp {
				continue
			}
			ps.seen[w] = ps.stamp
			ps.par[w] = g.adj.edge[s]
			if g.tbit[w] >= 0 {
				var p []int32
				for x := w; x != src; x = g.Edges[ps.par[x]].From {
					p = append(p, ps.par[x])
				}
				slices.Reverse(p)
				return p
			}
			ps.queue = append(ps.queue, w)
		}
	}
	return nil
}
