package detect

import (
	"maps"
	"net/netip"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/firebreak-msp/firebreak/internal/event"
	"go.yaml.in/yaml/v3"
)

// TenantContext is what the engine knows of one tenant beyond its events,
// usually from the estate: how many accounts it has (spray thresholds scale
// with it), the networks whose failures are expected (an office NAT, a
// monitoring probe) and its service accounts. Rules see the last two as the
// fields firebreak.benign_source and firebreak.service_account ("true" or
// "false").
type TenantContext struct {
	Accounts        int
	BenignNetworks  []netip.Prefix
	ServiceAccounts []string
}

// env is what matchers see beside the event: the engine's tenants and
// placeholder values. A nil env has neither.
type env struct {
	tenants      map[string]*tenantEnv
	placeholders map[string][]string
	ph           map[phUse][]*valueMatcher // compiled placeholder values per use and tenant

	// The event being matched (by the engine's counter) and its flags,
	// computed once per event.
	gen, flagsGen  uint64
	benign, svcAcc bool

	epoch uint64 // replace calls: what was looked up in tenants before is stale

	memoGen []uint64 // per shared selection: the event it was evaluated for
	memoVal []bool
}

// memo evaluates a shared selection once per event.
func (x *env) memo(s *selection, slot int, ev *event.Event) bool {
	if x.memoGen[slot] == x.gen {
		return x.memoVal[slot]
	}
	v := s.match(ev, x)
	x.memoGen[slot], x.memoVal[slot] = x.gen, v
	return v
}

type tenantEnv struct {
	accounts int
	nets     []netip.Prefix
	svc      map[string]bool     // lowercased names, bare and as given
	ph       map[string][]string // placeholder values of this tenant
}

// phUse is one use of a placeholder (its matcher) for one tenant ("" for
// the values every tenant shares).
type phUse struct {
	v      *valueMatcher
	tenant string
}

// Context is what an engine knows beyond the events, usually derived from
// the estate (internal/detect/tenantctx): each tenant's context and the
// values of expand placeholders, for every tenant and per tenant.
type Context struct {
	Tenants map[string]TenantContext
	// Placeholders hold the values of expand placeholders (%name% →
	// values) for events of any tenant.
	Placeholders map[string][]string
	// TenantPlaceholders hold per-tenant values (tenant → name → values):
	// for an event of that tenant they replace Placeholders' values of the
	// same name (a tenant's own domains, its own benign networks).
	TenantPlaceholders map[string]map[string][]string
}

// LiveContext holds the current Context of engines that follow it: a
// service's detectors, whose estate is reloaded while they run. Set may be
// called from any goroutine; an engine picks up the new context before the
// next event it processes, keeping its windows and incidents.
type LiveContext struct{ p atomic.Pointer[Context] }

// Set replaces the context (nil keeps the engines' current one).
func (l *LiveContext) Set(c *Context) {
	if c != nil {
		l.p.Store(c)
	}
}

// Load returns the current context (nil before the first Set, or when l
// is nil).
func (l *LiveContext) Load() *Context {
	if l == nil {
		return nil
	}
	return l.p.Load()
}

