package assess

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// The input document for one subject is built directly as ast values (no
// JSON round trip); doc.go documents its schema.

type kv = [2]*ast.Term

// f pairs a key with a value. Keys come from keyTerm, which interns the
// fixed field names so the millions of objects of a large estate share them.
func f(k string, v *ast.Term) kv { return kv{keyTerm(k), v} }

// keyTerms holds one term per field name of the input schema; it is filled
// once (the schema is fixed) and only read afterwards.
var keyTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, k := range strings.Fields(`id name kind human home enabled personnel owner mfa_enforced mfa roles admin
		days_since_sign_in days_since_created admin_tenants principal principal_kind
		privilege privilege_rank standing expired live grant via scope ev_kind ev_id cve ransomware overdue due added
		confirmed required_action management vendor product version host ports internet_exposed logging_enabled
		retention_days segregated days_since_patched delivered customers vendor_listed kev customer global_admin
		auto_extend duration status days_to_end access_groups hostname critical internet_ports
		eol gold_image software scope rpo_hours hours_since_success offline immutable keys_separate
		days_since_restore_test gold_images executive technical procurement days_since_exercised hard_copy
		includes_msp clauses notification_hours days_since_review domain spf spf_all spf_valid dmarc dmarc_policy
		dmarc_pct error object port open service tls_version cert_days_left subject target days_to_expiry supplies
		days_since_assessed access evidence permission reason members mfa_state pr_state compensated idle weak_logins
		break_glass monitored days_since_tested admin_roles account_state account
		encrypted days_since_hard_copy log_retention_days version tenants share limit counts over_limit entry_points
		outsider_admin admin_identities identities_with_admin cross_tenant by_tenant over_limit_n over_limit_weak
		over_limit_weak_n entry_points_n admin_identities_n cross_in tenants_admin tenants_any sub path why reaches
		standing via tenant admins_n reuse_n reuse`) {
		m[k] = ast.StringTerm(k)
	}
	return m
}()

func keyTerm(k string) *ast.Term {
	if t, ok := keyTerms[k]; ok {
		return t
	}
	return ast.StringTerm(k)
}
func obj(items ...kv) *ast.Term { return ast.NewTerm(ast.NewObject(items...)) }
func str(s string) *ast.Term    { return ast.StringTerm(s) }
func num(n int) *ast.Term       { return ast.IntNumberTerm(n) }
func boolean(b bool) *ast.Term  { return ast.BooleanTerm(b) }
func null() *ast.Term           { return ast.NullTerm() }

func boolp(b *bool) *ast.Term {
	if b == nil {
		return null()
	}
	return ast.BooleanTerm(*b)
}

func strs(ss []string) *ast.Term {
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(ts...)
}

func ints(ns []int) *ast.Term {
	ts := make([]*ast.Term, len(ns))
	for i, n := range ns {
		ts[i] = ast.IntNumberTerm(n)
	}
	return ast.ArrayTerm(ts...)
}

func (x *index) daysTerm(d *estate.Date) *ast.Term {
	if n, ok := x.days(d); ok {
		return num(n)
	}
	return null()
}

// mfaLegacy is the "mfa" field: unknown when enforcement or methods are
// not recorded, else the strength.
func mfaLegacy(s estate.MFAStrength, mfaState string) string {
	if mfaState == "unknown" || s == estate.MFAUnknownMethods {
		return "unknown"
	}
	return string(s)
}

func isAdminRole(r string) bool { return access.PrivilegedRole(r) }

// privilegedRoles are the roles among rs that make an account privileged
// (admin or more over its tenant; access.RolePrivilege).
func privilegedRoles(rs []string) []string {
	var out []string
	for _, r := range rs {
		if access.PrivilegedRole(r) {
			out = append(out, r)
		}
	}
	return out
}

