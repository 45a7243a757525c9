package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/evaluate"
	"github.com/firebreak-msp/firebreak/internal/report"
	"github.com/firebreak-msp/firebreak/internal/version"
)

type assessOptions struct {
	KEVFile  string
	NoKEV    bool
	Policies []string
	Format   string
	Output   string
	FailOn   string
	Tenants  []string
	Now      string
	NoTrust  bool
	Passing  bool
	Severity string
	// DetectSummary is the detection summary (detect --summary-file)
	// FB-AUTH-004 is judged from.
	DetectSummary string

	// SARIF at MSP scale (issue 16).
	Unknown         bool
	SARIFPerTenant  bool
	SARIFMaxResults int
	SARIFMaxRuns    int

	getenv func(string) string // os.Getenv outside tests
}

func (o *assessOptions) AddFlags(f *pflag.FlagSet) {
	addKEVFlags(f, &o.KEVFile, &o.NoKEV)
	f.StringArrayVar(&o.Policies, "policy", nil, "`DIR` of your own .rego policies to evaluate too (repeatable)")
	f.StringVarP(&o.Format, "format", "f", "", "report format: "+strings.Join(report.Formats, ", ")+" (default table, or from -o's extension)")
	f.StringVarP(&o.Output, "output", "o", "", "write the report to `FILE` (atomically) instead of stdout")
	f.StringVar(&o.FailOn, "fail-on", "", "exit 3 when a failing control has this `SEVERITY` or higher (critical, high, medium, low, info)")
	f.StringVar(&o.Severity, "severity", "", severityUsage+"; scores stay those of the whole assessment")
	f.StringArrayVar(&o.Tenants, "tenant", nil, "assess only this tenant `ID` (repeatable; \"msp\" for the MSP itself)")
	f.StringVar(&o.Now, "now", "", "evaluate as of `DATE` (YYYY-MM-DD or RFC 3339) for reproducible runs (default: now)")
	f.StringVar(&o.DetectSummary, "detect-summary", "", "detection summary `FILE` written by `firebreak detect --summary-file`: which log sources feed failed-authentication detection (FB-AUTH-004; without it, not evaluable)")
	f.BoolVar(&o.NoTrust, "no-trust", false, "skip the trust graph (FB-TRUST-* controls become not evaluable)")
	f.BoolVar(&o.Passing, "include-passing", false, "also list passing results in csv and sarif output")
	f.BoolVar(&o.Unknown, "include-unknown", false, "also list not-evaluable results in sarif output")
	f.BoolVar(&o.SARIFPerTenant, "sarif-per-tenant", false, "sarif: one run per tenant (and the MSP), each with its own automationDetails.id; with -o DIR/ one file per tenant")
	f.IntVar(&o.SARIFMaxRuns, "sarif-max-runs", githubMaxRuns, "sarif: refuse to write more than `N` runs into one file or stdout (GitHub code scanning accepts 20); 0 for no limit; -o DIR/ writes one file per run")
	f.IntVar(&o.SARIFMaxResults, "sarif-max-results", report.DefaultSARIFMaxResults, "sarif: keep at most `N` results per run, the most severe (GitHub rejects more than 25,000); -1 for no cap")
}

