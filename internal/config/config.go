// Package config is the configuration of `firebreak serve`: the YAML file,
// FIREBREAK_… environment overrides, defaults and validation. Every part of
// the service (HTTP, auth, intake, pipeline, worker) reads its section.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration of `firebreak serve`. It is decoded
// strictly from YAML (unknown keys are errors), defaults live in
// Default, environment variables (FIREBREAK_…) override the file, and
// command-line flags override both.
type Config struct {
	Listen   string `yaml:"listen"`    // HTTP(S) address, default 127.0.0.1:8443
	DataDir  string `yaml:"data_dir"`  // SQLite database, self-signed certificate
	Database string `yaml:"database"`  // postgres://… ; empty means SQLite in DataDir
	BaseURL  string `yaml:"base_url"`  // external URL, used in notifications and the TOTP issuer
	LogLevel string `yaml:"log_level"` // debug, info, warn, error
	// LogFormat is text (logfmt-style key=value lines) or json (one JSON
	// object per line, for journald, Loki, Elastic).
	LogFormat string `yaml:"log_format"`

	TLS       TLSConfig       `yaml:"tls"`
	Estate    EstateConfig    `yaml:"estate"`
	Assess    AssessConfig    `yaml:"assess"`
	Ingest    IngestConfig    `yaml:"ingest"`
	Detect    DetectConfig    `yaml:"detect"`
	Retention RetentionConfig `yaml:"retention"`
	Auth      AuthConfig      `yaml:"auth"`
	HTTP      HTTPConfig      `yaml:"http"`
	Notify    NotifyConfig    `yaml:"notify"`
	// Connectors are the MSP's tools in and out (RMM, IT Glue, PSA, SIEM).
	Connectors ConnectorsConfig `yaml:"connectors"`
	Attest     AttestConfig     `yaml:"attest"`

	// Roles this process takes (roles.go); empty: all of them.
	Roles []string  `yaml:"roles"`
	Bus   BusConfig `yaml:"bus"`

	// src is where each key was read (set by Decode), so Validate names the
	// file and line of an offending key.
	src *keySource
}

// keySource maps dotted keys (connectors.sources[1].name) to the file and
// line that set them.
type keySource struct {
	file  string
	lines map[string]int
	over  map[string]string // key → what set it after the file (FIREBREAK_LISTEN, flag --listen)
}

// SetBy records that key's value came from source (an environment
// variable or a flag) rather than the file, so a problem with it names
// that source instead of the file's line.
func (c *Config) SetBy(key, source string) {
	if c.src == nil {
		c.src = &keySource{}
	}
	if c.src.over == nil {
		c.src.over = map[string]string{}
	}
	c.src.over[key] = source
}

// overridden names what set key (or a key under it) after the file, or "".
func (s *keySource) overridden(key string) string {
	if s == nil {
		return ""
	}
	if v, ok := s.over[key]; ok {
		return v
	}
	var srcs []string
	for k, v := range s.over {
		if strings.HasPrefix(k, key+".") {
			srcs = append(srcs, v)
		}
	}
	slices.Sort(srcs)
	return strings.Join(srcs, ", ")
}

