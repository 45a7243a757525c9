package trust

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Options tune Build.
type Options struct {
	// Now drops grants and GDAP relationships that expired before it. Zero
	// keeps every grant whatever its expiry.
	Now time.Time
	// KEV flags objects (tool or asset ids) with known-exploited
	// vulnerabilities, as CVE ids.
	KEV map[string][]string
	// KEVMatch, when set, is asked for each tool (vendor, product, version,
	// cpe) and each asset's software; it returns matching CVE ids.
	//
	// Deprecated: it cannot see patch state; pass KEVCatalog or Access.
	KEVMatch func(vendor, product, version, cpe string) []string
	// KEVCatalog is matched against tools and software through
	// internal/access, which drops entries patched since they were added.
	KEVCatalog *kev.Catalog
	// Access are the derived access facts of the estate at Now (MFA,
	// exposure, open KEV, grant privileges). Nil computes them from Now
	// and KEVCatalog; pass the same Facts to assess so both judge alike.
	Access *access.Facts
}

// Problem is one reason the estate cannot be turned into a graph.
type Problem struct {
	Pos     estate.Pos
	Object  string // e.g. "grant g-17"
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	if s := p.Pos.String(); s != "" {
		b.WriteString(s)
		b.WriteString(": ")
	}
	b.WriteString(p.Object)
	b.WriteString(": ")
	b.WriteString(p.Message)
	return b.String()
}

// BuildError lists every reference the graph could not resolve.
type BuildError struct{ Problems []Problem }

func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "trust graph: %d problem", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for i, p := range e.Problems {
		if i == 50 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Problems)-i)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

type builder struct {
	g        *Graph
	opts     Options
	problems []Problem
	ids      map[string]int32   // bare id → first node with it
	dups     map[string][]int32 // bare ids naming several nodes → all of them
	edges    []Edge
	acc      *access.Facts
	tool0    int32 // node index of the first tool
}

// toolIndex is the estate index of tool node ti.
func (b *builder) toolIndex(ti int32) int { return int(ti - b.tool0) }

// Build turns an estate into a trust graph. It returns a *BuildError naming
// every grant, group, asset or vendor that refers to an unknown object (with
// its file:line); self-loops and expired grants are dropped with a warning.
func Build(e *estate.Estate, opts Options) (*Graph, error) {
	if e == nil {
		e = &estate.Estate{}
	}
	if opts.Access == nil {
		opts.Access = access.Compute(e, access.Options{Now: opts.Now, KEV: opts.KEVCatalog})
	}
	b := &builder{
		g:    &Graph{MaxTenantShare: e.Settings.WithDefaults().MaxTenantShare, Access: opts.Access},
		opts: opts,
		acc:  opts.Access,
	}
	nn := 2 + len(e.Tenants) + len(e.Identities) + len(e.Groups) + len(e.Tools) + len(e.Assets) + len(e.Vendors)
	b.ids = make(map[string]int32, nn)
	b.g.Nodes = make([]Node, 0, nn)
	ne := len(e.Grants) + 2*len(e.Assets) + 2*len(e.Identities) + 2*len(e.Tools) + len(e.Backups)
	for i := range e.Assets {
		ne += len(e.Assets[i].Agents)
	}
	for i := range e.Groups {
		ne += len(e.Groups[i].Members)
	}
	b.edges = make([]Edge, 0, ne)
	b.nodes(e)
	b.derive(e)
	b.implied()
	if len(b.problems) > 0 {
		return nil, &BuildError{Problems: b.problems}
	}
	b.finish()
	return b.g, nil
}

func (b *builder) add(n Node) int32 {
	i := int32(len(b.g.Nodes))
	b.g.Nodes = append(b.g.Nodes, n)
	if n.Kind != KindOutsider {
		if j, dup := b.ids[n.ID]; dup {
			if b.dups == nil {
				b.dups = make(map[string][]int32)
			}
			if len(b.dups[n.ID]) == 0 {
				b.dups[n.ID] = []int32{j}
			}
			b.dups[n.ID] = append(b.dups[n.ID], i)
		} else {
			b.ids[n.ID] = i
		}
	}
	return i
}

