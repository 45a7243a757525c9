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

func TestContextPerTenant(t *testing.T) {
	e := &estate.Estate{Provider: estate.Provider{Domains: []string{"msp.example"}},
		Tenants: []estate.Tenant{
			{ID: "cedar", Domains: []string{"cedar.example"}, Detection: estate.TenantDetect{BenignNetworks: []string{"203.0.113.0/28"}}},
			{ID: "oak", Domains: []string{"oak.example"}},
		},
		Assets: []estate.Asset{
			{ID: "w1", Tenant: "cedar", Hostname: "CEDAR-WS01.cedar.example", Kind: "workstation"},
			{ID: "d1", Tenant: "oak", Hostname: "OAK-DC01", Kind: "domain_controller"},
			{ID: "s1", Tenant: "oak", Hostname: "OAK-FS01", Kind: "server"},
		}}
	c := Context(e)
	want := map[string]map[string][]string{
		"cedar": {"internal_domains": {"cedar.example", "msp.example"}, "legit_ips": {"203.0.113.0/28"}, "Legitimate_IP_Ranges": {"203.0.113.0/28"}, "Workstations": {"CEDAR-WS01"}},
		"oak":   {"internal_domains": {"oak.example", "msp.example"}, "dc_machine_accounts": {"OAK-DC01$"}},
	}
	if d := cmp.Diff(c.TenantPlaceholders, want); d != "" {
		t.Errorf("per-tenant placeholders (-got +want):\n%s", d)
	}
	if d := cmp.Diff(c.Placeholders["dc_machine_accounts"], []string{"OAK-DC01$"}); d != "" {
		t.Errorf("shared dc_machine_accounts (-got +want):\n%s", d)
	}
}
