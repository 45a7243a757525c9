package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

func TestDetectTenantsFromEstate(t *testing.T) {
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
	got := detectTenants(e)
	want := map[string]detect.TenantContext{
		"cedar": {Accounts: 2, BenignNetworks: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/28"), netip.MustParsePrefix("198.51.100.7/32")},
			ServiceAccounts: []string{"svc-scan", "svc-backup", "svc-backup@cedar.example"}},
		"tiny": {Accounts: 1},
	}
	if d := cmp.Diff(got, want, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("tenant contexts (-got +want):\n%s", d)
	}
}

func TestLoadPlaceholders(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ph.yaml")
	if err := os.WriteFile(good, []byte("dc_ip_addresses: [10.0.0.10, 10.0.0.11]\nAdministrators: admin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := loadPlaceholders(good)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, map[string][]string{"dc_ip_addresses": {"10.0.0.10", "10.0.0.11"}, "Administrators": {"admin"}}); d != "" {
		t.Errorf("placeholders (-got +want):\n%s", d)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("x: {a: b}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadPlaceholders(bad); err == nil || !strings.Contains(err.Error(), "bad.yaml:1") {
		t.Errorf("bad file: %v, want an error naming bad.yaml:1", err)
	}
}
