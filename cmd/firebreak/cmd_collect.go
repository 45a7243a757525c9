package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
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
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/useragent"
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
	// sleep replaces the retry wait (tests).
	sleep func(ctx context.Context, d time.Duration) error
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
	return collect.NewProgress(g.stderr, tty && o.Format != "json" && !g.quiet, label, o.now)
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
		Short: "Collect evidence from real systems into estate fragments (graph, okta, google, dns, probe)",
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
	// Registered connectors get a generic verb (graph, dns and probe have
	// their own, above; kev has `firebreak kev update`).
	for _, def := range newRegistry().With(connector.CapEvidence) {
		if n := def.Spec.Name; n != "graph" && n != "dns" && n != "probe" && n != "kev" {
			cmd.AddCommand(newCollectConnectorCommand(g, def))
		}
	}
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
	Delegated   string
	Delta       bool
	DeltaState  string
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
lines to --signins (default OUT/signins) for "firebreak detect".

Access models (docs/collect.md):
  app-only   the app must be consented in every customer tenant — a GDAP
             relationship alone answers AADSTS700016. "firebreak collect graph
             consent" performs and verifies it through your GDAP role.
  delegated  "firebreak collect graph signin" signs a partner admin in once
             (device code); the refresh token is kept encrypted
             (--delegated-token FILE, key from FIREBREAK_GRAPH_TOKEN_KEY) and
             rotated; reach is bounded by the GDAP roles customers granted.

` + graph.Spec.Help(),
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
	f.StringVar(&o.Delegated, "delegated-token", "", "delegated GDAP mode: the encrypted refresh token file written by `collect graph signin` (key: FIREBREAK_GRAPH_TOKEN_KEY)")
	f.BoolVar(&o.Delta, "delta", false, "read users through users/delta, keeping state in --delta-state (cheap repeats)")
	f.StringVar(&o.DeltaState, "delta-state", "", "users/delta state file (default OUT/.graph-delta.json)")
	cmd.AddCommand(newCollectGraphConsentCommand(g), newCollectGraphSigninCommand(g))
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
	if o.Delegated != "" {
		key := connector.Secret(o.env("FIREBREAK_GRAPH_TOKEN_KEY"))
		st, err := graph.NewRefreshStore(o.Delegated, key)
		if err != nil {
			return graph.Config{}, fmt.Errorf("--delegated-token: %w (set FIREBREAK_GRAPH_TOKEN_KEY)", err)
		}
		cfg.Delegated = &graph.Delegated{ClientID: creds.ClientID, Partner: creds.TenantID, Store: st}
	}
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
	opts := graph.Options{Estate: est, Only: o.Only, Now: o.now, SignInSince: time.Duration(o.SignInHours) * time.Hour, SignInMax: o.SignInMax, Delta: o.Delta}
	deltaFile := o.DeltaState
	if o.Delta {
		if deltaFile == "" {
			deltaFile = filepath.Join(out, ".graph-delta.json")
		}
		opts.DeltaState = &graph.DeltaState{}
		if err := opts.DeltaState.Load(deltaFile); err != nil {
			return err
		}
	}
	if !o.NoSignIns {
		opts.SignInDir = o.SignIns
		if opts.SignInDir == "" {
			opts.SignInDir = filepath.Join(out, "signins")
		}
	}
	if o.DryRun {
		plan := []string{fmt.Sprintf("credentials: client %q, partner tenant %q, %s", cfg.Credentials.ClientID, cfg.Credentials.TenantID, credKind(cfg.Credentials))}
		if cfg.Delegated != nil {
			plan[0] = fmt.Sprintf("delegated GDAP access: client %q, partner tenant %q, refresh token %s (reach bounded by each customer's GDAP roles)", cfg.Credentials.ClientID, cfg.Credentials.TenantID, o.Delegated)
			if _, err := cfg.Delegated.Store.Load(); err != nil {
				plan = append(plan, "WARNING: "+err.Error())
			}
		} else {
			plan = append(plan, "app-only access: every customer tenant must have consented the app (check: firebreak collect graph consent --check); GDAP alone answers AADSTS700016")
		}
		if err := cfg.Credentials.Validate(); cfg.Delegated == nil && err != nil {
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
	cfg.HTTP = useragent.Client(&http.Client{Timeout: o.Timeout})
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
	if opts.DeltaState != nil {
		if err := opts.DeltaState.Save(deltaFile); err != nil {
			return err
		}
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
	_ = tw.Flush()
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
		_ = tw.Flush()
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
		g.notice("skipped: %s\n", p)
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
	_ = tw.Flush()
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

// ---- registered connectors (okta, google, …) ----

// collectConnectorOptions are the flags of a connector's collect verb.
type collectConnectorOptions struct {
	collectOptions
	Estate string
	Config string
	Only   []string
	Events string
	NoPoll bool
}

// newCollectConnectorCommand builds `firebreak collect NAME` for a
// registered connector: its --help lists the permissions, configuration
// and calls from the connector's Spec.
func newCollectConnectorCommand(g *globalOptions, def connector.Definition) *cobra.Command {
	var o collectConnectorOptions
	sp := def.Spec
	cmd := &cobra.Command{
		Use:   sp.Name + " [ESTATE] --config FILE",
		Short: "Collect " + sp.Summary,
		Long: sp.Title + ": " + sp.Summary + `.

