package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/firebreak-msp/firebreak/internal/contract"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

type contractCheckOptions struct {
	tenant   string
	estate   string
	patterns []string
	format   string
	failOn   string
}

func newContractCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contract",
		Short: "Read an MSP–customer contract and find the advisory's clauses",
	}
	var opts contractCheckOptions
	check := &cobra.Command{
		Use:   "check FILE",
		Short: "Report each of the 13 required clauses as present, weak or absent, with the quoted sentence and page",
		Long: `Check reads a contract (PDF with a text layer, DOCX, Markdown or plain text;
the format is sniffed from the content) and looks for each of the thirteen
clauses AA22-131A asks MSP contracts to hold, by phrase patterns shipped with
firebreak (extend them with --patterns FILE, same shape as the built-in
internal/contract/clauses.yaml).

Each clause is present (stated as an obligation), weak (hedged, negated, or a
period short of the advisory: logs kept under six months, incidents notified
later than 72 hours) or absent, with the sentence that decided it and its page.
With --estate and --tenant the findings are compared with the clauses the
estate declares for that tenant's contract, so hand-typed flags can be checked
against the document. Findings are for a reviewer to confirm: phrase patterns
cannot read intent.

Exit status is 3 when a clause is at or below --fail-on (weak or absent).`,
		Example: `  firebreak contract check msa-example-dental.pdf --tenant example-dental
  firebreak contract check msa.docx --estate examples/harbourview --tenant northwind -f json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runContractCheck(cmd.Context(), opts, g, args[0])
		},
	}
	f := check.Flags()
	f.StringVar(&opts.tenant, "tenant", "", "the tenant `ID` the contract is with (recorded in the report)")
	f.StringVar(&opts.estate, "estate", "", "estate `PATH`: compare the findings with the clauses declared for --tenant")
	f.StringArrayVar(&opts.patterns, "patterns", nil, "extra clause patterns `FILE` (repeatable)")
	f.StringVarP(&opts.format, "format", "f", "table", "output format: table or json")
	f.StringVar(&opts.failOn, "fail-on", "", "exit 3 when a clause is `STATUS` or worse: weak or absent")
	addOutputFlag(check, g, nil)
	cmd.AddCommand(check)
	return cmd
}

func runContractCheck(_ context.Context, opts contractCheckOptions, g *globalOptions, file string) error {
	if opts.format != "table" && opts.format != "json" {
		return usageError{fmt.Errorf("unknown --format %q (expected table or json)", opts.format)}
	}
	if opts.failOn != "" && opts.failOn != contract.Weak && opts.failOn != contract.Absent {
		return usageError{fmt.Errorf("unknown --fail-on %q (expected weak or absent)", opts.failOn)}
	}
	if opts.estate != "" && opts.tenant == "" {
		return usageError{fmt.Errorf("--estate needs --tenant")}
	}
	p, err := contract.LoadPatterns(opts.patterns...)
	if err != nil {
		return err
	}
	d, err := contract.Read(file)
	if err != nil {
		return err
	}
	r := contract.Check(d, p)
	r.Tenant = opts.tenant
	var declared map[string]bool
	if opts.estate != "" {
		if declared, err = declaredClauses(opts.estate, opts.tenant); err != nil {
			return err
		}
	}
	if opts.format == "json" {
		out := struct {
			*contract.Report
			Declared []string `json:"declared,omitempty"`
		}{Report: r}
		for _, id := range estate.Clauses {
			if declared[id] {
				out.Declared = append(out.Declared, id)
			}
		}
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printContractTable(g.stdout, r, declared)
	}
	if opts.failOn != "" {
		n := r.Count(contract.Absent)
		if opts.failOn == contract.Weak {
			n += r.Count(contract.Weak)
		}
		if n > 0 {
			return fmt.Errorf("%d clauses %s or worse: %w", n, opts.failOn, ErrFindings)
		}
	}
	return nil
}

// declaredClauses returns the clause ids the estate's contracts for tenant
// declare.
func declaredClauses(path, tenant string) (map[string]bool, error) {
	e, err := estate.Load(path)
	if err != nil {
		return nil, err
	}
	known := false
	for _, t := range e.Tenants {
		known = known || t.ID == tenant
	}
	if !known {
		return nil, usageError{fmt.Errorf("--tenant %q: no such tenant in %s", tenant, path)}
	}
	m := map[string]bool{}
	for _, c := range e.Contracts {
		if c.Tenant == tenant {
			for _, id := range c.Clauses {
				m[id] = true
			}
		}
	}
	return m, nil
}

func printContractTable(w io.Writer, r *contract.Report, declared map[string]bool) {
	fmt.Fprintf(w, "%s (%s, %d pages, sha256 %s)", r.Name, r.Format, r.PageCount, r.Digest[:16])
	if r.Tenant != "" {
		fmt.Fprintf(w, " — tenant %s", r.Tenant)
	}
	fmt.Fprintf(w, "\n%d present, %d weak, %d absent\n\n", r.Count(contract.Present), r.Count(contract.Weak), r.Count(contract.Absent))
	for _, f := range r.Findings {
		mark := map[string]string{contract.Present: "✓", contract.Weak: "~", contract.Absent: "✗"}[f.Status]
		fmt.Fprintf(w, "%s %-8s %-24s %s\n", mark, f.Status, f.Clause, f.Title)
		if f.Quote != "" {
			fmt.Fprintf(w, "           p.%d: “%s”\n", f.Page, f.Quote)
		}
		if f.Status != contract.Present {
			fmt.Fprintf(w, "           %s\n", f.Reason)
		}
		if declared != nil {
			switch {
			case declared[f.Clause] && f.Status != contract.Present:
				fmt.Fprintf(w, "           ! the estate declares this clause present; the document does not show it\n")
			case !declared[f.Clause] && f.Status == contract.Present:
				fmt.Fprintf(w, "           ! present in the document but not declared in the estate\n")
			}
		}
	}
	if declared != nil {
		fmt.Fprintln(w, "\nTo record the reviewed result, set the tenant's contract clauses to:",
			"["+strings.Join(r.Present(), ", ")+"]")
	}
}
