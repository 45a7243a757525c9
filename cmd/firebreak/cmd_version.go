package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/store/transfer"
	"github.com/firebreak-msp/firebreak/internal/version"
)

type versionOptions struct {
	format  string
	dataDir string
}

func (o *versionOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text or json")
	fs.StringVar(&o.dataDir, "data-dir", "", "also show the schema version of the SQLite store in `DIR` (read-only, migrates nothing)")
}

func newVersionCommand(g *globalOptions) *cobra.Command {
	var o versionOptions
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version of this binary",
		Long: `version prints which build of firebreak this is: the release version (or
"devel-<commit>" for a build from a checkout), the commit, the build date, the
Go toolchain and the platform. The same version appears in SARIF and OSCAL
reports, the User-Agent of outbound requests, /metrics (firebreak_build_info)
and the dashboard footer. With --data-dir it also shows the schema version of
that data directory's store and the newest this binary knows; serve refuses to
start on a store newer than it knows.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runVersion(cmd.Context(), o, g) },
	}
	o.AddFlags(cmd.Flags())
	addOutputFlag(cmd, g, nil)
	return cmd
}

// versionJSON is the --format json document.
type versionJSON struct {
	version.Info
	Store *storeVersion `json:"store,omitempty"`
}

type storeVersion struct {
	DataDir       string `json:"data_dir"`
	SchemaVersion int    `json:"schema_version"`
	BinarySchema  int    `json:"binary_schema_version"` // newest this binary knows
	Status        string `json:"status"`                // current, upgrade (older: serve migrates it), newer (serve refuses)
}

func runVersion(ctx context.Context, o versionOptions, g *globalOptions) error {
	in := version.Get()
	if o.format != "text" && o.format != "table" && o.format != "json" {
		return usageError{fmt.Errorf("--format %q: expected text or json", o.format)}
	}
	doc := versionJSON{Info: in}
	if o.dataDir != "" {
		have, latest, err := transfer.SchemaVersion(ctx, o.dataDir)
		if err != nil {
			return err
		}
		sv := &storeVersion{DataDir: o.dataDir, SchemaVersion: have, BinarySchema: latest, Status: "current"}
		switch {
		case have < latest:
			sv.Status = "upgrade"
		case have > latest:
			sv.Status = "newer"
		}
		doc.Store = sv
	}
	if o.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	fmt.Fprintln(g.stdout, in.String())
	if s := doc.Store; s != nil {
		note := map[string]string{
			"current": "current",
			"upgrade": "older: serve upgrades it on start (back it up first)",
			"newer":   "NEWER than this binary: serve refuses it; upgrade firebreak",
		}[s.Status]
		fmt.Fprintf(g.stdout, "store %s: schema %d, this binary %d (%s)\n", s.DataDir, s.SchemaVersion, s.BinarySchema, note)
	}
	return nil
}