Writes ` + fragmentName(sp.Name) + ` into the estate directory (every object with
provenance; evidence a permission does not allow is a collection gap naming it,
so its controls are not evaluable). Secrets are given in the config file as
{env: NAME} or {file: PATH}, never inline, and are never logged.

` + sp.Help(),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Estate = args[0]
			}
			return runCollectConnector(cmd.Context(), def, o, g)
		},
	}
	o.AddFlags(cmd.Flags(), connector.DefaultConcurrency, 60*time.Second)
	f := cmd.Flags()
	f.StringVar(&o.Config, "config", "", "the connector's config file (YAML); required")
	f.StringSliceVar(&o.Only, "only", nil, "collect only these estate tenants")
	if sp.Has(connector.CapEvents) {
		f.StringVar(&o.Events, "events", "", "directory for event records as JSON lines (default OUT/events)")
		f.BoolVar(&o.NoPoll, "no-events", false, "do not read events")
	}
	return cmd
}

// decodeStrict decodes a YAML file into v, unknown keys being errors that
// name the line.
func decodeStrict(path string) func(any) error {
	return func(v any) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil && err != io.EOF {
			return fmt.Errorf("config %s: %w", path, err)
		}
		return nil
	}
}

type connectorOutput struct {
	File    string                `json:"file,omitempty"`
	Events  string                `json:"events_dir,omitempty"`
	Tenants []connector.TenantRun `json:"tenants,omitempty"`
	Polled  []connector.TenantRun `json:"events,omitempty"`
	Stats   connector.Stats       `json:"stats"`
	Plan    []string              `json:"plan,omitempty"`
}

func runCollectConnector(ctx context.Context, def connector.Definition, o collectConnectorOptions, g *globalOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	sp := def.Spec
	if o.Config == "" && !o.DryRun {
		return usageError{fmt.Errorf("collect %s: --config FILE is required", sp.Name)}
	}
	out := o.outDir(o.Estate)
	env := connector.Env{Getenv: o.env, Log: g.log, Now: o.now, Concurrency: o.Concurrency, HTTP: useragent.Client(&http.Client{Timeout: o.Timeout}),
		Retry: connector.Retry{Sleep: o.sleep}}
	if o.DryRun {
		plan := []string{sp.Title + " — calls (no network access now):"}
		for _, c := range sp.Calls {
			plan = append(plan, "  "+c.String())
		}
		plan = append(plan, "permissions:")
		for _, p := range sp.Permissions {
			plan = append(plan, fmt.Sprintf("  %s (%s) for %s", p.Name, p.Kind, strings.Join(p.For, ", ")))
		}
		if o.Config != "" {
			// Building the connector checks the config and reads the
			// secrets' references; it makes no network call.
			if _, err := def.New(decodeStrict(o.Config), env); err != nil {
				plan = append(plan, "WARNING: "+err.Error())
			} else {
				plan = append(plan, "config "+o.Config+": valid, secrets readable")
			}
		}
		plan = append(plan, "would write "+filepath.Join(out, fragmentName(sp.Name)))
		return printPlan(g.stdout, o.Format, sp.Title, plan)
	}
	inst, err := def.New(decodeStrict(o.Config), env)
	if err != nil {
		return err
	}
	var est *estate.Estate
	if o.Estate != "" {
		if est, err = loadEstateFor(o.Estate, out, sp.Name); err != nil {
			return err
		}
	}
	req := connector.Request{Estate: est, Only: o.Only, Now: o.clock()}
	res := connectorOutput{}
	if src, ok := inst.(connector.EvidenceSource); ok {
		ev, err := src.Collect(ctx, req)
		if err != nil {
			return err
		}
		if refused, reason := ev.Refused(); refused {
			return fmt.Errorf("%s: nothing collected (%s); %s left as it was", sp.Name, reason, filepath.Join(out, fragmentName(sp.Name)))
		}
		path, err := collect.WriteFragment(out, fragmentName(sp.Name), sp.Name, o.clock(), ev.Fragment)
		if err != nil {
			return err
		}
		res.File, res.Tenants, res.Stats = path, ev.Tenants, ev.Stats
	}
	if es, ok := inst.(connector.EventSource); ok && !o.NoPoll {
		dir := o.Events
		if dir == "" {
			dir = filepath.Join(out, "events")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		files := map[string]*os.File{}
		defer func() {
			for _, f := range files {
				_ = f.Close()
			}
		}()
		_, runs, err := es.Poll(ctx, req, nil, func(r connector.Record) error {
			f := files[r.Tenant]
			if f == nil {
				var err error
				f, err = os.OpenFile(filepath.Join(dir, sp.Name+"-"+r.Tenant+".jsonl"), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
				if err != nil {
					return err
				}
				files[r.Tenant] = f
			}
			_, err := f.Write(append(append([]byte{}, r.Raw...), '\n'))
			return err
		})
		if err != nil {
			return err
		}
		res.Events, res.Polled = dir, runs
	}
	if o.Format == "json" {
		if err := kevJSON(g.stdout, res); err != nil {
			return err
		}
	} else {
		printConnectorResult(g.stdout, sp.Title, res)
	}
	failed := 0
	for _, r := range append(append([]connector.TenantRun{}, res.Tenants...), res.Polled...) {
		if !r.OK() {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("collect %s: %d tenant runs had errors (evidence from the others was written to %s)", sp.Name, failed, res.File)
	}
	return nil
}

func printConnectorResult(w io.Writer, title string, r connectorOutput) {
	fmt.Fprintf(w, "%s: %d tenants (%d calls, %d throttled, %d retries, max %d in flight of %d)\n", title, len(r.Tenants),
		r.Stats.Calls, r.Stats.Throttled, r.Stats.Retries, r.Stats.MaxInFlight, r.Stats.Bound)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tCOUNTS\tGAPS\tSTATUS")
	show := func(runs []connector.TenantRun) {
		for _, t := range runs {
			var counts, gaps []string
			for _, k := range slices.Sorted(maps.Keys(t.Counts)) {
				counts = append(counts, fmt.Sprintf("%s=%d", k, t.Counts[k]))
			}
			for _, gp := range t.Gaps {
				s := gp.Evidence
				if gp.Permission != "" {
					s += " (" + gp.Permission + ")"
				}
				gaps = append(gaps, s)
			}
			status := "ok"
			if !t.OK() {
				status = "ERROR (below)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Tenant, strings.Join(counts, " "), kevCut(strings.Join(gaps, ", "), 60), status)
		}
	}
	show(r.Tenants)
	show(r.Polled)
	_ = tw.Flush()
	for _, t := range append(append([]connector.TenantRun{}, r.Tenants...), r.Polled...) {
		for _, e := range t.Errors {
			fmt.Fprintf(w, "error: %s: %s\n", t.Tenant, e)
		}
		for _, n := range t.Notes {
			fmt.Fprintf(w, "note: %s: %s\n", t.Tenant, n)
		}
	}
	if r.File != "" {
		fmt.Fprintf(w, "wrote %s\n", r.File)
	}
	if r.Events != "" {
		fmt.Fprintf(w, "events in %s\n", r.Events)
	}
}

// ---- graph consent and signin ----

func newCollectGraphSigninCommand(g *globalOptions) *cobra.Command {
	var o collectGraphOptions
	cmd := &cobra.Command{
		Use:   "signin --delegated-token FILE",
		Short: "Sign a partner admin in (device code) for delegated GDAP access; the refresh token is stored encrypted",
		Long: `Starts the OAuth 2.0 device-code flow against the partner tenant for the app
