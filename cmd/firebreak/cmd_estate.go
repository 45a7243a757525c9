package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

type estateFmtOptions struct {
	Check bool
}

func (o *estateFmtOptions) AddFlags(f *pflag.FlagSet) {
	f.BoolVar(&o.Check, "check", false, "change nothing: list the files that are not formatted and exit 3 if there are any")
}

func newEstateCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "estate",
		Short: "Work on estate files (fmt)",
		Args:  cobra.NoArgs,
	}
	var opts estateFmtOptions
	fmtCmd := &cobra.Command{
		Use:   "fmt PATH",
		Short: "Rewrite estate YAML files in canonical form",
		Long: `Fmt checks that the estate loads (an invalid one is reported, not rewritten),
then rewrites each of its YAML files in canonical form: two-space indentation,
each object's keys in the model's order (id and kind first), and Partner
Center's auto-extend durations as the booleans they mean (PT0S becomes false,
P180D true, with a comment saying what was there). Comments, flow style and
the order of top-level sections are kept; JSON files and CSV imports are left
as they are. It prints the files it changed.`,
		Example: `  firebreak estate fmt estate/
  firebreak estate fmt --check estate/   # in CI: exit 3 when a file needs formatting`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEstateFmt(cmd.Context(), opts, g, args[0])
		},
	}
	opts.AddFlags(fmtCmd.Flags())
	cmd.AddCommand(fmtCmd)
	return cmd
}

func runEstateFmt(_ context.Context, opts estateFmtOptions, g *globalOptions, path string) error {
	changed, err := estate.FormatPath(path, !opts.Check)
	for _, f := range changed {
		fmt.Fprintln(g.stdout, f)
	}
	if err != nil {
		return err
	}
	if opts.Check && len(changed) > 0 {
		return notFormattedError(len(changed))
	}
	return nil
}

// notFormattedError is --check's finding: exit 3, like other findings.
type notFormattedError int

func (e notFormattedError) Error() string        { return fmt.Sprintf("%d file(s) not formatted", int(e)) }
func (e notFormattedError) Is(target error) bool { return target == ErrFindings }
