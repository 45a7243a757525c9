package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
	"golang.org/x/term"

	"github.com/firebreak-msp/firebreak/internal/collect"
	cdns "github.com/firebreak-msp/firebreak/internal/collect/dns"
	"github.com/firebreak-msp/firebreak/internal/collect/graph"
	"github.com/firebreak-msp/firebreak/internal/collect/probe"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// collectOptions are shared by every collector.
type collectOptions struct {
	Out         string
	Format      string
	DryRun      bool
	Concurrency int
	Timeout     time.Duration
	now         func() time.Time
	getenv      func(string) string
	tty         *bool // nil: detect from stderr
}

func (o *collectOptions) AddFlags(f *pflag.FlagSet, defConc int, defTimeout time.Duration) {
	f.StringVarP(&o.Out, "out", "o", "", "directory for the collected estate fragment (default: the estate directory, else ./collected)")
	f.StringVarP(&o.Format, "format", "f", "table", "output format: table or json")
	f.BoolVar(&o.DryRun, "dry-run", false, "list what would be queried, without any network access")
	f.IntVar(&o.Concurrency, "concurrency", defConc, "maximum concurrent requests")
	f.DurationVar(&o.Timeout, "timeout", defTimeout, "timeout per request")
}

func (o *collectOptions) Validate() error {
	if o.Format != "table" && o.Format != "json" {
		return usageError{fmt.Errorf("--format %q: expected table or json", o.Format)}
	}
	if o.Concurrency < 1 {
		return usageError{fmt.Errorf("--concurrency %d: expected at least 1", o.Concurrency)}
	}
	if o.Timeout <= 0 {
		return usageError{fmt.Errorf("--timeout %v: expected a positive duration", o.Timeout)}
	}
	return nil
}

func (o *collectOptions) clock() time.Time {
	if o.now != nil {
		return o.now()
	}
	return time.Now()
}

func (o *collectOptions) env(k string) string {
	if o.getenv != nil {
		return o.getenv(k)
	}
	return os.Getenv(k)
}

// outDir resolves --out: the estate directory when the estate is one (so
// `firebreak assess DIR` picks the fragment up), else ./collected.
func (o *collectOptions) outDir(estatePath string) string {
	if o.Out != "" {
		return o.Out
	}
	if estatePath != "" {
		if st, err := os.Stat(estatePath); err == nil && st.IsDir() {
			return estatePath
		}
	}
	return "collected"
}

func (o *collectOptions) progress(g *globalOptions, label string) *collect.Progress {
	tty := false
	if o.tty != nil {
		tty = *o.tty
	} else if f, ok := g.stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return collect.NewProgress(g.stderr, tty && o.Format != "json", label, o.now)
}

// fragmentName is the file a collector writes; loading the estate for
// targets ignores objects read from it (a re-run replaces it).
func fragmentName(collector string) string { return collector + ".collected.yaml" }

// loadEstateFor loads the estate; objects from the collector's own previous
// fragment are dropped so a re-run does not see them as hand-written.
func loadEstateFor(path, outDir, collector string) (*estate.Estate, error) {
	e, err := estate.Load(path)
	if err != nil {
		return nil, err
	}
	own, _ := filepath.Abs(filepath.Join(outDir, fragmentName(collector)))
	mine := func(p estate.Pos) bool {
		if p.File == "" {
			return false
		}
		a, _ := filepath.Abs(p.File)
		return a == own
	}
	e.Tenants = dropFrom(e.Tenants, func(x estate.Tenant) bool { return mine(x.Pos) })
	e.Identities = dropFrom(e.Identities, func(x estate.Identity) bool { return mine(x.Pos) })
	e.Groups = dropFrom(e.Groups, func(x estate.Group) bool { return mine(x.Pos) })
	e.Tools = dropFrom(e.Tools, func(x estate.Tool) bool { return mine(x.Pos) })
	e.Grants = dropFrom(e.Grants, func(x estate.Grant) bool { return mine(x.Pos) })
	return e, nil
}

func dropFrom[T any](xs []T, drop func(T) bool) []T {
	out := xs[:0]
	for _, x := range xs {
		if !drop(x) {
			out = append(out, x)
		}
	}
	return out
}

func newCollectCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collect",
		Short: "Collect evidence from real systems into estate fragments (graph, dns, probe)",
		Long: `Collectors write an estate fragment (<collector>.collected.yaml) into the
estate directory, so "firebreak assess DIR" and "firebreak blast DIR" use the
evidence without hand-editing. Every collected object carries provenance
(source, collected_at); assess treats evidence older than
settings.evidence_max_age_days as not-evaluable. Evidence that could not be
collected (a missing Graph permission, a failing tenant) is written as a
collection gap naming the permission, so its controls are not-evaluable
rather than failed.`,
	}
	cmd.AddCommand(newCollectGraphCommand(g), newCollectDNSCommand(g), newCollectProbeCommand(g))
	return cmd
}

// ---- graph ----

type collectGraphOptions struct {
	collectOptions
	Estate      string
	Config      string
	Authority   string
	GraphURL    string
	Only        []string
	SignIns     string
	NoSignIns   bool
	SignInHours int
	SignInMax   int
	MaxAttempts int
}

// graphFileConfig is the --config file (YAML or JSON), decoded strictly.
type graphFileConfig struct {
	ClientID         string `yaml:"client_id"`
	TenantID         string `yaml:"tenant_id"`
	ClientSecret     string `yaml:"client_secret"`
	ClientSecretFile string `yaml:"client_secret_file"`
	CertFile         string `yaml:"cert_file"`
	KeyFile          string `yaml:"key_file"`
	Alg              string `yaml:"alg"`
	Authority        string `yaml:"authority"`
	GraphURL         string `yaml:"graph_url"`
	Concurrency      int    `yaml:"concurrency"`
}

