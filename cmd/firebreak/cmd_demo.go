package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/examples"
	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/intake"
	"github.com/firebreak-msp/firebreak/internal/roles"
	"github.com/firebreak-msp/firebreak/internal/server"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/version"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

type demoOptions struct {
	listen  string
	estate  string
	logs    string
	kev     string
	now     string
	noServe bool
	keep    bool
	getenv  func(string) string // os.Getenv outside tests
}

func (o *demoOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.listen, "listen", "127.0.0.1:7777", "address to serve the dashboard on (loopback recommended)")
	fs.StringVar(&o.estate, "estate", "", "estate to load instead of the embedded example (Harbourview IT Services)")
	fs.StringVar(&o.logs, "logs", "", "directory of logs to ingest (default <estate>/logs)")
	fs.StringVar(&o.kev, "kev", "", "CISA KEV catalog (JSON, optionally gzip) to match tools and assets against (default as assess and blast: the catalog `kev update` stored, else the built-in 2025-08-25 snapshot; \"none\" for none)")
	fs.StringVar(&o.now, "now", "2026-11-27T09:00:00Z", "evaluation time for the engines (the example estate and logs are dated for it); \"real\" for the wall clock")
	fs.BoolVar(&o.noServe, "no-serve", false, "print the summary and exit")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary data directory on exit")
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole system on the bundled example MSP and serve its dashboard",
		Long: `demo creates a temporary data directory with an embedded SQLite store, loads
the example MSP estate (Harbourview IT Services, 25 customers) and a day of
its logs with real attack patterns, runs the assessment, the blast radius and
detection, prints a summary and one-time owner credentials (password, TOTP
secret and a QR code for an authenticator app), and serves the dashboard on
http://127.0.0.1:7777 until Ctrl-C. --no-serve prints the summary and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runDemo(cmd.Context(), o, g) },
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runDemo(ctx context.Context, o demoOptions, g *globalOptions) error {
	d, err := setupDemo(ctx, o, g)
	if d != nil {
		defer d.close()
	}
	if err != nil || o.noServe {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", o.listen, err)
	}
	fmt.Fprintf(g.stdout, "\nDashboard: http://%s  (Ctrl-C to stop)\n", ln.Addr())
	err = d.node.Run(ctx, nil, func(ctx context.Context) error { return d.srv.Run(ctx, ln, nil) })
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// demoEnv is a prepared demo: its store, server and the inputs it read.
type demoEnv struct {
	dir, estate, kev string
	kevLine          string // the KEV catalog used (kev.Used), as assess and blast print it
	clock            func() time.Time
	st               store.Store
	node             *roles.Node
	srv              *server.Server
	closers          []func()
}

func (d *demoEnv) close() {
	for _, f := range slices.Backward(d.closers) {
		f()
	}
}

// setupDemo does everything the demo does before serving: data directory,
// store, assessment (with seeded history), ingest, summary and the owner's
// credentials. The caller closes the result (also on error).
func setupDemo(ctx context.Context, o demoOptions, g *globalOptions) (*demoEnv, error) {
	if o.estate != "" {
		if _, err := os.Stat(o.estate); err != nil {
			return nil, usageError{fmt.Errorf("estate %s: %w", o.estate, err)}
		}
	}
	dir, err := os.MkdirTemp("", "firebreak-demo-")
	if err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	d := &demoEnv{dir: dir}
	if !o.keep {
		d.closers = append(d.closers, func() { _ = os.RemoveAll(dir) })
	}
	if o.getenv == nil {
		o.getenv = os.Getenv
	}
	// The KEV catalog by the CLI's rule (resolveKEV), so the demo's
	// numbers are those `assess` and `blast` give with no KEV flag.
	kevFile, blastKEV := o.kev, o.kev
	if o.kev == "none" {
		kevFile = ""
	}
	ku, err := resolveKEV(kevFile, o.kev == "none", "", o.getenv)
	if err != nil {
		return d, err
	}
	d.kevLine = ku.Line
	kevOpts := worker.EngineOptions{}
	switch {
	case o.kev == "none":
	case o.kev != "":
		kevOpts.KEVPath = o.kev
	default:
		kevOpts.KEVDataDir, _ = defaultDataDir(o.getenv)
		kevOpts.KEVFallback, err = builtinKEV()
		if err != nil {
			return d, err
		}
	}
	if o.estate == "" || o.kev == "" {
		// The example is embedded in the binary, so the demo runs from any
		// directory and from an installed binary; it is written next to the
		// data so the engines read it like any estate on disk.
		ex := filepath.Join(dir, "example")
		if err := examples.Extract(ex); err != nil {
			return d, err
		}
		if o.estate == "" {
			o.estate = filepath.Join(ex, examples.Estate)
		}
		if o.kev == "" {
			o.kev = filepath.Join(ex, filepath.FromSlash(examples.KEV))
		}
	}
	if o.kev == "none" {
		o.kev = ""
	}
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return d, err
	}
	d.closers = append(d.closers, func() { _ = st.Close() })
	d.st, d.estate, d.kev = st, o.estate, o.kev
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = o.listen
	cfg.TLS.Disable = true
	cfg.Estate.Paths = []string{o.estate}
	cfg.LogLevel = "warn"
	if host, _, err := net.SplitHostPort(o.listen); err == nil {
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			// Plain HTTP on loopback only: browsers drop Secure cookies on
			// http://127.0.0.1, so the demo marks them non-Secure there.
			cfg.Auth.InsecureCookies = true
		}
	}
	if err := cfg.Validate(); err != nil {
		return d, usageError{err}
	}
	log := serveLogger(g, cfg.LogLevel, cfg.LogFormat)
	clock, err := demoClock(o.now)
	if err != nil {
		return d, usageError{err}
	}
	eng, err := worker.NewEngines(worker.EngineOptions{Logger: log, KEVPath: kevOpts.KEVPath, KEVDataDir: kevOpts.KEVDataDir, KEVFallback: kevOpts.KEVFallback, Clock: clock})
	if err != nil {
		return d, err
	}
	node, err := roles.New(roles.Options{Config: cfg, Store: st, Logger: log, Engines: eng, Version: version.Get().Short()})
	if err != nil {
		return d, err
	}
	srv, err := server.New(server.Options{Config: cfg, Store: st, Logger: log, Node: node, Version: version.Get().Short()})
	if err != nil {
		return d, err
	}
	d.node, d.srv, d.clock = node, srv, clock
	out := g.stdout
	fmt.Fprintf(out, "firebreak demo — data in %s\n\n", dir)
	// A few weeks of history first (derived from the demo clock), so the
	// trend charts have something to show; the real run is the latest.
	e, err := estate.Load(o.estate)
	if err != nil {
		return d, fmt.Errorf("loading %s: %w", o.estate, err)
	}
	logDir := cmp.Or(o.logs, filepath.Join(o.estate, "logs"))
	files, err := logFiles(logDir)
	if err != nil {
		return d, err
	}
	var mapping *ingest.Mapping
	if ms, _ := filepath.Glob(filepath.Join(logDir, "*mapping*.yaml")); len(ms) > 0 {
		if mapping, err = ingest.LoadMapping(ms[0]); err != nil {
			return d, err
		}
	}
	// The estate is current before the logs are read, as in serve (whose
	// worker loads it first): ingest places events in tenants by its
	// domains, hosts and Entra tenant ids, as detect --estate does.
	// Without it the domain controllers' events had no tenant, and the
	// demo missed incidents the CLI finds (a cross-tenant spray).
	node.Work.PrimeEstate(ctx)
	var ist intake.IngestStats
	if len(files) > 0 {
		if ist, err = node.IngestFiles(ctx, files, mapping); err != nil {
			return d, err
		}
	}
	if err := seedDemoIncidents(ctx, st, clock()); err != nil {
		return d, err
	}
	if _, err := seedDemoEvents(ctx, st, e, clock()); err != nil {
		return d, err
	}
	// The history is derived from an assessment judged like serve's, after
	// the logs: FB-AUTH-004 from the stored authentication events
	// (worker.AuthMonitoring, the one derivation serve and detect
	// --summary-file share), not the bare engine that cannot judge it.
	mon, err := worker.AuthMonitoring(ctx, st, eng.Rules, clock())
	if err != nil {
		return d, fmt.Errorf("detection evidence for %s: %w", o.estate, err)
	}
	rep, err := eng.AssessMonitored(ctx, e, mon)
	if err != nil {
		return d, fmt.Errorf("assessing %s: %w", o.estate, err)
	}
	if err := seedDemoRuns(ctx, st, rep); err != nil {
		return d, err
	}
	// The latest run comes after the logs: FB-AUTH-004 (failed
	// authentication monitored) is judged from the stored authentication
	// events, as serve does after every assessment.
	if err := node.AssessNow(ctx, "demo"); err != nil {
		return d, fmt.Errorf("assessing %s: %w", o.estate, err)
	}
	if err := printDemoSummary(ctx, out, st, ist, logDir); err != nil {
		return d, err
	}
	fmt.Fprintf(out, "  %s\n", d.kevLine)
	fmt.Fprintf(out, "  The same fix-first plan and ranking from the CLI:\n    %s\n", demoBlastCommand(o.estate, blastKEV, clock()))
	creds, err := auth.BootstrapOwner(ctx, st, "admin", true)
	if err != nil {
		return d, err
	}
	if creds != nil {
		printCredentials(out, creds)
	}
	return d, nil
}

// logFiles lists the log files directly in dir (none when it does not
// exist); documentation, mapping files and subdirectories are skipped.
func logFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing logs in %s: %w", dir, err)
	}
	var out []string
	for _, d := range ents {
		n := d.Name()
		if d.IsDir() || strings.HasPrefix(n, ".") || strings.HasSuffix(n, ".md") || strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") {
			continue
		}
		out = append(out, filepath.Join(dir, n))
	}
	slices.Sort(out)
	return out, nil
}

// demoBlastCommand is the `firebreak blast` command that reproduces the
// demo's fix-first plan and ranking: the same estate, KEV catalog and
// assessment time (issue 15: without --kev the CLI used the stored catalog
// or none, the demo the built-in snapshot).
// kevPath "" is the default rule (resolveKEV: the stored catalog, else the
// built-in snapshot), which blast follows with no KEV flag; "none" is
// --no-kev.
func demoBlastCommand(estate, kevPath string, now time.Time) string {
	kv := ""
	switch kevPath {
	case "":
	case "none":
		kv = " --no-kev"
	default:
		kv = " --kev " + kevPath
	}
	return fmt.Sprintf("firebreak blast %s%s --now %s", estate, kv, now.UTC().Format(time.RFC3339))
}

func printDemoSummary(ctx context.Context, w io.Writer, st store.Store, ist intake.IngestStats, logDir string) error {
	all := store.AllTenants()
	run, _, err := st.GetRun(ctx, all, 0)
	if err != nil {
		return fmt.Errorf("reading run: %w", err)
	}
	tenants, err := st.ListTenants(ctx, all)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Assessment as of %s: %d tenants, %d pass, %d fail, %d other\n", run.At.UTC().Format("2006-01-02 15:04 UTC"), len(tenants), run.Pass, run.Fail, run.Other)
	var worst []string
	for _, sc := range run.Scores {
		if sc.Subject == "msp" {
			fmt.Fprintf(w, "  MSP score        %5s / 100  (%s)\n", assess.ScoreText(sc.Score), sc.Name)
			continue
		}
		if len(worst) < 5 {
			worst = append(worst, fmt.Sprintf("  %-28s %5s  (%d failing)", sc.Subject, assess.ScoreText(sc.Score), sc.Fail))
		}
	}
	fmt.Fprintln(w, "  Worst tenants:")
	for _, l := range worst {
		fmt.Fprintln(w, "  "+l)
	}
	if b, err := st.GetBlast(ctx, all, 0); err == nil {
		fmt.Fprintln(w, "\nBlast radius — top single points of failure:")
		for _, r := range b.Ranking[:min(5, len(b.Ranking))] {
			fmt.Fprintf(w, "  %-24s %-9s reaches %2d tenants (up to %s)\n", r.Node, r.Kind, r.TenantCount, r.Privilege)
		}
	}
	if ist.Files == 0 {
		fmt.Fprintf(w, "\nDetection: no example logs found in %s\n", logDir)
	} else {
		fmt.Fprintf(w, "\nDetection: %d events from %d files (%d lines, %d unparsed)\n", ist.Events, ist.Files, ist.Lines, ist.Unparsed)
	}
	listed, err := st.ListIncidents(ctx, all, store.IncidentFilter{Limit: 1000})
	if err != nil {
		return err
	}
	var incs []store.Incident // from the logs, not the seeded history
	for _, inc := range listed {
		if inc.StatusBy != demoHistory {
			incs = append(incs, inc)
		}
	}
	slices.SortStableFunc(incs, func(a, b store.Incident) int {
		return cmp.Compare(catalog.Severity(b.Severity).Rank(), catalog.Severity(a.Severity).Rank())
	})
	bySev := map[string]int{}
	for _, inc := range incs {
		bySev[inc.Severity]++
	}
	var parts []string
	for _, sv := range []string{"critical", "high", "medium", "low"} {
		if bySev[sv] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", bySev[sv], sv))
		}
	}
	fmt.Fprintf(w, "Incidents: %d (%s)\n", len(incs), strings.Join(parts, ", "))
	for _, inc := range incs[:min(15, len(incs))] {
		where := cmp.Or(inc.Tenant, "msp")
		if len(inc.Tenants) > 1 {
			where = fmt.Sprintf("%d tenants", len(inc.Tenants))
		}
		fmt.Fprintf(w, "  [%-8s] %s — %s\n", inc.Severity, inc.Title, where)
	}
	if len(incs) > 15 {
		fmt.Fprintf(w, "  … and %d more on the dashboard\n", len(incs)-15)
	}
	return nil
}

func printCredentials(w io.Writer, c *auth.Credentials) {
	fmt.Fprintf(w, "\nOne-time owner credentials (shown once):\n")
	fmt.Fprintf(w, "  username     %s\n", c.Username)
	fmt.Fprintf(w, "  password     %s\n", c.Password.Reveal())
	fmt.Fprintf(w, "  TOTP secret  %s\n", c.TOTPSecret.Reveal())
	fmt.Fprintf(w, "  TOTP URI     %s\n", c.TOTPURI.Reveal())
	if qr, err := auth.QRTerminal(c.TOTPURI.Reveal()); err == nil {
		fmt.Fprintf(w, "  Scan with an authenticator app:\n%s", qr)
	}
	fmt.Fprintf(w, "  The password works once: after the code, the account page asks you to choose your own.\n")
}

// demoClock returns the engines' clock: a fixed instant (the example's
// reference date, so the demo gives the same findings whenever it is run) or
// the wall clock for "real".
func demoClock(now string) (func() time.Time, error) {
	if now == "real" {
		return time.Now, nil
	}
	t, err := time.Parse(time.RFC3339, now)
	if err != nil {
		return nil, fmt.Errorf("--now %q: expected RFC 3339 (e.g. 2026-11-27T09:00:00Z) or \"real\"", now)
	}
	return func() time.Time { return t }, nil
}