// at returns a FileError for key: at its own line when the file set it,
// else at the nearest enclosing key the file set (a list item, a section),
// else without a line, saying the value is a default or came from the
// environment or a flag.
func (s *keySource) at(key, msg string) error {
	if src := s.overridden(key); src != "" {
		return fmt.Errorf("config %s: %s (set by %s)", key, msg, src)
	}
	if s == nil || s.file == "" {
		return fmt.Errorf("config %s: %s (not set in a config file: a default, FIREBREAK_* environment variable or flag)", key, msg)
	}
	for k := key; k != ""; {
		if line, ok := s.lines[k]; ok {
			if k != key {
				msg += fmt.Sprintf(" (%s is not set; line %d is %s)", strings.TrimPrefix(key, k+"."), line, k)
			}
			return &FileError{File: s.file, Line: line, Key: key, Msg: msg}
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return &FileError{File: s.file, Key: key, Msg: msg + " (not set in this file: a default, FIREBREAK_* environment variable or flag)"}
}

// NotifyConfig limits where notification targets may deliver. By default
// they may not reach loopback, private, link-local (cloud metadata) or
// unspecified addresses; AllowNetworks lists CIDR ranges that may be reached
// anyway (an on-premises SIEM, say).
type NotifyConfig struct {
	AllowNetworks []string `yaml:"allow_networks"`
}

// TLSConfig selects the certificate. With neither Cert nor Key, a self-signed
// certificate is generated at first start and kept in the data dir.
type TLSConfig struct {
	Cert    string `yaml:"cert"`
	Key     string `yaml:"key"`
	Disable bool   `yaml:"disable"` // plain HTTP, only for a TLS-terminating proxy or loopback
}

// EstateConfig lists estate sources (files or directories), reloaded on change.
type EstateConfig struct {
	Paths        []string      `yaml:"paths"`
	PollInterval time.Duration `yaml:"poll_interval"`
}

// AssessConfig schedules assessments.
type AssessConfig struct {
	Interval   time.Duration `yaml:"interval"`
	PolicyDirs []string      `yaml:"policy_dirs"`
	KEV        string        `yaml:"kev"` // path to a CISA KEV JSON file
}

// IngestConfig configures event intake.
type IngestConfig struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	MaxLineBytes int   `yaml:"max_line_bytes"`
	// MaxDecompressedBytes and MaxEvents bound one HTTP ingest request
	// after decompression (413 past either); events are committed in
	// batches as they are parsed, so memory does not grow with the body.
	MaxDecompressedBytes int64 `yaml:"max_decompressed_bytes"`
	MaxEvents            int   `yaml:"max_events_per_request"`
	// MaxSkew is how far past the receive clock an event may be dated;
	// beyond it the event is quarantined (stored, flagged, not detected).
	MaxSkew   time.Duration `yaml:"max_skew"`
	Files     []TailConfig  `yaml:"files"`
	Syslog    SyslogConfig  `yaml:"syslog"`
	TenantMap string        `yaml:"tenant_map"` // ingest tenant map file
	Mapping   string        `yaml:"mapping"`    // generic JSON mapping file (format generic)
	Year      int           `yaml:"year"`       // year for RFC 3164 timestamps; 0 = current
	Queue     int           `yaml:"queue"`      // detection queue length
	KeepRaw   *bool         `yaml:"keep_raw"`   // store each event's original line (default true)
}

// TailConfig is one followed log file.
type TailConfig struct {
	Path   string `yaml:"path"`
	Format string `yaml:"format"`
	Tenant string `yaml:"tenant"`
}

// SyslogConfig configures the syslog listener. Empty addresses disable a transport.
type SyslogConfig struct {
	UDP    string `yaml:"udp"`    // e.g. :5514
	TCP    string `yaml:"tcp"`    // octet-counting or newline framing
	TLS    string `yaml:"tls"`    // TCP with TLS, using the server certificate
	Tenant string `yaml:"tenant"` // default tenant for messages the tenant map does not place
	// TCP and TLS connection limits: per peer address, in total, and how
	// long a connection may stay idle.
	MaxConnsPerPeer int           `yaml:"max_conns_per_peer"`
	MaxConns        int           `yaml:"max_conns"`
	IdleTimeout     time.Duration `yaml:"idle_timeout"`
}

// DetectConfig configures continuous detection.
type DetectConfig struct {
	RuleDirs []string `yaml:"rule_dirs"` // extra Sigma rule directories
}

// MaxPartitionDays bounds retention.partitions_ahead_days and
// partitions_behind_days: each day is a table, and a year ahead is
// already far past any clock skew ingest accepts.
const MaxPartitionDays = 366

// RetentionConfig bounds stored data.
type RetentionConfig struct {
	EventsDays int `yaml:"events_days"`
	// PartitionsAheadDays and PartitionsBehindDays are the days around
	// today that have a daily events partition on PostgreSQL after every
	// maintenance pass (at open and at every retention pass). Events
	// outside them land in the default partition.
	PartitionsAheadDays  int `yaml:"partitions_ahead_days"`
	PartitionsBehindDays int `yaml:"partitions_behind_days"`
}

// AuthConfig configures sessions and login protection.
type AuthConfig struct {
	SessionTTL       time.Duration `yaml:"session_ttl"`  // absolute lifetime
	IdleTimeout      time.Duration `yaml:"idle_timeout"` // inactivity
	MaxFailures      int           `yaml:"max_failures"` // before lockout
	LockoutDuration  time.Duration `yaml:"lockout"`
	LoginRatePerMin  int           `yaml:"login_rate_per_minute"` // per client IP
	InsecureCookies  bool          `yaml:"insecure_cookies"`      // allow cookies over plain HTTP (tests, loopback demo)
	TrustProxyHeader string        `yaml:"trust_proxy_header"`    // e.g. X-Forwarded-For, when behind a proxy: its last address is the client
	OIDC             *OIDCConfig   `yaml:"oidc"`                  // optional single sign-on for MSP staff
}

// AttestConfig sets how serve signs posture attestations (issue 17).
type AttestConfig struct {
	// Key is the MSP's Ed25519 private key (firebreak attest keygen); empty
	// means DataDir/attest.key, created at first start.
	Key string `yaml:"key"`
	// TrustedKeys are older public keys the public verify page still
	// accepts during a rotation.
	TrustedKeys []string `yaml:"trusted_keys"`
	// Validity is how long an issued attestation holds.
	Validity time.Duration `yaml:"validity"`
	// RemindBefore is how long before a recorded attestation or exception
	// expires that a reminder is raised.
	RemindBefore time.Duration `yaml:"remind_before"`
}

// HTTPConfig sets server timeouts (slow clients are cut off).
type HTTPConfig struct {
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
}

// Default is the single place defaults are set.
func Default() Config {
	return Config{
		Listen:    "127.0.0.1:8443",
		DataDir:   "firebreak-data",
		LogLevel:  "info",
		LogFormat: "text",
		Estate:    EstateConfig{PollInterval: 10 * time.Second},
		Assess:    AssessConfig{Interval: time.Hour},
		Ingest: IngestConfig{
			MaxBodyBytes:         16 << 20,
			MaxLineBytes:         64 << 10,
			MaxDecompressedBytes: 64 << 20,
			MaxEvents:            100_000,
			MaxSkew:              5 * time.Minute,
			Syslog:               SyslogConfig{MaxConnsPerPeer: 16, MaxConns: 512, IdleTimeout: 30 * time.Second},
			Queue:                65536,
		},
		Retention: RetentionConfig{EventsDays: 180, PartitionsAheadDays: 7, PartitionsBehindDays: 1},
		Attest:    AttestConfig{Validity: 30 * 24 * time.Hour, RemindBefore: 14 * 24 * time.Hour},
		Auth: AuthConfig{
			SessionTTL:      12 * time.Hour,
			IdleTimeout:     30 * time.Minute,
			MaxFailures:     5,
			LockoutDuration: 15 * time.Minute,
			LoginRatePerMin: 10,
		},
		HTTP: HTTPConfig{
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   15 * time.Second,
		},
	}
}

// Decode decodes YAML strictly over c (so unset keys keep their defaults).
func Decode(r io.Reader, name string, c *Config) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return explain(name, data, err)
	}
	c.src = &keySource{file: name, lines: linesByKey(data)}
	return nil
}

