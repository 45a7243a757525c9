package config

import (
	"slices"
	"strings"
	"time"
)

// The roles a `serve` process can take (issue 12). One process with every
// role, on SQLite or PostgreSQL, is the default and needs nothing else.
const (
	RoleAPI    = "api"    // the dashboard and the API
	RoleIngest = "ingest" // HTTP ingest, syslog, followed files
	RoleDetect = "detect" // detection on the event stream's partitions
	RoleWorker = "worker" // scheduler, drift, retention, connectors (one leader)
)

// AllRoles are the roles of a single-process deployment.
var AllRoles = []string{RoleAPI, RoleIngest, RoleDetect, RoleWorker}

// BusConfig connects the roles through NATS JetStream.
type BusConfig struct {
	URL    string `yaml:"url"`    // nats://host:4222; empty: no bus (single process)
	Stream string `yaml:"stream"` // default FIREBREAK_EVENTS
	// Subject is the stream's subject prefix (default firebreak.events):
	// partition p is "<subject>.<p>", the cross-tenant stage's
	// "<subject>_cross.<p>" (stream "<stream>_CROSS"). Two deployments on
	// one NATS server need different streams and subjects.
	Subject    string        `yaml:"subject"`
	Partitions int           `yaml:"partitions"` // tenant partitions of the stream, default 8; fixed once created
	MaxAge     time.Duration `yaml:"max_age"`    // how long the stream keeps events, default 7 days
	Replicas   int           `yaml:"replicas"`   // stream replicas in a JetStream cluster, default 1
	// MaxBytes caps the stream's size on each replica (0: no cap); past it
	// JetStream discards the oldest events (they stay in the database).
	MaxBytes int64 `yaml:"max_bytes"`
}

// HasRole reports whether this process takes role r.
func (c *Config) HasRole(r string) bool { return slices.Contains(c.RolesOrAll(), r) }

// RolesOrAll is Roles, or every role when none is set.
func (c *Config) RolesOrAll() []string {
	if len(c.Roles) == 0 {
		return AllRoles
	}
	return c.Roles
}

// Split reports whether the roles run in several processes (a proper
// subset here), which needs PostgreSQL and the bus.
func (c *Config) Split() bool { return len(c.RolesOrAll()) < len(AllRoles) }

// validateRoles refuses a deployment that cannot work, saying why.
func (c *Config) validateRoles(bad func(field, format string, args ...any)) {
	seen := map[string]bool{}
	for _, r := range c.Roles {
		if !slices.Contains(AllRoles, r) {
			bad("roles", "%q: expected some of %s", r, strings.Join(AllRoles, ", "))
		}
		if seen[r] {
			bad("roles", "%q given twice", r)
		}
		seen[r] = true
	}
	if c.Bus.URL != "" && !strings.HasPrefix(c.Bus.URL, "nats://") && !strings.HasPrefix(c.Bus.URL, "tls://") {
		bad("bus.url", "%q: expected a nats:// or tls:// URL", c.Bus.URL)
	}
	if c.Bus.Subject != "" && (strings.ContainsAny(c.Bus.Subject, "*> \t") || strings.HasPrefix(c.Bus.Subject, ".") || strings.HasSuffix(c.Bus.Subject, ".")) {
		bad("bus.subject", "%q: a NATS subject prefix of dot-separated tokens, without wildcards or spaces (firebreak.events)", c.Bus.Subject)
	}
	if c.Bus.Partitions < 0 || c.Bus.Partitions > 1024 {
		bad("bus.partitions", "%d: between 1 and 1024", c.Bus.Partitions)
	}
	if c.Bus.MaxBytes < 0 {
		bad("bus.max_bytes", "%d: 0 (no cap) or a size in bytes", c.Bus.MaxBytes)
	}
	if c.Bus.MaxAge < 0 {
		bad("bus.max_age", "%s: 0 (default) or a positive duration", c.Bus.MaxAge)
	}
	if c.Bus.Replicas < 0 || c.Bus.Replicas > 5 {
		bad("bus.replicas", "%d: between 1 and 5", c.Bus.Replicas)
	}
	if !c.Split() {
		return
	}
	roles := strings.Join(c.RolesOrAll(), ",")
	if c.Database == "" {
		bad("roles", "%s runs part of firebreak in this process: the other parts must share its data, so set database to a PostgreSQL URL (SQLite serves one process only)", roles)
	}
	if c.Bus.URL == "" && (c.HasRole(RoleIngest) || c.HasRole(RoleDetect) || c.HasRole(RoleAPI)) {
		bad("bus.url", "roles %s: events (ingested, and the API's own sign-in events) reach the detect processes through NATS JetStream; set bus.url (nats://…)", roles)
	}
}

// RolesString is the roles for messages ("api,ingest,detect,worker").
func (c *Config) RolesString() string { return strings.Join(c.RolesOrAll(), ",") }
