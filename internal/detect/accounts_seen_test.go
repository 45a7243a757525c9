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
		t.Errorf("tenant a: %d accounts, want 3 (%v)", got, s.m["a"])
	}
	if got := s.tenantAccounts("b", x); got != 3 { // the estate's 3 > alice, bob
		t.Errorf("tenant b: %d accounts, want 3 (%v)", got, s.m["b"])
	}
	if len(s.m["b"]) != 2 || len(s.m["c"]) != 0 {
		t.Errorf("sets %v, want b = {alice, bob} and nothing for c", s.m)
	}
}