func (x *index) identityTerm(ii int) *ast.Term {
	id := &x.e.Identities[ii]
	admin := false
	for _, r := range id.Roles {
		if isAdminRole(r) {
			admin = true
			break
		}
	}
	fa := &x.acc.Identities[ii]
	ms, ps := access.MFAStates(fa.MFA, fa.Enforced, id.Kind == estate.KindAPIToken)
	bg := null()
	if b := id.BreakGlass; b != nil {
		bg = obj(f("monitored", boolp(b.Monitored)), f("days_since_tested", x.daysTerm(b.LastTested)))
	}
	return obj(
		f("id", str(id.ID)),
		f("name", str(firstNonEmpty(id.UPN, id.Name, id.ID))),
		f("kind", str(string(id.Kind))),
		f("human", boolean(fa.Human)),
		f("home", str(nonEmpty(id.Home))),
		f("enabled", boolean(id.IsEnabled())),
		f("personnel", str(id.Personnel)),
		f("owner", str(id.Owner)),
		f("mfa_enforced", boolp(id.MFA.Enforced)),
		f("mfa", str(mfaLegacy(fa.MFA, ms))),
		f("mfa_state", str(ms)),
		f("pr_state", str(ps)),
		f("compensated", str(string(fa.Compensated))),
		f("idle", str(fa.Idle)),
		f("account_state", str(fa.Account)),
		f("vendor", str(fa.Vendor)),
		f("break_glass", bg),
		f("roles", strs(id.Roles)),
		f("admin", boolean(admin)),
		f("days_since_sign_in", x.daysTerm(id.LastSignIn)),
		f("days_since_created", x.daysTerm(id.Created)),
		f("admin_tenants", num(int(x.adminTenants[ii]))),
	)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func (x *index) accessTerm(p *accessPath) *ast.Term {
	principal, kind, live := "", "", !p.expired
	switch {
	case p.identity >= 0:
		id := &x.e.Identities[p.identity]
		principal, kind = id.ID, "identity"
		live = live && id.IsEnabled()
	case p.group >= 0:
		principal, kind = x.e.Groups[p.group].ID, "group"
	case p.vendor >= 0:
		principal, kind = x.e.Vendors[p.vendor].ID, "vendor"
	default: // a tool's own grant (toolAccess)
		principal, kind = x.e.Tools[p.tool].ID, "tool"
	}
	pathID, grant, via := "", "", ""
	evKind, evID := "grant", ""
	if p.grant >= 0 {
		grant = x.e.Grants[p.grant].ID
		pathID, evID = grant, grant
		via = x.e.Grants[p.grant].Via
	}
	if p.tool >= 0 && kind != "tool" {
		via = x.e.Tools[p.tool].ID
		if pathID == "" {
			pathID = via + "/" + principal
			evKind, evID = "tool", via
		}
	}
	return obj(
		f("id", str(pathID)),
		f("principal", str(principal)),
		f("principal_kind", str(kind)),
		f("privilege", str(string(p.priv))),
		f("privilege_rank", num(p.priv.Rank())),
		f("standing", boolean(p.standing)),
		f("expired", boolean(p.expired)),
		f("live", boolean(live)),
		f("grant", str(grant)),
		f("via", str(via)),
		f("roles", strs(p.roles)),
		f("admin_roles", strs(privilegedRoles(p.roles))),
		f("scope", str(p.scope)),
		f("ev_kind", str(evKind)),
		f("ev_id", str(evID)),
	)
}

// principalsInput is the document the principals phase summarises: every
// identity or group with a path into some tenant, with its members'
// facts. It is evaluated once per run, not once per tenant.
func (x *index) principalsInput(st *staticInput) ast.Value {
	memo := map[int]*ast.Term{}
	member := func(ii int) *ast.Term {
		if t, ok := memo[ii]; ok {
			return t
		}
		t := x.identityTerm(ii)
		memo[ii] = t
		return t
	}
	keys := make([]principalKey, 0, len(x.principalUsed))
	for k := range x.principalUsed {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b principalKey) int {
		if a.identity != b.identity {
			return a.identity - b.identity
		}
		if a.group != b.group {
			return a.group - b.group
		}
		return a.vendor - b.vendor
	})
	ps := make([]*ast.Term, 0, len(keys))
	for _, k := range keys {
		var id, kind string
		var ms []*ast.Term
		switch {
		case k.identity >= 0:
			id, kind = x.e.Identities[k.identity].ID, "identity"
		case k.group >= 0:
			id, kind = x.e.Groups[k.group].ID, "group"
		default:
			id, kind = x.e.Vendors[k.vendor].ID, "vendor"
		}
		x.eachMember(k.identity, k.group, k.vendor, func(ii int) { ms = append(ms, member(ii)) })
		ps = append(ps, obj(f("id", str(id)), f("kind", str(kind)), f("members", ast.ArrayTerm(ms...))))
	}
	return ast.NewObject(f("now", st.now), f("settings", st.settings), f("principals", ast.ArrayTerm(ps...)))
}

