package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/roles"
	"github.com/firebreak-msp/firebreak/internal/server"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/store/transfer"
	"github.com/firebreak-msp/firebreak/internal/version"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

type serveOptions struct {
	config   string
	listen   string
	dataDir  string
	database string
	tlsCert  string
	tlsKey   string
	estate   []string
	noTLS    bool
	roles    []string
	bus      string
	logFmt   string
	unsplit  bool
	flags    *pflag.FlagSet
}

func (o *serveOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.config, "config", "c", "", "YAML configuration file (unknown keys are errors)")
	fs.StringVar(&o.listen, "listen", "", "address to serve HTTPS on (default 127.0.0.1:8443)")
	fs.StringVar(&o.dataDir, "data-dir", "", "directory for the SQLite database and the self-signed certificate (default $FIREBREAK_DATA_DIR, else ~/.local/share/firebreak as `kev update` uses, or an existing ./firebreak-data)")
	fs.StringVar(&o.database, "database", "", "PostgreSQL URL (postgres://…) instead of SQLite")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "TLS certificate (PEM); without it a self-signed one is made in the data dir")
	fs.StringVar(&o.tlsKey, "tls-key", "", "TLS private key (PEM)")
	fs.StringSliceVar(&o.estate, "estate", nil, "estate file or directory (repeatable), reloaded on change")
	fs.BoolVar(&o.noTLS, "insecure-http", false, "serve plain HTTP (only behind a TLS-terminating proxy)")
	fs.StringSliceVar(&o.roles, "roles", nil, "roles of this process: api, ingest, detect, worker (default all, in one process); a subset needs --database and, for ingest and detect, --bus (docs/deploy.md)")
	fs.StringVar(&o.bus, "bus", "", "NATS JetStream URL (nats://…) connecting ingest and detect processes")
	fs.BoolVar(&o.unsplit, "convert-to-single-process", false, "let a process without --bus take a database a split deployment has used (that deployment retired for good; docs/deploy.md)")
	fs.StringVar(&o.logFmt, "log-format", "", "log lines as text (key=value) or json (one object per line); default text")
}

