package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