func (x *index) kevTerm(vs []kev.Vuln) *ast.Term {
	ts := make([]*ast.Term, len(vs))
	for i, v := range vs {
		ts[i] = obj(
			f("cve", str(v.CVE)),
			f("name", str(v.VulnerabilityName)),
			f("ransomware", boolean(v.Ransomware())),
			f("overdue", boolean(v.Overdue(x.now))),
			f("due", str(v.DueDate.String())),
			f("added", str(v.DateAdded.String())),
			f("confirmed", boolean(!v.VersionUnknown)),
			f("required_action", str(v.RequiredAction)),
		)
	}
	return ast.ArrayTerm(ts...)
}

var managementKinds = func() map[estate.ToolKind]bool {
	m := map[estate.ToolKind]bool{}
	for _, k := range estate.ManagementKinds {
		m[k] = true
	}
	return m
}()

func (x *index) toolTerm(ti int) *ast.Term {
	t := &x.e.Tools[ti]
	fa := &x.acc.Tools[ti]
	ms, _ := access.MFAStates(fa.MFA, fa.Enforced, false)
	ret := null()
	if t.Logging.RetentionDays > 0 {
		ret = num(t.Logging.RetentionDays)
	}
	return obj(
		f("id", str(t.ID)),
		f("name", str(firstNonEmpty(t.Name, t.ID))),
		f("kind", str(string(t.Kind))),
		f("owner", str(nonEmpty(t.Owner))),
		f("management", boolean(managementKinds[t.Kind])),
		f("vendor", str(t.Vendor)),
		f("product", str(t.Product)),
		f("version", str(t.Version)),
		f("host", str(t.Host)),
		f("ports", ints(t.Ports)),
		f("internet_exposed", boolp(t.InternetExposed)),
		f("mfa_enforced", boolp(fa.Enforced)),
		f("mfa", str(mfaLegacy(fa.MFA, ms))),
		f("weak_logins", strs(fa.WeakLogins)),
		f("logging_enabled", boolp(t.Logging.Enabled)),
		f("retention_days", ret),
		f("segregated", boolp(t.Logging.Segregated)),
		f("days_since_patched", x.daysTerm(t.LastPatched)),
		f("delivered", boolean(t.Delivered)),
		f("customers", num(int(x.toolCustomers[ti]))),
		f("vendor_listed", boolean(x.toolVendor[ti])),
		f("kev", x.kevTerm(x.toolKEV[ti])),
	)
}

func (x *index) gdapTerm(ti int) *ast.Term {
	t := &x.e.Tools[ti]
	g := t.GDAP
	auto := boolp(g.AutoExtend)
	end := null()
	if g.EndDate != nil {
		end = num(int(g.EndDate.Sub(x.now).Hours() / 24))
	}
	return obj(
		f("id", str(t.ID)),
		f("customer", str(g.Customer)),
		f("roles", strs(g.Roles)),
		f("global_admin", boolean(hasGA(g.Roles))),
		f("auto_extend", auto),
		f("duration", str(string(g.Duration))),
		f("status", str(string(g.Status))),
		f("days_to_end", end),
		f("access_groups", strs(g.AccessGroups)),
	)
}

func (x *index) assetTerm(ai int) *ast.Term {
	a := &x.e.Assets[ai]
	return obj(
		f("id", str(a.ID)),
		f("hostname", str(a.Hostname)),
		f("kind", str(a.Kind)),
		f("critical", boolean(a.Critical)),
		f("internet_ports", ints(a.InternetPorts)),
		f("eol", boolp(a.EndOfLife)),
		f("days_since_patched", x.daysTerm(a.LastPatched)),
		f("gold_image", boolp(a.GoldImage)),
		f("software", ast.IntNumberTerm(len(a.Software))),
		f("kev", x.kevTerm(x.assetKEV[ai])),
	)
}

