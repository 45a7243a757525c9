package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/evaluate"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

type blastOptions struct {
	From       string
	Tenant     string
	Cut        []string
	Harden     []string
	JIT        []string
	Format     string
	Output     string
	Suggest    bool
	Share      float64
	Top        int
	Steps      int
	IncludeJIT bool
	KEVFile    string
	NoKEV      bool
	DataDir    string
	FailOver   bool
	Now        string

	now    func() time.Time
	getenv func(string) string
}

func (o *blastOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.From, "from", "", "answer for one compromised node: every tenant and asset it reaches, at which privilege, with the shortest proof path")
	f.StringVar(&o.Tenant, "tenant", "", "answer for one tenant: every identity, group, tool and vendor that reaches it by any path, with its standing and just-in-time privilege and the first hop of each (the access matrix assess judges FB-MFA-002 and FB-PRIV-004 by)")
	f.StringArrayVar(&o.Cut, "cut", nil, "what-if: remove an edge (grant id, kind:from->to, or from->to); repeatable")
	f.StringArrayVar(&o.Harden, "harden", nil, "what-if: NODE=mfa:phishing-resistant|mfa:weak|mfa:none|patched|internal|disabled; repeatable")
	f.StringArrayVar(&o.JIT, "jit", nil, "what-if: make an edge just-in-time instead of standing (grant id or from->to); repeatable")
	f.StringVarP(&o.Format, "format", "f", "table", "output format: table, json, dot or html")
	f.StringVarP(&o.Output, "output", "o", "", "write to this file instead of stdout (written atomically)")
	f.BoolVar(&o.Suggest, "suggest", false, "show the whole suggestion plan, not only the first three fixes")
	f.Float64Var(&o.Share, "max-share", 0, "target: no single compromise reaches more than this share of tenants at ≥ admin (default: the estate's settings.max_tenant_share, 0.10)")
	f.IntVar(&o.Top, "top", 10, "rows of the ranking to show")
	f.IntVar(&o.Steps, "steps", 10, "most changes the suggestion plan may take")
	f.BoolVar(&o.IncludeJIT, "include-jit", false, "count just-in-time grants as activated (default: standing access only)")
	addKEVFlags(f, &o.KEVFile, &o.NoKEV)
	f.StringVar(&o.DataDir, "data-dir", "", "data directory holding the stored KEV catalog (default $FIREBREAK_DATA_DIR or ~/.local/share/firebreak)")
	f.StringVar(&o.Now, "now", "", "judge expiry (grants, GDAP end dates) and patch state as of this date (YYYY-MM-DD or RFC 3339; default now), the same clock as assess --now")
	f.BoolVar(&o.FailOver, "fail-over-limit", false, "exit 3 when a single compromise reaches more than --max-share of tenants at ≥ admin")
}

// Validate checks flag values and parses the what-if changes.
func (o *blastOptions) Validate() ([]trust.Change, error) {
	switch o.Format {
	case "table", "json", "dot", "html":
	default:
		return nil, usageError{fmt.Errorf("--format %q: expected table, json, dot or html", o.Format)}
	}
	if o.Share < 0 || o.Share > 1 {
		return nil, usageError{fmt.Errorf("--max-share %v: expected a fraction between 0 and 1, e.g. 0.10", o.Share)}
	}
	if o.Top < 1 {
		return nil, usageError{fmt.Errorf("--top %d: expected at least 1", o.Top)}
	}
	if o.Steps < 1 || o.Steps > 1000 {
		return nil, usageError{fmt.Errorf("--steps %d: expected 1 to 1000", o.Steps)}
	}
	if o.From != "" && o.Tenant != "" {
		return nil, usageError{errors.New("--from and --tenant exclude each other")}
	}
	if err := checkKEVFlags(o.KEVFile, o.NoKEV); err != nil {
		return nil, err
	}
	var cs []trust.Change
	for _, x := range []struct {
		op   trust.Op
		args []string
	}{{trust.OpCut, o.Cut}, {trust.OpHarden, o.Harden}, {trust.OpJIT, o.JIT}} {
		for _, a := range x.args {
			c, err := trust.ParseChange(x.op, a)
			if err != nil {
				return nil, usageError{err}
			}
			cs = append(cs, c)
		}
	}
	return cs, nil
}

