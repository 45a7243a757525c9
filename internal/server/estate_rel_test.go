package server

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEstateRel: evidence positions are shown relative to the estate root
// they lie under (the demo's estate is in a temporary directory).
func TestEstateRel(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "tenants.yaml")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	for _, tc := range []struct {
		name  string
		roots []string
		file  string
		want  string
	}{
		{"under-dir", []string{root}, filepath.Join(root, "acme", "identities.csv"), "acme/identities.csv"},
		{"root-is-file", []string{file}, file, "tenants.yaml"},
		{"second-root", []string{other, root}, filepath.Join(root, "x.yaml"), "x.yaml"},
		{"outside", []string{other}, file, file},
		{"sibling-prefix", []string{root}, root + "-other/x.yaml", root + "-other/x.yaml"},
		{"empty", []string{root}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := estateRel(tc.roots, tc.file); got != tc.want {
				t.Errorf("estateRel(%v, %q) = %q, want %q", tc.roots, tc.file, got, tc.want)
			}
		})
	}
}
