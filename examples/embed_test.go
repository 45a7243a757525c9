package examples

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmbedMatchesDisk proves the embedded example is the one in the
// repository: every estate file, log and KEV snapshot on disk is embedded
// byte for byte, so the demo of an installed binary is the demo of a checkout.
func TestEmbedMatchesDisk(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "truth" || d.Name() == "policies" {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".go") || p == "kev/README.md" {
			return nil
		}
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		got, err := Files.ReadFile(filepath.ToSlash(p))
		if err != nil {
			t.Errorf("%s is on disk but not embedded: %v", p, err)
			return nil
		}
		if string(got) != string(want) {
			t.Errorf("%s: embedded copy differs from disk", p)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("only %d example files compared", n)
	}
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	if err := Extract(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{Estate + "/tenants.yaml", Logs + "/rmm-mapping.yaml", KEV} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("extracted example lacks %s: %v", p, err)
		}
	}
}
