package kev

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
)

// FileName is the catalog's file name inside the data directory's kev/ folder.
const FileName = "known_exploited_vulnerabilities.json"

// MetaName is the file, beside the catalog, where update records the last download.
const MetaName = "known_exploited_vulnerabilities.meta.json"

// DataDir returns $FIREBREAK_DATA_DIR, else $XDG_DATA_HOME/firebreak, else
// ~/.local/share/firebreak. getenv is os.Getenv outside tests.
func DataDir(getenv func(string) string) (string, error) {
	if d := getenv("FIREBREAK_DATA_DIR"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "firebreak"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("finding the data directory: set FIREBREAK_DATA_DIR: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", "firebreak"), nil
}

// StoredPath is where the catalog lives under a data directory.
func StoredPath(dataDir string) string { return filepath.Join(dataDir, "kev", FileName) }

// ErrNoStoredCatalog is returned by LoadStored when `kev update` never ran.
var ErrNoStoredCatalog = errors.New("no KEV catalog stored: run `firebreak kev update` or pass --file")

// LoadStored loads the catalog kept in a data directory.
func LoadStored(dataDir string) (*Catalog, error) {
	p := StoredPath(dataDir)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", p, ErrNoStoredCatalog)
	}
	return Load(p)
}

// Meta is what update remembers about the last download.
type Meta struct {
	URL          string    `json:"url"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	FetchedAt    time.Time `json:"fetched_at"`
	CheckedAt    time.Time `json:"checked_at"`
	Version      string    `json:"catalog_version"`
	Count        int       `json:"count"`
}

// ReadMeta returns what the last update recorded (zero Meta if none).
func ReadMeta(dataDir string) Meta {
	var m Meta
	if b, err := os.ReadFile(filepath.Join(dataDir, "kev", MetaName)); err == nil {
		_ = json.Unmarshal(b, &m)
	}
	return m
}

// WriteMeta records m beside the catalog at catalogPath.
func WriteMeta(catalogPath string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return WriteAtomic(filepath.Join(filepath.Dir(catalogPath), MetaName), append(b, '\n'))
}

// WriteAtomic creates the directory if needed and replaces path atomically.
func WriteAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.WriteBytes(path, 0o600, data)
}
