package graph

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Permissions (application) each kind of evidence needs. A 403 on the call
// becomes an estate.Gap naming the permission.
const (
	PermGDAP         = "DelegatedAdminRelationship.Read.All"
	PermUsers        = "User.Read.All"
	PermAuditLog     = "AuditLog.Read.All"
	PermRoles        = "RoleManagement.Read.Directory"
	PermPolicy       = "Policy.Read.All"
	PermApps         = "Application.Read.All"
	PermGroupMembers = "GroupMember.Read.All"
	PermDomains      = "Domain.Read.All"
	// PermDirectory is needed with AuditLog.Read.All to read sign-in logs
	// (a documented known issue otherwise answers 403).
	PermDirectory = "Directory.Read.All"
)

// Evidence names used in gaps (the assess engineer's controls key on these).
const (
	EvGDAP        = "gdap"
	EvIdentities  = "identities"
	EvLastSignIn  = "identities.last_sign_in"
	EvMFA         = "identities.mfa"
	EvMFAEnforced = "identities.mfa.enforced"
	// EvMFAMethods: per-user registered methods (the registration-details
	// report, Entra ID P1). Its gap leaves enforcement judgeable: on a
	// tenant without P1, security defaults are the MFA.
	EvMFAMethods = "identities.mfa.methods"
	EvRoles      = "identities.roles"
	// EvRolesEligible: PIM-eligible assignments (Entra ID P2).
	EvRolesEligible = "identities.roles.eligible"
	EvSPs           = "service_principals"
	EvSignIns       = "signins"
	EvGroups        = "groups"
	EvDomains       = "tenants.domains"
	EvTenant        = "tenant" // nothing could be collected (token failure)
)

// DefaultToolVendors are name fragments of MSP tools' enterprise apps (a
// foreign service principal whose name contains one is reported).
var DefaultToolVendors = []string{
	"connectwise", "screenconnect", "kaseya", "datto", "n-able", "nable", "solarwinds msp", "ninja", "atera",
	"syncro", "rewst", "cipp", "pax8", "huntress", "skykick", "bittitan", "liongard", "auvik", "backupify",
	"dropsuite", "augmentt", "immybot", "halo", "autotask", "itglue", "it glue", "hudu", "sherweb", "giacom",
	"blackpoint", "sentinelone", "barracuda", "acronis", "veeam", "afi", "spanning", "lighthouse", "inforcer",
	"simplehelp", "splashtop", "teamviewer", "anydesk", "logmein", "goto", "beyondtrust", "bomgar",
}

// Microsoft's own first-party app owner tenants (never "foreign tools").
var microsoftOwners = map[string]bool{
	"f8cdef31-a31e-4b4a-93e4-5f571e91255a": true,
	"72f988bf-86f1-41af-91ab-2d7cd011db47": true,
	"47df5bb7-e6bc-4256-afb0-dd8c8e3c1ce8": true,
	"cdc5aeea-15c5-4db6-b079-fcadd2505dc2": true,
}

// Target is one customer tenant to collect.
type Target struct {
	EntraID string // Entra tenant id (GUID)
	Tenant  string // estate tenant id
	Name    string
}

// Options tells Collect what to gather.
type Options struct {
	// Estate, when given, maps Entra tenant ids to estate tenants
	// (Tenant.EntraTenantID) and object ids already defined by hand are
	// left out of the fragment.
	Estate *estate.Estate
	// Only restricts customers to these estate or Entra tenant ids.
	Only []string
	// SkipPartner skips the partner tenant's own users and groups.
	SkipPartner bool
	// SignInDir, when set, receives sign-in logs as JSON lines, one file
	// per tenant (signins-<tenant>.jsonl), for `firebreak detect`.
	SignInDir   string
	SignInSince time.Duration // default 24h
	// SignInMax caps sign-ins read per tenant (default 100000); the newest
	// come first, so a capped tenant keeps its most recent events.
	SignInMax   int
	ToolVendors []string // default DefaultToolVendors
	// Progress is called as tenants finish.
	Progress func(done, total int)
	Now      func() time.Time
	PageSize int // $top; default 999 (users with signInActivity: at most 120)
	// SignInWindow splits the sign-in log read into windows of this length
	// (default 6h); a window that still times out (504) is halved, down to
	// 15 minutes.
	SignInWindow time.Duration
	// Delta keeps a users/delta round per tenant in DeltaState, so the next
	// run reads only the changes (sign-in activity then stays as of the
	// last full run, said in the provenance).
	Delta      bool
	DeltaState *DeltaState
	// FullEvery, with Delta, makes a run read users in full (with
	// signInActivity, which delta cannot give) when the tenant's last
	// full read is this old (default 24h), so last sign-ins do not age
	// into "stale" under repeated delta runs.
	FullEvery time.Duration
}

// DeltaState is the users/delta state between runs, per Entra tenant.
type DeltaState struct {
	mu      sync.Mutex
	Tenants map[string]*deltaTenant `json:"tenants"`
}

type deltaTenant struct {
	Link   string          `json:"delta_link"`
	FullAt time.Time       `json:"full_at"` // when signInActivity was last read
	Users  map[string]User `json:"users"`
	// Groups are the groups whose transitive members were read (role-
	// assignable groups holding a role, groups CA policies name): a
	// repeat reads them in the first $batch.
	Groups []string `json:"groups,omitempty"`
	repeat bool
}

func (col *collector) delta(tenant string) *deltaTenant {
	if col.o.DeltaState == nil || !col.o.Delta {
		return nil
	}
	col.o.DeltaState.mu.Lock()
	defer col.o.DeltaState.mu.Unlock()
	d := col.o.DeltaState.Tenants[tenant]
	if d != nil && d.Link != "" && col.now.Sub(d.FullAt) >= col.o.FullEvery {
		// Time for a full read: the state's groups are still read in the
		// batch, but users are read in full.
		cp := *d
		cp.Link = ""
		return &cp
	}
	return d
}

func (col *collector) setDelta(tenant string, d *deltaTenant) {
	if col.o.DeltaState == nil {
		return
	}
	col.o.DeltaState.mu.Lock()
	defer col.o.DeltaState.mu.Unlock()
	if col.o.DeltaState.Tenants == nil {
		col.o.DeltaState.Tenants = map[string]*deltaTenant{}
	}
	col.o.DeltaState.Tenants[tenant] = d
}

// TenantResult summarises one tenant's collection.
type TenantResult struct {
	Tenant            string `json:"tenant"`
	EntraID           string `json:"entra_tenant_id"`
	Name              string `json:"name,omitempty"`
	Users             int    `json:"users"`
	MFARegistered     int    `json:"mfa_registered"`
	RoleAssignments   int    `json:"role_assignments"`
	ForeignPrincipals int    `json:"foreign_principals"`
	CAPolicies        int    `json:"ca_policies"`
	ToolApps          int    `json:"tool_apps"`
	SignIns           int    `json:"signins"`
	SignInsTruncated  bool   `json:"signins_truncated,omitempty"`
	// EligibleAssignments are PIM-eligible role assignments; group, scoped
	// and deleted count role assignments through role-assignable groups,
	// scoped to an administrative unit, and to deleted principals.
	EligibleAssignments  int `json:"eligible_assignments,omitempty"`
	GroupRoleAssignments int `json:"group_role_assignments,omitempty"`
	ScopedAssignments    int `json:"scoped_assignments,omitempty"`
	DeletedPrincipals    int `json:"deleted_principals,omitempty"`
	// NoP2 is set when the PIM eligibility read answered
	// AadPremiumLicenseRequired (or NonPremiumTenant): without Entra ID P2 (or ID Governance) no
	// eligible assignment can exist, so there is none and no gap.
	NoP2 bool `json:"no_p2,omitempty"`
	// LastSignInFallback counts users whose last successful sign-in was
	// empty, so the last attempt (which failures update) was used; their
	// provenance says so.
	LastSignInFallback int           `json:"last_sign_in_fallback,omitempty"`
	SecurityDefaults   *bool         `json:"security_defaults,omitempty"`
	Gaps               []estate.Gap  `json:"gaps,omitempty"`
	Errors             []string      `json:"errors,omitempty"`
	Duration           time.Duration `json:"duration_ns"`
}