func newCollectGraphCommand(g *globalOptions) *cobra.Command {
	var o collectGraphOptions
	cmd := &cobra.Command{
		Use:   "graph [ESTATE]",
		Short: "Collect GDAP relationships, users, MFA, roles, CA policies and sign-ins from Microsoft Graph",
		Long: `Authenticates as the partner's multi-tenant app registration (client
credentials: a secret or a certificate), lists the partner's GDAP
relationships and, for every active customer, gets an app-only token for
that tenant and reads users (signInActivity), userRegistrationDetails,
directory role assignments (foreign principals included), Conditional Access
policies, security defaults, MSP tool service principals and sign-in logs.

Credentials: FIREBREAK_GRAPH_CLIENT_ID, FIREBREAK_GRAPH_TENANT_ID and either
FIREBREAK_GRAPH_CLIENT_SECRET or FIREBREAK_GRAPH_CERT + FIREBREAK_GRAPH_KEY
(PEM file paths; FIREBREAK_GRAPH_ALG=RS256|PS256), or --config FILE. They are
never logged or printed.

ESTATE (optional) maps Entra tenant ids to your tenant ids (entra_tenant_id)
and receives the fragment graph.collected.yaml. Sign-ins are written as JSON
lines to --signins (default OUT/signins) for "firebreak detect".`,
		Example: `  firebreak collect graph examples/harbourview --dry-run
  FIREBREAK_GRAPH_CLIENT_ID=… FIREBREAK_GRAPH_TENANT_ID=… FIREBREAK_GRAPH_CLIENT_SECRET=… \
    firebreak collect graph estate/ --concurrency 16
  firebreak collect graph estate/ --config graph.yaml --only cedar-law --format json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Estate = args[0]
			}
			return runCollectGraph(cmd.Context(), o, g)
		},
	}
	o.AddFlags(cmd.Flags(), graph.DefaultConcurrency, 60*time.Second)
	f := cmd.Flags()
	f.StringVar(&o.Config, "config", "", "graph config file (YAML/JSON: client_id, tenant_id, client_secret_file, cert_file, key_file, alg, authority, graph_url, concurrency)")
	f.StringVar(&o.Authority, "authority", "", "token endpoint base (env FIREBREAK_GRAPH_AUTHORITY; default "+graph.DefaultAuthority+")")
	f.StringVar(&o.GraphURL, "graph-url", "", "Graph base URL (env FIREBREAK_GRAPH_URL; default "+graph.DefaultGraphURL+")")
	f.StringSliceVar(&o.Only, "only", nil, "collect only these tenants (estate ids or Entra tenant ids)")
	f.StringVar(&o.SignIns, "signins", "", "directory for sign-in logs as JSON lines (default OUT/signins)")
	f.BoolVar(&o.NoSignIns, "no-signins", false, "do not read sign-in logs")
	f.IntVar(&o.SignInHours, "signin-hours", 24, "read sign-ins from the last N hours")
	f.IntVar(&o.SignInMax, "signin-max", 100000, "read at most N sign-ins per tenant (newest first)")
	f.IntVar(&o.MaxAttempts, "max-attempts", graph.DefaultMaxAttempts, "tries per request on 429/5xx before giving up")
	return cmd
}

func (o *collectGraphOptions) config() (graph.Config, error) {
	var fc graphFileConfig
	if o.Config != "" {
		b, err := os.ReadFile(o.Config)
		if err != nil {
			return graph.Config{}, fmt.Errorf("reading graph config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&fc); err != nil && err != io.EOF {
			return graph.Config{}, fmt.Errorf("graph config %s: %w", o.Config, err)
		}
	}
	creds, err := graph.CredentialsFromEnv(o.env)
	if err != nil {
		return graph.Config{}, err
	}
	// Precedence: env > file (flags do not carry secrets).
	pick := func(env, file string) string {
		if env != "" {
			return env
		}
		return file
	}
	creds.ClientID = pick(creds.ClientID, fc.ClientID)
	creds.TenantID = pick(creds.TenantID, fc.TenantID)
	creds.Alg = pick(creds.Alg, fc.Alg)
	if creds.Secret == "" && len(creds.KeyPEM) == 0 {
		switch {
		case fc.ClientSecretFile != "":
			b, err := os.ReadFile(fc.ClientSecretFile)
			if err != nil {
				return graph.Config{}, fmt.Errorf("graph config %s: client_secret_file: %w", o.Config, err)
			}
			creds.Secret = graph.Secret(strings.TrimSpace(string(b)))
		case fc.ClientSecret != "":
			creds.Secret = graph.Secret(fc.ClientSecret)
		case fc.KeyFile != "":
			k, err := os.ReadFile(fc.KeyFile)
			if err != nil {
				return graph.Config{}, fmt.Errorf("graph config %s: key_file: %w", o.Config, err)
			}
			creds.KeyPEM = graph.Secret(k)
		}
	}
	if len(creds.CertPEM) == 0 && fc.CertFile != "" {
		c, err := os.ReadFile(fc.CertFile)
		if err != nil {
			return graph.Config{}, fmt.Errorf("graph config %s: cert_file: %w", o.Config, err)
		}
		creds.CertPEM = c
	}
	cfg := graph.Config{Credentials: creds, Concurrency: o.Concurrency, MaxAttempts: o.MaxAttempts}
	cfg.Authority = pick(o.Authority, pick(o.env("FIREBREAK_GRAPH_AUTHORITY"), fc.Authority))
	cfg.GraphURL = pick(o.GraphURL, pick(o.env("FIREBREAK_GRAPH_URL"), fc.GraphURL))
	if fc.Concurrency > 0 && o.Concurrency == graph.DefaultConcurrency {
		cfg.Concurrency = fc.Concurrency
	}
	return cfg, nil
}

type graphOutput struct {
	File    string        `json:"file,omitempty"`
	SignIns string        `json:"signins_dir,omitempty"`
	Result  *graph.Result `json:"result,omitempty"`
	Plan    []string      `json:"plan,omitempty"`
}

func runCollectGraph(ctx context.Context, o collectGraphOptions, g *globalOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	out := o.outDir(o.Estate)
	var est *estate.Estate
	if o.Estate != "" {
		e, err := loadEstateFor(o.Estate, out, "graph")
		if err != nil {
			return err
		}
		est = e
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	opts := graph.Options{Estate: est, Only: o.Only, Now: o.now, SignInSince: time.Duration(o.SignInHours) * time.Hour, SignInMax: o.SignInMax}
	if !o.NoSignIns {
		opts.SignInDir = o.SignIns
		if opts.SignInDir == "" {
			opts.SignInDir = filepath.Join(out, "signins")
		}
	}
	if o.DryRun {
		plan := []string{fmt.Sprintf("credentials: client %q, partner tenant %q, %s", cfg.Credentials.ClientID, cfg.Credentials.TenantID, credKind(cfg.Credentials))}
		if err := cfg.Credentials.Validate(); err != nil {
			plan = append(plan, "WARNING: "+err.Error())
		}
		plan = append(plan, graph.Plan(opts)...)
		if est != nil {
			n := 0
			for _, t := range est.Tenants {
				if t.EntraTenantID != "" {
					n++
				}
			}
			plan = append(plan, fmt.Sprintf("estate: %d tenants, %d with entra_tenant_id (customers are discovered through GDAP)", len(est.Tenants), n))
		}
		plan = append(plan, fmt.Sprintf("would write %s and sign-ins to %s", filepath.Join(out, fragmentName("graph")), opts.SignInDir))
		if o.Format == "json" {
			return kevJSON(g.stdout, graphOutput{Plan: plan})
		}
		for _, l := range plan {
			fmt.Fprintln(g.stdout, l)
		}
		return nil
	}
	cfg.Log = g.log
	cfg.Now = o.now
	cfg.HTTP = &http.Client{Timeout: o.Timeout}
	client, err := graph.New(cfg)
	if err != nil {
		return err
	}
	bar := o.progress(g, "graph")
	opts.Progress = bar.Set
	res, err := graph.Collect(ctx, client, opts)
	bar.Finish()
	if err != nil && (res == nil || len(res.Tenants) <= 1) {
		return err
	}
	path, werr := collect.WriteFragment(out, fragmentName("graph"), "graph", o.clock(), res.Fragment)
	if werr != nil {
		return werr
	}
	gout := graphOutput{File: path, SignIns: opts.SignInDir, Result: res}
	if o.Format == "json" {
		if err := kevJSON(g.stdout, gout); err != nil {
			return err
		}
	} else {
		printGraphResult(g.stdout, gout)
	}
	if n := res.Failed(); n > 0 {
		return fmt.Errorf("collect graph: %d of %d tenants had errors (evidence from the others was written to %s)", n, len(res.Tenants), path)
	}
	return err
}

func credKind(c graph.Credentials) string {
	switch {
	case len(c.KeyPEM) > 0:
		return "certificate (" + strings.TrimSpace(c.Alg+" client assertion") + ")"
	case c.Secret != "":
		return "client secret"
	}
	return "no credential"
}

func printGraphResult(w io.Writer, o graphOutput) {
	r := o.Result
	fmt.Fprintf(w, "Graph: %d GDAP relationships, %d tenants collected in %s (%d calls, %d throttled, %d retries, max %d in flight of %d)\n",
		r.Relationships, len(r.Tenants), r.Finished.Sub(r.Started).Round(time.Millisecond), r.Stats.Calls, r.Stats.Throttled, r.Stats.Retries, r.Stats.MaxInFlight, r.Stats.Bound)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tUSERS\tMFA REG\tROLES\tFOREIGN\tCA\tTOOL APPS\tSIGN-INS\tGAPS\tSTATUS")
	for _, t := range r.Tenants {
		status := "ok"
		if len(t.Errors) > 0 {
			status = "ERROR (below)"
		}
		var gaps []string
		for _, gp := range t.Gaps {
			s := gp.Evidence
			if gp.Permission != "" {
				s += " (" + gp.Permission + ")"
			}
			gaps = append(gaps, s)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", t.Tenant, t.Users, t.MFARegistered, t.RoleAssignments, t.ForeignPrincipals,
			t.CAPolicies, t.ToolApps, t.SignIns, kevCut(strings.Join(gaps, ", "), 60), status)
	}
	tw.Flush()
	for _, t := range r.Tenants {
		for _, e := range t.Errors {
			fmt.Fprintf(w, "error: %s: %s\n", t.Tenant, e)
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "%d objects already defined by hand were kept as written (e.g. %s)\n", len(r.Skipped), r.Skipped[0])
	}
	fmt.Fprintf(w, "wrote %s", o.File)
	if o.SignIns != "" {
		fmt.Fprintf(w, "; sign-ins in %s", o.SignIns)
	}
	fmt.Fprintln(w)
}

// ---- dns ----

type collectDNSOptions struct {
	collectOptions
	Resolver  string
	Selectors []string
}

func newCollectDNSCommand(g *globalOptions) *cobra.Command {
	var o collectDNSOptions
	cmd := &cobra.Command{
		Use:   "dns ESTATE",
		Short: "Check SPF, DMARC, DKIM, MTA-STS and TLS-RPT of every tenant domain",
		Long: `For every domain of the provider and of each tenant in ESTATE: SPF (parsed,
DNS-lookup count through nested include:/redirect= against the limit of 10,
the all qualifier), DMARC (p, sp, pct, rua), DKIM for the selectors given,
MTA-STS (_mta-sts TXT) and TLS-RPT (_smtp._tls TXT). A lookup that fails
(SERVFAIL, timeout) is recorded as an error, not as a missing record.`,
		Example: `  firebreak collect dns examples/harbourview
  firebreak collect dns estate/ --resolver 127.0.0.1:5353 --selectors selector1,selector2,s1
  firebreak collect dns estate/ --dry-run`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runCollectDNS(cmd.Context(), o, args[0], g) },
	}
	o.AddFlags(cmd.Flags(), 16, 3*time.Second)
	cmd.Flags().StringVar(&o.Resolver, "resolver", "", "DNS resolver host:port (default: first nameserver of /etc/resolv.conf)")
	cmd.Flags().StringSliceVar(&o.Selectors, "selectors", cdns.DefaultSelectors, "DKIM selectors to look up")
	return cmd
}

func runCollectDNS(ctx context.Context, o collectDNSOptions, path string, g *globalOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	out := o.outDir(path)
	e, err := loadEstateFor(path, out, "dns")
	if err != nil {
		return err
	}
	ts := cdns.Targets(e)
	c := &cdns.Checker{Server: o.Resolver, Timeout: o.Timeout, Selectors: o.Selectors, Concurrency: o.Concurrency, Now: o.now}
	if o.DryRun {
		var plan []string
		for _, t := range ts {
			for _, l := range c.Plan(t) {
				plan = append(plan, t.Tenant+"\t"+l)
			}
		}
		return printPlan(g.stdout, o.Format, fmt.Sprintf("%d domains; resolver %s", len(ts), orDefault(o.Resolver, "from /etc/resolv.conf")), plan)
	}
	if len(ts) == 0 {
		return fmt.Errorf("collect dns: no domains in %s (set provider.domains and tenants[].domains)", path)
	}
	bar := o.progress(g, "dns")
	checks := c.CheckAll(ctx, ts, bar.Set)
	bar.Finish()
	if err := ctx.Err(); err != nil {
		return err
	}
	file, err := collect.WriteFragment(out, fragmentName("dns"), "dns", o.clock(), &estate.Estate{DomainChecks: checks})
	if err != nil {
		return err
	}
	failed := 0
	for _, c := range checks {
		if c.Error != "" {
			failed++
		}
	}
	if o.Format == "json" {
		if err := kevJSON(g.stdout, struct {
			File   string               `json:"file"`
			Checks []estate.DomainCheck `json:"domain_checks"`
		}{file, checks}); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT\tDOMAIN\tSPF\tLOOKUPS\tDMARC\tPCT\tDKIM\tMTA-STS\tTLS-RPT\tNOTE")
		for _, c := range checks {
			// nil without an error: no record; nil with an error: unknown.
			spf, lk, dm, pct, note := "missing", "", "missing", "", ""
			if c.Error != "" {
				spf, dm = "?", "?"
			}
			if c.SPF != nil {
				spf = orDefault(c.SPF.All, "none")
				if c.SPF.Record == "" {
					spf = "missing"
				}
				lk = fmt.Sprint(c.SPF.LookupCount)
				note = c.SPF.Problem
			}
			if c.DMARC != nil {
				dm = orDefault(c.DMARC.Policy, "missing")
				if c.DMARC.Record != "" {
					pct = fmt.Sprint(c.DMARC.Pct)
				}
				if note == "" {
					note = c.DMARC.Problem
				}
			}
			var dk []string
			for _, d := range c.DKIM {
				if d.Present {
					dk = append(dk, d.Selector)
				}
			}
			if c.Error != "" {
				note = "ERROR: " + c.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Tenant, c.Domain, spf, lk, dm, pct, orDefault(strings.Join(dk, ","), "-"),
				yesNo(c.MTASTS), yesNo(c.TLSRPT), kevCut(note, 70))
		}
		tw.Flush()
		fmt.Fprintf(g.stdout, "%d domains checked, %d with lookup errors; wrote %s\n", len(checks), failed, file)
	}
	return nil
}

// ---- probe ----

type collectProbeOptions struct {
	collectOptions
	ReadTimeout time.Duration
}

func newCollectProbeCommand(g *globalOptions) *cobra.Command {
	var o collectProbeOptions
	cmd := &cobra.Command{
		Use:   "probe ESTATE",
		Short: "Check exposure of the hosts and ports listed in the estate (never a range scan)",
		Long: `Connects only to hosts and ports listed in ESTATE: tools' host and ports,
assets' hostname and internet_ports. For each: TCP connect; when open, a
server banner (SSH, VNC), a TLS handshake (version, certificate expiry and
subject) and an HTTP Server header. Open remote-management ports (RDP 3389,
SMB 445, WinRM 5985/5986, VNC 5900, SSH 22, RMM and remote-access consoles)
are marked. Probe only systems you are authorised to test.`,
		Example: `  firebreak collect probe examples/harbourview --dry-run
  firebreak collect probe estate/ --concurrency 16 --timeout 3s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runCollectProbe(cmd.Context(), o, args[0], g) },
	}
	o.AddFlags(cmd.Flags(), 32, 5*time.Second)
	cmd.Flags().DurationVar(&o.ReadTimeout, "read-timeout", 3*time.Second, "timeout for each banner, TLS and HTTP step")
	return cmd
}