func (b *builder) problem(pos estate.Pos, obj, format string, args ...any) {
	b.problems = append(b.problems, Problem{Pos: pos, Object: obj, Message: fmt.Sprintf(format, args...)})
}

func (b *builder) warn(pos estate.Pos, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if s := pos.String(); s != "" {
		msg = s + ": " + msg
	}
	b.g.Warnings = append(b.g.Warnings, msg)
}

func (b *builder) kev(id string, open []kev.Vuln, sw ...estate.Software) []string {
	var out []string
	out = append(out, b.opts.KEV[id]...)
	out = append(out, access.CVEs(open)...)
	if b.opts.KEVMatch != nil {
		for _, s := range sw {
			if s.Vendor == "" && s.Product == "" && s.CPE == "" {
				continue
			}
			out = append(out, b.opts.KEVMatch(s.Vendor, s.Product, s.Version, s.CPE)...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (b *builder) nodes(e *estate.Estate) {
	b.add(Node{ID: OutsiderID, Kind: KindOutsider, Name: "outsider (the internet)"})
	for i := range e.Tenants {
		t := &e.Tenants[i]
		idx := b.add(Node{ID: t.ID, Kind: KindTenant, Name: t.Name, Home: t.ID, Criticality: t.Criticality, Endpoints: t.Endpoints, Pos: t.Pos})
		b.g.tenants = append(b.g.tenants, idx)
	}
	b.g.identity0 = int32(len(b.g.Nodes))
	for i := range e.Identities {
		x := &e.Identities[i]
		b.add(Node{ID: x.ID, Kind: KindIdentity, Sub: string(x.Kind), Name: firstNonEmpty(x.Name, x.UPN), Home: x.Home, MFA: b.acc.Identities[i].MFA, Disabled: !x.IsEnabled(), Pos: x.Pos})
	}
	for i := range e.Groups {
		x := &e.Groups[i]
		b.add(Node{ID: x.ID, Kind: KindGroup, Name: x.Name, Home: x.Home, MFA: estate.MFAPhishingResistant, Pos: x.Pos})
	}
	b.tool0 = int32(len(b.g.Nodes))
	for i := range e.Tools {
		x := &e.Tools[i]
		owner := x.Owner
		if owner == "" {
			owner = estate.MSP
		}
		ft := &b.acc.Tools[i]
		kev := b.kev(x.ID, ft.KEV, estate.Software{Vendor: x.Vendor, Product: x.Product, Version: x.Version, CPE: x.CPE})
		b.add(Node{ID: x.ID, Kind: KindTool, Sub: string(x.Kind), Name: x.Name, Home: owner, MFA: ft.MFA,
			Exposed: ft.Exposed, KEV: kev, Pos: x.Pos})
	}
	for i := range e.Assets {
		x := &e.Assets[i]
		fa := &b.acc.Assets[i]
		kev := b.kev(x.ID, fa.KEV, x.Software...)
		b.add(Node{ID: x.ID, Kind: KindAsset, Sub: x.Kind, Name: firstNonEmpty(x.Hostname, x.ID), Home: x.Tenant,
			Exposed: fa.Exposed, KEV: kev, Pos: x.Pos})
	}
	pid := estate.MSP
	b.add(Node{ID: pid, Kind: KindProvider, Name: firstNonEmpty(e.Provider.Name, "the MSP"), Home: pid, MFA: estate.MFAPhishingResistant, Pos: e.Provider.Pos})
	for i := range e.Vendors {
		x := &e.Vendors[i]
		b.add(Node{ID: x.ID, Kind: KindVendor, Sub: x.Kind, Name: x.Name, Home: estate.MSP, MFA: estate.MFAPhishingResistant, Pos: x.Pos})
	}
	// Index: bare ids when unique, "kind:id" for ids naming several nodes.
	b.g.byID = b.ids
	b.g.byID[OutsiderID] = 0
	for id, idx := range b.dups {
		delete(b.g.byID, id)
		var c []string
		for _, i := range idx {
			q := b.g.Nodes[i].Kind.String() + ":" + id
			b.g.byID[q] = i
			c = append(c, q)
		}
		slices.Sort(c)
		if b.g.ambig == nil {
			b.g.ambig = make(map[string][]string)
		}
		b.g.ambig[id] = c
		b.warn(estate.Pos{}, "id %q names %d objects (%s); refer to them as kind:id", id, len(idx), strings.Join(c, ", "))
	}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// resolve finds id among nodes of the preferred kinds, in order.
func (b *builder) resolve(id string, kinds ...NodeKind) (int32, bool) {
	if cands, ok := b.dups[id]; ok {
		for _, want := range kinds {
			for _, i := range cands {
				if b.g.Nodes[i].Kind == want {
					return i, true
				}
			}
		}
		return -1, false
	}
	i, ok := b.g.byID[id]
	if !ok || i == 0 && id == OutsiderID {
		return -1, false
	}
	for _, want := range kinds {
		if b.g.Nodes[i].Kind == want {
			return i, true
		}
	}
	return -1, false
}

func kindList(kinds []NodeKind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = k.String()
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func (b *builder) edge(e Edge) {
	if e.From == e.To {
		return // self-loops carry no information; grants warn separately
	}
	if e.Priv == None {
		return
	}
	b.edges = append(b.edges, e)
}

func (b *builder) expired(d *estate.Date) bool {
	return d != nil && !b.opts.Now.IsZero() && d.Time.Before(b.opts.Now)
}

var (
	subjectKinds = []NodeKind{KindIdentity, KindGroup, KindTool, KindVendor, KindAsset, KindTenant, KindProvider}
	targetKinds  = []NodeKind{KindTenant, KindTool, KindAsset, KindIdentity, KindGroup, KindProvider}
)

func (b *builder) derive(e *estate.Estate) {
	// Group membership: both Group.Members and Identity.Groups.
	type pair struct{ a, b int32 }
	member := make(map[pair]bool)
	for i := range e.Groups {
		gr := &e.Groups[i]
		gi, _ := b.resolve(gr.ID, KindGroup)
		if gr.Home != "" && gr.Home != estate.MSP {
			if _, ok := b.resolve(gr.Home, KindTenant); !ok {
				b.problem(gr.Pos, "group "+gr.ID, "home %q is neither %q nor a known tenant", gr.Home, estate.MSP)
			}
		}
		for _, m := range gr.Members {
			mi, ok := b.resolve(m, KindIdentity, KindGroup)
			if !ok {
				b.problem(gr.Pos, "group "+gr.ID, "member %q is not a known identity or group", m)
				continue
			}
			if mi == gi {
				b.warn(gr.Pos, "group %s lists itself as a member; ignored", gr.ID)
				continue
			}
			if !member[pair{mi, gi}] {
				member[pair{mi, gi}] = true
				b.edge(Edge{From: mi, To: gi, Priv: Full, Kind: EdgeMember, Pos: gr.Pos})
			}
		}
	}
	msp := estate.MSP
	var idps, mspIdPs []int32
	for i := range e.Identities {
		x := &e.Identities[i]
		xi, _ := b.resolve(x.ID, KindIdentity)
		for _, gid := range x.Groups {
			gi, ok := b.resolve(gid, KindGroup)
			if !ok {
				b.problem(x.Pos, "identity "+x.ID, "group %q is not a known group", gid)
				continue
			}
			if !member[pair{xi, gi}] {
				member[pair{xi, gi}] = true
				b.edge(Edge{From: xi, To: gi, Priv: Full, Kind: EdgeMember, Pos: x.Pos})
			}
		}
		if x.Home != "" && x.Home != msp {
			if _, ok := b.resolve(x.Home, KindTenant); !ok {
				b.problem(x.Pos, "identity "+x.ID, "home %q is neither %q nor a known tenant", x.Home, msp)
			}
		}
	}
	// Tools: vendor, GDAP.
	for i := range e.Tools {
		t := &e.Tools[i]
		ti, _ := b.resolve(t.ID, KindTool)
		n := &b.g.Nodes[ti]
		if t.Vendor != "" {
			if vi, ok := b.resolve(t.Vendor, KindVendor); ok {
				b.edge(Edge{From: vi, To: ti, Priv: Full, Kind: EdgeSupply, Why: "vendor ships the tool's software and updates", Pos: t.Pos})
			}
		}
		if t.Kind == estate.ToolIdP {
			idps = append(idps, ti)
			if n.Home == msp {
				mspIdPs = append(mspIdPs, ti)
			}
		}
		if t.Kind == estate.ToolGDAP && t.GDAP != nil {
			gd := t.GDAP
			ci, ok := b.resolve(gd.Customer, KindTenant)
			if !ok {
				b.problem(t.Pos, "tool "+t.ID, "gdap.customer %q is not a known tenant", gd.Customer)
				continue
			}
			for _, ag := range gd.AccessGroups {
				gi, ok := b.resolve(ag, KindGroup)
				if !ok {
					b.problem(t.Pos, "tool "+t.ID, "gdap.access_groups: %q is not a known group", ag)
					continue
				}
				b.edge(Edge{From: gi, To: ti, Priv: Full, Kind: EdgeAccess, Why: "GDAP access group", Pos: t.Pos})
			}
			inactive := gd.Status.Inactive() || b.expired(gd.EndDate)
			for _, as := range gd.Assignments {
				gi, ok := b.resolve(as.Group, KindGroup)
				if !ok {
					b.problem(as.Pos, "tool "+t.ID, "gdap.assignments: %q is not a known group", as.Group)
					continue
				}
				if inactive {
					continue
				}
				roles := as.Roles
				if len(roles) == 0 {
					roles = gd.Roles
				}
				p, why := rolesPriv(roles)
				if p == None {
					p, why = Read, "no roles listed"
				}
				mode := "active"
				if as.Eligible() {
					mode = "eligible, activated just in time"
				}
				b.edge(Edge{From: gi, To: ci, Priv: p, Kind: EdgeAccess, JIT: as.Eligible(), Why: "GDAP access group (" + mode + ") in " + t.ID + ": " + why, Pos: as.Pos})
			}
			if gd.Status.Inactive() || b.expired(gd.EndDate) {
				b.warn(t.Pos, "GDAP relationship %s (%s) is %s; no edge to %s", t.ID, firstNonEmpty(string(gd.Status), "past its end date"), "inactive", gd.Customer)
				continue
			}
			p, why := rolesPriv(gd.Roles)
			if p == None {
				p, why = Read, "GDAP relationship (no roles listed)"
			}
			b.edge(Edge{From: ti, To: ci, Priv: p, Kind: EdgeGDAP, Why: "GDAP roles: " + why, Pos: t.Pos})
		}
	}
	// Entry points into tools.
	for i := range e.Tools {
		t := &e.Tools[i]
		ti, _ := b.resolve(t.ID, KindTool)
		b.edge(Edge{From: 0, To: ti, Priv: Admin, Kind: EdgeEntry, Req: ReqExposedNoMFA, Why: "internet-exposed console without MFA", Pos: t.Pos})
		b.edge(Edge{From: 0, To: ti, Priv: Full, Kind: EdgeEntry, Req: ReqExposedKEV, Why: "internet-exposed with a known-exploited vulnerability", Pos: t.Pos})
	}
	// Identities: IdP control, directory roles, password spraying.
	for i := range e.Identities {
		x := &e.Identities[i]
		xi, _ := b.resolve(x.ID, KindIdentity)
		home := x.Home
		if home == "" {
			home = msp
		}
		for _, p := range idps {
			if b.g.Nodes[p].Home == home {
				b.edge(Edge{From: p, To: xi, Priv: Full, Kind: EdgeIdP, Why: "identity provider authenticates the account", Pos: b.g.Nodes[p].Pos})
			}
		}
		if len(x.Roles) > 0 {
			p, why := rolesPriv(x.Roles)
			if home == msp {
				if p == Full {
					for _, d := range mspIdPs {
						b.edge(Edge{From: xi, To: d, Priv: Full, Kind: EdgeRole, Why: "MSP directory roles: " + why, Pos: x.Pos})
					}
				}
			} else if ti, ok := b.resolve(home, KindTenant); ok && p != None {
				b.edge(Edge{From: xi, To: ti, Priv: p, Kind: EdgeRole, Why: "directory roles: " + why, Pos: x.Pos})
			}
		}
		switch x.Kind {
		case estate.KindAPIToken: // a token cannot be sprayed; it leaks (vault, scripts) instead
		default:
			b.edge(Edge{From: 0, To: xi, Priv: Full, Kind: EdgeEntry, Req: ReqNoMFA, Why: "account without MFA (password spraying, credential stuffing)", Pos: x.Pos})
		}
	}
	// Assets: agents, host → tenant, host → tool, entry points.
	hostTool := make(map[string][]int32)
	for i := range e.Tools {
		t := &e.Tools[i]
		if h := hostOf(t.Host); h != "" {
			ti, _ := b.resolve(t.ID, KindTool)
			hostTool[h] = append(hostTool[h], ti)
		}
	}
	for i := range e.Assets {
		a := &e.Assets[i]
		ai, _ := b.resolve(a.ID, KindAsset)
		for _, ag := range a.Agents {
			ti, ok := b.resolve(ag, KindTool)
			if !ok {
				b.problem(a.Pos, "asset "+a.ID, "agents: %q is not a known tool", ag)
				continue
			}
			why := "agent runs on the host"
			tf := &b.acc.Tools[b.toolIndex(ti)]
			if tf.Exec {
				why = "agent runs scripts and software as SYSTEM on the host"
			}
			b.edge(Edge{From: ti, To: ai, Priv: PrivOf(tf.EndpointPriv), Kind: EdgeAgent, Why: why, Pos: a.Pos})
		}
		if a.Tenant == "" || a.Tenant == msp {
			if h := strings.ToLower(a.Hostname); h != "" {
				for _, ti := range hostTool[h] {
					b.edge(Edge{From: ai, To: ti, Priv: Full, Kind: EdgeHost, Why: "host runs the tool", Pos: a.Pos})
				}
			}
			if pi, ok := b.resolve(msp, KindProvider); ok {
				p, why := hostPriv(a)
				b.edge(Edge{From: ai, To: pi, Priv: p, Kind: EdgeHost, Why: strings.Replace(why, "tenant", "MSP", 1), Pos: a.Pos})
			}
		} else if ti, ok := b.resolve(a.Tenant, KindTenant); ok {
			p, why := hostPriv(a)
			b.edge(Edge{From: ai, To: ti, Priv: p, Kind: EdgeHost, Why: why, Pos: a.Pos})
		} else {
			b.problem(a.Pos, "asset "+a.ID, "tenant %q is neither %q nor a known tenant", a.Tenant, msp)
		}
		if len(a.InternetPorts) > 0 {
			b.edge(Edge{From: 0, To: ai, Priv: Full, Kind: EdgeEntry, Req: ReqExposedKEV, Why: "internet-facing with a known-exploited vulnerability", Pos: a.Pos})
			if remoteLogin(a.InternetPorts) {
				b.edge(Edge{From: 0, To: ai, Priv: Admin, Kind: EdgeEntry, Req: ReqExposed, Why: "remote-login port open to the internet (brute force)", Pos: a.Pos})
			}
		}
	}
	// Vendors.
	for i := range e.Vendors {
		v := &e.Vendors[i]
		vi, _ := b.resolve(v.ID, KindVendor)
		for _, s := range v.Supplies {
			ti, ok := b.resolve(s, KindTool)
			if !ok {
				b.problem(v.Pos, "vendor "+v.ID, "supplies %q, which is not a known tool", s)
				continue
			}
			b.edge(Edge{From: vi, To: ti, Priv: Full, Kind: EdgeSupply, Why: "vendor ships the tool's software and updates", Pos: v.Pos})
		}
	}
	// Subcontractor staff: listed by the vendor, or a guest account from
	// one of its domains (see access.VendorOf).
	for i := range e.Identities {
		v := b.acc.Identities[i].Vendor
		if v == "" {
			continue
		}
		vi, ok := b.resolve(v, KindVendor)
		if !ok {
			continue
		}
		xi, _ := b.resolve(e.Identities[i].ID, KindIdentity)
		b.edge(Edge{From: vi, To: xi, Priv: Full, Kind: EdgeStaff, Why: "the vendor's own staff account", Pos: e.Identities[i].Pos})
		// ...and the staff account exercises the vendor's access: whoever
		// signs in as it holds every grant the vendor holds (assess judges
		// the vendor's access by its staff's sign-in).
		b.edge(Edge{From: xi, To: vi, Priv: Full, Kind: EdgeStaff, Why: "staff account exercising the vendor's access", Pos: e.Identities[i].Pos})
	}
	// Backups.
	for i := range e.Backups {
		bk := &e.Backups[i]
		if bk.Console == "" || bk.Tenant == "" || bk.Tenant == msp {
			continue
		}
		ci, ok := b.resolve(bk.Console, KindTool)
		if !ok {
			b.problem(bk.Pos, "backup "+bk.ID, "console %q is not a known tool", bk.Console)
			continue
		}
		ti, ok := b.resolve(bk.Tenant, KindTenant)
		if !ok {
			b.problem(bk.Pos, "backup "+bk.ID, "tenant %q is not a known tenant", bk.Tenant)
			continue
		}
		b.edge(Edge{From: ci, To: ti, Priv: Operate, Kind: EdgeBackup, Why: "backup console can restore or delete the tenant's backups", Pos: bk.Pos})
	}
	// Grants.
	for i := range e.Grants {
		gr := &e.Grants[i]
		si, sok := b.resolve(gr.Subject, subjectKinds...)
		ti, tok := b.resolve(gr.Target, targetKinds...)
		obj := "grant " + gr.ID
		if gr.ID == "" {
			obj = fmt.Sprintf("grant #%d", i+1)
		}
		if !sok {
			b.problem(gr.Pos, obj, "subject %q is not a known %s", gr.Subject, kindList(subjectKinds))
		}
		if !tok {
			b.problem(gr.Pos, obj, "target %q is not a known %s", gr.Target, kindList(targetKinds))
		}
		p := PrivOf(b.acc.Grants[i])
		if p == None {
			b.problem(gr.Pos, obj, "privilege %q is not one of read, operate, admin, full_control", gr.Privilege)
		}
		if !sok || !tok || p == None {
			continue
		}
		if si == ti {
			b.warn(gr.Pos, "%s grants %s control of itself; ignored (self-loop)", obj, gr.Subject)
			continue
		}
		if b.expired(gr.Expires) {
			b.warn(gr.Pos, "%s expired on %s; ignored", obj, gr.Expires)
			continue
		}
		ed := Edge{From: si, To: ti, Priv: p, Kind: EdgeGrant, JIT: !gr.IsStanding(), Grant: gr.ID, Pos: gr.Pos}
		if gr.ID == "" {
			ed.Grant = fmt.Sprintf("grant#%d", i+1)
		}
		if len(gr.Roles) > 0 {
			ed.Why = "roles: " + strings.Join(gr.Roles, ", ")
		}
		if b.acc.Grants[i] != gr.Privilege {
			ed.Why = strings.TrimPrefix(ed.Why+"; ", "; ") + string(gr.Privilege) + " on a tool that runs code on endpoints as SYSTEM"
		}
		if b.g.Nodes[si].Kind == KindTool && estate.ToolKind(b.g.Nodes[si].Sub) == estate.ToolVault && b.g.Nodes[ti].Kind == KindIdentity {
			ed.Kind = EdgeCred
			ed.Req = ReqNoPRMFA
			ed.Why = "vault stores the account's credentials"
		}
		b.edge(ed)
	}
}

// hostOf extracts a lower-case host name from a host or URL.
func hostOf(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			return strings.ToLower(u.Hostname())
		}
	}
	if h, _, ok := strings.Cut(s, ":"); ok {
		s = h
	}
	if h, _, ok := strings.Cut(s, "/"); ok {
		s = h
	}
	return strings.ToLower(s)
}

func remoteLogin(ports []int) bool {
	for _, p := range ports {
		switch p {
		case 22, 23, 445, 3389, 5900, 5985, 5986:
			return true
		}
	}
	return false
}

// hostPriv is the privilege over its tenant that controlling an asset gives.
func hostPriv(a *estate.Asset) (Priv, string) {
	k := strings.ToLower(strings.ReplaceAll(a.Kind, "-", "_"))
	switch k {
	case "domain_controller", "dc", "identity_server", "hypervisor", "ad", "active_directory":
		return Full, a.Kind + " controls the tenant"
	}
	if a.Critical {
		return Admin, "critical " + firstNonEmpty(a.Kind, "asset")
	}
	switch k {
	case "server", "nas", "firewall", "file_server", "database", "storage", "router", "switch":
		return Operate, a.Kind + " in the tenant"
	}
	return Read, firstNonEmpty(a.Kind, "asset") + " in the tenant"
}

// implied adds the access the estate implies without a written grant
// (access.Implication): an RMM or remote-access agent on a tenant's
// endpoints gives the tool its endpoint privilege over the tenant.
func (b *builder) implied() {
	for _, im := range b.acc.Implied {
		if im.Derived {
			continue // GDAP: the relationship's own edges carry it
		}
		si, ok1 := b.resolve(im.Subject, KindTool)
		ti, ok2 := b.resolve(im.Target, KindTenant)
		if !ok1 || !ok2 {
			continue
		}
		b.edge(Edge{From: si, To: ti, Priv: PrivOf(im.Privilege), Kind: EdgeGrant, Grant: "implied:" + im.Subject + "->" + im.Target,
			Why: "implied: " + im.Because, Pos: im.Pos})
	}
}

// rolesPriv maps directory / GDAP role names to a privilege over the tenant
// (access.RolePrivilege, the one mapping assess uses too).
func rolesPriv(roles []string) (Priv, string) {
	p, why := access.RolePrivilege(roles)
	return PrivOf(p), why
}

func (b *builder) finish() {
	g := b.g
	n := len(g.Nodes)
	g.Edges = b.edges
	g.tbit = make([]int32, n)
	for i := range g.tbit {
		g.tbit[i] = -1
	}
	for bit, ti := range g.tenants {
		g.tbit[ti] = int32(bit)
	}
	g.adj = buildAdj(n, g.Edges)
}

func buildAdj(n int, edges []Edge) *adjacency {
	a := &adjacency{start: make([]int32, n+1), to: make([]int32, len(edges)), edge: make([]int32, len(edges))}
	for i := range edges {
		a.start[edges[i].From+1]++
	}
	for i := 1; i <= n; i++ {
		a.start[i] += a.start[i-1]
	}
	pos := make([]int32, n)
	copy(pos, a.start[:n])
	for i := range edges {
		f := edges[i].From
		s := pos[f]
		pos[f]++
		a.to[s] = edges[i].To
		a.edge[s] = int32(i)
	}
	return a
}