// placeholderNames returns every placeholder with a value for some
// tenant, for the load-time check (values are not looked at).
func (c *Context) placeholderNames() map[string][]string {
	if len(c.TenantPlaceholders) == 0 {
		return c.Placeholders
	}
	out := maps.Clone(c.Placeholders)
	if out == nil {
		out = map[string][]string{}
	}
	for _, ph := range c.TenantPlaceholders {
		for k, v := range ph {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out
}

func newEnv(c *Context) *env {
	x := &env{tenants: map[string]*tenantEnv{}, placeholders: c.Placeholders, ph: map[phUse][]*valueMatcher{}}
	for id, t := range c.Tenants {
		te := &tenantEnv{accounts: t.Accounts, svc: map[string]bool{}, ph: c.TenantPlaceholders[id]}
		for _, p := range t.BenignNetworks {
			te.nets = append(te.nets, p.Masked())
		}
		for _, s := range t.ServiceAccounts {
			s = strings.ToLower(strings.TrimSpace(s))
			te.svc[s] = true
			te.svc[bareUser(s)] = true
		}
		x.tenants[id] = te
	}
	for id, ph := range c.TenantPlaceholders {
		if _, ok := x.tenants[id]; !ok {
			x.tenants[id] = &tenantEnv{ph: ph}
		}
	}
	return x
}

// replace takes over c's tenants and placeholders, keeping the per-event
// memo slots (a live context changed between two events).
func (x *env) replace(c *Context) {
	n := newEnv(c)
	x.tenants, x.placeholders, x.ph = n.tenants, n.placeholders, n.ph
	x.flagsGen = 0
	x.epoch++
}

// bareUser strips DOMAIN\ and @domain from a user name.
func bareUser(u string) string {
	if i := strings.LastIndexByte(u, '\\'); i >= 0 {
		u = u[i+1:]
	}
	if i := strings.IndexByte(u, '@'); i >= 0 {
		u = u[:i]
	}
	return u
}

func (x *env) tenant(id string) *tenantEnv {
	if x == nil {
		return nil
	}
	return x.tenants[id]
}

func (x *env) benignSource(ev *event.Event) bool {
	if x == nil || len(x.tenants) == 0 {
		return false
	}
	x.flags(ev)
	return x.benign
}

func (x *env) serviceAccount(ev *event.Event) bool {
	if x == nil || len(x.tenants) == 0 {
		return false
	}
	x.flags(ev)
	return x.svcAcc
}

// flags computes the event's benign-source and service-account flags once
// per event (gen 0, outside an engine, computes them every time).
func (x *env) flags(ev *event.Event) {
	if x.gen != 0 && x.flagsGen == x.gen {
		return
	}
	x.flagsGen = x.gen
	x.benign, x.svcAcc = x.computeBenign(ev), x.computeService(ev)
}

func (x *env) computeBenign(ev *event.Event) bool {
	t := x.tenant(ev.Tenant)
	if t == nil || !ev.SourceIP.IsValid() {
		return false
	}
	ip := ev.SourceIP.Unmap()
	for _, p := range t.nets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (x *env) computeService(ev *event.Event) bool {
	t := x.tenant(ev.Tenant)
	if t == nil || len(t.svc) == 0 || ev.UserName == "" {
		return false
	}
	u := strings.ToLower(ev.UserName)
	return t.svc[u] || t.svc[bareUser(u)]
}

// accountsSeen counts, for each tenant whose account count the estate
// gives, the distinct accounts seen authenticating in it (a success, or a
// failure of an account that exists), up to maxAccountsSeen per tenant.
// Every authentication event asks, so a tenant's entry keeps its estate
// context (one map lookup per event for both) and a few of the user names
// it counted (a repeated name skips the fold and the set lookup); the last
// tenant's entry is kept at hand (an input is often one tenant's events).
// Before all that, a table of (tenant, user) pairs known counted, by the
// strings' addresses (readers intern both, so a pair meets its own slot
// again), answers most events from one cache line: the tenants' entries
// and their names, touched by every event, missed the cache.
type accountsSeen struct {
	m       map[string]*tenantSeen
	lastT   string      // the tenant of the last observe
	last    *tenantSeen // m[lastT]
	counted []seenPair  // 1<<countedBits pairs whose user is in its tenant's users, by pairSlot
}

// seenPair is a user name counted in a tenant.
type seenPair struct{ tenant, user string }

const countedBits = 11

// pairSlot is the slot of a tenant and user name in accountsSeen.counted,
// by their addresses.
func pairSlot(tenant, user string) int {
	t := uint64(uintptr(unsafe.Pointer(unsafe.StringData(tenant))))
	u := uint64(uintptr(unsafe.Pointer(unsafe.StringData(user))))
	return int((t*0x9e3779b97f4a7c15 ^ u*0xc2b2ae3d27d4eb4f) >> (64 - countedBits))
}

type tenantSeen struct {
	users  map[string]struct{} // folded bare names
	recent [16]string          // user names (as given) found or put in users, by recentSlot
	te     *tenantEnv          // the tenant's context as of epoch
	epoch  uint64              // env.epoch when te was looked up
}

// recentSlot is where a user name is remembered in tenantSeen.recent.
func recentSlot(u string) int { return (len(u) + 3*int(u[0])) & 15 }

// maxAccountsSeen bounds the accounts remembered per tenant: no
// relative_to_accounts threshold changes past a few hundred accounts.
const maxAccountsSeen = 4096

func (a *accountsSeen) observe(ev *event.Event, x *env) {
	if ev.UserName == "" || ev.Reason == "unknown_user" || x == nil {
		return
	}
	if a.counted == nil {
		a.counted = make([]seenPair, 1<<countedBits)
	}
	c := &a.counted[pairSlot(ev.Tenant, ev.UserName)]
	if c.user == ev.UserName && c.tenant == ev.Tenant && c.user != "" {
		return // counted already: users only grow
	}
	s := a.last
	if s == nil || ev.Tenant != a.lastT {
		s = a.m[ev.Tenant]
		if s == nil {
			te := x.tenant(ev.Tenant)
			if te == nil || te.accounts == 0 {
				return // no entry: a tenant the estate does not size
			}
			if a.m == nil {
				a.m = map[string]*tenantSeen{}
			}
			s = &tenantSeen{users: map[string]struct{}{}, te: te, epoch: x.epoch}
			a.m[ev.Tenant] = s
		}
		a.lastT, a.last = ev.Tenant, s
	}
	if s.epoch != x.epoch { // the context was replaced (LiveContext)
		s.te, s.epoch = x.tenant(ev.Tenant), x.epoch
	}
	r := &s.recent[recentSlot(ev.UserName)]
	if s.te == nil || s.te.accounts == 0 || len(s.users) >= maxAccountsSeen {
		return
	}
	if ev.UserName != *r {
		var buf [64]byte
		k := foldUserTo(buf[:0], bareUser(ev.UserName))
		if _, ok := s.users[string(k)]; !ok {
			s.users[string(k)] = struct{}{}
		}
		*r = ev.UserName
	}
	*c = seenPair{ev.Tenant, ev.UserName}
}

// foldUserTo appends foldUser(u) to dst without allocating for an ASCII
// name that fits.
func foldUserTo(dst []byte, u string) []byte {
	for i := 0; i < len(u); i++ {
		if u[i] >= 0x80 {
			return append(dst, foldUser(u)...)
		}
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// tenantAccounts is the size of a tenant that relative_to_accounts
// thresholds scale with: the estate's account count, or the number of
// distinct accounts seen authenticating in the tenant when that is more
// (an estate that lists 2 identities while 60 users sign in is
// incomplete, and a threshold scaled to 2 accounts takes an office's
// morning for a spray). 0 (unknown: the rule's own threshold) when the
// estate gives no count: a log's own accounts alone do not lower it.
func (a *accountsSeen) tenantAccounts(tenant string, x *env) int {
	n := x.accounts(tenant)
	if n == 0 {
		return 0
	}
	if s := a.m[tenant]; s != nil {
		return max(n, len(s.users))
	}
	return n
}

// accounts returns the tenant's account count (0 when unknown).
func (x *env) accounts(tenant string) int {
	if t := x.tenant(tenant); t != nil {
		return t.accounts
	}
	return 0
}

// placeholder returns the compiled values of an expand placeholder for an
// event of tenant: the tenant's own values when it has them, else those of
// every tenant (none when it has no value; bad values are skipped and
// reported by NewEngine).
func (x *env) placeholder(v *valueMatcher, tenant string) []*valueMatcher {
	if x == nil {
		return nil
	}
	vals, own := x.placeholders[v.ph], false
	if t := x.tenants[tenant]; t != nil {
		if tv, ok := t.ph[v.ph]; ok {
			vals, own = tv, true
		}
	}
	if !own {
		tenant = ""
	}
	use := phUse{v, tenant}
	if c, ok := x.ph[use]; ok {
		return c
	}
	var out []*valueMatcher
	for _, val := range vals {
		vm, err := compileValue(&yaml.Node{Kind: yaml.ScalarNode, Value: val}, v.mods)
		if err == nil {
			out = append(out, vm)
		}
	}
	x.ph[use] = out
	return out
}