// LoadFile decodes the YAML file at path over c.
func LoadFile(path string, c *Config) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening config: %w", err)
	}
	defer func() { _ = f.Close() }()
	return Decode(f, path, c)
}

// ApplyEnv overrides c from FIREBREAK_… variables looked up with lookup
// (os.LookupEnv in production, a map in tests).
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	str := func(name, key string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
			c.SetBy(key, name)
		}
	}
	list := func(name, key string, dst *[]string) {
		if v, ok := lookup(name); ok {
			*dst = splitList(v)
			c.SetBy(key, name)
		}
	}
	var errs []error
	dur := func(name, key string, dst *time.Duration) {
		if v, ok := lookup(name); ok {
			c.SetBy(key, name)
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: expected a duration such as 1h or 30s", name, v))
				return
			}
			*dst = d
		}
	}
	num := func(name, key string, dst *int) {
		if v, ok := lookup(name); ok {
			c.SetBy(key, name)
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: expected an integer", name, v))
				return
			}
			*dst = n
		}
	}
	str("FIREBREAK_LISTEN", "listen", &c.Listen)
	list("FIREBREAK_ROLES", "roles", &c.Roles)
	str("FIREBREAK_BUS_URL", "bus.url", &c.Bus.URL)
	str("FIREBREAK_BUS_SUBJECT", "bus.subject", &c.Bus.Subject)
	str("FIREBREAK_DATA_DIR", "data_dir", &c.DataDir)
	str("FIREBREAK_DATABASE", "database", &c.Database)
	str("FIREBREAK_BASE_URL", "base_url", &c.BaseURL)
	str("FIREBREAK_LOG_LEVEL", "log_level", &c.LogLevel)
	str("FIREBREAK_LOG_FORMAT", "log_format", &c.LogFormat)
	str("FIREBREAK_TLS_CERT", "tls.cert", &c.TLS.Cert)
	str("FIREBREAK_TLS_KEY", "tls.key", &c.TLS.Key)
	list("FIREBREAK_ESTATE", "estate.paths", &c.Estate.Paths)
	dur("FIREBREAK_ASSESS_INTERVAL", "assess.interval", &c.Assess.Interval)
	str("FIREBREAK_KEV", "assess.kev", &c.Assess.KEV)
	if v, ok := lookup("FIREBREAK_OIDC_CLIENT_SECRET"); ok && c.Auth.OIDC != nil {
		c.Auth.OIDC.ClientSecret = v
	}
	str("FIREBREAK_SYSLOG_UDP", "ingest.syslog.udp", &c.Ingest.Syslog.UDP)
	str("FIREBREAK_SYSLOG_TCP", "ingest.syslog.tcp", &c.Ingest.Syslog.TCP)
	str("FIREBREAK_SYSLOG_TLS", "ingest.syslog.tls", &c.Ingest.Syslog.TLS)
	num("FIREBREAK_RETENTION_DAYS", "retention.events_days", &c.Retention.EventsDays)
	num("FIREBREAK_RETENTION_PARTITIONS_AHEAD_DAYS", "retention.partitions_ahead_days", &c.Retention.PartitionsAheadDays)
	num("FIREBREAK_RETENTION_PARTITIONS_BEHIND_DAYS", "retention.partitions_behind_days", &c.Retention.PartitionsBehindDays)
	return errors.Join(errs...)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == os.PathListSeparator }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, c.src.at(field, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "%q is not host:port", c.Listen)
	}
	if c.Database == "" && c.DataDir == "" {
		bad("data_dir", "required when database is empty (SQLite lives there)")
	}
	if c.Attest.Validity <= 0 {
		bad("attest.validity", "must be positive (e.g. 720h)")
	}
	if c.Attest.RemindBefore < 0 {
		bad("attest.remind_before", "must not be negative")
	}
	if c.Database != "" && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		bad("database", "expected a postgres:// URL")
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("tls", "cert and key must be given together")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q: expected debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log_format", "%q: expected text or json", c.LogFormat)
	}
	if c.Estate.PollInterval < time.Second {
		bad("estate.poll_interval", "%s: at least 1s", c.Estate.PollInterval)
	}
	if c.Assess.Interval < time.Minute {
		bad("assess.interval", "%s: at least 1m", c.Assess.Interval)
	}
	if c.Ingest.MaxBodyBytes < 1024 {
		bad("ingest.max_body_bytes", "%d: at least 1024", c.Ingest.MaxBodyBytes)
	}
	if c.Ingest.MaxDecompressedBytes < c.Ingest.MaxBodyBytes {
		bad("ingest.max_decompressed_bytes", "%d: at least max_body_bytes (%d)", c.Ingest.MaxDecompressedBytes, c.Ingest.MaxBodyBytes)
	}
	if c.Ingest.MaxEvents < 1 {
		bad("ingest.max_events_per_request", "%d: at least 1", c.Ingest.MaxEvents)
	}
	if c.Ingest.MaxSkew < time.Second {
		bad("ingest.max_skew", "%s: at least 1s", c.Ingest.MaxSkew)
	}
	if c.Ingest.Syslog.MaxConnsPerPeer < 1 || c.Ingest.Syslog.MaxConns < c.Ingest.Syslog.MaxConnsPerPeer {
		bad("ingest.syslog", "max_conns_per_peer %d, max_conns %d: want 1 <= per peer <= total", c.Ingest.Syslog.MaxConnsPerPeer, c.Ingest.Syslog.MaxConns)
	}
	if c.Ingest.Syslog.IdleTimeout < time.Second {
		bad("ingest.syslog.idle_timeout", "%s: at least 1s", c.Ingest.Syslog.IdleTimeout)
	}
	if c.Ingest.MaxLineBytes < 256 {
		bad("ingest.max_line_bytes", "%d: at least 256", c.Ingest.MaxLineBytes)
	}
	c.validateConnectors(bad)
	c.validateRoles(bad)
	if c.Ingest.Queue < 1 {
		bad("ingest.queue", "%d: at least 1", c.Ingest.Queue)
	}
	for i, f := range c.Ingest.Files {
		if f.Path == "" {
			bad(fmt.Sprintf("ingest.files[%d].path", i), "required")
		}
	}
	for name, a := range map[string]string{"ingest.syslog.udp": c.Ingest.Syslog.UDP, "ingest.syslog.tcp": c.Ingest.Syslog.TCP, "ingest.syslog.tls": c.Ingest.Syslog.TLS} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad(name, "%q is not host:port", a)
		}
	}
	if c.Retention.EventsDays < 1 {
		bad("retention.events_days", "%d: at least 1", c.Retention.EventsDays)
	}
	if c.Retention.PartitionsAheadDays < 1 || c.Retention.PartitionsAheadDays > MaxPartitionDays {
		bad("retention.partitions_ahead_days", "%d: between 1 and %d", c.Retention.PartitionsAheadDays, MaxPartitionDays)
	}
	if c.Retention.PartitionsBehindDays < 1 || c.Retention.PartitionsBehindDays > MaxPartitionDays {
		bad("retention.partitions_behind_days", "%d: between 1 and %d", c.Retention.PartitionsBehindDays, MaxPartitionDays)
	}
	if c.Auth.SessionTTL < time.Minute {
		bad("auth.session_ttl", "%s: at least 1m", c.Auth.SessionTTL)
	}
	if c.Auth.IdleTimeout < time.Minute || c.Auth.IdleTimeout > c.Auth.SessionTTL {
		bad("auth.idle_timeout", "%s: between 1m and session_ttl", c.Auth.IdleTimeout)
	}
	if c.Auth.MaxFailures < 1 {
		bad("auth.max_failures", "%d: at least 1", c.Auth.MaxFailures)
	}
	if c.Auth.LockoutDuration < time.Second {
		bad("auth.lockout", "%s: at least 1s", c.Auth.LockoutDuration)
	}
	if c.Auth.OIDC != nil {
		c.Auth.OIDC.validate(bad)
	}
	if c.Auth.LoginRatePerMin < 1 {
		bad("auth.login_rate_per_minute", "%d: at least 1", c.Auth.LoginRatePerMin)
	}
	for i, n := range c.Notify.AllowNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			bad(fmt.Sprintf("notify.allow_networks[%d]", i), "%q: expected a CIDR range such as 10.20.0.0/16", n)
		}
	}
	for name, d := range map[string]time.Duration{"http.read_header_timeout": c.HTTP.ReadHeaderTimeout, "http.read_timeout": c.HTTP.ReadTimeout, "http.write_timeout": c.HTTP.WriteTimeout, "http.idle_timeout": c.HTTP.IdleTimeout, "http.shutdown_timeout": c.HTTP.ShutdownTimeout} {
		if d <= 0 {
			bad(name, "%s: must be positive", d)
		}
	}
	return errors.Join(errs...)
}

