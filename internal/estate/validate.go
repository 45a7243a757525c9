package estate

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
)

// Validate checks an estate built in code or collected (no file positions):
// required fields, enum values, duplicate ids and dangling references. Load
// runs the same checks with file positions.
func Validate(e *Estate) error {
	var p problems
	v := &validator{e: e, probs: &p, loc: func(obj Pos, _ string, _ int, fallback string) (Pos, string, bool) { return obj, fallback, true }}
	v.checkEnums = true
	v.run()
	return p.err()
}

// Object kinds in the shared id namespace.
const (
	objProvider = "provider"
	objTenant   = "tenant"
	objIdentity = "identity"
	objGroup    = "group"
	objTool     = "tool"
	objGrant    = "grant"
	objAsset    = "asset"
	objBackup   = "backup"
	objIRPlan   = "ir_plan"
	objContract = "contract"
	objVendor   = "vendor"
)

// kindNames indexes the object kinds so an id entry stays small (the id
// map of a 500,000-object estate is the validator's main cost).
var kindNames = []string{objProvider, objTenant, objIdentity, objGroup, objTool, objGrant, objAsset, objBackup, objIRPlan, objContract, objVendor}

func kindIndex(kind string) uint8 {
	for i, k := range kindNames {
		if k == kind {
			return uint8(i)
		}
	}
	panic("estate: unknown object kind " + kind)
}

type idEntry struct {
	kind uint8
	pos  *Pos // the object's Pos field (the slices are not modified while validating)
}

type validator struct {
	e     *Estate
	probs *problems
	// loc maps (object position, field path relative to the object, list
	// element or -1, fallback path) to the field's position and full path.
	loc        func(obj Pos, rel string, elem int, fallback string) (Pos, string, bool)
	ids        map[string]idEntry
	checkEnums bool // the decoder already checks enums for loaded files
}

// obj is one object being checked: its list name, index within its file, position.
type obj struct {
	list string
	i    int
	pos  Pos
}

func (v *validator) errAt(o obj, rel string, elem int, msg, expected string) {
	fb := fmt.Sprintf("%s[%d].%s", o.list, o.i, rel)
	if o.list == "provider" || o.list == "settings" {
		fb = o.list + "." + rel
	}
	if elem >= 0 {
		fb += "[" + strconv.Itoa(elem) + "]"
	}
	pos, path, ok := v.loc(o.pos, rel, elem, fb)
	if ok {
		v.probs.add(pos, path, msg, expected)
	}
}

// local numbers objects within their file (objects from one file are contiguous).
type local struct {
	file string
	base int
}

func (l *local) at(list string, i int, p Pos) obj {
	if i == 0 || p.File != l.file {
		l.file, l.base = p.File, i
	}
	return obj{list: list, i: i - l.base, pos: p}
}