func (x *index) backupTerm(bi int) *ast.Term {
	b := &x.e.Backups[bi]
	since := null()
	if b.LastSuccess != nil {
		since = num(int(x.now.Sub(b.LastSuccess.Time).Hours()))
	}
	rpo := null()
	if b.RPOHours > 0 {
		rpo = num(b.RPOHours)
	}
	return obj(
		f("id", str(b.ID)),
		f("scope", str(b.Scope)),
		f("rpo_hours", rpo),
		f("hours_since_success", since),
		f("offline", boolp(b.Offline)),
		f("immutable", boolp(b.Immutable)),
		f("encrypted", boolp(b.Encrypted)),
		f("keys_separate", boolp(b.KeysSeparate)),
		f("days_since_restore_test", x.daysTerm(b.LastRestoreTest)),
		f("gold_images", boolp(b.GoldImages)),
	)
}

func (x *index) planTerm(pi int) *ast.Term {
	p := &x.e.IRPlans[pi]
	return obj(
		f("id", str(p.ID)),
		f("executive", str(p.Roles.Executive)),
		f("technical", str(p.Roles.Technical)),
		f("procurement", str(p.Roles.Procurement)),
		f("days_since_exercised", x.daysTerm(p.LastExercised)),
		f("hard_copy", boolp(p.HardCopy)),
		f("days_since_hard_copy", x.daysTerm(p.HardCopyUpdated)),
		f("includes_msp", boolp(p.IncludesMSP)),
	)
}

func (x *index) contractTerm(ci int) *ast.Term {
	c := &x.e.Contracts[ci]
	clauses := make([]kv, len(c.Clauses))
	for i, cl := range c.Clauses {
		clauses[i] = f(cl, boolean(true))
	}
	nh := null()
	if c.NotificationHours > 0 {
		nh = num(c.NotificationHours)
	}
	lr := null()
	if c.LogRetentionDays > 0 {
		lr = num(c.LogRetentionDays)
	}
	return obj(
		f("id", str(c.ID)),
		f("clauses", obj(clauses...)),
		f("notification_hours", nh),
		f("log_retention_days", lr),
		f("days_since_review", x.daysTerm(c.Reviewed)),
	)
}

func (x *index) domainTerm(di int) *ast.Term {
	d := &x.e.DomainChecks[di]
	spf, spfAll, spfValid := false, "", false
	if d.SPF != nil {
		spf, spfAll, spfValid = true, d.SPF.All, d.SPF.Valid
	}
	dmarc, pol, pct := false, "", 0
	if d.DMARC != nil {
		dmarc, pol, pct = true, d.DMARC.Policy, d.DMARC.Pct
		if pct == 0 {
			pct = 100 // DMARC default when pct= is absent
		}
	}
	return obj(
		f("id", str(d.Domain)),
		f("domain", str(d.Domain)),
		f("spf", boolean(spf)),
		f("spf_all", str(spfAll)),
		f("spf_valid", boolean(spfValid)),
		f("dmarc", boolean(dmarc)),
		f("dmarc_policy", str(pol)),
		f("dmarc_pct", num(pct)),
		f("error", str(d.Error)),
	)
}

func exposureID(ex *estate.Exposure) string { return fmt.Sprintf("%s:%d", ex.Host, ex.Port) }

func (x *index) exposureTerm(i int) *ast.Term {
	ex := &x.e.Exposures[i]
	cert := null()
	if ex.CertExpires != nil {
		cert = num(int(ex.CertExpires.Sub(x.now).Hours() / 24))
	}
	return obj(
		f("id", str(exposureID(ex))),
		f("object", str(ex.Object)),
		f("host", str(ex.Host)),
		f("port", num(ex.Port)),
		f("open", boolean(ex.Open)),
		f("service", str(strings.ToLower(ex.Service))),
		f("tls_version", str(ex.TLSVersion)),
		f("cert_days_left", cert),
		f("error", str(ex.Error)),
	)
}

