package kev

import (
	"errors"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

func TestLoadStoredMissing(t *testing.T) {
	if _, err := LoadStored(t.TempDir()); !errors.Is(err, ErrNoStoredCatalog) {
		t.Fatalf("got %v", err)
	}
}

func TestDataDir(t *testing.T) {
	env := map[string]string{"HOME": "/home/x"}
	get := func(k string) string { return env[k] }
	if d, _ := DataDir(get); d != "/home/x/.local/share/firebreak" {
		t.Error(d)
	}
	env["XDG_DATA_HOME"] = "/xdg"
	if d, _ := DataDir(get); d != "/xdg/firebreak" {
		t.Error(d)
	}
	env["FIREBREAK_DATA_DIR"] = "/data"
	if d, _ := DataDir(get); d != "/data" {
		t.Error(d)
	}
}

func TestMatchEstate(t *testing.T) {
	c := loadSnapshot(t)
	e := &estate.Estate{
		Tools: []estate.Tool{
			{ID: "remote-access", Kind: estate.ToolRemoteAccess, Vendor: "ConnectWise", Product: "ScreenConnect", Version: "23.9.7", InternetExposed: estate.Bool(true)},
			{ID: "rmm", Kind: estate.ToolRMM, Vendor: "Kaseya", Product: "VSA", Version: "9.5.6"},
			{ID: "psa", Kind: estate.ToolPSA, Vendor: "HaloPSA", Product: "HaloPSA"},
		},
		Assets: []estate.Asset{{ID: "mail-01", Tenant: "cedar-law", Software: []estate.Software{{Vendor: "Exim", Product: "Exim", Version: "4.69"}}}},
	}
	got := MatchEstate(c, e, time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC))
	var objs []string
	ransom := 0
	for _, f := range got {
		objs = append(objs, f.Object+":"+f.Vuln.CVE)
		if f.Vuln.Ransomware() {
			ransom++
		}
		if !f.Overdue {
			t.Errorf("%s %s should be overdue", f.Object, f.Vuln.CVE)
		}
	}
	for _, want := range []string{"remote-access:CVE-2024-1709", "rmm:CVE-2021-30116", "mail-01:CVE-2010-4344"} {
		if !contains(objs, want) {
			t.Errorf("missing %s in %v", want, objs)
		}
	}
	if !got[0].Vuln.Ransomware() {
		t.Errorf("ransomware findings must come first: %v", objs)
	}
	for _, f := range got {
		if f.Object == "mail-01" && f.Tenant != "cedar-law" {
			t.Errorf("tenant %q", f.Tenant)
		}
	}
}
