package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
)

type genLogsOptions struct {
	lines    int
	seed     int64
	format   string
	output   string
	truth    string
	start    string
	span     time.Duration
	estate   string
	attacks  int
	kinds    []string
	hosts    int
	envelope string
	tenants  []string
	demo     string
}

func (o *genLogsOptions) AddFlags(f *pflag.FlagSet) {
	f.IntVar(&o.lines, "lines", 100000, "number of lines (JSON records) to write")
	f.Int64Var(&o.seed, "seed", 1, "random seed (same seed, same bytes)")
	f.StringVarP(&o.format, "format", "f", "sshd", "log format: sshd, windows, entra or okta")
	f.StringVarP(&o.output, "output", "o", "-", "log file to write (- for stdout)")
	f.StringVar(&o.truth, "truth", "", "write the ground truth (JSON lines, one actor per line) to this file")
	f.StringVar(&o.start, "start", "2026-11-26T00:00:00Z", "first timestamp (RFC 3339)")
	f.DurationVar(&o.span, "span", 24*time.Hour, "time the log covers")
	f.StringVar(&o.estate, "estate", "", "take tenants (ids, domains, Entra tenant ids) from this estate instead of the built-in Harbourview list")
	f.IntVar(&o.attacks, "attacks", 0, "attackers per attack kind (0: about one per 100k lines)")
	f.StringSliceVar(&o.kinds, "kinds", nil, "attack kinds to generate (default all the format supports)")
	f.IntVar(&o.hosts, "hosts-per-tenant", 2, "servers per tenant (sshd, windows)")
	f.StringSliceVar(&o.tenants, "tenants", nil, "only these tenant ids (default all)")
	f.StringVar(&o.demo, "demo", "", "write the Harbourview demo logs (and truth/) into this directory; needs --estate")
	f.StringVar(&o.envelope, "envelope", "lines", "JSON formats: lines (JSON lines), array (one JSON array), or graph (a Graph {\"value\": [...]} page)")
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

// demoLogs is the recipe of examples/harbourview/logs (regenerate with
// firebreak gen-logs --estate examples/harbourview --demo examples/harbourview/logs).
var demoLogs = []struct {
	file string
	opts genLogsOptions
}{
	{"auth-cedar-law-srv01.log", genLogsOptions{format: "sshd", lines: 3000, seed: 11, tenants: []string{"cedar-law"}, hosts: 1,
		kinds: []string{"brute_force", "slow_brute_force", "spray", "success_after_spray"}}},
	{"auth-riverside-clinic-srv01.log", genLogsOptions{format: "sshd", lines: 3000, seed: 12, tenants: []string{"riverside-clinic"}, hosts: 1,
		kinds: []string{"brute_force", "credential_stuffing", "distributed_spray"}}},
	{"winlogbeat-security.ndjson", genLogsOptions{format: "windows", lines: 2500, seed: 13, hosts: 1,
		tenants: []string{"cedar-law", "northgate-logistics", "riverside-clinic", "summit-accounting"},
		kinds:   []string{"brute_force", "spray", "credential_stuffing", "cross_tenant_spray"}}},
	{"entra-signins.json", genLogsOptions{format: "entra", lines: 2500, seed: 14, envelope: "graph",
		kinds: []string{"cross_tenant_spray_success"}}},
	{"okta-system-log.json", genLogsOptions{format: "okta", lines: 2500, seed: 15, envelope: "array",
		tenants: []string{"northgate-logistics", "pier9-freight", "kestrel-aviation"}, kinds: []string{"mfa_fatigue"}}},
	{"rmm-audit.jsonl", genLogsOptions{format: "rmm", lines: 3000, seed: 16, kinds: []string{"rmm_fanout", "brute_force"}}},
}

func runGenLogs(ctx context.Context, opts genLogsOptions, g *globalOptions) error {
	if opts.demo != "" {
		if opts.estate == "" {
			return usageError{fmt.Errorf("--demo needs --estate")}
		}
		if err := os.MkdirAll(filepath.Join(opts.demo, "truth"), 0o755); err != nil {
			return err
		}
		for _, d := range demoLogs {
			o := d.opts
			o.estate = opts.estate
			o.output = filepath.Join(opts.demo, d.file)
			o.truth = filepath.Join(opts.demo, "truth", d.file+".truth.jsonl")
			o.start, o.span, o.attacks = "2026-11-26T00:00:00Z", 24*time.Hour, 1
			if o.envelope == "" {
				o.envelope = "lines"
			}
			if err := runGenLogs(ctx, o, g); err != nil {
				return fmt.Errorf("%s: %w", d.file, err)
			}
		}
		return nil
	}
	if !slices.Contains(loggen.Formats, opts.format) {
		return usageError{fmt.Errorf("unknown --format %q (expected one of %v)", opts.format, loggen.Formats)}
	}
	if !slices.Contains([]string{"lines", "array", "graph"}, opts.envelope) {
		return usageError{fmt.Errorf("unknown --envelope %q (expected lines, array or graph)", opts.envelope)}
	}
	if opts.envelope != "lines" && (opts.format == loggen.FormatSSHD) {
		return usageError{fmt.Errorf("--envelope %s needs a JSON format", opts.envelope)}
	}
	if opts.lines <= 0 {
		return usageError{fmt.Errorf("--lines must be positive, got %d", opts.lines)}
	}
	start, err := time.Parse(time.RFC3339, opts.start)
	if err != nil {
		return usageError{fmt.Errorf("--start: %w", err)}
	}
	lo := loggen.Options{Format: opts.format, Lines: opts.lines, Seed: opts.seed, Start: start, Span: opts.span,
		Attacks: opts.attacks, Kinds: opts.kinds, HostsPerTenant: opts.hosts}
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
			if len(opts.tenants) == 0 || slices.Contains(opts.tenants, t.ID) {
				lo.Tenants = append(lo.Tenants, lt)
			}
		}
		for _, id := range e.Identities {
			if id.Home == "msp" && id.Kind == "human" && id.UPN != "" && !strings.Contains(id.UPN, "#EXT#") {
				lo.Operators = append(lo.Operators, id.UPN)
			}
		}
		for _, a := range e.Assets {
			if a.Tenant == "msp" && strings.Contains(strings.ToLower(a.ID+a.Hostname), "vsa") && a.Hostname != "" {
				lo.Console = a.Hostname
			}
		}
	}
	if opts.estate == "" && len(opts.tenants) > 0 {
		for _, t := range loggen.DefaultTenants() {
			if slices.Contains(opts.tenants, t.ID) {
				lo.Tenants = append(lo.Tenants, t)
			}
		}
	}
	if len(opts.tenants) > 0 && len(lo.Tenants) != len(opts.tenants) {
		return usageError{fmt.Errorf("--tenants: %d of %v are not known tenants", len(opts.tenants)-len(lo.Tenants), opts.tenants)}
	}
	var w io.Writer = g.stdout
	var f *os.File
	switch {
	case opts.output == "-":
	case atomicfile.Special(opts.output):
		// /dev/null, a pipe: write through it (renaming a temporary file
		// over it would replace the device with a regular file).
		out, err := os.OpenFile(opts.output, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer func() { _ = out.Close() }()
		w = out
	default:
		f, err = os.CreateTemp(filepath.Dir(opts.output), ".gen-logs-*")
		if err != nil {
			return err
		}
		defer func() { _ = os.Remove(f.Name()) }()
		defer func() { _ = f.Close() }()
		w = f
	}
	began := time.Now()
	var env *envelopeWriter
	if opts.envelope != "lines" {
		env = &envelopeWriter{w: w, graph: opts.envelope == "graph"}
		w = env
	}
	truth, err := loggen.Generate(w, lo)
	if err != nil {
		return err
	}
	if env != nil {
		if err := env.close(); err != nil {
			return err
		}
	}
	if f != nil {
		if err := f.Chmod(0o644); err != nil {
			return err
		}
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
			_ = tf.Close()
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
		g.notice("wrote %d lines (%s, %d attackers, %d benign actors) to %s in %s\n", truth.Lines, opts.format,
			attackers, len(truth.Actors)-attackers, opts.output, time.Since(began).Round(time.Millisecond))
	}
	return nil
}

// envelopeWriter turns JSON lines into one JSON array (or a Graph page)
// with one record per line.
type envelopeWriter struct {
	w       io.Writer
	graph   bool
	started bool
	pending bool // a record ended; its comma is written before the next
}

func (e *envelopeWriter) Write(p []byte) (int, error) {
	var out []byte
	if !e.started {
		e.started = true
		if e.graph {
			out = append(out, `{"@odata.context":"https://graph.microsoft.com/beta/$metadata#auditLogs/signIns","value":[`+"\n"...)
		} else {
			out = append(out, "[\n"...)
		}
	}
	for _, c := range p {
		if e.pending {
			out = append(out, ",\n"...)
			e.pending = false
		}
		if c == '\n' {
			e.pending = true
			continue
		}
		out = append(out, c)
	}
	if _, err := e.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (e *envelopeWriter) close() error {
	end := "\n]\n"
	if !e.started {
		end = "[]\n"
		if e.graph {
			end = `{"value":[]}` + "\n"
		}
	} else if e.graph {
		end = "\n]}\n"
	}
	_, err := io.WriteString(e.w, end)
	return err
}
