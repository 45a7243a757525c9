// Package examples embeds the example MSP estate (Harbourview IT Services), a
// day of its logs and a CISA KEV snapshot, so `firebreak demo` works from any
// directory and from an installed binary. Only cmd/firebreak imports it; tests
// of other packages read the files from disk.
package examples

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files holds the estate files, the demo logs with their mapping, and the KEV
// snapshot. The logs' ground-truth files (logs/truth/) are test data and are
// left out.
//
//go:embed harbourview/*.yaml harbourview/*.csv harbourview/README.md
//go:embed harbourview/logs/*.log harbourview/logs/*.json harbourview/logs/*.jsonl harbourview/logs/*.ndjson harbourview/logs/*.yaml harbourview/logs/README.md
//go:embed kev/*.json.gz
var Files embed.FS

// Paths of the embedded example, relative to the directory Extract writes to.
const (
	Estate = "harbourview"
	Logs   = "harbourview/logs"
	KEV    = "kev/known_exploited_vulnerabilities-2025.08.25.json.gz"
)

// Extract writes the embedded files under dir (which must exist), keeping
// their relative paths, so code that reads estates and logs from disk can use
// them unchanged.
func Extract(dir string) error {
	return fs.WalkDir(Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := Files.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("extracting example %s: %w", p, err)
		}
		return nil
	})
}
