// Package access derives, once per estate and clock, the facts about access
// that both engines judge: the MFA strength of every identity and of every
// tool login, the privilege a grant or a directory/GDAP role really conveys,
// the tenants each identity's own credentials hold at admin or above
// (standing and eligible), known-exploited vulnerabilities still open after
// patching, internet exposure, and staleness. assess (the Rego input) and
// trust (the graph) read these facts and never re-derive them, so the two
// cannot disagree about them (see the property test).
//
// It imports only the estate model and the KEV catalog; assess, trust and
// the CLI import it.
package access

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Options tune Compute.
type Options struct {
	// Now is the clock every time judgement uses. Zero disables expiry
	// (nothing counts as expired) and day counts.
	Now time.Time
	// KEV is the CISA KEV catalog; nil means no KEV facts.
	KEV *kev.Catalog
}

// Facts are the derived access facts of one estate at one time. Slices are
// parallel to the estate's (Identities[i] is about e.Identities[i]).
type Facts struct {
	Now        time.Time
	Settings   estate.Settings
	Identities []Identity
	Tools      []Tool
	Assets     []Asset
	// Tenants are the tenant ids in estate order; the tenant indexes in
	// Identity.AdminTenants refer to it.
	Tenants []string
	// Grants[i] is the privilege e.Grants[i] really conveys (see GrantPrivilege).
	Grants []estate.Privilege
	// Implied is access the estate implies without a grant (validate
	// --explain lists it; the trust graph adds the agents' edges).
	Implied []Implication
}

// Identity is what the estate says, derived, about one identity.
type Identity struct {
	// MFA is the strength an attacker meets at sign-in: the identity's own
	// MFA, raised for a non-human identity by its compensating control
	// (certificate or workload identity count as phishing-resistant, an
	// IP restriction as weak: it stops spraying, not replay).
	MFA estate.MFAStrength
	// Enforced is MFA enforcement as recorded (nil unknown).
	Enforced *bool
	// Compensated names the compensating control standing in for MFA on a
	// non-human identity, "" when there is none.
	Compensated estate.Compensation
	// Human is false for service accounts and API tokens.
	Human bool
	// Unowned is true for a service account or API token with no
	// accountable owner recorded.
	Unowned bool
	// Idle says why the account is idle ("" when it is not, or unknown).
	Idle string
	// AdminTenants are the indexes (into Facts.Tenants) of the customer
	// tenants other than its home where the identity's own credentials
	// hold admin or more — directly, through the groups it is in, or
	// through GDAP access groups — standing or eligible (just in time),
	// not expired. Reach through tools is not here (that is the graph's).
	AdminTenants []int32
	// StandingAdmin counts the AdminTenants held by standing access.
	StandingAdmin int
	// Vendor is the vendor whose staff the identity is ("" for none).
	Vendor string
	// Account is how the account is kept, judged as a privileged account
	// (AccountState: ok, fail or unknown), and AccountWhy the practices
	// that fail (or, when unknown, are not recorded): FB-PRIV-008.
	Account, AccountWhy string
}

// AccountState judges how an account is kept against AA22-131A's "treat
// MSP accounts as privileged" (§3) and "disabled when not actively used"
// (§12): dedicated to administration, its credential vaulted, disabled
// between uses. vaultHeld is true when a password_vault tool holds a grant
// to the identity (its stored credential), which counts as vaulted when
// the estate does not say. state is ok, fail (some practice recorded as
// not followed; why lists them) or unknown (why lists those not recorded).
func AccountState(a *estate.AccountPractice, vaultHeld bool) (state, why string) {
	var dedicated, vaulted, disabled *bool
	if a != nil {
		dedicated, vaulted, disabled = a.Dedicated, a.Vaulted, a.DisabledWhenUnused
	}
	if vaulted == nil && vaultHeld {
		vaulted = estate.Bool(true)
	}
	k := 0
	for _, v := range []*bool{disabled, vaulted, dedicated} {
		k *= 3
		switch {
		case v == nil:
		case *v:
			k++
		default:
			k += 2
		}
	}
	v := accountVerdicts[k]
	return v[0], v[1]
}

