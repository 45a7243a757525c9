package detect

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// TestAccountsSeenFoldsAndSwitchesTenants: one account under its plain,
// DOMAIN\ and @domain forms in any case counts once, per tenant, across
// tenant switches (the last tenant's set is kept at hand), and a tenant
// the estate does not size is not counted.
func TestAccountsSeenFoldsAndSwitchesTenants(t *testing.T) {
	x := newEnv(&Context{Tenants: map[string]TenantContext{"a": {Accounts: 2}, "b": {Accounts: 3}}})
	var s accountsSeen
	see := func(tenant, user, reason string) {
		s.observe(&event.Event{Tenant: tenant, UserName: user, Reason: reason}, x)
	}
	see("a", "Alice", "")
	see("b", "alice", "")
	see("a", `CORP\ALICE`, "")
	see("a", "alice@corp.example", "")
	see("b", "Bob", "")
	see("a", "Ünal", "")
	see("a", "ünal", "")
	see("a", "carol", "unknown_user") // a failure of an account that does not exist
	see("c", "dave", "")              // a tenant the estate does not size
	see("a", "Erin", "")
	if got := s.tenantAccounts("a", x); got != 3 { // alice, ünal, erin (more than the estate's 2)
		t.Errorf("tenant a: %d accounts, want 3 (%v)", got, s.m["a"].users)
	}
	if got := s.tenantAccounts("b", x); got != 3 { // the estate's 3 > alice, bob
		t.Errorf("tenant b: %d accounts, want 3 (%v)", got, s.m["b"].users)
	}
	if len(s.m["b"].users) != 2 || s.m["c"] != nil {
		t.Errorf("sets %v and %v, want b = {alice, bob} and nothing for c", s.m["b"].users, s.m["c"])
	}
}

// TestAccountsSeenContextReplaced: a tenant's entry keeps its estate
// context until the context is replaced (LiveContext): a tenant that is no
// longer sized stops counting, and one sized again counts on.
func TestAccountsSeenContextReplaced(t *testing.T) {
	x := newEnv(&Context{Tenants: map[string]TenantContext{"a": {Accounts: 1}}})
	var s accountsSeen
	see := func(user string) { s.observe(&event.Event{Tenant: "a", UserName: user}, x) }
	see("alice")
	see("alice")
	see("bob")
	x.replace(&Context{Tenants: map[string]TenantContext{"b": {Accounts: 1}}})
	see("carol") // a no longer sized: not counted
	if got := s.tenantAccounts("a", x); got != 0 {
		t.Errorf("tenant a unsized: %d accounts, want 0", got)
	}
	x.replace(&Context{Tenants: map[string]TenantContext{"a": {Accounts: 1}}})
	see("dave")
	see("alice")
	if got := s.tenantAccounts("a", x); got != 3 { // alice, bob, dave
		t.Errorf("tenant a: %d accounts, want 3 (%v)", got, s.m["a"].users)
	}
}

// TestAccountsSeenLikeASet: on random streams (tenants sized, unsized and
// resized, names in several forms, as shared and as fresh strings), the
// accounts counted are those a plain set of folded names per tenant
// counts, whatever the caches in front of it remember.
func TestAccountsSeenLikeASet(t *testing.T) {
	tenants := []string{"a", "b", "c", ""}
	names := []string{"alice", "Alice", `CORP\alice`, "bob", "bob@corp.example", "carol", "Ünal", "ünal", "dave"}
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 3))
		ctx := func() *Context {
			c := &Context{Tenants: map[string]TenantContext{}}
			for _, tn := range tenants {
				if rng.IntN(3) > 0 {
					c.Tenants[tn] = TenantContext{Accounts: rng.IntN(3)}
				}
			}
			return c
		}
		c := ctx()
		x := newEnv(c)
		var s accountsSeen
		want := map[string]map[string]bool{}
		for range 3000 {
			if rng.IntN(500) == 0 {
				c = ctx()
				x.replace(c)
			}
			tn, u := tenants[rng.IntN(len(tenants))], names[rng.IntN(len(names))]
			if rng.IntN(2) == 0 {
				tn, u = strings.Clone(tn), strings.Clone(u)
			}
			if rng.IntN(7) == 0 {
				u = fmt.Sprintf("user%d", rng.IntN(5000)) // many names: slots shared
			}
			reason := ""
			if rng.IntN(10) == 0 {
				reason = "unknown_user"
			}
			s.observe(&event.Event{Tenant: tn, UserName: u, Reason: reason}, x)
			if reason == "" && c.Tenants[tn].Accounts > 0 && len(want[tn]) < maxAccountsSeen {
				if want[tn] == nil {
					want[tn] = map[string]bool{}
				}
				want[tn][foldUser(bareUser(u))] = true
			}
		}
		for _, tn := range tenants {
			got := 0
			if e := s.m[tn]; e != nil {
				got = len(e.users)
			}
			if got != len(want[tn]) {
				t.Fatalf("seed %d tenant %q: %d accounts counted, a set has %d", seed, tn, got, len(want[tn]))
			}
		}
	}
}

// TestAccountsSeenSharedSlot: two tenants whose pairs with one user name
// share a slot of the counted table each count the name.
func TestAccountsSeenSharedSlot(t *testing.T) {
	u := "alice"
	bySlot := map[int]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		tn := fmt.Sprintf("t%d", i)
		if other, ok := bySlot[pairSlot(tn, u)]; ok {
			a, b = other, tn
		}
		bySlot[pairSlot(tn, u)] = tn
	}
	x := newEnv(&Context{Tenants: map[string]TenantContext{a: {Accounts: 1}, b: {Accounts: 1}}})
	var s accountsSeen
	s.observe(&event.Event{Tenant: a, UserName: u}, x)
	s.observe(&event.Event{Tenant: b, UserName: u}, x)
	if s.m[a] == nil || s.m[b] == nil || len(s.m[a].users) != 1 || len(s.m[b].users) != 1 {
		t.Errorf("tenants %q and %q (one slot for %q): want alice counted in each, got %v", a, b, u, s.m)
	}
}
