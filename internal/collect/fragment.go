package collect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// fragment is the part of an estate a collector writes: lists only, never
// provider or settings, so estate.Load can merge it with the hand-written
// files of the same directory.
type fragment struct {
	Tenants       []estate.Tenant      `yaml:"tenants,omitempty" json:"tenants,omitempty"`
	Identities    []estate.Identity    `yaml:"identities,omitempty" json:"identities,omitempty"`
	Groups        []estate.Group       `yaml:"groups,omitempty" json:"groups,omitempty"`
	Tools         []estate.Tool        `yaml:"tools,omitempty" json:"tools,omitempty"`
	Grants        []estate.Grant       `yaml:"grants,omitempty" json:"grants,omitempty"`
	Assets        []estate.Asset       `yaml:"assets,omitempty" json:"assets,omitempty"`
	DomainChecks  []estate.DomainCheck `yaml:"domain_checks,omitempty" json:"domain_checks,omitempty"`
	Exposures     []estate.Exposure    `yaml:"exposures,omitempty" json:"exposures,omitempty"`
	CollectionGap []estate.Gap         `yaml:"collection_gaps,omitempty" json:"collection_gaps,omitempty"`
}

// WriteFragment writes the collected lists of e to dir/name (.yaml or
// .json by extension) atomically, with a header comment naming the
// collector and the time. Re-running a collector replaces its file.
func WriteFragment(dir, name, collector string, at time.Time, e *estate.Estate) (string, error) {
	f := fragment{Tenants: e.Tenants, Identities: e.Identities, Groups: e.Groups, Tools: e.Tools, Grants: e.Grants,
		Assets: e.Assets, DomainChecks: e.DomainChecks, Exposures: e.Exposures, CollectionGap: e.CollectionGap}
	var buf bytes.Buffer
	switch filepath.Ext(name) {
	case ".json":
		// Go through YAML so the estate's yaml tags (which leave out
		// positions) decide the field names, as estate.Load expects.
		y, err := yaml.Marshal(f)
		if err != nil {
			return "", err
		}
		var doc any
		if err := yaml.Unmarshal(y, &doc); err != nil {
			return "", err
		}
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			return "", err
		}
	default:
		fmt.Fprintf(&buf, "# Collected by `firebreak collect %s` at %s. Generated: do not edit; re-run the collector.\n",
			collector, at.UTC().Format(time.RFC3339))
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(f); err != nil {
			return "", err
		}
		_ = enc.Close()
	}
	path := filepath.Join(dir, name)
	return path, WriteFileAtomic(path, buf.Bytes())
}

// WriteFileAtomic writes data to path through a temporary file and a rename.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.WriteBytes(path, 0o600, data)
}