func newBlastCommand(g *globalOptions) *cobra.Command {
	opts := blastOptions{now: time.Now, getenv: os.Getenv}
	cmd := &cobra.Command{
		Use:   "blast PATH",
		Short: "Show who falls if one piece of the MSP is compromised, and what to fix first",
		Long: `Blast builds the trust graph of an estate — identities, groups, tools (RMM,
remote access, PSA, vault, backup console, identity provider, GDAP
relationships), tenants, assets, vendors and the outsider — with "can
control" edges at a privilege (read < operate < admin < full_control), and
answers:

  (no flags)     one screen: the three changes to make first so that no single
                 compromise reaches more than --max-share of tenants, with proof
                 paths; the single points of failure; the entry points
  --from NODE    every tenant and asset NODE reaches, at the best privilege
                 along any path (the lowest privilege on a path bounds it), with
                 the shortest path achieving it
  --tenant T     who reaches tenant T by any path: every identity, group,
                 tool and vendor, its standing privilege and its privilege with
                 just-in-time access activated, and the first hop of each (the
                 access matrix assess judges FB-MFA-002 and FB-PRIV-004 by)
  --cut/--harden/--jit
                 what-if: the ranking before and after the changes
  --suggest      the whole greedy plan (see docs/usage.md "firebreak blast")

Counts are of standing access; --include-jit counts just-in-time grants as
activated. Known-exploited vulnerabilities come from --kev FILE or the catalog
stored by "firebreak kev update".

Formats: table (default), json, dot (Graphviz) and html (a self-contained
interactive view: click a node to highlight what it reaches).`,
		Example: `  firebreak blast examples/harbourview
  firebreak blast examples/harbourview --from rmm
  firebreak blast examples/harbourview --tenant brightwater-dental
  firebreak blast examples/harbourview --harden rmm=patched --jit g-techs-rmm
  firebreak blast examples/harbourview --suggest --max-share 0.2
  firebreak blast examples/harbourview -f html -o trust.html
  firebreak blast examples/harbourview -f dot | dot -Tsvg > trust.svg`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBlast(cmd.Context(), opts, g, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runBlast(ctx context.Context, opts blastOptions, g *globalOptions, path string) error {
	changes, err := opts.Validate()
	if err != nil {
		return err
	}
	if opts.now == nil {
		opts.now = time.Now
	}
	if opts.getenv == nil {
		opts.getenv = os.Getenv
	}
	e, err := estate.Load(path)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := opts.now().UTC()
	if opts.Now != "" {
		if now, err = parseNow(opts.Now); err != nil {
			return err
		}
	}
	cat, kevNote, err := opts.loadKEV()
	if err != nil {
		return err
	}
	// The access facts (MFA, exposure, KEV still open after patching,
	// grant privileges) are the ones assess judges by at the same --now.
	graph, err := evaluate.TrustGraph(e, evaluate.Deps{Now: now, KEV: cat}, nil)
	if err != nil {
		return err
	}
	if g.log != nil {
		for _, w := range graph.Warnings {
			g.log.Debug("trust graph", "warning", w)
		}
	}
	write := func(w io.Writer) error {
		switch opts.Format {
		case "dot":
			return trust.WriteDOT(w, graph, trust.DOTOptions{From: opts.From, IncludeJIT: opts.IncludeJIT})
		case "html":
			if opts.Tenant != "" {
				break
			}
			return trust.WriteHTML(w, graph, trust.HTMLOptions{Title: e.Provider.Name, IncludeJIT: opts.IncludeJIT})
		}
		rep, err := trust.NewReport(graph, trust.ReportOptions{From: opts.From, Tenant: opts.Tenant, Changes: changes, IncludeJIT: opts.IncludeJIT,
			Share: opts.Share, Top: opts.Top, Suggest: opts.Suggest, MaxSteps: opts.Steps, Provider: e.Provider.Name, Command: "firebreak blast " + trust.ShellQuote(path), Ctx: ctx})
		if err != nil {
			var ue *trust.UnknownNodeError
			if errors.As(err, &ue) {
				return usageError{err}
			}
			return err
		}
		if opts.Format == "json" {
			if err := trust.WriteJSON(w, rep); err != nil {
				return err
			}
		} else if opts.Format == "html" {
			if err := trust.WriteAccessHTML(w, rep); err != nil {
				return err
			}
		} else {
			if err := trust.WriteTable(w, rep); err != nil {
				return err
			}
			if kevNote != "" {
				fmt.Fprintf(w, "\n%s\n", kevNote)
			}
		}
		if opts.FailOver && rep.OverLimit > 0 {
			return fmt.Errorf("%d nodes reach more than %d tenants at admin or above: %w", rep.OverLimit, rep.Limit, ErrFindings)
		}
		return nil
	}
	if opts.Output == "" || opts.Output == "-" {
		bw := bufio.NewWriter(g.stdout)
		err := write(bw)
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		return err
	}
	return blastWriteFile(opts.Output, write)
}

// loadKEV returns the catalog to match against and the line stating it
// (resolveKEV: the rule every verb follows).
func (o *blastOptions) loadKEV() (*kev.Catalog, string, error) {
	u, err := resolveKEV(o.KEVFile, o.NoKEV, o.DataDir, o.getenv)
	return u.Cat, u.Line, err
}

// blastWriteFile writes through a temporary file in the same directory and
// renames it into place, so readers never see a partial file.
func blastWriteFile(path string, write func(io.Writer) error) error {
	var werr error
	err := atomicfile.Write(path, 0o600, func(w io.Writer) error {
		// Findings at or above --fail-on still produce the file.
		if werr = write(w); errors.Is(werr, ErrFindings) {
			return nil
		}
		return werr
	})
	if err != nil {
		return err
	}
	return werr
}