// accountVerdicts is AccountState's verdict for each combination of its
// three practices (0 unknown, 1 followed, 2 not followed; dedicated the
// lowest digit), built once: 100,000 identities share 27 answers.
var accountVerdicts = func() (out [27][2]string) {
	names := [3]string{"dedicated", "vaulted", "disabled when unused"}
	for k := range out {
		var fails, unknown []string
		for i, x := 0, k; i < 3; i, x = i+1, x/3 {
			switch x % 3 {
			case 0:
				unknown = append(unknown, names[i])
			case 2:
				fails = append(fails, "not "+names[i])
			}
		}
		switch {
		case len(fails) > 0:
			out[k] = [2]string{"fail", strings.Join(fails, ", ")}
		case len(unknown) > 0:
			out[k] = [2]string{"unknown", strings.Join(unknown, ", ") + " not recorded"}
		default:
			out[k] = [2]string{"ok", ""}
		}
	}
	return out
}()

// SignInProtected reports whether a password alone does not let an
// outsider in: MFA enforced or a compensating control.
func (i *Identity) SignInProtected() bool { return i.MFA != estate.MFANone }

// Tool is what the estate says, derived, about one tool.
type Tool struct {
	// MFA is the weakest sign-in the console accepts: the tool-wide
	// setting, or the weakest of its per-user logins when it lists them.
	MFA estate.MFAStrength
	// Enforced is true when MFA is required of every login, false when
	// the tool or some login is recorded without it, nil when unknown.
	Enforced *bool
	// WeakLogins are the identities whose login has no MFA.
	WeakLogins []string
	// Exposed: reachable from the internet.
	Exposed bool
	// KEV lists the known-exploited vulnerabilities still open.
	KEV []kev.Vuln
	// EndpointPriv is the privilege its agent gives over an endpoint.
	EndpointPriv estate.Privilege
	// Exec is true when operating the tool runs code on endpoints (run
	// script as SYSTEM, remote shell, deploy software): operate on the
	// console is then full control of every managed endpoint.
	Exec bool
	// EndpointWhy says what the agent does that gives EndpointPriv, from
	// the capabilities that set it ("" when none is declared).
	EndpointWhy string
}

// Asset is what the estate says, derived, about one asset.
type Asset struct {
	Exposed bool
	KEV     []kev.Vuln
}

