package tenantctx

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

func TestTenants(t *testing.T) {
	off := false
	e := &estate.Estate{
		Tenants: []estate.Tenant{
			{ID: "cedar", Detection: estate.TenantDetect{BenignNetworks: []string{"203.0.113.0/28", "198.51.100.7"}, ServiceAccounts: []string{"svc-scan"}}},
			{ID: "tiny"},
		},
		Identities: []estate.Identity{
			{ID: "a", Home: "cedar", Kind: estate.KindHuman},
			{ID: "b", Home: "cedar", Kind: estate.KindService, Name: "svc-backup", UPN: "svc-backup@cedar.example"},
			{ID: "c", Home: "cedar", Kind: estate.KindHuman, Enabled: &off},
			{ID: "d", Home: "tiny", Kind: estate.KindHuman},
			{ID: "t", Home: "msp", Kind: estate.KindHuman},
		},
	}
	got := Tenants(e)
	want := map[string]detect.TenantContext{
		"cedar": {Accounts: 2, BenignNetworks: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/28"), netip.MustParsePrefix("198.51.100.7/32")},
			ServiceAccounts: []string{"svc-scan", "svc-backup", "svc-backup@cedar.example"}},
		"tiny": {Accounts: 1},
	}
	if d := cmp.Diff(got, want, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("tenant contexts (-got +want):\n%s", d)
	}
}

func TestPlaceholders(t *testing.T) {
	e := &estate.Estate{Provider: estate.Provider{Domains: []string{"msp.example"}},
		Tenants: []estate.Tenant{{ID: "cedar", Domains: []string{"cedar.example"}, Detection: estate.TenantDetect{BenignNetworks: []string{"203.0.113.0/28"}}}}}
	want := map[string][]string{"internal_domains": {"msp.example", "cedar.example"}, "legit_ips": {"203.0.113.0/28"}, "Legitimate_IP_Ranges": {"203.0.113.0/28"}}
	if d := cmp.Diff(Placeholders(e), want); d != "" {
		t.Errorf("placeholders (-got +want):\n%s", d)
	}
}