func (x *index) grantTerm(gi int) *ast.Term {
	g := &x.e.Grants[gi]
	exp := null()
	if g.Expires != nil {
		exp = num(int(g.Expires.Sub(x.now).Hours() / 24))
	}
	return obj(
		f("id", str(g.ID)),
		f("subject", str(g.Subject)),
		f("target", str(g.Target)),
		f("privilege", str(string(g.Privilege))),
		f("standing", boolean(g.IsStanding())),
		f("days_to_expiry", exp),
		f("scope", str(g.Scope)),
	)
}

func (x *index) vendorTerm(vi int, grants []int) *ast.Term {
	v := &x.e.Vendors[vi]
	acc := make([]*ast.Term, len(grants))
	for i, gi := range grants {
		g := &x.e.Grants[gi]
		acc[i] = obj(f("grant", str(g.ID)), f("target", str(g.Target)), f("privilege", str(string(g.Privilege))))
	}
	return obj(
		f("id", str(v.ID)),
		f("name", str(firstNonEmpty(v.Name, v.ID))),
		f("kind", str(v.Kind)),
		f("supplies", strs(v.Supplies)),
		f("days_since_assessed", x.daysTerm(v.Assessed)),
		f("access", ast.ArrayTerm(acc...)),
	)
}

func terms(n int, fn func(i int) *ast.Term) *ast.Term {
	ts := make([]*ast.Term, n)
	for i := range ts {
		ts[i] = fn(i)
	}
	return ast.ArrayTerm(ts...)
}

// staticInput holds the parts of the input shared by every subject,
// converted once.
type staticInput struct {
	now, settings, provider, kevInfo *ast.Term
	principals                       *ast.Term // summaries from the principals phase
	extra                            []kv
}

func (x *index) static(kevInfo *ast.Term, extra []kv) *staticInput {
	s := x.settings
	p := &x.e.Provider
	return &staticInput{
		now: str(x.now.UTC().Format(time.RFC3339)),
		settings: obj(
			f("stale_days", num(s.StaleDays)),
			f("patch_days", num(s.PatchDays)),
			f("log_retention_days", num(s.LogRetentionDays)),
			f("restore_test_days", num(s.RestoreTestDays)),
			f("ir_exercise_days", num(s.IRExerciseDays)),
			f("contract_review_days", num(s.ContractReviewDays)),
			f("vendor_review_days", num(s.VendorReviewDays)),
			f("evidence_max_age_days", num(s.EvidenceMaxAgeDays)),
			f("notification_max_hours", num(s.NotificationMaxHours)),
		),
		provider: obj(
			f("id", str(nonEmpty(p.ID))),
			f("name", str(p.Name)),
			f("domains", strs(p.Domains)),
			f("customer_data_segregated", boolp(p.Network.CustomerDataSegregated)),
			f("admin_network_separate", boolp(p.Network.AdminNetworkSeparate)),
		),
		kevInfo: kevInfo,
		extra:   extra,
	}
}

