package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

type validateOptions struct {
	format  string
	explain bool
	now     string
}

func (o *validateOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVarP(&o.format, "format", "f", "text", "output format: text or json")
	f.BoolVar(&o.explain, "explain", false, "also list the access the estate implies without a grant written for it (RMM agents, GDAP access groups)")
	f.StringVar(&o.now, "now", "", "judge GDAP end dates for --explain as of this date (YYYY-MM-DD or RFC 3339; default now)")
}

func newValidateCommand(g *globalOptions) *cobra.Command {
	var opts validateOptions
	cmd := &cobra.Command{
		Use:   "validate PATH",
		Short: "Check estate files (YAML/JSON + CSV imports) and report every problem",
		Long: `Validate loads an estate from a file or a directory of .yaml/.yml/.json files
(plus the CSV files their imports: entries declare) and reports every problem at
once, one per line as file:line:col: field.path: message (expected ...):
unknown keys, wrong types, bad dates, bad enum values, duplicate ids (ids share
one namespace across object kinds), dangling references, and CSV cells or
missing columns.

With --explain it also lists what the estate implies, so less has to be
written: an RMM or remote-access agent on a tenant's endpoints gives the tool
its endpoint privilege over the tenant (unless a grant from the tool to the
tenant is written), and a GDAP relationship gives each access group its
roles' privilege over the customer, active or eligible (PIM).

Exit status is 0 when the estate is valid and 1 when it is not.`,
		Example: `  firebreak validate examples/harbourview
  firebreak validate --explain examples/harbourview
  firebreak validate --format json estate/ | jq '.errors[] | .path'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.Context(), opts, g, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	addOutputFlag(cmd, g, nil)
	return cmd
}

// errInvalidEstate is returned after the problems have been printed, so the
// root command exits 1 without repeating them.
var errInvalidEstate = errors.New("estate is invalid")

// validateJSON is the --format json document (stable; version "1").
type validateJSON struct {
	Version string             `json:"version"`
	Path    string             `json:"path"`
	Valid   bool               `json:"valid"`
	Errors  []validateJSONItem `json:"errors"`
	Counts  map[string]int     `json:"counts,omitempty"`
	Sources []string           `json:"sources,omitempty"`
	// Implied is the --explain list.
	Implied []validateImplied `json:"implied,omitempty"`
}

type validateImplied struct {
	Subject   string `json:"subject"`
	Target    string `json:"target"`
	Privilege string `json:"privilege"`
	Eligible  bool   `json:"eligible,omitempty"`
	Because   string `json:"because"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Col       int    `json:"col,omitempty"`
}

type validateJSONItem struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Path     string `json:"path,omitempty"`
	Message  string `json:"message"`
	Expected string `json:"expected,omitempty"`
}

func runValidate(_ context.Context, opts validateOptions, g *globalOptions, path string) error {
	if opts.format != "text" && opts.format != "json" {
		return usageError{fmt.Errorf("unknown --format %q (expected text or json)", opts.format)}
	}
	now, err := parseNow(opts.now)
	if err != nil {
		return err
	}
	e, err := estate.Load(path)
	var ve *estate.ValidationError
	if err != nil && !errors.As(err, &ve) {
		return err
	}
	out := validateJSON{Version: "1", Path: path, Valid: err == nil, Errors: []validateJSONItem{}}
	if ve != nil {
		for _, fe := range ve.Errors {
			out.Errors = append(out.Errors, validateJSONItem{File: fe.Pos.File, Line: fe.Pos.Line, Col: fe.Pos.Col,
				Path: fe.Path, Message: fe.Message, Expected: fe.Expected})
		}
	}
	if e != nil {
		out.Sources = e.Sources
		out.Counts = map[string]int{
			"tenants": len(e.Tenants), "identities": len(e.Identities), "groups": len(e.Groups),
			"tools": len(e.Tools), "grants": len(e.Grants), "assets": len(e.Assets),
			"backups": len(e.Backups), "ir_plans": len(e.IRPlans), "contracts": len(e.Contracts),
			"vendors": len(e.Vendors), "attestations": len(e.Attestations), "exceptions": len(e.Exceptions),
		}
		if opts.explain {
			for _, im := range access.Compute(e, access.Options{Now: now}).Implied {
				out.Implied = append(out.Implied, validateImplied{Subject: im.Subject, Target: im.Target, Privilege: string(im.Privilege),
					Eligible: im.Eligible, Because: im.Because, File: im.Pos.File, Line: im.Pos.Line, Col: im.Pos.Col})
			}
		}
	}
	if opts.format == "json" {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printValidateText(g.stdout, out, e)
	}
	if !out.Valid {
		return errInvalidEstate
	}
	return nil
}

func printValidateText(w io.Writer, out validateJSON, e *estate.Estate) {
	if !out.Valid {
		for _, fe := range out.Errors {
			fmt.Fprintln(w, estate.FieldError{Pos: estate.Pos{File: fe.File, Line: fe.Line, Col: fe.Col},
				Path: fe.Path, Message: fe.Message, Expected: fe.Expected}.String())
		}
		s := "s"
		if len(out.Errors) == 1 {
			s = ""
		}
		fmt.Fprintf(w, "%s: %d problem%s\n", out.Path, len(out.Errors), s)
		return
	}
	defer func() {
		if len(out.Implied) == 0 {
			return
		}
		fmt.Fprintf(w, "\nImplied access (%d, not written as grants):\n", len(out.Implied))
		for _, im := range out.Implied {
			p := im.Privilege
			if im.Eligible {
				p += " (eligible)"
			}
			at := estate.Pos{File: im.File, Line: im.Line, Col: im.Col}.String()
			if at != "" {
				at = "  @" + at
			}
			fmt.Fprintf(w, "  %s → %s: %s — %s%s\n", im.Subject, im.Target, p, im.Because, at)
		}
	}()
	fmt.Fprintf(w, "%s: valid — %d tenants, %d identities, %d groups, %d tools, %d grants, %d assets, %d backups, %d IR plans, %d contracts, %d vendors (%d files)\n",
		out.Path, len(e.Tenants), len(e.Identities), len(e.Groups), len(e.Tools), len(e.Grants), len(e.Assets),
		len(e.Backups), len(e.IRPlans), len(e.Contracts), len(e.Vendors), len(e.Sources))
}