// Result is what Collect gathered.
type Result struct {
	Fragment      *estate.Estate `json:"-"`
	Relationships int            `json:"relationships"`
	Tenants       []TenantResult `json:"tenants"`
	Skipped       []string       `json:"skipped,omitempty"` // ids already defined in the hand-written estate
	Stats         Stats          `json:"stats"`
	Started       time.Time      `json:"started"`
	Finished      time.Time      `json:"finished"`
}

// Failed counts tenants with errors.
func (r *Result) Failed() int {
	n := 0
	for _, t := range r.Tenants {
		if len(t.Errors) > 0 {
			n++
		}
	}
	return n
}

// Plan lists the calls Collect would make for one tenant (for --dry-run),
// with the application permission each needs.
func Plan(o Options) []string {
	p := []string{
		"POST {authority}/{partner-tenant}/oauth2/v2.0/token (client credentials: secret, or a PS256 certificate assertion with x5t#S256)",
		"GET /v1.0/tenantRelationships/delegatedAdminRelationships  [" + PermGDAP + "]",
		"GET /v1.0/tenantRelationships/delegatedAdminRelationships/{id}/accessAssignments  [" + PermGDAP + "]",
		"GET /v1.0/groups/{accessContainerId} and /members (partner)  [" + PermGroupMembers + "]",
		"per customer tenant (and the partner tenant):",
		"  POST {authority}/{customer-tenant}/oauth2/v2.0/token  (app-only: the app must be consented in the customer tenant — `firebreak collect graph consent`; GDAP alone answers AADSTS700016)",
		"  POST /v1.0/$batch  (the first page of each read below in one JSON batch; later pages are read on their own, and answers throttled inside it after their Retry-After)",
		"  GET /v1.0/domains  [" + PermDomains + "]",
		"  GET /v1.0/users?$select=…,signInActivity&$top=120  [" + PermUsers + ", " + PermAuditLog + ", Entra ID P1; on 403/400 again without signInActivity]",
		"  GET /v1.0/reports/authenticationMethods/userRegistrationDetails  [" + PermAuditLog + "]",
		"  GET /v1.0/roleManagement/directory/roleDefinitions, roleAssignments?$expand=principal  [" + PermRoles + "]",
		"  GET /v1.0/groups/{role-assignable group}/transitiveMembers  [" + PermGroupMembers + "]",
		"  GET /v1.0/roleManagement/directory/roleEligibilitySchedules?$expand=principal  [" + PermRoles + ", Entra ID P2]",
		"  GET /v1.0/identity/conditionalAccess/policies  [" + PermPolicy + ", Entra ID P1]",
		"  GET /v1.0/groups/{group an MFA policy includes or excludes}/transitiveMembers  [" + PermGroupMembers + "]",
		"  GET /v1.0/policies/identitySecurityDefaultsEnforcementPolicy  [" + PermPolicy + "]",
		"  GET /v1.0/servicePrincipals  [" + PermApps + "]",
	}
	if o.Delta {
		p = append(p, "  GET /v1.0/users/delta (first run: a full round; later runs: only the changes, in the $batch with the members of the groups read last time; a full users read once a day)  ["+PermUsers+"]")
	}
	if o.SignInDir != "" {
		p = append(p, "  GET /v1.0/auditLogs/signIns?$filter=createdDateTime ge … and createdDateTime lt … (6 h windows)  ["+PermAuditLog+" + "+PermDirectory+", Entra ID P1]")
	}
	return p
}

// tenantsPerSlot is how many customers may be collected at once per
// HTTP request slot (Config.Concurrency).
const tenantsPerSlot = 4

type collector struct {
	c       *Client
	o       Options
	now     time.Time
	partner string
	known   map[string]bool   // ids defined in the hand-written estate
	upnID   map[string]string // lower-case UPN → hand-written identity id

	mu      sync.Mutex
	frag    *estate.Estate
	skipped []string
	ids     map[string]bool
}

// Collect gathers the partner's GDAP relationships and every active
// customer's evidence. Per-tenant failures are recorded in the result and
// never stop other tenants; an error is returned only when nothing at all
// could be discovered (the partner call failed and no --only tenants).
func Collect(ctx context.Context, c *Client, o Options) (*Result, error) {
	nowf := o.Now
	if nowf == nil {
		nowf = time.Now
	}
	if o.SignInSince <= 0 {
		o.SignInSince = 24 * time.Hour
	}
	if o.SignInMax <= 0 {
		o.SignInMax = 100000
	}
	if o.ToolVendors == nil {
		o.ToolVendors = DefaultToolVendors
	}
	if o.PageSize <= 0 {
		o.PageSize = 999
	}
	if o.SignInWindow <= 0 {
		o.SignInWindow = 6 * time.Hour
	}
	if o.FullEvery <= 0 {
		o.FullEvery = 24 * time.Hour
	}
	col := &collector{c: c, o: o, now: nowf().UTC(), partner: c.cfg.Credentials.TenantID, frag: &estate.Estate{},
		known: map[string]bool{}, ids: map[string]bool{}}
	col.upnID = map[string]string{}
	if o.Estate != nil {
		for _, id := range estateIDs(o.Estate) {
			col.known[id] = true
		}
		for _, x := range o.Estate.Identities {
			if x.UPN != "" {
				col.upnID[strings.ToLower(x.UPN)] = x.ID
			}
		}
	}
	res := &Result{Started: col.now}
	if o.SignInDir != "" {
		if err := os.MkdirAll(o.SignInDir, 0o755); err != nil {
			return nil, fmt.Errorf("collect graph: %w", err)
		}
	}

	partnerRes := TenantResult{Tenant: estate.MSP, EntraID: col.partner, Name: "partner"}
	rels, targets, err := col.relationships(ctx, &partnerRes)
	res.Relationships = len(rels)
	if err != nil && len(o.Only) == 0 {
		res.Tenants = append(res.Tenants, partnerRes)
		res.Finished = nowf().UTC()
		res.Stats = c.Stats()
		res.Fragment = col.frag
		return res, err
	}
	if len(o.Only) > 0 {
		targets = col.only(targets)
	}

	total := len(targets)
	if !o.SkipPartner {
		total++
	}
	var done int
	var doneMu sync.Mutex
	tick := func() {
		doneMu.Lock()
		done++
		d := done
		doneMu.Unlock()
		if o.Progress != nil {
			o.Progress(d, total)
		}
	}
	// The access assignments (one call per relationship) are read while
	// the customers are collected: a throttled one must not hold every
	// customer back. Only the partner's groups wait for them.
	var (
		containers map[string]bool
		assignRes  TenantResult
		assigned   = make(chan struct{})
	)
	go func() {
		defer close(assigned)
		containers = col.accessAssignments(ctx, rels, &assignRes)
	}()
	results := make([]TenantResult, len(targets))
	g, gctx := errgroup.WithContext(ctx)
	// Customers in flight: more than the HTTP bound, so that a customer
	// waiting on Retry-After or on its next dependent call leaves its
	// HTTP slot to another customer (the client's semaphore bounds the
	// requests in flight; this bounds only the memory of customers read
	// at once).
	g.SetLimit(max(c.cfg.Concurrency, 1) * tenantsPerSlot)
	if !o.SkipPartner {
		// The partner first: its chain is the longest (its groups after
		// its users, after the access assignments).
		g.Go(func() error {
			col.tenant(gctx, Target{EntraID: col.partner, Tenant: estate.MSP, Name: "partner"}, &partnerRes)
			<-assigned
			col.partnerGroups(gctx, containers, &partnerRes)
			tick()
			return nil
		})
	}
	for i, t := range targets {
		g.Go(func() error {
			r := TenantResult{Tenant: t.Tenant, EntraID: t.EntraID, Name: t.Name}
			col.tenant(gctx, t, &r)
			results[i] = r
			tick()
			return nil
		})
	}
	_ = g.Wait() // tenant goroutines never return errors; failures are in their results
	<-assigned
	partnerRes.Gaps = append(assignRes.Gaps, partnerRes.Gaps...)
	partnerRes.Errors = append(assignRes.Errors, partnerRes.Errors...)
	slices.Sort(col.skipped)
	if !o.SkipPartner || len(partnerRes.Errors) > 0 || len(partnerRes.Gaps) > 0 {
		res.Tenants = append(res.Tenants, partnerRes)
	}
	res.Tenants = append(res.Tenants, results...)
	for _, t := range res.Tenants {
		col.frag.CollectionGap = append(col.frag.CollectionGap, t.Gaps...)
	}
	sortFragment(col.frag)
	res.Fragment = col.frag
	res.Skipped = col.skipped
	res.Stats = c.Stats()
	res.Finished = nowf().UTC()
	return res, ctx.Err()
}

