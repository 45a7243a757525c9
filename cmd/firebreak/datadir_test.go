package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// TestServeDataDirIsTheCLIs: serve's default data directory is where `kev
// update` stores the catalog (it was ./firebreak-data, so serve said "no
// KEV catalog" after `kev update`); a store in ./firebreak-data is still
// used, with a note.
func TestServeDataDirIsTheCLIs(t *testing.T) {
	t.Chdir(t.TempDir())
	home := t.TempDir()
	env := map[string]string{"HOME": home}
	getenv := func(k string) string { return env[k] }
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	want, err := kev.DataDir(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if want != filepath.Join(home, ".local", "share", "firebreak") {
		t.Fatalf("kev.DataDir = %s", want)
	}
	cfg, err := serveConfig(serveOptions{}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != want {
		t.Errorf("serve's default data dir %s, the CLI's (kev update) %s", cfg.DataDir, want)
	}
	if dir, note := defaultDataDir(getenv); dir != want || note != "" {
		t.Errorf("defaultDataDir = %s, %q", dir, note)
	}
	// An existing ./firebreak-data store keeps working, with a note.
	if err := os.MkdirAll(legacyDataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacyDataDir, sqlite.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	dir, note := defaultDataDir(getenv)
	if dir != legacyDataDir || !strings.Contains(note, want) || !strings.Contains(note, "--data-dir") {
		t.Errorf("with ./firebreak-data: %s, %q", dir, note)
	}
	if cfg, err := serveConfig(serveOptions{}, lookup); err != nil || cfg.DataDir != legacyDataDir {
		t.Errorf("serve with ./firebreak-data: %s %v", cfg.DataDir, err)
	}
	// FIREBREAK_DATA_DIR wins over both.
	env["FIREBREAK_DATA_DIR"] = "/from/env"
	if dir, note := defaultDataDir(getenv); dir != "/from/env" || note != "" {
		t.Errorf("with FIREBREAK_DATA_DIR: %s, %q", dir, note)
	}
}