func (v *validator) run() {
	e := v.e
	n := 1 + len(e.Tenants) + len(e.Identities) + len(e.Groups) + len(e.Tools) + len(e.Grants) +
		len(e.Assets) + len(e.Backups) + len(e.IRPlans) + len(e.Contracts) + len(e.Vendors)
	v.ids = make(map[string]idEntry, n)
	v.collectIDs()

	var lc local
	for i := range e.Tenants {
		t := &e.Tenants[i]
		o := lc.at("tenants", i, t.Pos)
		v.enum(o, "criticality", string(t.Criticality), enumValues[reflect.TypeFor[Criticality]()], true)
		if t.Endpoints < 0 {
			v.errAt(o, "endpoints", -1, "negative endpoint count", "a count ≥ 0")
		}
		for j, n := range t.Detection.BenignNetworks {
			if _, err := ParseNetwork(n); err != nil {
				v.errAt(o, "detection.benign_networks", j, fmt.Sprintf("%q is not an address or CIDR", n), "an address or CIDR such as 203.0.113.0/24")
			}
		}
	}
	lc = local{}
	for i := range e.Identities {
		x := &e.Identities[i]
		o := lc.at("identities", i, x.Pos)
		v.required(o, "kind", string(x.Kind))
		v.enum(o, "kind", string(x.Kind), enumValues[reflect.TypeFor[IdentityKind]()], true)
		v.enum(o, "personnel", x.Personnel, fieldEnums["Identity.personnel"], true)
		v.party(o, "home", x.Home, true)
		for j, m := range x.MFA.Methods {
			v.enumElem(o, "mfa.methods", j, string(m), enumValues[reflect.TypeFor[MFAMethod]()])
		}
		for j, g := range x.Groups {
			v.ref(o, "groups", j, g, "a group id", objGroup)
		}
	}
	lc = local{}
	for i := range e.Groups {
		g := &e.Groups[i]
		o := lc.at("groups", i, g.Pos)
		v.party(o, "home", g.Home, true)
		for j, m := range g.Members {
			v.ref(o, "members", j, m, "an identity or group id", objIdentity, objGroup)
		}
	}
	lc = local{}
	for i := range e.Tools {
		t := &e.Tools[i]
		o := lc.at("tools", i, t.Pos)
		v.required(o, "kind", string(t.Kind))
		v.enum(o, "kind", string(t.Kind), enumValues[reflect.TypeFor[ToolKind]()], true)
		v.party(o, "owner", t.Owner, false)
		for j, m := range t.MFAMethods {
			v.enumElem(o, "mfa_methods", j, string(m), enumValues[reflect.TypeFor[MFAMethod]()])
		}
		v.ports(o, "ports", t.Ports)
		if t.Logging.RetentionDays < 0 {
			v.errAt(o, "logging.retention_days", -1, "negative retention", "days ≥ 0")
		}
		switch {
		case t.Kind == ToolGDAP && t.GDAP == nil:
			v.errAt(o, "gdap", -1, "missing required field for a tool of kind gdap", "a gdap: section with customer, roles, access_groups")
		case t.Kind != ToolGDAP && t.GDAP != nil && t.Kind != "":
			v.errAt(o, "gdap", -1, "gdap section on a tool of kind "+string(t.Kind), "kind: gdap")
		}
		if t.GDAP != nil {
			if t.GDAP.Customer == "" {
				v.errAt(o, "gdap.customer", -1, "missing required field", "the customer's tenant id")
			} else {
				v.ref(o, "gdap.customer", -1, t.GDAP.Customer, "a tenant id", objTenant)
			}
			for j, g := range t.GDAP.AccessGroups {
				v.ref(o, "gdap.access_groups", j, g, "a group id", objGroup)
			}
			for j, g := range t.GDAP.Active {
				v.ref(o, "gdap.active", j, g, "a group id", objGroup)
			}
			for j, g := range t.GDAP.Eligible {
				v.ref(o, "gdap.eligible", j, g, "a group id", objGroup)
			}
			for j := range t.GDAP.Assignments {
				a := &t.GDAP.Assignments[j]
				ao := obj{list: fmt.Sprintf("%s[%d].gdap.assignments", o.list, o.i), i: j, pos: a.Pos}
				if v.required(ao, "group", a.Group) {
					v.ref(ao, "group", -1, a.Group, "a group id", objGroup)
				}
			}
		}
		for j := range t.Logins {
			l := &t.Logins[j]
			lo := obj{list: fmt.Sprintf("%s[%d].logins", o.list, o.i), i: j, pos: l.Pos}
			if v.required(lo, "identity", l.Identity) {
				v.ref(lo, "identity", -1, l.Identity, "an identity id", objIdentity)
			}
		}
	}
	lc = local{}
	for i := range e.Grants {
		g := &e.Grants[i]
		o := lc.at("grants", i, g.Pos)
		if v.required(o, "subject", g.Subject) {
			v.ref(o, "subject", -1, g.Subject, "an identity, group, tool or vendor id", objIdentity, objGroup, objTool, objVendor)
		}
		if v.required(o, "target", g.Target) {
			v.ref(o, "target", -1, g.Target, "a tenant, tool, asset, identity or group id, or the provider id", objTenant, objTool, objAsset, objIdentity, objGroup, objProvider)
		}
		if v.required(o, "privilege", string(g.Privilege)) {
			v.enum(o, "privilege", string(g.Privilege), enumValues[reflect.TypeFor[Privilege]()], true)
		}
		v.enum(o, "mode", g.Mode, fieldEnums["Grant.mode"], true)
		if g.Via != "" {
			v.ref(o, "via", -1, g.Via, "a tool id", objTool)
		}
		if g.Subject != "" && g.Subject == g.Target {
			v.errAt(o, "target", -1, "grant from "+strconv.Quote(g.Subject)+" to itself", "a target different from the subject")
		}
	}
	lc = local{}
	for i := range e.Assets {
		a := &e.Assets[i]
		o := lc.at("assets", i, a.Pos)
		v.party(o, "tenant", a.Tenant, true)
		v.ports(o, "internet_ports", a.InternetPorts)
		for j, t := range a.Agents {
			v.ref(o, "agents", j, t, "a tool id", objTool)
		}
		for j, s := range a.Software {
			if s.Vendor == "" || s.Product == "" {
				v.errAt(o, fmt.Sprintf("software[%d]", j), -1, "software without vendor and product", "vendor and product")
			}
		}
	}
	lc = local{}
	for i := range e.Backups {
		b := &e.Backups[i]
		o := lc.at("backups", i, b.Pos)
		v.party(o, "tenant", b.Tenant, true)
		if b.Console != "" {
			v.ref(o, "console", -1, b.Console, "a tool id", objTool)
		}
		if b.RPOHours < 0 {
			v.errAt(o, "rpo_hours", -1, "negative RPO/RTO", "hours ≥ 0")
		}
		if b.RTOHours < 0 {
			v.errAt(o, "rto_hours", -1, "negative RPO/RTO", "hours ≥ 0")
		}
	}
	lc = local{}
	for i := range e.IRPlans {
		p := &e.IRPlans[i]
		v.party(lc.at("ir_plans", i, p.Pos), "party", p.Party, true)
	}
	lc = local{}
	for i := range e.Contracts {
		c := &e.Contracts[i]
		o := lc.at("contracts", i, c.Pos)
		if v.required(o, "tenant", c.Tenant) {
			v.ref(o, "tenant", -1, c.Tenant, "a tenant id", objTenant)
		}
		for j, cl := range c.Clauses {
			v.enumElem(o, "clauses", j, cl, Clauses)
		}
		if c.NotificationHours < 0 {
			v.errAt(o, "notification_hours", -1, "negative notification window", "hours ≥ 0")
		}
		if c.LogRetentionDays < 0 {
			v.errAt(o, "log_retention_days", -1, "negative log retention period", "days ≥ 0")
		}
	}
	lc = local{}
	for i := range e.Vendors {
		x := &e.Vendors[i]
		o := lc.at("vendors", i, x.Pos)
		for j, t := range x.Supplies {
			v.ref(o, "supplies", j, t, "a tool id", objTool)
		}
		for j, id := range x.Staff {
			v.ref(o, "staff", j, id, "an identity id", objIdentity)
		}
	}
	lc = local{}
	for i := range e.Attestations {
		a := &e.Attestations[i]
		o := lc.at("attestations", i, a.Pos)
		v.required(o, "control", a.Control)
		v.party(o, "subject", a.Subject, true)
		v.required(o, "by", a.By)
		if a.Expires == nil {
			v.errAt(o, "expires", -1, "missing required field", "an expiry date: attestations must be renewed")
		}
	}
	lc = local{}
	for i := range e.Exceptions {
		x := &e.Exceptions[i]
		o := lc.at("exceptions", i, x.Pos)
		v.required(o, "control", x.Control)
		if v.required(o, "subject", x.Subject) && x.Subject != v.e.Provider.ID && x.Subject != MSP {
			v.ref(o, "subject", -1, x.Subject, `"msp", a tenant id or an object id`,
				objTenant, objIdentity, objGroup, objTool, objGrant, objAsset, objBackup, objIRPlan, objContract, objVendor)
		}
		v.required(o, "owner", x.Owner)
		v.required(o, "reason", x.Reason)
		if x.Expires == nil {
			v.errAt(o, "expires", -1, "missing required field", "an expiry date: exceptions must be re-checked")
		}
	}
	lc = local{}
	for i := range e.DomainChecks {
		d := &e.DomainChecks[i]
		o := lc.at("domain_checks", i, d.Pos)
		v.party(o, "tenant", d.Tenant, true)
		v.required(o, "domain", d.Domain)
		if d.DMARC != nil && (d.DMARC.Pct < 0 || d.DMARC.Pct > 100) {
			v.errAt(o, "dmarc.pct", -1, "percentage out of range", "0–100")
		}
	}
	lc = local{}
	for i := range e.Exposures {
		x := &e.Exposures[i]
		o := lc.at("exposures", i, x.Pos)
		if v.required(o, "object", x.Object) {
			v.ref(o, "object", -1, x.Object, "a tool or asset id", objTool, objAsset)
		}
		if x.Tenant != "" {
			v.party(o, "tenant", x.Tenant, false)
		}
		if x.Port < 1 || x.Port > 65535 {
			v.errAt(o, "port", -1, "port out of range "+strconv.Itoa(x.Port), "1–65535")
		}
	}
	for i, g := range e.CollectionGap {
		if g.Tenant != "" {
			v.party(obj{list: "collection_gaps", i: i}, "tenant", g.Tenant, false)
		}
	}
	s := e.Settings
	so := obj{list: "settings", pos: s.Pos}
	if s.MaxTenantShare < 0 || s.MaxTenantShare > 1 {
		v.errAt(so, "max_tenant_share", -1, "share out of range", "a fraction between 0 and 1")
	}
	for _, f := range []struct {
		name string
		val  int
	}{{"stale_days", s.StaleDays}, {"patch_days", s.PatchDays}, {"log_retention_days", s.LogRetentionDays},
		{"restore_test_days", s.RestoreTestDays}, {"ir_exercise_days", s.IRExerciseDays},
		{"contract_review_days", s.ContractReviewDays}, {"vendor_review_days", s.VendorReviewDays},
		{"evidence_max_age_days", s.EvidenceMaxAgeDays}, {"notification_max_hours", s.NotificationMaxHours}} {
		if f.val < 0 {
			v.errAt(so, f.name, -1, "negative threshold", "a number ≥ 0 (0 means the default)")
		}
	}
}