func newAssessCommand(g *globalOptions) *cobra.Command {
	var opts assessOptions
	cmd := &cobra.Command{
		Use:   "assess PATH",
		Short: "Judge the estate against the AA22-131A controls, per tenant and for the MSP",
		Long: `Assess loads an estate (a file or a directory, as for validate), evaluates every
control of the AA22-131A catalog (see firebreak controls) for the MSP and for each
tenant, and writes a report: pass, fail, not evaluable (naming the missing
evidence), not applicable, attested (by whom, until when) or excepted (owner,
reason, expiry), each with the estate objects it rests on (file:line), plus a
severity-weighted score per tenant and for the MSP.

Automated controls are Rego evaluated in-process; --policy adds your own
(same input document and result shape; see examples/policies). KEV controls use
--kev FILE, else the catalog stored by "firebreak kev update"; without one they
are not evaluable.`,
		Example: `  firebreak assess examples/harbourview
  firebreak assess examples/harbourview --now 2026-11-27 --format html -o report.html
  firebreak assess estate/ --kev known_exploited_vulnerabilities.json --fail-on high
  firebreak assess estate/ --policy examples/policies --tenant cedar-law --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAssess(cmd.Context(), opts, g, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// parseNow reads --now; empty means the wall clock (the CLI is the only
// place that reads it).
func parseNow(s string) (time.Time, error) {
	if s == "" {
		return time.Now().UTC(), nil
	}
	d, err := estate.ParseDate(s)
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("--now: %w", err)}
	}
	return d.Time, nil
}

// loadKEV returns the catalog from --kev, else the stored one, else the
// built-in snapshot (resolveKEV), and what is missing under --no-kev.
func (o *assessOptions) loadKEV() (*kev.Catalog, string, error) {
	u, err := o.kev()
	return u.Cat, u.Missing, err
}

// kev is resolveKEV for assess's flags (assess has no --data-dir: the
// default one).
func (o *assessOptions) kev() (kevUse, error) {
	return resolveKEV(o.KEVFile, o.NoKEV, "", o.getenv)
}

func runAssess(ctx context.Context, opts assessOptions, g *globalOptions, path string) error {
	if opts.getenv == nil {
		opts.getenv = os.Getenv
	}
	if err := checkKEVFlags(opts.KEVFile, opts.NoKEV); err != nil {
		return err
	}
	format := opts.Format
	if format == "" && opts.Output != "" {
		format = report.FormatFromPath(opts.Output)
	}
	if format == "" && opts.SARIFPerTenant {
		format = "sarif"
	}
	if format == "" {
		format = "table"
	}
	known := false
	for _, f := range report.Formats {
		known = known || f == format
	}
	if !known {
		return usageError{fmt.Errorf("unknown --format %q (expected one of %s)", format, strings.Join(report.Formats, ", "))}
	}
	// Only the per-tenant SARIF files go into a directory; any other report
	// is one file, so -o DIR/ is a mistake to say before the assessment runs.
	if isDirTarget(opts.Output) && (format != "sarif" || !opts.SARIFPerTenant) {
		hint := "name a file"
		if format == "sarif" {
			hint = "add --sarif-per-tenant to write one SARIF file per tenant into it, or name a file"
		}
		return usageError{fmt.Errorf("-o %s is a directory: %s", opts.Output, hint)}
	}
	if opts.SARIFMaxRuns < 0 {
		return usageError{fmt.Errorf("--sarif-max-runs %d: want a number of runs, or 0 for no limit", opts.SARIFMaxRuns)}
	}
	if opts.SARIFMaxResults < -1 {
		return usageError{fmt.Errorf("--sarif-max-results %d: want a number of results (0: the default, 25,000), or -1 for no cap", opts.SARIFMaxResults)}
	}
	var failOn catalog.Severity
	if opts.FailOn != "" {
		s, err := catalog.ParseSeverity(opts.FailOn)
		if err != nil {
			return usageError{fmt.Errorf("--fail-on: %w", err)}
		}
		failOn = s
	}
	shown, err := parseSeverities(opts.Severity)
	if err != nil {
		return err
	}
	now, err := parseNow(opts.Now)
	if err != nil {
		return err
	}

	// Large estates allocate millions of short-lived policy values: trade
	// some memory for fewer collections, under a soft cap that keeps peak
	// RSS within 2 GiB (the user's GOGC / GOMEMLIMIT win).
	if opts.getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(200))
	}
	if opts.getenv("GOMEMLIMIT") == "" {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(1700 << 20))
	}

	t0, c0 := time.Now(), assess.ProcessCPU()
	cat, err := catalog.Load()
	if err != nil {
		return err
	}
	ku, err := opts.kev()
	if err != nil {
		return err
	}
	kc, kevMissing := ku.Cat, ku.Missing
	// Which catalog the KEV controls used (the line blast prints and the
	// dashboard shows), on stderr (stdout is the report) unless -q: the
	// JSON, SARIF and OSCAL documents carry it as well (Report.KEV).
	g.notice("%s\n", ku.Line)
	var mon *assess.AuthMonitoring
	if opts.DetectSummary != "" {
		fh, err := os.Open(opts.DetectSummary)
		if err != nil {
			return fmt.Errorf("--detect-summary: %w", err)
		}
		mon, err = assess.LoadAuthMonitoring(fh, opts.DetectSummary)
		_ = fh.Close() // read-only; the decode error is the one that matters
		if err != nil {
			return fmt.Errorf("--detect-summary: %w", err)
		}
	}
	e, err := estate.Load(path)
	if err != nil {
		return err
	}
	tLoad, cLoad := time.Since(t0), assess.ProcessCPU()-c0

	// estate → access facts (with KEV) → trust graph → assessment, the
	// same composition the service runs (internal/evaluate).
	res, err := evaluate.Evaluate(ctx, e, evaluate.Deps{
		Catalog:    cat,
		KEV:        kc,
		KEVMissing: kevMissing,
		PolicyDirs: opts.Policies,
		Subjects:   opts.Tenants,
		Now:        now,
		Logger:     g.log,
		NoTrust:    opts.NoTrust,

		AuthMonitoring: mon,
	})
	if err != nil {
		return err
	}
	rep, tTrust := res.Report, res.TrustTook
	if len(shown) > 0 {
		rep.Results = slices.DeleteFunc(rep.Results, func(r assess.Result) bool { return !shown.Has(r.Severity) })
	}

	t2, c2 := time.Now(), assess.ProcessCPU()
	ropts := report.Options{
		Catalog:        cat,
		ToolVersion:    version.Get().Short(),
		IncludePassing: opts.Passing,
		Color:          opts.Output == "" && report.UseColor(g.stdout, g.noColor),

		IncludeUnknown:  opts.Unknown,
		SARIFPerSubject: opts.SARIFPerTenant,
		SARIFMaxResults: opts.SARIFMaxResults,
		OnTruncate: func(subject string, kept, total int) {
			g.notice("firebreak: sarif run %s: kept the %d most severe of %d results (--sarif-max-results); use --sarif-per-tenant\n", cmp.Or(subject, "(all)"), kept, total)
		},
	}
	// One document with more runs than the upload target accepts would be
	// rejected whole by it: refuse before anything is written.
	if runs := len(rep.Scores); format == "sarif" && opts.SARIFPerTenant && !isDirTarget(opts.Output) && opts.SARIFMaxRuns > 0 && runs > opts.SARIFMaxRuns {
		return usageError{fmt.Errorf("--sarif-per-tenant gives %d runs, more than --sarif-max-runs %d in one file (GitHub code scanning accepts at most %d): write one file per tenant with -o DIR/, or raise --sarif-max-runs (0 for no limit) for a tool that accepts more", runs, opts.SARIFMaxRuns, githubMaxRuns)}
	}
	switch {
	case format == "sarif" && opts.SARIFPerTenant && isDirTarget(opts.Output):
		var paths []string
		paths, err = report.WriteSARIFFiles(opts.Output, rep, ropts)
		if err == nil && g.log != nil {
			g.log.Info("wrote sarif per tenant", "dir", opts.Output, "files", len(paths))
		}
	case opts.Output != "":
		err = report.WriteFile(opts.Output, format, rep, ropts)
	default:
		err = report.Write(g.stdout, format, rep, ropts)
	}
	if err != nil {
		return err
	}
	tRender, cRender := time.Since(t2), assess.ProcessCPU()-c2
	if g.log != nil {
		tm := rep.Timing
		// trust overlaps index (which includes waiting for it).
		g.log.Debug("assess timing", "load", tLoad, "trust", tTrust, "index", tm.Index, "evaluate", tm.Evaluate,
			"finish", tm.Finish, "render", tRender, "results", len(rep.Results))
		// The same phases in process CPU time (index includes the trust
		// graph built meanwhile, and the principals phase).
		g.log.Debug("assess cpu", "load", cLoad.Round(time.Millisecond), "index", tm.IndexCPU.Round(time.Millisecond),
			"principals", tm.PrincipalsCPU.Round(time.Millisecond), "wait_trust_wall", tm.Extra.Round(time.Millisecond),
			"evaluate", tm.EvaluateCPU.Round(time.Millisecond), "finish", tm.FinishCPU.Round(time.Millisecond),
			"render", cRender.Round(time.Millisecond), "total", assess.ProcessCPU().Round(time.Millisecond))
	}

	if failOn != "" {
		n := 0
		for i := range rep.Results {
			r := &rep.Results[i]
			if r.Status == assess.StatusFail && catalog.Severity(r.Severity).Rank() >= failOn.Rank() {
				n++
			}
		}
		if n > 0 {
			return fmt.Errorf("%d failing results at or above %s: %w", n, failOn, ErrFindings)
		}
	}
	return nil
}

// isDirTarget reports whether -o names a directory: one that exists, or a
// path ending in a separator.
func isDirTarget(p string) bool {
	if p == "" {
		return false
	}
	if strings.HasSuffix(p, "/") || strings.HasSuffix(p, string(os.PathSeparator)) {
		return true
	}
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// githubMaxRuns is GitHub code scanning's limit on runs in one uploaded
// SARIF file.
const githubMaxRuns = 20