// OIDCConfig enables single sign-on for MSP staff through an OpenID Connect
// provider (authorization code flow with PKCE). The provider's verified
// email must match a local owner or analyst account (provisioned by an
// owner); tenant viewers always sign in locally.
type OIDCConfig struct {
	Issuer       string   `yaml:"issuer"`        // e.g. https://login.microsoftonline.com/<tenant>/v2.0
	ClientID     string   `yaml:"client_id"`     //
	ClientSecret string   `yaml:"client_secret"` // FIREBREAK_OIDC_CLIENT_SECRET overrides
	RedirectURL  string   `yaml:"redirect_url"`  // https://firebreak.example/login/oidc/callback
	Scopes       []string `yaml:"scopes"`        // default: openid email profile
	// TrustIdPMFA accepts the provider's multi-factor authentication (an amr
	// claim naming one) instead of firebreak's own TOTP step. Off: every SSO
	// sign-in still asks for the firebreak TOTP code.
	TrustIdPMFA bool `yaml:"trust_idp_mfa"`
}

func (c *OIDCConfig) validate(bad func(field, format string, args ...any)) {
	u, err := url.Parse(c.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
		bad("auth.oidc.issuer", "an https URL")
	}
	if c.ClientID == "" {
		bad("auth.oidc.client_id", "required")
	}
	if r, err := url.Parse(c.RedirectURL); err != nil || r.Host == "" || !strings.HasSuffix(r.Path, "/login/oidc/callback") {
		bad("auth.oidc.redirect_url", "the URL of /login/oidc/callback on this server")
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