// collectIDs builds the shared id namespace and reports missing and duplicate ids.
func (v *validator) collectIDs() {
	e := v.e
	add := func(o obj, kind, id string, pos *Pos) {
		if strings.TrimSpace(id) == "" {
			v.errAt(o, "id", -1, "missing required field", "a unique id")
			return
		}
		if strings.ContainsAny(id, " \t\r\n;|,") {
			v.errAt(o, "id", -1, "invalid id "+strconv.Quote(id), "an id without spaces, commas, semicolons or |")
		}
		if prev, ok := v.ids[id]; ok {
			where := ""
			if p := prev.pos.String(); p != "" {
				where = " at " + p
			}
			v.errAt(o, "id", -1, "duplicate id "+strconv.Quote(id)+" (already used by a "+kindNames[prev.kind]+where+")", "ids unique across all object kinds")
			return
		}
		v.ids[id] = idEntry{kind: kindIndex(kind), pos: pos}
	}
	add(obj{list: "provider", pos: e.Provider.Pos}, objProvider, e.Provider.ID, &e.Provider.Pos)
	var lc local
	for i := range e.Tenants {
		add(lc.at("tenants", i, e.Tenants[i].Pos), objTenant, e.Tenants[i].ID, &e.Tenants[i].Pos)
	}
	lc = local{}
	for i := range e.Identities {
		add(lc.at("identities", i, e.Identities[i].Pos), objIdentity, e.Identities[i].ID, &e.Identities[i].Pos)
	}
	lc = local{}
	for i := range e.Groups {
		add(lc.at("groups", i, e.Groups[i].Pos), objGroup, e.Groups[i].ID, &e.Groups[i].Pos)
	}
	lc = local{}
	for i := range e.Tools {
		add(lc.at("tools", i, e.Tools[i].Pos), objTool, e.Tools[i].ID, &e.Tools[i].Pos)
	}
	lc = local{}
	for i := range e.Grants {
		add(lc.at("grants", i, e.Grants[i].Pos), objGrant, e.Grants[i].ID, &e.Grants[i].Pos)
	}
	lc = local{}
	for i := range e.Assets {
		add(lc.at("assets", i, e.Assets[i].Pos), objAsset, e.Assets[i].ID, &e.Assets[i].Pos)
	}
	lc = local{}
	for i := range e.Backups {
		add(lc.at("backups", i, e.Backups[i].Pos), objBackup, e.Backups[i].ID, &e.Backups[i].Pos)
	}
	lc = local{}
	for i := range e.IRPlans {
		add(lc.at("ir_plans", i, e.IRPlans[i].Pos), objIRPlan, e.IRPlans[i].ID, &e.IRPlans[i].Pos)
	}
	lc = local{}
	for i := range e.Contracts {
		add(lc.at("contracts", i, e.Contracts[i].Pos), objContract, e.Contracts[i].ID, &e.Contracts[i].Pos)
	}
	lc = local{}
	for i := range e.Vendors {
		add(lc.at("vendors", i, e.Vendors[i].Pos), objVendor, e.Vendors[i].ID, &e.Vendors[i].Pos)
	}
}