// input builds the document for one subject ("msp" or a tenant id).
func (x *index) input(st *staticInput, subject string) ast.Value {
	s := x.sub(subject)
	items := []kv{
		f("now", st.now),
		f("settings", st.settings),
		f("provider", st.provider),
		f("kev", st.kevInfo),
	}
	if subject == estate.MSP {
		items = append(items, f("subject", obj(f("id", str(estate.MSP)), f("type", str("msp")), f("name", str(x.e.Provider.Name)))))
		vs := make([]*ast.Term, len(x.e.Vendors))
		for vi := range x.e.Vendors {
			vs[vi] = x.vendorTerm(vi, nil)
		}
		items = append(items, f("vendors", ast.ArrayTerm(vs...)), f("tenant", null()), f("contract", null()), f("admin_reuse", null()))
	} else {
		t := &x.e.Tenants[x.tenantIdx[subject]]
		items = append(items,
			f("subject", obj(f("id", str(t.ID)), f("type", str("tenant")), f("name", str(firstNonEmpty(t.Name, t.ID))), f("criticality", str(string(t.Criticality))))),
			f("tenant", obj(
				f("id", str(t.ID)),
				f("name", str(t.Name)),
				f("criticality", str(string(t.Criticality))),
				f("endpoints", num(t.Endpoints)),
				f("data_segregated", boolp(t.Network.DataSegregated)),
				f("dedicated_connection", boolp(t.Network.DedicatedConnection)),
			)))
		contract := null()
		if len(s.contracts) > 0 {
			contract = x.contractTerm(s.contracts[0])
		}
		items = append(items, f("contract", contract))
		items = append(items, f("admin_reuse", x.adminReuseTerm(x.tenantIdx[subject])))
		vs := make([]*ast.Term, 0, len(s.vendors))
		for vi := range x.e.Vendors { // estate order, deterministic
			if gs, ok := s.vendors[vi]; ok {
				vs = append(vs, x.vendorTerm(vi, gs))
			}
		}
		items = append(items, f("vendors", ast.ArrayTerm(vs...)))
	}
	items = append(items,
		f("identities", terms(len(s.identities), func(i int) *ast.Term { return x.identityTerm(s.identities[i]) })),
		f("access", terms(len(s.access), func(i int) *ast.Term { return x.accessTerm(&s.access[i]) })),
		f("tool_access", terms(len(s.toolAccess), func(i int) *ast.Term { return x.accessTerm(&s.toolAccess[i]) })),
		f("tools", terms(len(s.tools), func(i int) *ast.Term { return x.toolTerm(s.tools[i]) })),
		f("gdap", terms(len(s.gdap), func(i int) *ast.Term { return x.gdapTerm(s.gdap[i]) })),
		f("assets", terms(len(s.assets), func(i int) *ast.Term { return x.assetTerm(s.assets[i]) })),
		f("backups", terms(len(s.backups), func(i int) *ast.Term { return x.backupTerm(s.backups[i]) })),
		f("ir_plans", terms(len(s.plans), func(i int) *ast.Term { return x.planTerm(s.plans[i]) })),
		f("domains", terms(len(s.domains), func(i int) *ast.Term { return x.domainTerm(s.domains[i]) })),
		f("exposures", terms(len(s.exposures), func(i int) *ast.Term { return x.exposureTerm(s.exposures[i]) })),
		f("grants", terms(len(s.grants), func(i int) *ast.Term { return x.grantTerm(s.grants[i]) })),
	)
	var gaps []*ast.Term
	for _, key := range []string{"", subject} {
		for _, gi := range x.gapsBySub[key] {
			g := &x.e.CollectionGap[gi]
			gaps = append(gaps, obj(f("evidence", str(g.Evidence)), f("permission", str(g.Permission)), f("reason", str(g.Reason))))
		}
	}
	items = append(items, f("gaps", ast.ArrayTerm(gaps...)))
	items = append(items, f("auth_monitoring", x.authMonitoringTerm(subject)))
	items = append(items, f("principals", st.principals))
	items = append(items, st.extra...)
	return ast.NewObject(items...)
}

// adminReuseSample bounds input.admin_reuse.reuse: a technician group of
// 2,000 reaching 2,000 customers is counted in each, listed with the MSP.
const adminReuseSample = 10

// adminReuseTerm is input.admin_reuse for tenant ti: how many identities'
// own credentials hold admin there (access.Facts.AdminsByTenant), how many
// of them hold it in another customer too, and a sample of those.
func (x *index) adminReuseTerm(ti int) *ast.Term {
	if ti >= len(x.tenantAdmins) {
		return obj(f("admins_n", num(0)), f("reuse_n", num(0)), f("reuse", ast.ArrayTerm()))
	}
	ta := &x.tenantAdmins[ti]
	n := min(len(ta.Reuse), adminReuseSample)
	sample := make([]*ast.Term, n)
	for k, ii := range ta.Reuse[:n] {
		fi := &x.acc.Identities[ii]
		sample[k] = obj(f("id", str(x.e.Identities[ii].ID)), f("tenants_admin", num(len(fi.AdminTenants))), f("standing", num(fi.StandingAdmin)))
	}
	return obj(f("admins_n", num(ta.N)), f("reuse_n", num(len(ta.Reuse))), f("reuse", ast.ArrayTerm(sample...)))
}
