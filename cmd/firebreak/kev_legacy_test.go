package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/examples"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// A store left in ./firebreak-data (serve's old default) does not hide the
// catalog `kev update` stored: with no --data-dir, assess and blast read it
// where kev update and kev show do (verifier v15: in such a directory
// assess said "built-in snapshot — run `firebreak kev update`" right after
// kev update had stored one).
func TestStoredKEVFoundBesideLegacyStore(t *testing.T) {
	home := t.TempDir()
	t.Chdir(t.TempDir())
	if err := os.MkdirAll(legacyDataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(legacyDataDir, sqlite.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "HOME" {
			return home
		}
		return ""
	}
	b, err := fs.ReadFile(examples.Files, examples.KEV)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := kev.DataDir(getenv)
	p := kev.StoredPath(dir)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := resolveKEV("", false, "", getenv)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.Line, "KEV: stored catalog of ") {
		t.Errorf("with a store in ./%s and a catalog stored by kev update in %s: %q", legacyDataDir, dir, u.Line)
	}
}
