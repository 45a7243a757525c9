package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
)

type genLogsOptions struct {
	lines   int
	seed    int64
	format  string
	output  string
	truth   string
	start   string
	span    time.Duration
	estate  string
	attacks int
	kinds   []string
}

func (o *genLogsOptions) AddFlags(f *pflag.FlagSet) {
	f.IntVar(&o.lines, "lines", 100000, "number of lines (JSON records) to write")
	f.Int64Var(&o.seed, "seed", 1, "random seed (same seed, same bytes)")
	f.StringVar(&o.format, "format", "sshd", "log format: sshd, windows, entra or okta")
	f.StringVarP(&o.output, "output", "o", "-", "log file to write (- for stdout)")
	f.StringVar(&o.truth, "truth", "", "write the ground truth (JSON lines, one actor per line) to this file")
	f.StringVar(&o.start, "start", "2026-11-26T00:00:00Z", "first timestamp (RFC 3339)")
	f.DurationVar(&o.span, "span", 24*time.Hour, "time the log covers")
	f.StringVar(&o.estate, "estate", "", "take tenants (ids, domains, Entra tenant ids) from this estate instead of the built-in Harbourview list")
	f.IntVar(&o.attacks, "attacks", 0, "attackers per attack kind (0: about one per 100k lines)")
	f.StringSliceVar(&o.kinds, "kinds", nil, "attack kinds to generate (default all the format supports)")
}

func newGenLogsCommand(g *globalOptions) *cobra.Command {
	var opts genLogsOptions
	cmd := &cobra.Command{
		Use:   "gen-logs",
		Short: "Write a synthetic authentication log with labelled attacks and its ground truth",
		Long: `gen-logs writes a deterministic synthetic log (sshd syslog, Winlogbeat Windows
Security JSON, Entra ID sign-ins or Okta System Log, as JSON lines) covering one
day of an MSP's tenants, with labelled attacks mixed into benign traffic:
brute force, slow brute force, single-source spray, distributed spray (many
sources, one tenant), cross-tenant spray (one source, >= 3 tenants), credential
stuffing (mostly unknown users), success after spray, MFA fatigue (Entra and
Okta), plus benign users who mistype their password from home or from an office
behind one NAT address, and unrelated noise (cron, sudo, other daemons and
event ids).

--truth writes one JSON object per actor: kind, attacker (true/false), the keys
(source_ip, user, tenant, tenants), attempts and first/last time, so that a
detector's precision and recall can be computed.`,
		Example: `  firebreak gen-logs --lines 2000000 --seed 7 -o auth.log --truth truth.jsonl
  firebreak gen-logs --format entra --lines 50000 --estate examples/harbourview -o signins.jsonl --truth truth.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGenLogs(cmd.Context(), opts, g)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runGenLogs(_ context.Context, opts genLogsOptions, g *globalOptions) error {
	if !slices.Contains(loggen.Formats, opts.format) {
		return usageError{fmt.Errorf("unknown --format %q (expected one of %v)", opts.format, loggen.Formats)}
	}
	if opts.lines <= 0 {
		return usageError{fmt.Errorf("--lines must be positive, got %d", opts.lines)}
	}
	start, err := time.Parse(time.RFC3339, opts.start)
	if err != nil {
		return usageError{fmt.Errorf("--start: %w", err)}
	}
	lo := loggen.Options{Format: opts.format, Lines: opts.lines, Seed: opts.seed, Start: start, Span: opts.span,
		Attacks: opts.attacks, Kinds: opts.kinds}
	if opts.estate != "" {
		e, err := estate.Load(opts.estate)
		if err != nil {
			return err
		}
		for _, t := range e.Tenants {
			lt := loggen.Tenant{ID: t.ID, EntraID: t.EntraTenantID}
			if len(t.Domains) > 0 {
				lt.Domain = t.Domains[0]
			} else {
				lt.Domain = t.ID + ".example"
			}
			if lt.EntraID == "" {
				lt.EntraID = loggen.DefaultTenantGUID(t.ID)
			}
			lo.Tenants = append(lo.Tenants, lt)
		}
	}
	var w io.Writer = g.stdout
	var f *os.File
	if opts.output != "-" {
		f, err = os.CreateTemp(filepath.Dir(opts.output), ".gen-logs-*")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		defer f.Close()
		w = f
	}
	began := time.Now()
	truth, err := loggen.Generate(w, lo)
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(f.Name(), opts.output); err != nil {
			return err
		}
	}
	if opts.truth != "" {
		tf, err := os.Create(opts.truth)
		if err != nil {
			return err
		}
		if err := truth.WriteJSONL(tf); err != nil {
			tf.Close()
			return err
		}
		if err := tf.Close(); err != nil {
			return err
		}
	}
	attackers := 0
	for _, a := range truth.Actors {
		if a.Attacker {
			attackers++
		}
	}
	g.log.Info("gen-logs done", "lines", truth.Lines, "attackers", attackers, "actors", len(truth.Actors), "elapsed", time.Since(began).Round(time.Millisecond))
	if opts.output != "-" {
		fmt.Fprintf(g.stderr, "wrote %d lines (%s, %d attackers, %d benign actors) to %s in %s\n", truth.Lines, opts.format,
			attackers, len(truth.Actors)-attackers, opts.output, time.Since(began).Round(time.Millisecond))
	}
	return nil
}