// CVEs returns the CVE ids of vs.
func CVEs(vs []kev.Vuln) []string {
	if len(vs) == 0 {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.CVE
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Compute derives the facts of e at opts.Now.
func Compute(e *estate.Estate, opts Options) *Facts {
	if e == nil {
		e = &estate.Estate{}
	}
	f := &Facts{Now: opts.Now, Settings: e.Settings.WithDefaults()}
	c := &computer{e: e, f: f, kev: opts.KEV, kevCache: map[kevKey][]kev.Vuln{}}
	c.index()
	c.tools()
	c.assets()
	c.grants()
	c.identities()
	c.adminReach()
	c.implications()
	return f
}

type kevKey struct{ vendor, product, version, cpe string }

type computer struct {
	e        *estate.Estate
	f        *Facts
	kev      *kev.Catalog
	kevCache map[kevKey][]kev.Vuln

	tenantIdx   map[string]int32
	identityIdx map[string]int
	groupIdx    map[string]int
	toolIdx     map[string]int
	assetIdx    map[string]int
	owners      *estate.Owners
}

func (c *computer) index() {
	e := c.e
	c.tenantIdx = make(map[string]int32, len(e.Tenants))
	c.f.Tenants = make([]string, len(e.Tenants))
	for i := range e.Tenants {
		c.tenantIdx[e.Tenants[i].ID] = int32(i)
		c.f.Tenants[i] = e.Tenants[i].ID
	}
	c.identityIdx = make(map[string]int, len(e.Identities))
	for i := range e.Identities {
		c.identityIdx[e.Identities[i].ID] = i
	}
	c.groupIdx = make(map[string]int, len(e.Groups))
	for i := range e.Groups {
		c.groupIdx[e.Groups[i].ID] = i
	}
	c.toolIdx = make(map[string]int, len(e.Tools))
	for i := range e.Tools {
		c.toolIdx[e.Tools[i].ID] = i
	}
	c.owners = estate.NewOwners(e)
	c.assetIdx = make(map[string]int, len(e.Assets))
	for i := range e.Assets {
		c.assetIdx[e.Assets[i].ID] = i
	}
}

// Expired reports whether d is before the clock (never with a zero clock).
func (f *Facts) Expired(d *estate.Date) bool {
	return d != nil && !f.Now.IsZero() && d.Time.Before(f.Now)
}

// ToolMFA is the weakest sign-in tool t accepts (see Tool.MFA), with
// whether it is enforced and the logins without MFA.
func ToolMFA(t *estate.Tool) (estate.MFAStrength, *bool, []string) {
	console := estate.MFA{Enforced: t.MFAEnforced, Methods: t.MFAMethods}
	if len(t.Logins) == 0 {
		return console.Strength(), t.MFAEnforced, nil
	}
	weakest := estate.MFAPhishingResistant
	known := true
	anyOff := t.MFAEnforced != nil && !*t.MFAEnforced
	var weak []string
	for i := range t.Logins {
		l := &t.Logins[i]
		m := l.MFA
		if m.Enforced == nil {
			m = console // the login follows the tool-wide setting
		}
		if m.Enforced == nil {
			known = false
		} else if !*m.Enforced {
			anyOff = true
			weak = append(weak, l.Identity)
		}
		if s := m.Strength(); s.Rank() < weakest.Rank() {
			weakest = s
		}
	}
	var enforced *bool
	switch {
	case anyOff:
		enforced = estate.Bool(false)
	case known:
		enforced = estate.Bool(true)
	}
	return weakest, enforced, weak
}

// IdentityMFA is the strength an attacker meets signing in as x (see
// Identity.MFA) and the compensating control counted, if any.
func IdentityMFA(x *estate.Identity) (estate.MFAStrength, estate.Compensation) {
	s := x.MFA.Strength()
	if isHuman(x.Kind) {
		return s, ""
	}
	best := estate.Compensation("")
	rank := func(c estate.Compensation) int {
		switch c {
		case estate.CompCertificate, estate.CompWorkloadIdentity:
			return 2
		case estate.CompIPRestricted:
			return 1
		}
		return 0
	}
	comps := x.Compensating
	switch x.Credential {
	case estate.CredCertificate:
		comps = append(slices.Clone(comps), estate.CompCertificate)
	case estate.CredManagedIdentity:
		comps = append(slices.Clone(comps), estate.CompWorkloadIdentity)
	}
	for _, cp := range comps {
		if rank(cp) > rank(best) {
			best = cp
		}
	}
	switch rank(best) {
	case 2:
		return estate.MFAPhishingResistant, best
	case 1:
		if s.Rank() < estate.MFAWeak.Rank() {
			s = estate.MFAWeak
		}
	}
	return s, best
}

// isHuman: service accounts and API tokens are not people.
// MFAStates turns a derived MFA strength and the recorded enforcement into
// the two verdicts the MFA controls judge by: mfaState (is sign-in
// protected: ok, none or unknown) and prState (is it phishing-resistant:
// ok, fail or unknown). An API token has no MFA to record: without a
// compensating control it is unprotected, not unknown. assess (the
// identities' mfa_state and pr_state) and the trust graph's access matrix
// facts (FB-MFA-002) both call it.
func MFAStates(s estate.MFAStrength, enforced *bool, token bool) (mfaState, prState string) {
	switch {
	case s != estate.MFANone:
		mfaState = "ok"
	case enforced == nil && !token:
		mfaState = "unknown"
	default:
		mfaState = "none"
	}
	switch {
	case s == estate.MFAPhishingResistant:
		prState = "ok"
	case s == estate.MFAUnknownMethods, mfaState == "unknown":
		prState = "unknown"
	default:
		prState = "fail"
	}
	return mfaState, prState
}

func isHuman(k estate.IdentityKind) bool { return k != estate.KindService && k != estate.KindAPIToken }

func (c *computer) tools() {
	e := c.e
	c.f.Tools = make([]Tool, len(e.Tools))
	for i := range e.Tools {
		t := &e.Tools[i]
		ft := &c.f.Tools[i]
		ft.MFA, ft.Enforced, ft.WeakLogins = ToolMFA(t)
		ft.Exposed = t.InternetExposed != nil && *t.InternetExposed
		ft.KEV = c.kevOpen(t.Vendor, t.Product, t.Version, t.CPE, t.LastPatched)
		ft.EndpointPriv, ft.Exec, ft.EndpointWhy = endpointAccess(t)
	}
}

// EndpointPrivilege is the privilege tool t's agent gives over an endpoint,
// and whether operating the tool runs code there. Declared capabilities
// decide it; without them a remote-management tool (RMM, remote access,
// VPN, jump host) gives full control of the endpoint and any other agent
// admin, and the console's own privileges are taken as written (exec is
// false: nothing says an operator may run scripts).
func EndpointPrivilege(t *estate.Tool) (estate.Privilege, bool) {
	p, exec, _ := endpointAccess(t)
	return p, exec
}

// capabilityDoes says what each capability lets the agent do.
var capabilityDoes = map[estate.Capability]string{
	estate.CapRunScriptSystem: "running scripts as SYSTEM",
	estate.CapRemoteShell:     "giving a remote shell",
	estate.CapDeploySoftware:  "deploying software",
	estate.CapFileTransfer:    "transferring files",
	estate.CapViewOnly:        "view only",
}

// endpointAccess is EndpointPrivilege with what the agent does that sets
// the privilege (the capabilities at that privilege, in the order
// written): the one derivation validate --explain describes.
func endpointAccess(t *estate.Tool) (estate.Privilege, bool, string) {
	if len(t.Capabilities) == 0 {
		switch t.Kind {
		case estate.ToolRMM, estate.ToolRemoteAccess, estate.ToolVPN, estate.ToolJumpHost:
			return estate.PrivFull, false, ""
		}
		return estate.PrivAdmin, false, ""
	}
	p, exec := estate.PrivRead, false
	priv := make([]estate.Privilege, len(t.Capabilities))
	for i, c := range t.Capabilities {
		priv[i] = estate.PrivRead
		switch c {
		case estate.CapRunScriptSystem, estate.CapRemoteShell, estate.CapDeploySoftware:
			p, exec, priv[i] = estate.PrivFull, true, estate.PrivFull
		case estate.CapFileTransfer:
			priv[i] = estate.PrivOperate
			if p.Rank() < estate.PrivOperate.Rank() {
				p = estate.PrivOperate
			}
		}
	}
	var does []string
	for i, c := range t.Capabilities {
		if priv[i] == p {
			if d, ok := capabilityDoes[c]; ok && !slices.Contains(does, d) {
				does = append(does, d)
			}
		}
	}
	return p, exec, strings.Join(does, ", ")
}

func (c *computer) assets() {
	e := c.e
	c.f.Assets = make([]Asset, len(e.Assets))
	for i := range e.Assets {
		a := &e.Assets[i]
		fa := &c.f.Assets[i]
		fa.Exposed = len(a.InternetPorts) > 0
		for _, sw := range a.Software {
			fa.KEV = append(fa.KEV, c.kevOpen(sw.Vendor, sw.Product, sw.Version, sw.CPE, a.LastPatched)...)
		}
	}
}

// kevOpen returns the KEV entries that apply to one installed product and
// are still open: the version is inside the affected range, or (when KEV
// gives no comparable range, which is most entries) the entry was added
// after the object was last patched (or the patch date is unknown).
func (c *computer) kevOpen(vendor, product, version, cpe string, lastPatched *estate.Date) []kev.Vuln {
	if c.kev == nil || (product == "" && cpe == "") {
		return nil
	}
	k := kevKey{vendor, product, version, cpe}
	vs, ok := c.kevCache[k]
	if !ok {
		vs = c.kev.Match(vendor, product, version, cpe)
		c.kevCache[k] = vs
	}
	var out []kev.Vuln
	for _, v := range vs {
		if KEVOpen(v, lastPatched) {
			out = append(out, v)
		}
	}
	return out
}

// KEVOpen reports whether a matched KEV entry is still open on an object
// last patched at lastPatched (nil: unknown).
func KEVOpen(v kev.Vuln, lastPatched *estate.Date) bool {
	return !v.VersionUnknown || lastPatched == nil || !lastPatched.After(v.DateAdded.Time)
}

// grants computes the privilege every grant really conveys.
func (c *computer) grants() {
	e := c.e
	c.f.Grants = make([]estate.Privilege, len(e.Grants))
	for i := range e.Grants {
		g := &e.Grants[i]
		p := g.Privilege
		if ti, ok := c.toolIdx[g.Target]; ok && c.f.Tools[ti].Exec && p.Rank() >= estate.PrivOperate.Rank() && p.Rank() < estate.PrivFull.Rank() {
			p = estate.PrivFull
		}
		c.f.Grants[i] = p
	}
}

func (c *computer) identities() {
	e := c.e
	c.f.Identities = make([]Identity, len(e.Identities))
	stale := c.f.Settings.StaleDays
	for i := range e.Identities {
		x := &e.Identities[i]
		fi := &c.f.Identities[i]
		fi.MFA, fi.Compensated = IdentityMFA(x)
		fi.Enforced = x.MFA.Enforced
		if fi.Enforced == nil && !isHuman(x.Kind) && fi.Compensated == "" {
			switch x.Credential {
			case estate.CredPassword, estate.CredClientSecret, estate.CredToken:
				fi.Enforced = estate.Bool(false) // a secret alone, nothing else asked
			}
		}
		fi.Human = isHuman(x.Kind)
		fi.Unowned = !fi.Human && x.Owner == ""
		fi.Idle = c.idle(x, stale)
	}
	// Accounts whose credential a vault holds (a grant vault → identity).
	var vaultHeld map[int]bool
	for gi := range e.Grants {
		g := &e.Grants[gi]
		ti, ok := c.toolIdx[g.Subject]
		if !ok || e.Tools[ti].Kind != estate.ToolVault {
			continue
		}
		if ii, ok := c.identityIdx[g.Target]; ok {
			if vaultHeld == nil {
				vaultHeld = map[int]bool{}
			}
			vaultHeld[ii] = true
		}
	}
	for i := range e.Identities {
		fi := &c.f.Identities[i]
		fi.Account, fi.AccountWhy = AccountState(e.Identities[i].Account, vaultHeld[i])
	}
	// Vendor staff: listed, or a guest account from one of its domains.
	for vi := range e.Vendors {
		v := &e.Vendors[vi]
		for _, id := range v.Staff {
			if ii, ok := c.identityIdx[id]; ok {
				c.f.Identities[ii].Vendor = v.ID
			}
		}
	}
	if len(e.Vendors) > 0 {
		for ii := range e.Identities {
			if c.f.Identities[ii].Vendor != "" {
				continue
			}
			if v := VendorOf(e.Vendors, e.Identities[ii].UPN); v != "" {
				c.f.Identities[ii].Vendor = v
			}
		}
	}
}

// VendorOf names the vendor whose staff an account with this UPN is: its
// home domain (seen through the guest form user_domain#EXT#@tenant) is one
// of the vendor's domains, or (the older convention) is named after the
// vendor's id.
func VendorOf(vendors []estate.Vendor, upn string) string {
	d := UPNDomain(upn)
	if d == "" {
		return ""
	}
	for j := range vendors {
		v := &vendors[j]
		for _, vd := range v.Domains {
			vd = strings.ToLower(strings.TrimSpace(vd))
			if d == vd || strings.HasSuffix(d, "."+vd) {
				return v.ID
			}
		}
	}
	for j := range vendors {
		v := &vendors[j]
		if v.ID != "" && (d == v.ID || strings.HasPrefix(d, v.ID+".")) {
			return v.ID
		}
	}
	return ""
}

// UPNDomain is the home domain of a UPN, seen through the guest form
// user_domain#EXT#@tenant.
func UPNDomain(upn string) string {
	upn = strings.ToLower(strings.TrimSpace(upn))
	if before, _, ok := strings.Cut(upn, "#ext#"); ok {
		if k := strings.LastIndexByte(before, '_'); k >= 0 {
			return before[k+1:]
		}
		return ""
	}
	if k := strings.LastIndexByte(upn, '@'); k >= 0 {
		return upn[k+1:]
	}
	return ""
}

// idle says why x is idle at the clock: personnel departed, no sign-in for
// longer than staleDays, or never signed in although created longer ago.
func (c *computer) idle(x *estate.Identity, staleDays int) string {
	if x.Personnel == estate.PersonnelDeparted {
		return "personnel departed"
	}
	if c.f.Now.IsZero() {
		return ""
	}
	if x.LastSignIn != nil {
		if d := x.LastSignIn.DaysSince(c.f.Now); d > staleDays {
			return fmt.Sprintf("no sign-in for %d days", d)
		}
		return ""
	}
	if x.Created != nil {
		if d := x.Created.DaysSince(c.f.Now); d > staleDays {
			return fmt.Sprintf("never signed in, created %d days ago", d)
		}
	}
	return ""
}

// targetTenant is the tenant a grant target lies in (estate.Owners): the
// tenant itself, or the tenant owning the asset, identity, group or tool;
// false for the MSP's own objects and unknown ids.
func (f *Facts) targetTenant(c *computer, target string) (int32, bool) {
	t, ok := c.tenantIdx[c.owners.Of(target)]
	return t, ok
}

// tenantSet is the admin reach of one principal as two tenant bitsets
// (bit i = Facts.Tenants[i]): standing and eligible.
type tenantSet struct{ standing, eligible []uint64 }

func (s *tenantSet) add(t int32, standing bool, words int) {
	p := &s.eligible
	if standing {
		p = &s.standing
	}
	if *p == nil {
		*p = make([]uint64, words)
	}
	(*p)[t>>6] |= 1 << (t & 63)
}

func orInto(dst *[]uint64, src []uint64) {
	if src == nil {
		return
	}
	if *dst == nil {
		*dst = make([]uint64, len(src))
	}
	for i, w := range src {
		(*dst)[i] |= w
	}
}

// adminReach fills Identity.AdminTenants: direct grants, group grants
// (through nested groups) and GDAP access groups. Identities in the same
// groups (every technician of a GDAP access group) share one union.
func (c *computer) adminReach() {
	e := c.e
	words := (len(e.Tenants) + 63) / 64
	adminRank := estate.PrivAdmin.Rank()
	idSets := map[int]*tenantSet{}
	grSets := map[int]*tenantSet{}
	set := func(m map[int]*tenantSet, k int) *tenantSet {
		s := m[k]
		if s == nil {
			s = &tenantSet{}
			m[k] = s
		}
		return s
	}
	for gi := range e.Grants {
		g := &e.Grants[gi]
		if c.f.Grants[gi].Rank() < adminRank || c.f.Expired(g.Expires) {
			continue
		}
		t, ok := c.f.targetTenant(c, g.Target)
		if !ok {
			continue
		}
		if ii, ok := c.identityIdx[g.Subject]; ok {
			set(idSets, ii).add(t, g.IsStanding(), words)
		} else if gr, ok := c.groupIdx[g.Subject]; ok {
			set(grSets, gr).add(t, g.IsStanding(), words)
		}
	}
	for ti := range e.Tools {
		gd := e.Tools[ti].GDAP
		if gd == nil || gd.Status.Inactive() || c.f.Expired(gd.EndDate) {
			continue
		}
		t, ok := c.tenantIdx[gd.Customer]
		if !ok {
			continue
		}
		relPriv, _ := RolePrivilege(gd.Roles)
		for _, g := range gd.AccessGroups {
			if gr, ok := c.groupIdx[g]; ok && relPriv.Rank() >= adminRank {
				set(grSets, gr).add(t, true, words)
			}
		}
		for _, a := range gd.Assignments {
			p := relPriv
			if len(a.Roles) > 0 {
				p, _ = RolePrivilege(a.Roles)
			}
			if gr, ok := c.groupIdx[a.Group]; ok && p.Rank() >= adminRank {
				set(grSets, gr).add(t, !a.Eligible(), words)
			}
		}
	}
	// Group membership (Group.Members and Identity.Groups), nested groups
	// followed: parents[x] are the groups x is directly in.
	idParents := make(map[int][]int)
	grParents := make(map[int][]int)
	for gi := range e.Groups {
		for _, m := range e.Groups[gi].Members {
			if ii, ok := c.identityIdx[m]; ok {
				idParents[ii] = append(idParents[ii], gi)
			} else if g2, ok := c.groupIdx[m]; ok && g2 != gi {
				grParents[g2] = append(grParents[g2], gi)
			}
		}
	}
	for ii := range e.Identities {
		for _, g := range e.Identities[ii].Groups {
			if gi, ok := c.groupIdx[g]; ok && !slices.Contains(idParents[ii], gi) {
				idParents[ii] = append(idParents[ii], gi)
			}
		}
	}
	// closure[g]: the groups g is in, itself included (memoised DFS).
	closure := map[int][]int{}
	var inGroups func(g int, seen map[int]bool) []int
	inGroups = func(g int, seen map[int]bool) []int {
		if cl, ok := closure[g]; ok {
			return cl
		}
		if seen[g] {
			return nil
		}
		seen[g] = true
		out := []int{g}
		for _, p := range grParents[g] {
			for _, q := range inGroups(p, seen) {
				if !slices.Contains(out, q) {
					out = append(out, q)
				}
			}
		}
		closure[g] = out
		return out
	}
	// The union of a set of direct parent groups, memoised by that set.
	unions := map[string]*tenantSet{}
	groupUnion := func(ps []int) *tenantSet {
		key := fmt.Sprint(ps)
		if u, ok := unions[key]; ok {
			return u
		}
		u := &tenantSet{}
		seen := map[int]bool{}
		for _, p := range ps {
			for _, g := range inGroups(p, map[int]bool{}) {
				if !seen[g] {
					seen[g] = true
					if s := grSets[g]; s != nil {
						orInto(&u.standing, s.standing)
						orInto(&u.eligible, s.eligible)
					}
				}
			}
		}
		unions[key] = u
		return u
	}
	for ii := range e.Identities {
		x := &e.Identities[ii]
		own := idSets[ii]
		var grp *tenantSet
		if ps := idParents[ii]; len(ps) > 0 {
			grp = groupUnion(ps)
		}
		if own == nil && (grp == nil || grp.standing == nil && grp.eligible == nil) {
			continue
		}
		var standing, eligible []uint64
		for _, s := range []*tenantSet{own, grp} {
			if s != nil {
				orInto(&standing, s.standing)
				orInto(&eligible, s.eligible)
			}
		}
		home, homed := c.tenantIdx[x.Home]
		fi := &c.f.Identities[ii]
		for w := 0; w < words; w++ {
			var st, el uint64
			if standing != nil {
				st = standing[w]
			}
			if eligible != nil {
				el = eligible[w] &^ st
			}
			if homed && int(home>>6) == w {
				st &^= 1 << (home & 63)
				el &^= 1 << (home & 63)
			}
			fi.StandingAdmin += bits.OnesCount64(st)
			for all := st | el; all != 0; all &= all - 1 {
				fi.AdminTenants = append(fi.AdminTenants, int32(w*64+bits.TrailingZeros64(all)))
			}
		}
	}
}

// AdminReuse lists the enabled identities whose own credentials hold admin
// or more in two or more customer tenants (standing or just in time), in
// estate order: the one answer to "no admin credential reuse across
// customers" (FB-TRUST-004 and FB-NET-005).
func (f *Facts) AdminReuse(e *estate.Estate) []int {
	var out []int
	for i := range f.Identities {
		if len(f.Identities[i].AdminTenants) >= 2 && e.Identities[i].IsEnabled() {
			out = append(out, i)
		}
	}
	return out
}

// TenantAdmins is one customer tenant's side of admin credential reuse.
type TenantAdmins struct {
	// N counts the identities whose own credentials hold admin or more in
	// the tenant (Identity.AdminTenants holds it), enabled or not.
	N int
	// Reuse are those among them AdminReuse lists (enabled, admin in two
	// or more customers), identity indexes in estate order.
	Reuse []int
}

// AdminsByTenant turns AdminTenants around: per tenant (an index into
// f.Tenants), who holds admin there and who of them reuses it. It is the
// one population FB-NET-005 and FB-TRUST-004 judge per tenant.
func (f *Facts) AdminsByTenant(e *estate.Estate) []TenantAdmins {
	out := make([]TenantAdmins, len(f.Tenants))
	for i := range f.Identities {
		ts := f.Identities[i].AdminTenants
		reuse := len(ts) >= 2 && e.Identities[i].IsEnabled()
		for _, t := range ts {
			out[t].N++
			if reuse {
				out[t].Reuse = append(out[t].Reuse, i)
			}
		}
	}
	return out
}

// Implication is access the estate implies without a grant written for it.
type Implication struct {
	Subject   string // tool or group id
	Target    string // tenant id
	Privilege estate.Privilege
	Eligible  bool // just in time (PIM-eligible GDAP assignment)
	Because   string
	Pos       estate.Pos // where the implying fact was written
	// Derived is true for access the engines already derive from the
	// fact itself (GDAP); false for access added as if granted (agents).
	Derived bool
}

// implications lists what the estate implies:
//   - an RMM or remote-access agent on a tenant's endpoints gives the tool
//     its endpoint privilege over the tenant, unless a grant from the tool
//     to the tenant is written;
//   - a GDAP relationship gives each of its access groups its roles'
//     privilege over the customer, active or eligible.
func (c *computer) implications() {
	e := c.e
	granted := map[[2]string]bool{}
	for i := range e.Grants {
		granted[[2]string{e.Grants[i].Subject, e.Grants[i].Target}] = true
	}
	type key struct{ tool, tenant int }
	count := map[key]int{}
	first := map[key]estate.Pos{}
	var order []key
	for ai := range e.Assets {
		a := &e.Assets[ai]
		tn, ok := c.tenantIdx[a.Tenant]
		if !ok {
			continue
		}
		for _, ag := range a.Agents {
			ti, ok := c.toolIdx[ag]
			if !ok {
				continue
			}
			switch e.Tools[ti].Kind {
			case estate.ToolRMM, estate.ToolRemoteAccess:
			default:
				continue
			}
			k := key{ti, int(tn)}
			if count[k] == 0 {
				order = append(order, k)
				first[k] = a.Pos
			}
			count[k]++
		}
	}
	for _, k := range order {
		t, tenant := &e.Tools[k.tool], e.Tenants[k.tenant].ID
		if granted[[2]string{t.ID, tenant}] {
			continue
		}
		what := "agent"
		if why := c.f.Tools[k.tool].EndpointWhy; why != "" {
			what = "agent " + why
		}
		c.f.Implied = append(c.f.Implied, Implication{Subject: t.ID, Target: tenant, Privilege: c.f.Tools[k.tool].EndpointPriv,
			Because: fmt.Sprintf("%s %s on %d of the tenant's endpoints", t.Kind, what, count[k]), Pos: first[k]})
	}
	for ti := range e.Tools {
		t := &e.Tools[ti]
		gd := t.GDAP
		if gd == nil || gd.Status.Inactive() || c.f.Expired(gd.EndDate) {
			continue
		}
		relPriv, why := RolePrivilege(gd.Roles)
		for _, g := range gd.AccessGroups {
			c.f.Implied = append(c.f.Implied, Implication{Subject: g, Target: gd.Customer, Privilege: relPriv, Derived: true,
				Because: "GDAP relationship " + t.ID + " (roles " + strings.Join(gd.Roles, ", ") + "; highest " + why + ")", Pos: t.Pos})
		}
		for _, a := range gd.Assignments {
			p, why := relPriv, why
			roles := gd.Roles
			if len(a.Roles) > 0 {
				p, why = RolePrivilege(a.Roles)
				roles = a.Roles
			}
			mode := "active"
			if a.Eligible() {
				mode = "eligible, just in time"
			}
			c.f.Implied = append(c.f.Implied, Implication{Subject: a.Group, Target: gd.Customer, Privilege: p, Eligible: a.Eligible(), Derived: true,
				Because: "GDAP relationship " + t.ID + " assigns " + strings.Join(roles, ", ") + " (" + mode + "; highest " + why + ")", Pos: a.Pos})
		}
	}
}
