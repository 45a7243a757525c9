package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
)

type controlsOptions struct {
	Format   string
	Heading  int
	Party    string
	Kind     string
	Policy   []string
	Severity string
}

func (o *controlsOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVarP(&o.Format, "format", "f", "table", "output format: table, json or markdown")
	f.IntVar(&o.Heading, "heading", 0, "only controls under advisory heading `N` (1..12)")
	f.StringVar(&o.Party, "party", "", "only controls whose obligation is msp, customer or both")
	f.StringVar(&o.Kind, "kind", "", "only automated or attested controls")
	f.StringVar(&o.Severity, "severity", "", severityUsage)
	f.StringArrayVar(&o.Policy, "policy", nil, "also list the controls declared by the custom Rego policies in `DIR`, as for assess --policy (repeatable)")
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
attested (a named person's statement, valid for a number of days).

--policy DIR adds the controls of your own Rego policies (as passed to assess
--policy). They are found by reading the Rego, not by evaluating it: every
object literal with a constant "control": "ID" declares a control, and its
title, severity, heading and remediation are taken from that literal or from a
constant object rule it refers to (meta := {...}, as in examples/policies).
Metadata a policy computes from its input shows only in assess reports, and
custom controls have no party or scope (they apply wherever the policy gives a
result), so --party leaves them out.`,
		Example: `  firebreak controls
  firebreak controls --heading 3
  firebreak controls --format markdown > CONTROLS.md
  firebreak controls --policy examples/policies
  firebreak controls --format json | jq '.[] | select(.kind=="automated") | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runControls(cmd.Context(), opts, g)
		},
	}
	opts.AddFlags(cmd.Flags())
	addOutputFlag(cmd, g, nil)
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
	shown, err := parseSeverities(opts.Severity)
	if err != nil {
		return err
	}
	cat, err := catalog.Load()
	if err != nil {
		return err
	}
	switch opts.Format {
	case "table", "", "json", "markdown", "md":
	default:
		return usageError{fmt.Errorf("unknown --format %q (expected table, json or markdown)", opts.Format)}
	}
	all := make([]controlRow, 0, len(cat.Controls()))
	for _, c := range cat.Controls() {
		all = append(all, controlRow{Control: c})
	}
	if len(opts.Policy) > 0 {
		custom, err := assess.CustomControls(opts.Policy)
		if err != nil {
			return err
		}
		for _, cc := range custom {
			if _, ok := cat.Control(cc.ID); ok {
				continue // a custom policy's results for a catalog control: listed above
			}
			all = append(all, controlRow{Control: &catalog.Control{
				ID: cc.ID, Title: cc.Title, Heading: cc.Heading, HeadingName: catalog.HeadingName(cc.Heading),
				Severity: catalog.Severity(cc.Severity), Kind: catalog.KindAutomated, Remediation: cc.Remediation, Rego: cc.Package,
			}, Custom: true, Policy: fmt.Sprintf("%s:%d", cc.File, cc.Line)})
		}
		// By heading (custom controls that declare none last), then id.
		slices.SortStableFunc(all, func(a, b controlRow) int {
			ha, hb := a.Heading, b.Heading
			if ha == 0 {
				ha = catalog.NumHeadings + 1
			}
			if hb == 0 {
				hb = catalog.NumHeadings + 1
			}
			if ha != hb {
				return ha - hb
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	var cs []controlRow
	for _, c := range all {
		if (opts.Heading == 0 || c.Heading == opts.Heading) &&
			(opts.Party == "" || string(c.Party) == opts.Party) &&
			(opts.Kind == "" || string(c.Kind) == opts.Kind) && shown.Has(string(c.Severity)) {
			cs = append(cs, c)
		}
	}
	switch opts.Format {
	case "table", "":
		return controlsTable(g.stdout, cs)
	case "json":
		if cs == nil {
			cs = []controlRow{}
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

// controlRow is a listed control: one of the catalog's, or one declared by
// a --policy DIR (Custom, with the file:line declaring it).
type controlRow struct {
	*catalog.Control
	Custom bool   `json:"custom,omitempty"`
	Policy string `json:"policy,omitempty"`
}

// orDash shows an unknown value as "-".
func orDash[S ~string](s S) string {
	if s == "" {
		return "-"
	}
	return string(s)
}

func controlsTable(w io.Writer, cs []controlRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tH\tPARTY\tSCOPE\tSEVERITY\tKIND\tTITLE")
	for _, c := range cs {
		kind := string(c.Kind)
		switch {
		case c.Custom:
			kind = "custom"
		case c.Kind == catalog.KindAttested:
			kind = fmt.Sprintf("attested/%dd", c.ValidityDays)
		}
		h := "-"
		if c.Heading > 0 {
			h = fmt.Sprint(c.Heading)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, h, orDash(c.Party), orDash(c.Scope), orDash(c.Severity), kind, orDash(c.Title))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	auto, custom := 0, 0
	for _, c := range cs {
		switch {
		case c.Custom:
			custom++
		case c.Kind == catalog.KindAutomated:
			auto++
		}
	}
	tail := ""
	if custom > 0 {
		tail = fmt.Sprintf(", %d custom", custom)
	}
	_, err := fmt.Fprintf(w, "\n%d controls (%d automated, %d attested%s)\n", len(cs), auto, len(cs)-auto-custom, tail)
	return err
}

func mdCell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(s), "|", `\|`), "\n", " ")
}

func controlsMarkdown(w io.Writer, cs []controlRow) error {
	var b strings.Builder
	b.WriteString("# AA22-131A controls\n")
	heading := -1
	for _, c := range cs {
		if c.Heading != heading {
			heading = c.Heading
			if heading == 0 {
				b.WriteString("\n## Custom controls without a heading\n\n")
			} else {
				fmt.Fprintf(&b, "\n## %d. %s\n\n", heading, catalog.HeadingName(heading))
			}
			b.WriteString("| ID | Title | Party | Scope | Severity | Kind | Implementation | NIST CSF 2.0 |\n|---|---|---|---|---|---|---|---|\n")
		}
		impl := fmt.Sprintf("attested, valid %d days", c.ValidityDays)
		kind := string(c.Kind)
		switch {
		case c.Custom:
			impl = fmt.Sprintf("`%s` (custom policy %s)", c.Rego, c.Policy)
			kind = "custom"
		case c.Kind == catalog.KindAutomated:
			impl = fmt.Sprintf("`%s` (evidence: %s)", c.Rego, strings.Join(c.Evidence, ", "))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", c.ID, mdCell(orDash(c.Title)), orDash(c.Party), orDash(c.Scope), orDash(c.Severity), kind,
			mdCell(impl), strings.Join(c.References.NISTCSF, ", "))
	}
	b.WriteString("\n## Details\n")
	for _, c := range cs {
		if c.Custom {
			fmt.Fprintf(&b, "\n### %s — %s\n\nCustom control declared in `%s` (package `%s`).\n\n**Remediation.** %s\n",
				c.ID, mdCell(orDash(c.Title)), c.Policy, c.Rego, mdCell(orDash(c.Remediation)))
			continue
		}
		fmt.Fprintf(&b, "\n### %s — %s\n\n%s\n\n**Remediation.** %s\n\n**Reference.** %s", c.ID, mdCell(c.Title), mdCell(c.Rationale), mdCell(c.Remediation), mdCell(c.References.Advisory))
		if len(c.References.Other) > 0 {
			fmt.Fprintf(&b, "; %s", strings.Join(c.References.Other, "; "))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