func runCollectProbe(ctx context.Context, o collectProbeOptions, path string, g *globalOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	out := o.outDir(path)
	e, err := loadEstateFor(path, out, "probe")
	if err != nil {
		return err
	}
	ts, probs := probe.Targets(e)
	for _, p := range probs {
		fmt.Fprintln(g.stderr, "skipped:", p)
	}
	if o.DryRun {
		var plan []string
		for _, t := range ts {
			plan = append(plan, t.Tenant+"\t"+t.Object+"\t"+t.String())
		}
		return printPlan(g.stdout, o.Format, fmt.Sprintf("%d host:port pairs from the estate (no ranges, no other ports)", len(ts)), plan)
	}
	if len(ts) == 0 {
		return fmt.Errorf("collect probe: no host:port pairs in %s (tools need host and ports, assets hostname and internet_ports)", path)
	}
	p := &probe.Prober{ConnectTimeout: o.Timeout, ReadTimeout: o.ReadTimeout, Concurrency: o.Concurrency, Now: o.now}
	bar := o.progress(g, "probe")
	xs := p.ProbeAll(ctx, ts, bar.Set)
	bar.Finish()
	if err := ctx.Err(); err != nil {
		return err
	}
	file, err := collect.WriteFragment(out, fragmentName("probe"), "probe", o.clock(), &estate.Estate{Exposures: xs})
	if err != nil {
		return err
	}
	if o.Format == "json" {
		return kevJSON(g.stdout, struct {
			File      string            `json:"file"`
			Exposures []estate.Exposure `json:"exposures"`
			Skipped   []string          `json:"skipped,omitempty"`
		}{file, xs, probs})
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tTENANT\tHOST:PORT\tSTATE\tSERVICE\tTLS\tCERT EXPIRES\tBANNER / ERROR")
	open, mgmt := 0, 0
	now := o.clock()
	for _, x := range xs {
		state := "unreachable" // timeout, no route, unresolvable name
		if strings.Contains(x.Error, "refused") {
			state = "closed"
		}
		if x.Open {
			state = "open"
			open++
			if x.Management {
				state = "OPEN (mgmt)"
				mgmt++
			}
		}
		exp := ""
		if x.CertExpires != nil {
			exp = x.CertExpires.Format(time.DateOnly)
			if d := x.CertExpires.Sub(now); d < 0 {
				exp += " EXPIRED"
			} else if d < 30*24*time.Hour {
				exp += fmt.Sprintf(" (%dd)", int(d.Hours()/24))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s:%d\t%s\t%s\t%s\t%s\t%s\n", x.Object, x.Tenant, x.Host, x.Port, state, x.Service, x.TLSVersion, exp, kevCut(orDefault(x.Banner, x.Error), 60))
	}
	tw.Flush()
	fmt.Fprintf(g.stdout, "%d probed, %d open, %d open management ports; wrote %s\n", len(xs), open, mgmt, file)
	return nil
}

func printPlan(w io.Writer, format, head string, plan []string) error {
	if format == "json" {
		return kevJSON(w, struct {
			Summary string   `json:"summary"`
			Plan    []string `json:"plan"`
		}{head, plan})
	}
	fmt.Fprintln(w, "dry run:", head)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range plan {
		fmt.Fprintln(tw, "  "+l)
	}
	return tw.Flush()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "?"
	case *b:
		return "yes"
	}
	return "no"
}