func (v *validator) required(o obj, rel, val string) bool {
	if strings.TrimSpace(val) == "" {
		v.errAt(o, rel, -1, "missing required field", "")
		return false
	}
	return true
}

// enum checks a value the decoder may already have checked (in-code estates).
func (v *validator) enum(o obj, rel, val string, allowed []string, optional bool) {
	if !v.checkEnums || (val == "" && optional) || contains(allowed, val) {
		return
	}
	v.errAt(o, rel, -1, "invalid value "+strconv.Quote(val), "one of "+strings.Join(allowed, ", "))
}

func (v *validator) enumElem(o obj, rel string, j int, val string, allowed []string) {
	if !v.checkEnums || contains(allowed, val) {
		return
	}
	v.errAt(o, rel, j, "invalid value "+strconv.Quote(val), "one of "+strings.Join(allowed, ", "))
}

// party checks a field naming "msp" (or the provider id) or a tenant id.
func (v *validator) party(o obj, rel, val string, required bool) {
	if val == "" {
		if required {
			v.errAt(o, rel, -1, "missing required field", `"msp" or a tenant id`)
		}
		return
	}
	if val == MSP || val == v.e.Provider.ID {
		return
	}
	v.ref(o, rel, -1, val, `"msp" or a tenant id`, objTenant)
}

// ref checks that id names an object of one of the kinds.
func (v *validator) ref(o obj, rel string, elem int, id, expected string, kinds ...string) {
	ent, ok := v.ids[id]
	if ok && contains(kinds, kindNames[ent.kind]) {
		return
	}
	if ok {
		v.errAt(o, rel, elem, strconv.Quote(id)+" is a "+kindNames[ent.kind]+", not a valid reference here", expected)
		return
	}
	what := "id"
	if len(kinds) == 1 {
		what = kinds[0]
	}
	v.errAt(o, rel, elem, "unknown "+what+" "+strconv.Quote(id), expected)
}

func (v *validator) ports(o obj, rel string, ports []int) {
	for j, p := range ports {
		if p < 1 || p > 65535 {
			v.errAt(o, rel, j, "port out of range "+strconv.Itoa(p), "1–65535")
		}
	}
}

// ParseNetwork parses an address or a CIDR (an address is its own /32 or
// /128), as tenants' detection.benign_networks hold them.
func ParseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