func (col *collector) prov(entraID string) *estate.Provenance {
	return &estate.Provenance{Source: "graph:" + entraID, CollectedAt: col.now}
}

// claim reserves an id for the fragment; false when the hand-written estate
// defines it already or it was taken.
func (col *collector) claim(id string) bool {
	col.mu.Lock()
	defer col.mu.Unlock()
	if col.known[id] {
		col.skipped = append(col.skipped, id)
		return false
	}
	if col.ids[id] {
		return false
	}
	col.ids[id] = true
	return true
}

func (col *collector) gap(r *TenantResult, ev, perm string, err error) {
	g := estate.Gap{Tenant: r.Tenant, Evidence: ev, Permission: perm, At: col.now}
	var ae *APIError
	switch {
	case errors.As(err, &ae) && strings.Contains(ae.Code, "NonPremiumTenant"):
		g.Permission = ""
		g.Reason = "the tenant has no Microsoft Entra ID P1/P2 licence (" + ae.Code + ")"
	case errors.As(err, &ae) && ae.Code == "AadPremiumLicenseRequired":
		// PIM reads on a tenant without P2 (or ID Governance): Graph
		// answers 400 (or 403) with this code. A licence gap, not an
		// error of the run nor a permission to consent.
		g.Permission = ""
		g.Reason = "the tenant has no Microsoft Entra ID P2 or ID Governance licence (" + ae.Code + ")"
	case errors.As(err, &ae) && ae.Forbidden():
		if col.c.cfg.Delegated != nil {
			// Delegated through GDAP: the admin's reach here is what the
			// customer's GDAP roles allow, not the app's permissions.
			g.Reason = fmt.Sprintf("HTTP %d %s: the GDAP roles granted in this tenant do not allow reading it (the call needs %s; Global Reader + Security Reader cover every read)", ae.Status, ae.Code, perm)
			break
		}
		g.Reason = fmt.Sprintf("HTTP %d %s: the app lacks %s (application permission, admin consent) in this tenant", ae.Status, ae.Code, perm)
	default:
		g.Permission = ""
		g.Reason = err.Error()
		r.Errors = append(r.Errors, err.Error())
	}
	r.Gaps = append(r.Gaps, g)
}

func (col *collector) only(ts []Target) []Target {
	want := map[string]bool{}
	for _, x := range col.o.Only {
		want[strings.ToLower(x)] = true
	}
	var out []Target
	seen := map[string]bool{}
	for _, t := range ts {
		if want[strings.ToLower(t.EntraID)] || want[strings.ToLower(t.Tenant)] {
			out = append(out, t)
			seen[strings.ToLower(t.EntraID)], seen[strings.ToLower(t.Tenant)] = true, true
		}
	}
	// Entra ids given explicitly but not found through GDAP are tried too.
	for _, x := range col.o.Only {
		if !seen[strings.ToLower(x)] && looksLikeGUID(x) {
			out = append(out, Target{EntraID: x, Tenant: col.tenantID(x, x)})
		}
	}
	return out
}

func looksLikeGUID(s string) bool {
	return len(s) == 36 && strings.Count(s, "-") == 4
}

// tenantID maps an Entra tenant to an estate tenant id.
func (col *collector) tenantID(entraID, name string) string {
	if col.o.Estate != nil {
		for _, t := range col.o.Estate.Tenants {
			if strings.EqualFold(t.EntraTenantID, entraID) {
				return t.ID
			}
		}
		for _, t := range col.o.Estate.Tenants {
			if strings.EqualFold(t.Name, name) {
				return t.ID
			}
		}
	}
	s := slug(name)
	if s == "" {
		return "tenant-" + strings.ToLower(entraID)
	}
	if col.o.Estate != nil {
		// A hand-written tenant with this id but another Entra tenant is a
		// different customer: do not merge into it.
		for _, t := range col.o.Estate.Tenants {
			if t.ID == s && t.EntraTenantID != "" && !strings.EqualFold(t.EntraTenantID, entraID) {
				return s + "-" + strings.ToLower(strings.SplitN(entraID, "-", 2)[0])
			}
		}
	}
	return s
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// relationships reads GDAP relationships and their access assignments,
// adds gdap tools, access groups and grants, and returns the customers to
// collect (active relationships only).
// relationships lists the partner's GDAP relationships and returns the
// customers to collect (every customer's tenant is added to the fragment
// here). The access assignments are read by accessAssignments, which
// need not finish before the customers are collected.
func (col *collector) relationships(ctx context.Context, pr *TenantResult) ([]DelegatedAdminRelationship, []Target, error) {
	var rels []DelegatedAdminRelationship
	err := List(ctx, col.c, col.partner, "/v1.0/tenantRelationships/delegatedAdminRelationships", func(r DelegatedAdminRelationship) error {
		rels = append(rels, r)
		return nil
	})
	if err != nil {
		col.gap(pr, EvGDAP, PermGDAP, err)
		return nil, nil, fmt.Errorf("collect graph: listing GDAP relationships: %w", err)
	}
	var targets []Target
	seenCustomer := map[string]bool{}
	for _, r := range rels {
		if seenCustomer[r.Customer.TenantID] {
			continue
		}
		tid := col.tenantID(r.Customer.TenantID, r.Customer.DisplayName)
		// Inactive relationships are evidence too (their tool refers to
		// the tenant) but the tenant is collected only when active.
		col.addTenant(tid, r.Customer.TenantID, r.Customer.DisplayName)
		if r.active() {
			seenCustomer[r.Customer.TenantID] = true
			targets = append(targets, Target{EntraID: r.Customer.TenantID, Tenant: tid, Name: r.Customer.DisplayName})
		}
	}
	return rels, targets, nil
}

func (r DelegatedAdminRelationship) active() bool {
	return r.Status == "active" || r.Status == "expiring" || r.Status == "activating"
}

// accessAssignments reads every active relationship's access assignments
// and adds the GDAP tools, grants and access groups to the fragment; it
// returns the access containers (partner groups). Failures are gaps in pr.
func (col *collector) accessAssignments(ctx context.Context, rels []DelegatedAdminRelationship, pr *TenantResult) map[string]bool {
	assignments := make([][]DelegatedAdminAccessAssignment, len(rels))
	aerrs := make([]error, len(rels))
	var wg sync.WaitGroup
	for i, r := range rels {
		if !r.active() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			aerrs[i] = List(ctx, col.c, col.partner, "/v1.0/tenantRelationships/delegatedAdminRelationships/"+url.PathEscape(r.ID)+"/accessAssignments",
				func(a DelegatedAdminAccessAssignment) error {
					assignments[i] = append(assignments[i], a)
					return nil
				})
		}()
	}
	wg.Wait()
	containers := map[string]bool{}
	perCustomer := map[string]int{}
	for i, r := range rels {
		tid := col.tenantID(r.Customer.TenantID, r.Customer.DisplayName)
		perCustomer[tid]++
		toolID := "gdap-" + tid
		if perCustomer[tid] > 1 {
			toolID = fmt.Sprintf("gdap-%s-%d", tid, perCustomer[tid])
		}
		var roles []string
		for _, ur := range r.AccessDetails.UnifiedRoles {
			roles = append(roles, roleName(ur.RoleDefinitionID))
		}
		auto, _ := estate.ParseAutoExtend(r.AutoExtend)
		gd := &estate.GDAP{Customer: tid, Roles: roles, Duration: estate.Duration(r.Duration), AutoExtend: auto, Status: estate.GDAPStatus(r.Status), RelationshipID: r.ID}
		if t, ok := parseTime(r.EndDateTime); ok {
			gd.EndDate = &estate.Date{Time: t}
		}
		if aerrs[i] != nil {
			col.gap(pr, EvGDAP+".access_assignments", PermGDAP, aerrs[i])
		}
		for j, a := range assignments[i] {
			if a.Status != "" && a.Status != "active" {
				continue
			}
			gid := groupID(a.AccessContainer.AccessContainerID)
			containers[a.AccessContainer.AccessContainerID] = true
			if !slices.Contains(gd.AccessGroups, gid) {
				gd.AccessGroups = append(gd.AccessGroups, gid)
			}
			var aroles []string
			for _, ur := range a.AccessDetails.UnifiedRoles {
				aroles = append(aroles, roleName(ur.RoleDefinitionID))
			}
			gr := estate.Grant{ID: fmt.Sprintf("%s-grant-%d", toolID, j+1), Subject: gid, Target: tid, Privilege: privilegeFor(aroles),
				Mode: estate.ModeStanding, Roles: aroles, Via: toolID, Scope: "gdap", Provenance: col.prov(col.partner), Expires: gd.EndDate}
			if col.claim(gr.ID) {
				col.mu.Lock()
				col.frag.Grants = append(col.frag.Grants, gr)
				col.mu.Unlock()
			}
		}
		tool := estate.Tool{ID: toolID, Name: r.DisplayName, Kind: estate.ToolGDAP, Owner: estate.MSP, Vendor: "Microsoft",
			Product: "Granular Delegated Admin Privileges", GDAP: gd, Provenance: col.prov(col.partner)}
		if col.claim(tool.ID) {
			col.mu.Lock()
			col.frag.Tools = append(col.frag.Tools, tool)
			col.mu.Unlock()
		}
	}
	// Access groups exist even when their members cannot be read.
	for id := range containers {
		gid := groupID(id)
		if col.claim(gid) {
			col.mu.Lock()
			col.frag.Groups = append(col.frag.Groups, estate.Group{ID: gid, Name: "Entra group " + id, Home: estate.MSP})
			col.mu.Unlock()
		}
	}
	return containers
}

