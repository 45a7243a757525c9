package detect

import (
	"net/netip"
	"strings"

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
	ph           map[*valueMatcher][]*valueMatcher // compiled placeholder values per use

	// The event being matched (by the engine's counter) and its flags,
	// computed once per event.
	gen, flagsGen  uint64
	benign, svcAcc bool

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
	svc      map[string]bool // lowercased names, bare and as given
}

func newEnv(tenants map[string]TenantContext, placeholders map[string][]string) *env {
	x := &env{tenants: map[string]*tenantEnv{}, placeholders: placeholders, ph: map[*valueMatcher][]*valueMatcher{}}
	for id, t := range tenants {
		te := &tenantEnv{accounts: t.Accounts, svc: map[string]bool{}}
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
	return x
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

// accounts returns the tenant's account count (0 when unknown).
func (x *env) accounts(tenant string) int {
	if t := x.tenant(tenant); t != nil {
		return t.accounts
	}
	return 0
}

// placeholder returns the compiled values of an expand placeholder (none
// when it has no value; bad values are skipped and reported by NewEngine).
func (x *env) placeholder(v *valueMatcher) []*valueMatcher {
	if x == nil {
		return nil
	}
	if c, ok := x.ph[v]; ok {
		return c
	}
	var out []*valueMatcher
	for _, val := range x.placeholders[v.ph] {
		vm, err := compileValue(&yaml.Node{Kind: yaml.ScalarNode, Value: val}, v.mods)
		if err == nil {
			out = append(out, vm)
		}
	}
	x.ph[v] = out
	return out
}