FIREBREAK_GRAPH_CLIENT_ID (a public client with delegated Graph permissions),
prints the code to enter at the verification page, waits for the admin, and
stores the refresh token encrypted (AES-256-GCM) in --delegated-token with the
key in FIREBREAK_GRAPH_TOKEN_KEY (at least 32 random bytes). Collection then
exchanges it per customer for tokens bounded by the GDAP roles of the admin's
access groups, and stores each rotated refresh token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Delegated == "" {
				return usageError{fmt.Errorf("--delegated-token FILE is required")}
			}
			cfg, err := o.config()
			if err != nil {
				return err
			}
			cfg.Log, cfg.Now, cfg.HTTP = g.log, o.now, useragent.Client(&http.Client{Timeout: o.Timeout})
			return graph.DeviceSignIn(cmd.Context(), cfg, cfg.Credentials.ClientID, cfg.Delegated.Store, func(d graph.DeviceCode) {
				fmt.Fprintln(g.stderr, d.Message)
			})
		},
	}
	o.collectOptions.AddFlags(cmd.Flags(), 1, 60*time.Second)
	cmd.Flags().StringVar(&o.Delegated, "delegated-token", "", "file for the encrypted refresh token (key: FIREBREAK_GRAPH_TOKEN_KEY)")
	cmd.Flags().StringVar(&o.Authority, "authority", "", "token endpoint base (default "+graph.DefaultAuthority+")")
	cmd.Flags().StringVar(&o.GraphURL, "graph-url", "", "Graph base URL (default "+graph.DefaultGraphURL+")")
	return cmd
}