func groupID(entraID string) string { return "entra-group-" + strings.ToLower(entraID) }

func (col *collector) addTenant(id, entraID, name string) {
	if !col.claim(id) {
		return
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	col.frag.Tenants = append(col.frag.Tenants, estate.Tenant{ID: id, Name: name, EntraTenantID: entraID})
}

// privilegeFor maps directory roles to the estate's privilege scale.
func privilegeFor(roles []string) estate.Privilege {
	p := estate.PrivRead
	for _, r := range roles {
		switch {
		case r == "Global Administrator" || r == "Privileged Role Administrator" || r == "Privileged Authentication Administrator":
			return estate.PrivFull
		case strings.HasSuffix(r, "Administrator"):
			p = estate.PrivAdmin
		case strings.HasSuffix(r, "Reader") || r == "Directory Readers":
		default:
			if p == estate.PrivRead {
				p = estate.PrivOperate
			}
		}
	}
	return p
}

// partnerGroups reads the GDAP access groups' names and members.
func (col *collector) partnerGroups(ctx context.Context, containers map[string]bool, r *TenantResult) {
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range containers {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		var grp Group
		err := col.c.Get(ctx, col.partner, "/v1.0/groups/"+url.PathEscape(id)+"?$select=id,displayName", &grp)
		var members []string
		if err == nil {
			err = List(ctx, col.c, col.partner, "/v1.0/groups/"+url.PathEscape(id)+"/members?$select="+memberSelect, func(m DirectoryObject) error {
				if m.UserPrincipalName != "" {
					members = append(members, col.userID(m.UserPrincipalName))
				}
				return nil
			})
		}
		if err != nil {
			col.gap(r, EvGroups, PermGroupMembers, err)
			return
		}
		col.mu.Lock()
		for i := range col.frag.Groups {
			if col.frag.Groups[i].ID == groupID(id) {
				col.frag.Groups[i].Name = grp.DisplayName
				for _, m := range members {
					if col.ids[m] || col.known[m] {
						col.frag.Groups[i].Members = append(col.frag.Groups[i].Members, m)
					}
				}
			}
		}
		col.mu.Unlock()
	}
}

// tenant collects one tenant; every failure is recorded in r.
func (col *collector) tenant(ctx context.Context, t Target, r *TenantResult) {
	start := time.Now()
	defer func() { r.Duration = time.Since(start) }()
	home := t.Tenant

	// A token failure means nothing can be read from this tenant.
	if _, err := col.c.tokens.get(ctx, t.EntraID, ""); err != nil {
		r.Errors = append(r.Errors, err.Error())
		r.Gaps = append(r.Gaps, estate.Gap{Tenant: home, Evidence: EvTenant, Reason: err.Error(), At: col.now})
		return
	}

	// The reads are independent: run them in parallel (the client's
	// semaphore still bounds requests in flight), then map.
	var (
		domains                          []string
		users                            = map[string]*User{}
		order                            []string
		reg                              = map[string]UserRegistrationDetails{}
		roleDefs                         = map[string]RoleDefinition{}
		assignments                      []RoleAssignment
		eligible                         []RoleAssignment
		groupMembers                     = map[string][]string{} // role-assignable group → member ids
		sps                              = map[string]ServicePrincipal{}
		policies                         []ConditionalAccessPolicy
		sd                               SecurityDefaults
		errDomains, errActivity, errUser error
		errReg, errRoles, errSP, errCA   error
		errSD, errEligible, errGroups    error
		errSignIns, errCAGroups          error
		delta                            *deltaTenant
		caGrp                            = &caGroups{members: map[string]map[string]bool{}}
	)
	// The first page of every read comes in one JSON batch; later pages,
	// and answers throttled inside the batch, are read on their own.
	var (
		pDomains  = "/v1.0/domains?$select=" + domainSelect
		pUsers    = col.usersFirstPath(t)
		pReg      = fmt.Sprintf("/v1.0/reports/authenticationMethods/userRegistrationDetails?$top=%d", col.o.PageSize)
		pRoleDefs = "/v1.0/roleManagement/directory/roleDefinitions?$select=" + roleDefSelect
		pRoleAsg  = "/v1.0/roleManagement/directory/roleAssignments?$expand=principal"
		pElig     = "/v1.0/roleManagement/directory/roleEligibilitySchedules?$expand=principal"
		pSP       = fmt.Sprintf("/v1.0/servicePrincipals?$select="+spSelect+"&$top=%d", col.o.PageSize)
		pCA       = "/v1.0/identity/conditionalAccess/policies"
		pSD       = "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy"
	)
	usersItem := pageItem[User](pUsers)
	prev := col.delta(t.EntraID)
	if prev != nil && prev.Link != "" {
		usersItem = pageItem[deltaUser](pUsers)
	}
	items := []batchItem{pageItem[Domain](pDomains), usersItem, pageItem[UserRegistrationDetails](pReg),
		pageItem[RoleDefinition](pRoleDefs), pageItem[RoleAssignment](pRoleAsg), pageItem[RoleAssignment](pElig),
		pageItem[ServicePrincipal](pSP), pageItem[ConditionalAccessPolicy](pCA), getItem[SecurityDefaults](pSD)}
	if prev != nil {
		// A repeat: the groups whose members decided roles or CA cover
		// last time are read in the batch too, not after the reads that
		// name them (a group named now but not then is read after).
		for _, g := range prev.Groups {
			items = append(items, pageItem[DirectoryObject](membersPath(g)))
		}
	}
	pre := col.c.batch(ctx, t.EntraID, items)
	var wg sync.WaitGroup
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	run(func() {
		_, errDomains = listPre(ctx, col.c, t.EntraID, pDomains, pre, func(d Domain) error {
			if d.IsVerified && !strings.HasSuffix(d.ID, ".onmicrosoft.com") {
				domains = append(domains, strings.ToLower(d.ID))
			}
			return nil
		})
	})
	run(func() {
		delta, errUser, errActivity = col.users(ctx, t, users, &order, pre)
	})
	run(func() {
		_, errReg = listPre(ctx, col.c, t.EntraID, pReg, pre, func(d UserRegistrationDetails) error {
			reg[d.ID] = d
			return nil
		})
	})
	run(func() {
		_, errRoles = listPre(ctx, col.c, t.EntraID, pRoleDefs, pre, func(d RoleDefinition) error {
			roleDefs[d.ID] = d
			return nil
		})
		if errRoles == nil {
			_, errRoles = listPre(ctx, col.c, t.EntraID, pRoleAsg, pre, func(a RoleAssignment) error {
				assignments = append(assignments, a)
				return nil
			})
		}
		if errRoles == nil {
			// Role-assignable groups: their members hold the role.
			for _, a := range assignments {
				if p := a.principal(); strings.HasSuffix(p.Type, ".group") {
					if _, done := groupMembers[a.PrincipalID]; done {
						continue
					}
					var ms []string
					_, err := listPre(ctx, col.c, t.EntraID, membersPath(a.PrincipalID), pre, func(m DirectoryObject) error {
						ms = append(ms, m.ID)
						return nil
					})
					if err != nil {
						errGroups = err
						break
					}
					groupMembers[a.PrincipalID] = ms
				}
			}
		}
	})
	run(func() {
		// PIM-eligible assignments (Entra ID P2): an eligible admin can
		// activate the role at any time.
		_, errEligible = listPre(ctx, col.c, t.EntraID, pElig, pre, func(a RoleAssignment) error {
			eligible = append(eligible, a)
			return nil
		})
	})
	run(func() {
		_, errSP = listPre(ctx, col.c, t.EntraID, pSP, pre, func(s ServicePrincipal) error {
			sps[s.ID] = s
			return nil
		})
	})
	run(func() {
		_, errCA = listPre(ctx, col.c, t.EntraID, pCA, pre, func(p ConditionalAccessPolicy) error {
			policies = append(policies, p)
			return nil
		})
		if errCA != nil {
			return
		}
		// The groups the MFA policies include or exclude: their transitive
		// members decide who is covered (a group nested in a group counts).
		for _, g := range caGroupIDs(policies) {
			set := map[string]bool{}
			_, err := listPre(ctx, col.c, t.EntraID, membersPath(g), pre, func(m DirectoryObject) error {
				set[m.ID] = true
				return nil
			})
			if err != nil {
				errCAGroups = errors.Join(errCAGroups, fmt.Errorf("group %s: %w", g, err))
				continue
			}
			caGrp.members[g] = set
		}
	})
	run(func() {
		// Security defaults are read on their own: tenants without Entra ID
		// P1 cannot read CA policies, and security defaults are their MFA.
		errSD = getPre(ctx, col.c, t.EntraID, pSD, pre, &sd)
	})
	if col.o.SignInDir != "" {
		run(func() { r.SignIns, r.SignInsTruncated, errSignIns = col.signIns(ctx, t) })
	}
	wg.Wait()

	// Gaps in a fixed order.
	if errDomains != nil {
		col.gap(r, EvDomains, PermDomains, errDomains)
	} else if home != estate.MSP {
		col.mu.Lock()
		for i := range col.frag.Tenants {
			if col.frag.Tenants[i].ID == home {
				col.frag.Tenants[i].Domains = domains
			}
		}
		col.mu.Unlock()
	}
	if errActivity != nil {
		col.gap(r, EvLastSignIn, PermAuditLog, errActivity)
	}
	usersOK := errUser == nil
	if !usersOK {
		col.gap(r, EvIdentities, PermUsers, errUser)
		clear(users)
		order = nil
	} else if delta != nil {
		for g := range groupMembers {
			delta.Groups = append(delta.Groups, g)
		}
		for g := range caGrp.members {
			if _, dup := groupMembers[g]; !dup {
				delta.Groups = append(delta.Groups, g)
			}
		}
		slices.Sort(delta.Groups)
		col.setDelta(t.EntraID, delta)
	}
	r.Users = len(users)
	regOK := errReg == nil
	if !regOK {
		col.gap(r, EvMFAMethods, PermAuditLog, errReg)
	}
	for _, d := range reg {
		if d.IsMfaRegistered {
			r.MFARegistered++
		}
	}
	rolesOK := errRoles == nil && errGroups == nil
	if errRoles != nil {
		col.gap(r, EvRoles, PermRoles, errRoles)
		assignments = nil
	} else if errGroups != nil {
		col.gap(r, EvRoles, PermGroupMembers, errGroups)
	}
	if errEligible != nil {
		var ae *APIError
		if errors.As(errEligible, &ae) && (ae.Code == "AadPremiumLicenseRequired" || strings.Contains(ae.Code, "NonPremiumTenant")) {
			// No P2 (or no premium licence at all): PIM eligibility
			// cannot exist here. Not missing evidence: the role
			// controls judge the active assignments.
			r.NoP2 = true
		} else {
			col.gap(r, EvRolesEligible, PermRoles, errEligible)
		}
		eligible = nil
	}
	spOK := errSP == nil
	if !spOK {
		col.gap(r, EvSPs, PermApps, errSP)
	}
	caOK := errCA == nil
	caNonPremium := false
	if !caOK {
		var ae *APIError
		caNonPremium = errors.As(errCA, &ae) && strings.Contains(ae.Code, "NonPremiumTenant")
		if !caNonPremium {
			col.gap(r, EvMFAEnforced, PermPolicy, errCA)
		}
	}
	if errCAGroups != nil {
		// Users whose cover depends on an unread group stay not-evaluable.
		col.gap(r, EvMFAEnforced, PermGroupMembers, errCAGroups)
	}
	sdOK := errSD == nil
	if !sdOK {
		col.gap(r, EvMFAEnforced, PermPolicy, errSD)
	} else {
		r.SecurityDefaults = estate.Bool(sd.IsEnabled)
	}
	if errSignIns != nil {
		col.gap(r, EvSignIns, PermAuditLog+" + "+PermDirectory, errSignIns)
	}

	// Directory roles per principal; foreign principals.
	userRoles := map[string][]string{}         // principal id → role names
	userRoleTemplates := map[string][]string{} // principal id → tenant-wide role template ids
	var foreign []principal
	foreignRoles := map[string][]string{}
	addRole := func(a RoleAssignment, qualifier string) {
		name := roleName(a.RoleDefinitionID)
		tmpl := a.RoleDefinitionID
		if d, ok := roleDefs[a.RoleDefinitionID]; ok {
			name = d.DisplayName
			if d.TemplateID != "" {
				tmpl = d.TemplateID
			}
		}
		tenantWide := a.DirectoryScopeID == "" || a.DirectoryScopeID == "/"
		if !tenantWide {
			// Scoped to an administrative unit (or one object): not a
			// tenant-wide role.
			r.ScopedAssignments++
			name += " (scope " + a.DirectoryScopeID + ")"
		}
		if qualifier != "" {
			name += " (" + qualifier + ")"
		}
		p := a.principal()
		_, isUser := users[a.PrincipalID]
		_, isSP := sps[a.PrincipalID]
		give := func(id string) {
			userRoles[id] = appendUnique(userRoles[id], name)
			if tenantWide && qualifier == "" {
				userRoleTemplates[id] = appendUnique(userRoleTemplates[id], tmpl)
			}
		}
		switch {
		case isUser || isSP:
			give(a.PrincipalID)
		case strings.HasSuffix(p.Type, ".group"):
			// A role-assignable group: every (transitive) member holds it.
			r.GroupRoleAssignments++
			for _, m := range groupMembers[a.PrincipalID] {
				give(m)
			}
		case a.PrincipalOrganizationID != "" && !strings.EqualFold(a.PrincipalOrganizationID, t.EntraID):
			// principalOrganizationId names another tenant: a foreign
			// principal (for example a partner-tenant object).
			if _, seen := foreignRoles[a.PrincipalID]; !seen {
				p.ID = a.PrincipalID
				p.Org = a.PrincipalOrganizationID
				foreign = append(foreign, p)
			}
			foreignRoles[a.PrincipalID] = appendUnique(foreignRoles[a.PrincipalID], name)
		case p.ID == "" && (a.PrincipalOrganizationID == "" || strings.EqualFold(a.PrincipalOrganizationID, t.EntraID)) && usersOK && spOK:
			// This tenant's object, not among its users or apps and not
			// expandable: a deleted principal, not a foreign one.
			r.DeletedPrincipals++
		case a.PrincipalOrganizationID == "" && usersOK && (spOK || !strings.HasSuffix(p.Type, ".servicePrincipal")):
			if _, seen := foreignRoles[a.PrincipalID]; !seen {
				p.ID = a.PrincipalID
				foreign = append(foreign, p)
			}
			foreignRoles[a.PrincipalID] = appendUnique(foreignRoles[a.PrincipalID], name)
		}
	}
	for _, a := range assignments {
		r.RoleAssignments++
		addRole(a, "")
	}
	for _, a := range eligible {
		r.EligibleAssignments++
		addRole(a, "eligible")
	}
	r.ForeignPrincipals = len(foreign)
	r.CAPolicies = len(policies)

	prov := col.prov(t.EntraID)
	fallbackProv := &estate.Provenance{Source: prov.Source + " (last_sign_in: no successful sign-in since 2023-12-01, when Graph began recording them; the last attempt, capped there, includes failed attempts)", CollectedAt: prov.CollectedAt}
	var deltaProv *estate.Provenance
	if delta != nil && delta.repeat {
		deltaProv = &estate.Provenance{Source: prov.Source + " (users/delta; sign-in activity as of the last full collection)", CollectedAt: delta.FullAt}
	}
	var ids []estate.Identity
	if usersOK {
		for _, id := range order {
			u := users[id]
			x := estate.Identity{ID: col.identityID(home, u), Name: u.DisplayName, UPN: u.UserPrincipalName, Kind: estate.KindHuman,
				Home: home, Enabled: u.AccountEnabled, Roles: userRoles[u.ID], Provenance: prov}
			if deltaProv != nil {
				x.Provenance = deltaProv
			}
			if ts, ok := parseTime(u.CreatedDateTime); ok {
				x.Created = &estate.Date{Time: ts}
			}
			if last, fellBack := lastSignIn(u); !last.IsZero() {
				x.LastSignIn = &estate.Date{Time: last}
				if fellBack {
					r.LastSignInFallback++
					if deltaProv == nil {
						x.Provenance = fallbackProv
					}
				}
			}
			if regOK {
				d := reg[u.ID]
				x.MFA.Methods = mfaMethods(d.MethodsRegistered)
			}
			switch enforced, known := mfaEnforced(sdOK && sd.IsEnabled, sdOK, caOK, caNonPremium, policies,
				caUser{ID: u.ID, Roles: userRoleTemplates[u.ID], RolesOK: rolesOK, Groups: caGrp,
					External: strings.EqualFold(u.UserType, "Guest") || strings.Contains(strings.ToUpper(u.UserPrincipalName), "#EXT#")}); {
			case known:
				x.MFA.Enforced = estate.Bool(enforced)
			}
			ids = append(ids, x)
		}
	}
	for _, p := range foreign {
		kind := estate.KindHuman
		if strings.HasSuffix(p.Type, "servicePrincipal") {
			kind = estate.KindService
		}
		name := p.DisplayName
		if name == "" {
			name = "foreign principal " + p.ID
		}
		owner := "foreign principal (not an object of this tenant, e.g. the partner's)"
		if p.Org != "" {
			owner = "foreign principal of tenant " + p.Org
		}
		ids = append(ids, estate.Identity{ID: home + "/foreign/" + strings.ToLower(p.ID), Name: name, UPN: p.UserPrincipalName, Kind: kind, Home: home,
			Owner: owner, Roles: foreignRoles[p.ID], Provenance: prov})
	}
	if spOK {
		for _, s := range sortedSPs(sps) {
			if !col.isToolApp(s, t.EntraID) && len(userRoles[s.ID]) == 0 {
				continue
			}
			if s.AppOwnerOrganizationID == t.EntraID || microsoftOwners[s.AppOwnerOrganizationID] {
				if len(userRoles[s.ID]) == 0 {
					continue
				}
			}
			r.ToolApps++
			ids = append(ids, estate.Identity{ID: home + "/app/" + strings.ToLower(s.AppID), Name: s.DisplayName, Kind: estate.KindService, Home: home,
				Enabled: s.AccountEnabled, Owner: "app owner tenant " + s.AppOwnerOrganizationID, Roles: userRoles[s.ID], Provenance: prov})
		}
	}
	kept := ids[:0]
	for _, x := range ids {
		if col.claim(x.ID) {
			kept = append(kept, x)
		}
	}
	col.mu.Lock()
	col.frag.Identities = append(col.frag.Identities, kept...)
	col.mu.Unlock()
}

// lastSignIn is the user's last successful sign-in
// (signInActivity.lastSuccessfulSignInDateTime). Where that is empty (no
// successful sign-in since Microsoft started recording it in December
// 2023) it takes the latest attempt capped at 2023-12-01 and says so:
// attempts include failures, and a sprayed dormant account must not look
// active.
func lastSignIn(u *User) (last time.Time, fellBack bool) {
	if u.SignInActivity == nil {
		return time.Time{}, false
	}
	if ts, ok := parseTime(u.SignInActivity.LastSuccessfulSignInDateTime); ok {
		return ts, false
	}
	// No successful sign-in recorded: lastSignInDateTime and
	// lastNonInteractiveSignInDateTime count failed attempts too (a
	// password spray against a dormant account refreshes them), so they
	// never show activity. lastSuccessfulSignInDateTime is recorded from
	// 2023-12-01 on (not backfilled): an attempt is capped there, so the
	// account is judged as last used before that date at the latest.
	for _, s := range []string{u.SignInActivity.LastSignInDateTime, u.SignInActivity.LastNonInteractiveSignInDateTime} {
		if ts, ok := parseTime(s); ok && ts.After(last) {
			last = ts
		}
	}
	if last.After(SuccessfulSignInSince) {
		last = SuccessfulSignInSince
	}
	return last, !last.IsZero()
}

// SuccessfulSignInSince is when Graph began recording
// signInActivity.lastSuccessfulSignInDateTime (not backfilled): an empty
// value means no successful sign-in since.
var SuccessfulSignInSince = time.Date(2023, 12, 1, 0, 0, 0, 0, time.UTC)

// $select lists (TestSchemaProperties checks them against the CSDL).
const (
	userSelect    = "id,displayName,userPrincipalName,accountEnabled,userType,createdDateTime"
	spSelect      = "id,appId,displayName,appOwnerOrganizationId,accountEnabled,servicePrincipalType"
	roleDefSelect = "id,displayName,templateId"
	domainSelect  = "id,isVerified"
	memberSelect  = "id,displayName,userPrincipalName"
)

// membersPath reads a group's transitive members (ids only).
func membersPath(group string) string {
	return "/v1.0/groups/" + url.PathEscape(group) + "/transitiveMembers?$select=id"
}

// usersFirstPath is the first users read of a tenant: the users/delta
// link of the previous run, or users with signInActivity.
func (col *collector) usersFirstPath(t Target) string {
	if prev := col.delta(t.EntraID); prev != nil && prev.Link != "" {
		return prev.Link
	}
	return fmt.Sprintf("/v1.0/users?$select=%s&$top=%d", userSelect+",signInActivity", min(col.o.PageSize, SignInActivityPageSize))
}

// SignInActivityPageSize is the documented maximum $top when listing users
// with signInActivity; a larger one is answered with HTTP 400.
const SignInActivityPageSize = 120

// users reads the tenant's users: with signInActivity (AuditLog.Read.All
// and Entra ID P1) at 120 a page, else — on a 403 or a 400 — without it.
// With a users/delta state from a previous run, only the changes are read.
func (col *collector) users(ctx context.Context, t Target, users map[string]*User, order *[]string, pre map[string]*prefetched) (*deltaTenant, error, error) {
	base := userSelect
	if prev := col.delta(t.EntraID); prev != nil && prev.Link != "" {
		dt, err := col.usersDelta(ctx, t, prev, users, order, pre)
		if err == nil {
			return dt, nil, nil
		}
		// An expired delta token (or any failure) falls back to a full read.
		clear(users)
		*order = (*order)[:0]
	}
	collectUsers := func(sel string, top int) error {
		clear(users)
		*order = (*order)[:0]
		_, err := listPre(ctx, col.c, t.EntraID, fmt.Sprintf("/v1.0/users?$select=%s&$top=%d", sel, top), pre, func(u User) error {
			uu := u
			users[u.ID] = &uu
			*order = append(*order, u.ID)
			return nil
		})
		return err
	}
	var errActivity error
	err := collectUsers(base+",signInActivity", min(col.o.PageSize, SignInActivityPageSize))
	var ae *APIError
	if err != nil && errors.As(err, &ae) && (ae.Forbidden() || ae.Status == http.StatusBadRequest) {
		errActivity = err
		err = collectUsers(base, col.o.PageSize)
	}
	if err != nil {
		return nil, err, errActivity
	}
	if !col.o.Delta {
		return nil, nil, errActivity
	}
	// Start a delta round for the next run: page through users/delta to
	// its deltaLink (the first round returns every user, without
	// signInActivity, which delta does not support).
	dt := &deltaTenant{FullAt: col.now, Users: map[string]User{}}
	for _, id := range *order {
		dt.Users[id] = *users[id]
	}
	link, derr := listDelta(ctx, col.c, t.EntraID, "/v1.0/users/delta?$select="+base, func(User) error { return nil })
	if derr == nil {
		dt.Link = link
	}
	return dt, nil, errActivity
}

// usersDelta applies the changes since prev's deltaLink to prev's users.
func (col *collector) usersDelta(ctx context.Context, t Target, prev *deltaTenant, users map[string]*User, order *[]string, pre map[string]*prefetched) (*deltaTenant, error) {
	cur := map[string]User{}
	for id, u := range prev.Users {
		cur[id] = u
	}
	link, err := listPre(ctx, col.c, t.EntraID, prev.Link, pre, func(u deltaUser) error {
		if u.Removed != nil {
			delete(cur, u.ID)
			return nil
		}
		if old, ok := cur[u.ID]; ok {
			u.SignInActivity = old.SignInActivity
		}
		cur[u.ID] = u.User
		return nil
	})
	if err != nil {
		return nil, err
	}
	if link == "" {
		return nil, errors.New("users/delta: no @odata.deltaLink on the last page")
	}
	ids := slices.Sorted(maps.Keys(cur))
	for _, id := range ids {
		u := cur[id]
		users[id] = &u
		*order = append(*order, id)
	}
	return &deltaTenant{Link: link, FullAt: prev.FullAt, Users: cur, repeat: true}, nil
}

func sortedSPs(m map[string]ServicePrincipal) []ServicePrincipal {
	out := make([]ServicePrincipal, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b ServicePrincipal) int { return strings.Compare(a.AppID, b.AppID) })
	return out
}

