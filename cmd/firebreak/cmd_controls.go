package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/catalog"
)

type controlsOptions struct {
	Format  string
	Heading int
	Party   string
	Kind    string
}

func (o *controlsOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Format, "format", "table", "output format: table, json or markdown")
	f.IntVar(&o.Heading, "heading", 0, "only controls under advisory heading `N` (1..12)")
	f.StringVar(&o.Party, "party", "", "only controls whose obligation is msp, customer or both")
	f.StringVar(&o.Kind, "kind", "", "only automated or attested controls")
}

func newControlsCommand(g *globalOptions) *cobra.Command {
	var opts controlsOptions
	cmd := &cobra.Command{
		Use:   "controls",
		Short: "List the AA22-131A control catalog (table, JSON or Markdown)",
		Long: `Controls lists every control firebreak checks: its stable id, the advisory heading
(1..12) it implements, whose obligation it is (msp, customer or both), where it is
evaluated (the MSP, every tenant, or both), severity, and whether it is automated
(Rego over estate evidence; the package and the evidence it needs are shown) or
attested (a named person's statement, valid for a number of days).`,
		Example: `  firebreak controls
  firebreak controls --heading 3
  firebreak controls --format markdown > CONTROLS.md
  firebreak controls --format json | jq '.[] | select(.kind=="automated") | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runControls(cmd.Context(), opts, g)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runControls(_ context.Context, opts controlsOptions, g *globalOptions) error {
	if opts.Heading < 0 || opts.Heading > catalog.NumHeadings {
		return usageError{fmt.Errorf("--heading %d: expected 1..%d", opts.Heading, catalog.NumHeadings)}
	}
	switch opts.Party {
	case "", "msp", "customer", "both":
	default:
		return usageError{fmt.Errorf("--party %q: expected msp, customer or both", opts.Party)}
	}
	switch opts.Kind {
	case "", "automated", "attested":
	default:
		return usageError{fmt.Errorf("--kind %q: expected automated or attested", opts.Kind)}
	}
	cat, err := catalog.Load()
	if err != nil {
		return err
	}
	var cs []*catalog.Control
	for _, c := range cat.Controls() {
		if (opts.Heading == 0 || c.Heading == opts.Heading) &&
			(opts.Party == "" || string(c.Party) == opts.Party) &&
			(opts.Kind == "" || string(c.Kind) == opts.Kind) {
			cs = append(cs, c)
		}
	}
	switch opts.Format {
	case "table", "":
		return controlsTable(g.stdout, cs)
	case "json":
		if cs == nil {
			cs = []*catalog.Control{}
		}
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cs)
	case "markdown", "md":
		return controlsMarkdown(g.stdout, cs)
	default:
		return usageError{fmt.Errorf("unknown --format %q (expected table, json or markdown)", opts.Format)}
	}
}

func controlsTable(w io.Writer, cs []*catalog.Control) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tH\tPARTY\tSCOPE\tSEVERITY\tKIND\tTITLE")
	for _, c := range cs {
		kind := string(c.Kind)
		if c.Kind == catalog.KindAttested {
			kind = fmt.Sprintf("attested/%dd", c.ValidityDays)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Heading, c.Party, c.Scope, c.Severity, kind, c.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	auto := 0
	for _, c := range cs {
		if c.Kind == catalog.KindAutomated {
			auto++
		}
	}
	_, err := fmt.Fprintf(w, "\n%d controls (%d automated, %d attested)\n", len(cs), auto, len(cs)-auto)
	return err
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), "|", `\|`), "\n", " ")
}

func controlsMarkdown(w io.Writer, cs []*catalog.Control) error {
	var b strings.Builder
	b.WriteString("# AA22-131A controls\n")
	heading := 0
	for _, c := range cs {
		if c.Heading != heading {
			heading = c.Heading
			fmt.Fprintf(&b, "\n## %d. %s\n\n", heading, catalog.HeadingName(heading))
			b.WriteString("| ID | Title | Party | Scope | Severity | Kind | Implementation | NIST CSF 2.0 |\n|---|---|---|---|---|---|---|---|\n")
		}
		impl := fmt.Sprintf("attested, valid %d days", c.ValidityDays)
		if c.Kind == catalog.KindAutomated {
			impl = fmt.Sprintf("`%s` (evidence: %s)", c.Rego, strings.Join(c.Evidence, ", "))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.ID, mdCell(c.Title), c.Party, c.Scope, c.Severity, c.Kind,
			mdCell(impl), strings.Join(c.References.NISTCSF, ", "))
	}
	b.WriteString("\n## Details\n")
	for _, c := range cs {
		fmt.Fprintf(&b, "\n### %s — %s\n\n%s\n\n**Remediation.** %s\n\n**Reference.** %s", c.ID, mdCell(c.Title), mdCell(c.Rationale), mdCell(c.Remediation), mdCell(c.References.Advisory))
		if len(c.References.Other) > 0 {
			fmt.Fprintf(&b, "; %s", strings.Join(c.References.Other, "; "))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