func newServeCommand(g *globalOptions) *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the multi-tenant service: API, dashboard, ingest, detection, scheduled assessments",
		Long: `serve runs firebreak continuously: it loads estate sources (reloaded on
change) and assesses them on a schedule (a control going from pass to fail
raises a drift incident), ingests events over HTTP (POST /api/v1/events),
syslog (UDP, TCP, TLS) and file tailing, runs detection on them, and serves
the dashboard and the /api/v1 API over TLS.

Configuration precedence: flag > environment (FIREBREAK_…) > --config file >
defaults. On first start with an empty store, an owner account "admin" is
created and its one-time password printed to stderr; TOTP enrolment is
mandatory at first sign-in.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.flags = cmd.Flags()
			return runServe(cmd.Context(), o, g)
		},
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

// serveConfig merges defaults, the file, the environment and flags.
func serveConfig(o serveOptions, lookup func(string) (string, bool)) (config.Config, error) {
	cfg := config.Default()
	cfg.DataDir, _ = defaultDataDir(func(k string) string { v, _ := lookup(k); return v })
	if o.config != "" {
		if err := config.LoadFile(o.config, &cfg); err != nil {
			return cfg, usageError{err}
		}
	}
	if err := cfg.ApplyEnv(lookup); err != nil {
		return cfg, usageError{err}
	}
	changed := func(name string) bool { return o.flags != nil && o.flags.Changed(name) }
	if changed("listen") {
		cfg.SetBy("listen", "flag --listen")
		cfg.Listen = o.listen
	}
	if changed("data-dir") {
		cfg.SetBy("data_dir", "flag --data-dir")
		cfg.DataDir = o.dataDir
	}
	if changed("database") {
		cfg.SetBy("database", "flag --database")
		cfg.Database = o.database
	}
	if changed("tls-cert") {
		cfg.SetBy("tls.cert", "flag --tls-cert")
		cfg.TLS.Cert = o.tlsCert
	}
	if changed("tls-key") {
		cfg.SetBy("tls.key", "flag --tls-key")
		cfg.TLS.Key = o.tlsKey
	}
	if changed("estate") {
		cfg.SetBy("estate.paths", "flag --estate")
		cfg.Estate.Paths = o.estate
	}
	if changed("insecure-http") {
		cfg.SetBy("tls.disable", "flag --insecure-http")
		cfg.TLS.Disable = o.noTLS
	}
	if changed("roles") {
		cfg.SetBy("roles", "flag --roles")
		cfg.Roles = o.roles
	}
	if changed("bus") {
		cfg.SetBy("bus.url", "flag --bus")
		cfg.Bus.URL = o.bus
	}
	if changed("log-format") {
		cfg.SetBy("log_format", "flag --log-format")
		cfg.LogFormat = o.logFmt
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func runServe(ctx context.Context, o serveOptions, g *globalOptions) error {
	cfg, err := serveConfig(o, os.LookupEnv)
	if err != nil {
		return err
	}
	log := serveLogger(g, cfg.LogLevel, cfg.LogFormat)
	if dir, note := defaultDataDir(os.Getenv); note != "" && cfg.Database == "" && cfg.DataDir == dir {
		log.Warn(note)
	}
	if cfg.Database == "" {
		// One serve per SQLite data directory, and no restore under it.
		release, err := transfer.LockDataDir(cfg.DataDir)
		if err != nil {
			return err
		}
		defer release()
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	creds, err := auth.BootstrapOwner(ctx, st, "admin", false)
	if err != nil {
		return err
	}
	if creds != nil {
		// Under --log-format json a log shipper reads stderr: these lines
		// are JSON records too, at warn so no log level hides them.
		if cfg.LogFormat == "json" {
			log.Warn("created owner with a one-time password; sign in and enrol an authenticator app (TOTP is mandatory); this password is not shown again",
				"username", creds.Username, "password", creds.Password.Reveal())
		} else {
			fmt.Fprintf(g.stderr, "firebreak: created owner %q with one-time password %s\nfirebreak: sign in and enrol an authenticator app (TOTP is mandatory); this password is not shown again\n",
				creds.Username, creds.Password.Reveal())
		}
	}
	// The KEV rule of assess and blast (resolveKEV): assess.kev, else the
	// catalog stored in the data directory (re-read when `kev update`
	// replaces it), else the snapshot built into the binary.
	fallback, err := builtinKEV()
	if err != nil {
		return err
	}
	eng, err := worker.NewEngines(worker.EngineOptions{PolicyDirs: cfg.Assess.PolicyDirs, KEVPath: cfg.Assess.KEV, KEVDataDir: cfg.DataDir, KEVFallback: fallback, RuleDirs: cfg.Detect.RuleDirs, Logger: log})
	if err != nil {
		return err
	}
	var tlsCfg *tls.Config
	if !cfg.TLS.Disable {
		host, _, _ := net.SplitHostPort(cfg.Listen)
		cert, fp, err := server.LoadOrCreateCertificate(cfg.TLS.Cert, cfg.TLS.Key, cfg.DataDir, []string{host}, time.Now())
		if err != nil {
			return err
		}
		if cfg.TLS.Cert == "" {
			if cfg.LogFormat == "json" {
				log.Warn("self-signed certificate", "sha256_fingerprint", fp)
			} else {
				fmt.Fprintf(g.stderr, "firebreak: self-signed certificate, SHA-256 fingerprint %s\n", fp)
			}
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	node, err := roles.New(roles.Options{Config: cfg, Store: st, Logger: log, Engines: eng, Version: version.Get().Short(), ConvertToSingle: o.unsplit})
	if err != nil {
		return err
	}
	// A misconfigured deployment (a second bus-less serve, a bus-less serve
	// on a split deployment's database) is refused before serving.
	if err := node.Claim(ctx); err != nil {
		return err
	}
	srv, err := server.New(server.Options{Config: cfg, Store: st, Logger: log, TLS: tlsCfg != nil, Node: node, Version: version.Get().Short()})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	scheme := "https"
	if tlsCfg == nil {
		scheme = "http"
	}
	if cfg.LogFormat == "json" {
		log.Info("serving", "url", fmt.Sprintf("%s://%s", scheme, ln.Addr()), "store", st.Dialect(), "version", version.Get().Short())
	} else {
		g.notice("firebreak: serving on %s://%s (store %s, roles %s)\n", scheme, ln.Addr(), st.Dialect(), cfg.RolesString())
	}
	return node.Run(ctx, tlsCfg, func(ctx context.Context) error { return srv.Run(ctx, ln, tlsCfg) })
}

func serveLogger(g *globalOptions, level, format string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	if g.verbose {
		l = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(g.stderr, opts))
	}
	return slog.New(slog.NewTextHandler(g.stderr, opts))
}

// openStore opens PostgreSQL when a URL is configured, else SQLite in the
// data dir.
func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if cfg.Database == "" {
		return sqlite.Open(ctx, cfg.DataDir)
	}
	key, err := secretKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return postgres.OpenWith(ctx, cfg.Database, store.Options{SecretKey: key,
		PartitionsAhead: cfg.Retention.PartitionsAheadDays, PartitionsBehind: cfg.Retention.PartitionsBehindDays})
}

// secretKeyEnv holds the secret key in the environment (it has no flag or
// configuration key).
const secretKeyEnv = "FIREBREAK_SECRET_KEY"

// secretKey reads FIREBREAK_SECRET_KEY (64 hex digits) or the key file in
// the data dir, creating it (0600) on first use, for encrypting secrets at
// rest in PostgreSQL.
func secretKey(dataDir string) ([]byte, error) {
	if v := strings.TrimSpace(os.Getenv(secretKeyEnv)); v != "" {
		k, err := hex.DecodeString(v)
		if err != nil || len(k) != 32 {
			return nil, usageError{errors.New("FIREBREAK_SECRET_KEY: expected 64 hex digits")}
		}
		return k, nil
	}
	path := filepath.Join(dataDir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("reading %s: expected 64 hex digits", path)
		}
		return k, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return k, nil
}
