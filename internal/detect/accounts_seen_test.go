package detect

import (
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
