package detect

import (
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// TestTenantPlaceholders checks that a tenant's own placeholder values
// replace the shared ones for its events, and that an engine following a
// LiveContext takes a new context between two events.
func TestTenantPlaceholders(t *testing.T) {
	src := "title: admin sign-in\nid: ph-admin\nlogsource: {category: authentication}\nlevel: low\ndetection:\n  sel:\n    user.name|expand: '%admins%'\n  condition: sel\n"
	rules, err := ParseRules("ph.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	live := &LiveContext{}
	live.Set(&Context{
		Placeholders:       map[string][]string{"admins": {"carol"}},
		TenantPlaceholders: map[string]map[string][]string{"a": {"admins": {"alice"}}, "b": {"admins": {"bob"}}},
	})
	eng, err := NewEngine(rules, Options{Live: live})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	n := 0
	match := func(tenant, user string) bool {
		t.Helper()
		n++
		ev := &event.Event{Timestamp: t0.Add(time.Duration(n) * time.Second), Category: "authentication", Dataset: "linux.auth", Tenant: tenant, UserName: user}
		before := eng.Stats().Rules[0].Matched // one incident per tenant: count matches, not alerts
		eng.Process(ev)
		return eng.Stats().Rules[0].Matched > before
	}
	check := func(step, tenant, user string, want bool) {
		t.Helper()
		if got := match(tenant, user); got != want {
			t.Errorf("%s: tenant %q user %s: matched %v, want %v", step, tenant, user, got, want)
		}
	}
	check("first", "a", "alice", true)
	check("first", "a", "bob", false) // b's admin, not a's
	check("first", "b", "bob", true)
	check("first", "a", "carol", false) // a has its own value
	check("first", "c", "carol", true)  // no own value: the shared one
	check("first", "", "carol", true)
	live.Set(&Context{TenantPlaceholders: map[string]map[string][]string{"a": {"admins": {"dave"}}}})
	check("reloaded", "a", "dave", true)
	check("reloaded", "a", "alice", false)
	check("reloaded", "c", "carol", false) // the shared value is gone
}