func (col *collector) isToolApp(s ServicePrincipal, tenant string) bool {
	if s.AppOwnerOrganizationID == "" || s.AppOwnerOrganizationID == tenant || microsoftOwners[s.AppOwnerOrganizationID] {
		return false
	}
	if strings.EqualFold(s.AppOwnerOrganizationID, col.partner) {
		return true // the MSP's own apps in the customer tenant
	}
	n := strings.ToLower(s.DisplayName)
	for _, v := range col.o.ToolVendors {
		if strings.Contains(n, v) {
			return true
		}
	}
	return false
}

// identityID is the hand-written identity with the same UPN when there is
// one (so the collected object is recognised as already defined), else the
// lower-case UPN.
func (col *collector) identityID(home string, u *User) string {
	if u.UserPrincipalName != "" {
		return col.userID(u.UserPrincipalName)
	}
	return home + "/user/" + strings.ToLower(u.ID)
}

func (col *collector) userID(upn string) string {
	upn = strings.ToLower(upn)
	if id, ok := col.upnID[upn]; ok {
		return id
	}
	return upn
}

func appendUnique(xs []string, x string) []string {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

// mfaMethods maps Graph methodsRegistered values to estate methods.
func mfaMethods(in []string) []estate.MFAMethod {
	var out []estate.MFAMethod
	add := func(m estate.MFAMethod) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	for _, m := range in {
		switch m {
		case "fido2", "passKeyDeviceBound", "passKeyDeviceBoundAuthenticator", "passKeyDeviceBoundWindowsHello", "passKeySynced":
			if strings.HasPrefix(m, "passKey") {
				add(estate.MFAPasskey)
			} else {
				add(estate.MFAFIDO2)
			}
		case "windowsHelloForBusiness":
			add(estate.MFAWindowsHello)
		case "x509Certificate", "x509CertificateMultiFactor", "x509CertificateSingleFactor":
			add(estate.MFACertificate)
		case "microsoftAuthenticatorPush":
			add(estate.MFAPush)
		case "microsoftAuthenticatorPasswordless":
			add(estate.MFAAuthenticator)
		case "softwareOneTimePasscode", "hardwareOneTimePasscode":
			add(estate.MFATOTP)
		case "mobilePhone", "alternateMobilePhone":
			add(estate.MFASMS)
		case "officePhone":
			add(estate.MFAVoice)
		case "email":
			add(estate.MFAEmail)
		}
	}
	return out
}

// mfaEnforced decides whether MFA is enforced for a user, and whether that
// is known. Security defaults enabled enforce it for everyone (read on
// their own, so a tenant without Entra ID P1 still gets an answer). With
// security defaults off, a tenant without P1 (CA answered
// NonPremiumTenant) has no CA policies: not enforced. Otherwise the
// enabled CA policies decide (mfaRequired); when they could not be read,
// or security defaults could not, the answer is unknown: not-evaluable,
// never a false pass or fail.
func mfaEnforced(sdOn, sdOK, caOK, caNonPremium bool, ps []ConditionalAccessPolicy, u caUser) (enforced, known bool) {
	switch {
	case sdOn:
		return true, true
	case !sdOK:
		return false, false
	case caNonPremium:
		return false, true
	case !caOK:
		return false, false
	}
	return mfaRequired(ps, u)
}

// caUser is what a conditional-access policy's users condition is judged
// against: the user's id, its active tenant-wide directory role templates
// (RolesOK false: roles could not be read), and the transitive membership
// of the groups the policies name.
type caUser struct {
	ID      string
	Roles   []string
	RolesOK bool
	Groups  *caGroups
	// External: a guest or external user (userType Guest, or a #EXT#
	// user principal name), whom excludeGuestsOrExternalUsers may leave out.
	External bool
}

// caGroups is the transitive membership of the groups named in enabled
// MFA policies (include or exclude), read with
// GET /groups/{id}/transitiveMembers: group id → member ids. A group
// missing from members (its read failed, or it was not read) is unknown.
type caGroups struct {
	members map[string]map[string]bool
}

// member reports whether user is a (transitive) member of group, and
// whether that is known.
func (g *caGroups) member(group, user string) (in, known bool) {
	if g == nil {
		return false, false
	}
	ms, ok := g.members[group]
	if !ok {
		return false, false
	}
	return ms[user], true
}

// mfaRequired reports whether an enabled CA policy requires MFA (or an
// authentication strength) on every sign-in of the user: the policy
// covers the user directly, through "All" users, through one of its
// tenant-wide directory roles or through (transitive) membership of an
// included group, without excluding it by id, role or an excluded group's
// membership (an admin excluded through a "break-glass" group is not
// covered); and it is not a false pass — its grant is not "MFA OR
// something else" (a compliant or joined device, an approved app
// satisfies it without MFA), and it leaves out no applications,
// locations, platforms, client app types, device filters or risk levels.
// When the answer depends on a membership that could not be read (a
// group's members, or roles), known is false: not-evaluable, never a
// false pass or fail.
func mfaRequired(ps []ConditionalAccessPolicy, u caUser) (enforced, known bool) {
	unknown := false
	for _, p := range ps {
		if p.State != "enabled" || !p.requiresMFAEverywhere() {
			continue
		}
		c := p.Conditions.Users
		if (len(c.IncludeRoles) > 0 || len(c.ExcludeRoles) > 0) && !u.RolesOK {
			unknown = true
			continue
		}
		if slices.Contains(c.ExcludeUsers, u.ID) || intersects(c.ExcludeRoles, u.Roles) {
			continue
		}
		if u.External && flagsSet(c.ExcludeGuestsOrExternalUsers, "guestOrExternalUserTypes") {
			// Guests or external users of some types are left out; which
			// type this user is, is not read: not covered by this policy.
			continue
		}
		excluded, exclUnknown := false, false
		for _, g := range c.ExcludeGroups {
			in, ok := u.Groups.member(g, u.ID)
			excluded = excluded || in
			exclUnknown = exclUnknown || !ok
		}
		if excluded {
			continue
		}
		included := slices.Contains(c.IncludeUsers, "All") || slices.Contains(c.IncludeUsers, u.ID) || intersects(c.IncludeRoles, u.Roles)
		inclUnknown := false
		for _, g := range c.IncludeGroups {
			if included {
				break
			}
			in, ok := u.Groups.member(g, u.ID)
			included = in
			inclUnknown = inclUnknown || !ok
		}
		switch {
		case included && !exclUnknown:
			return true, true
		case included || inclUnknown:
			unknown = true // covered unless a member of an unread excluded group / if a member of an unread included group
		}
	}
	if unknown {
		return false, false
	}
	return false, true
}

// flagsSet reports whether the object raw (a CA condition, JSON) sets the
// flags enum property name to anything but "none".
func flagsSet(raw json.RawMessage, name string) bool {
	var m map[string]any
	if len(raw) == 0 || json.Unmarshal(raw, &m) != nil {
		return false
	}
	v, _ := m[name].(string)
	return v != "" && v != "none"
}

// caGroupIDs lists the groups named (included or excluded) by the enabled
// policies that would require MFA: the ones whose membership decides.
func caGroupIDs(ps []ConditionalAccessPolicy) []string {
	var out []string
	for _, p := range ps {
		if p.State != "enabled" || !p.requiresMFAEverywhere() {
			continue
		}
		for _, g := range slices.Concat(p.Conditions.Users.IncludeGroups, p.Conditions.Users.ExcludeGroups) {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	slices.Sort(out)
	return out
}

// mfaControls are grant controls that are MFA.
var mfaControls = map[string]bool{"mfa": true}

// requiresMFAEverywhere reports whether the policy's grant always demands
// MFA and its conditions leave no sign-in out (see mfaRequired).
func (p ConditionalAccessPolicy) requiresMFAEverywhere() bool {
	g := p.GrantControls
	if g == nil {
		return false
	}
	hasMFA := g.AuthenticationStrength != nil
	other := len(g.CustomAuthenticationFactors) + len(g.TermsOfUse)
	for _, c := range g.BuiltInControls {
		if mfaControls[c] {
			hasMFA = true
		} else {
			other++
		}
	}
	if !hasMFA {
		return false
	}
	// "Require one of the selected controls": any non-MFA control
	// (compliantDevice, domainJoinedDevice, approvedApplication, …)
	// satisfies the policy without MFA.
	if !strings.EqualFold(g.Operator, "AND") && other > 0 {
		return false
	}
	c := p.Conditions
	if !slices.Contains(c.Applications.IncludeApplications, "All") || len(c.Applications.ExcludeApplications) > 0 {
		return false
	}
	if len(c.ClientAppTypes) > 0 && !slices.Contains(c.ClientAppTypes, "all") {
		return false
	}
	if l := c.Locations; l != nil && (len(l.ExcludeLocations) > 0 || (len(l.IncludeLocations) > 0 && !slices.Contains(l.IncludeLocations, "All"))) {
		return false
	}
	if pl := c.Platforms; pl != nil && (len(pl.ExcludePlatforms) > 0 || (len(pl.IncludePlatforms) > 0 && !slices.Contains(pl.IncludePlatforms, "all"))) {
		return false
	}
	if c.Devices != nil && c.Devices.DeviceFilter != nil {
		return false
	}
	if c.InsiderRiskLevels != "" || flagsSet(c.AuthenticationFlows, "transferMethods") {
		return false
	}
	if len(c.SignInRiskLevels) > 0 || len(c.UserRiskLevels) > 0 || len(c.ServicePrincipalRiskLevels) > 0 {
		return false
	}
	return true
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

var errEnough = errors.New("enough sign-ins")

// signIns writes the tenant's recent sign-ins as JSON lines. The period is
// read in windows (newest first, Options.SignInWindow); a window Graph
// keeps timing out on (504 after the retries) is halved down to 15
// minutes, so a long period does not fail as a whole.
func (col *collector) signIns(ctx context.Context, t Target) (int, bool, error) {
	path := filepath.Join(col.o.SignInDir, "signins-"+t.Tenant+".jsonl")
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, false, err
	}
	w := bufio.NewWriter(f)
	n := 0
	write := func(raw json.RawMessage) error {
		if n >= col.o.SignInMax {
			return errEnough
		}
		n++
		_, _ = w.Write(raw)
		return w.WriteByte('\n')
	}
	const layout = "2006-01-02T15:04:05Z"
	since := col.now.Add(-col.o.SignInSince)
	end := col.now
	win := col.o.SignInWindow
	for err == nil && end.After(since) {
		start := end.Add(-win)
		if start.Before(since) {
			start = since
		}
		q := url.Values{"$filter": {"createdDateTime ge " + start.Format(layout) + " and createdDateTime lt " + end.Format(layout)}, "$top": {"1000"}}
		before := n
		err = List(ctx, col.c, t.EntraID, "/v1.0/auditLogs/signIns?"+q.Encode(), write)
		var ae *APIError
		if err != nil && errors.As(err, &ae) && ae.Status == http.StatusGatewayTimeout && win > 15*time.Minute && n == before {
			win /= 2
			err = nil
			continue
		}
		end = start
	}
	truncated := errors.Is(err, errEnough)
	if truncated {
		err = nil
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return n, false, err
	}
	return n, truncated, os.Rename(tmp, path)
}

func estateIDs(e *estate.Estate) []string {
	var ids []string
	for _, x := range e.Tenants {
		ids = append(ids, x.ID)
	}
	for _, x := range e.Identities {
		ids = append(ids, x.ID)
	}
	for _, x := range e.Groups {
		ids = append(ids, x.ID)
	}
	for _, x := range e.Tools {
		ids = append(ids, x.ID)
	}
	for _, x := range e.Grants {
		ids = append(ids, x.ID)
	}
	for _, x := range e.Assets {
		ids = append(ids, x.ID)
	}
	return ids
}

func sortFragment(e *estate.Estate) {
	slices.SortFunc(e.Tenants, func(a, b estate.Tenant) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(e.Identities, func(a, b estate.Identity) int {
		if c := strings.Compare(a.Home, b.Home); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	slices.SortFunc(e.Groups, func(a, b estate.Group) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(e.Tools, func(a, b estate.Tool) int { return strings.Compare(a.ID, b.ID) })
	slices.SortFunc(e.Grants, func(a, b estate.Grant) int { return strings.Compare(a.ID, b.ID) })
	slices.SortStableFunc(e.CollectionGap, func(a, b estate.Gap) int { return strings.Compare(a.Tenant, b.Tenant) })
}
