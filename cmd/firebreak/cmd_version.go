package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/version"
)

type versionOptions struct {
	format string
}

func (o *versionOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text or json")
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
and the dashboard footer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runVersion(cmd.Context(), o, g) },
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// versionJSON is the --format json document.
type versionJSON struct {
	version.Info
}

func runVersion(_ context.Context, o versionOptions, g *globalOptions) error {
	in := version.Get()
	switch o.format {
	case "text", "table":
		fmt.Fprintln(g.stdout, in.String())
		return nil
	case "json":
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(versionJSON{Info: in})
	default:
		return usageError{fmt.Errorf("--format %q: expected text or json", o.format)}
	}
}