type consentOptions struct {
	collectGraphOptions
	AppID            string
	Check            bool
	PartnerCenter    bool
	PartnerCenterURL string
}

func newCollectGraphConsentCommand(g *globalOptions) *cobra.Command {
	var o consentOptions
	cmd := &cobra.Command{
		Use:   "consent --app APP_ID --delegated-token FILE [--check]",
		Short: "Consent (and verify) the collector app in every GDAP customer, or only check it",
		Long: `App-only collection works in a customer tenant only once the partner's
multi-tenant app has a service principal there with its application
permissions granted. For every active GDAP customer (or --only), this
signs in as the partner admin (delegated, see "collect graph signin"), and
through a GDAP role that allows it (Cloud Application Administrator or
Application Administrator) creates the app's service principal when missing
and grants each permission as an app role assignment on Microsoft Graph, then
reads the assignments back. --check changes nothing and reports what is
missing.

--partner-center consents instead through Partner Center (POST
/v1/customers/{tenant}/applicationconsents with a user_impersonation token
from the same sign-in; the admin needs Cloud Application Administrator,
Privileged Role Administrator or Global Administrator through GDAP and
membership of AdminAgents), treats "already exists" (409) as present, and
then checks the service principal and every permission as --check does.
Permissions: ` + strings.Join(graph.CustomerPermissions, ", "),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCollectGraphConsent(cmd.Context(), o, g)
		},
	}
	o.collectOptions.AddFlags(cmd.Flags(), graph.DefaultConcurrency, 60*time.Second)
	f := cmd.Flags()
	f.StringVar(&o.AppID, "app", "", "the collector app's client id (default FIREBREAK_GRAPH_APP_ID)")
	f.BoolVar(&o.Check, "check", false, "only report what is missing; change nothing")
	f.BoolVar(&o.PartnerCenter, "partner-center", false, "consent through Partner Center's applicationconsents API, then verify")
	f.StringVar(&o.PartnerCenterURL, "partner-center-url", "", "Partner Center API base (default "+graph.DefaultPartnerCenterURL+")")
	f.StringVar(&o.Delegated, "delegated-token", "", "the partner admin's encrypted refresh token (from `collect graph signin`)")
	f.StringSliceVar(&o.Only, "only", nil, "only these Entra tenant ids")
	f.StringVar(&o.Authority, "authority", "", "token endpoint base")
	f.StringVar(&o.GraphURL, "graph-url", "", "Graph base URL")
	return cmd
}

func runCollectGraphConsent(ctx context.Context, o consentOptions, g *globalOptions) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.AppID == "" {
		o.AppID = o.env("FIREBREAK_GRAPH_APP_ID")
	}
	if o.AppID == "" || o.Delegated == "" {
		return usageError{fmt.Errorf("consent needs --app APP_ID and --delegated-token FILE")}
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	cfg.Log, cfg.Now, cfg.HTTP = g.log, o.now, useragent.Client(&http.Client{Timeout: o.Timeout})
	c, err := graph.New(cfg)
	if err != nil {
		return err
	}
	tenants := o.Only
	if len(tenants) == 0 {
		if err := graph.List(ctx, c, cfg.Credentials.TenantID, "/v1.0/tenantRelationships/delegatedAdminRelationships", func(r graph.DelegatedAdminRelationship) error {
			if r.Status == "active" && !slices.Contains(tenants, r.Customer.TenantID) {
				tenants = append(tenants, r.Customer.TenantID)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("listing GDAP customers: %w", err)
		}
	}
	results := collect.Bounded(tenants, o.Concurrency, func(t string) graph.ConsentResult {
		if o.PartnerCenter && !o.Check {
			return graph.PartnerConsent(ctx, c, o.PartnerCenterURL, t, o.AppID, graph.CustomerPermissions)
		}
		return graph.Consent(ctx, c, t, o.AppID, graph.CustomerPermissions, o.Check)
	}, nil)
	if o.Format == "json" {
		if err := kevJSON(g.stdout, results); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TENANT\tGRANTED NOW\tALREADY\tMISSING\tSTATUS")
		for _, r := range results {
			st := "ok"
			if !r.OK() {
				st = "INCOMPLETE"
				if r.Error != "" {
					st += ": " + kevCut(r.Error, 80)
				}
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", r.Tenant, len(r.Granted), len(r.Present), strings.Join(r.Missing, ", "), st)
		}
		_ = tw.Flush()
	}
	bad := 0
	for _, r := range results {
		if !r.OK() {
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("collect graph consent: %d of %d tenants are not fully consented", bad, len(results))
	}
	return nil
}
