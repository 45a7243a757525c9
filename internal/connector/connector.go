package connector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
)

// Capability is what a connector provides.
type Capability string

const (
	// CapEvidence: estate objects (identities, roles, tools, …) with
	// provenance and collection gaps; implements EvidenceSource.
	CapEvidence Capability = "evidence"
	// CapEvents: activity records for detection; implements EventSource.
	CapEvents Capability = "events"
	// CapOutbound: delivers items to another system; implements Target.
	CapOutbound Capability = "outbound"
)

// Field is one key of a connector's configuration section.
type Field struct {
	Name     string // YAML key, e.g. "org_url"
	Type     string // "string", "duration", "int", "bool", "secret", "list", "tenants"
	Doc      string
	Required bool
	Default  string
	// Secret fields are SecretRefs ({env: NAME} or {file: PATH}); their
	// values are never printed.
	Secret bool
}

// Permission is one permission, scope or role the connector needs.
type Permission struct {
	Name string // e.g. "okta.users.read", "User.Read.All"
	// Kind says where it is granted: "application" (app-only), "delegated",
	// "oauth-scope", "admin-role", "licence".
	Kind string
	// For names the evidence or events that need it (e.g. "identities.mfa").
	For []string
	Doc string
}

// Call is one request a connector makes, listed by --dry-run.
type Call struct {
	Method     string // GET, POST
	Path       string // e.g. "/api/v1/users?limit=200"
	Permission string // the Permission.Name it needs ("" for none)
	Note       string
}

func (c Call) String() string {
	s := c.Method + " " + c.Path
	if c.Permission != "" {
		s += "  [" + c.Permission + "]"
	}
	if c.Note != "" {
		s += "  (" + c.Note + ")"
	}
	return s
}

// Spec describes a connector; it is data, printed by --help, --dry-run,
// docs and the dashboard.
type Spec struct {
	Name         string // registry key and CLI verb: "okta"
	Title        string // "Okta"
	Summary      string // one line
	Capabilities []Capability
	Config       []Field
	Permissions  []Permission
	Calls        []Call
	// Schedule is how often `serve` runs it by default.
	Schedule time.Duration
	// Docs are the vendor documentation pages the connector follows.
	Docs []string
}

// Has reports whether the connector provides c.
func (s Spec) Has(c Capability) bool { return slices.Contains(s.Capabilities, c) }

// Help renders the permissions, configuration and calls for --help.
func (s Spec) Help() string {
	var b strings.Builder
	if len(s.Permissions) > 0 {
		b.WriteString("Permissions and scopes needed:\n")
		for _, p := range s.Permissions {
			fmt.Fprintf(&b, "  %-40s %s", p.Name, p.Kind)
			if len(p.For) > 0 {
				fmt.Fprintf(&b, "; for %s", strings.Join(p.For, ", "))
			}
			if p.Doc != "" {
				b.WriteString(". " + p.Doc)
			}
			b.WriteByte('\n')
		}
	}
	if len(s.Config) > 0 {
		b.WriteString("\nConfiguration (--config FILE, YAML; unknown keys are errors):\n")
		for _, f := range s.Config {
			req := ""
			if f.Required {
				req = ", required"
			}
			if f.Default != "" {
				req += ", default " + f.Default
			}
			fmt.Fprintf(&b, "  %-22s %s%s: %s\n", f.Name, f.Type, req, f.Doc)
		}
	}
	if len(s.Calls) > 0 {
		b.WriteString("\nCalls made:\n")
		for _, c := range s.Calls {
			b.WriteString("  " + c.String() + "\n")
		}
	}
	if len(s.Docs) > 0 {
		b.WriteString("\nVendor documentation followed:\n")
		for _, d := range s.Docs {
			b.WriteString("  " + d + "\n")
		}
	}
	return b.String()
}

// Env is what a connector gets from its host (the CLI or serve).
type Env struct {
	Getenv   func(string) string          // default os.Getenv
	ReadFile func(string) ([]byte, error) // default os.ReadFile
	HTTP     *http.Client                 // default: a client with a 60 s timeout
	Log      *slog.Logger                 // default: discard
	Now      func() time.Time             // default time.Now
	// Concurrency bounds requests in flight (default 16).
	Concurrency int
	// Retry is the retry policy for every call (zero: defaults).
	Retry Retry
	// DataDir is serve's data directory, for connectors that keep files
	// there (the KEV catalog) when their settings name none.
	DataDir string
}

// Definition is a registered connector.
type Definition struct {
	Spec Spec
	// New builds an instance from its config section; decode strictly
	// decodes it into the connector's own struct (unknown keys are errors,
	// naming the line). It returns a value implementing the interfaces of
	// Spec.Capabilities.
	New func(decode func(v any) error, env Env) (any, error)
}

// Request is what an evidence collection or event poll is asked for.
type Request struct {
	// Estate, when given, maps vendor tenants to estate tenants and names
	// objects already defined by hand.
	Estate *estate.Estate
	// Only restricts the run to these tenants (estate ids or vendor ids).
	Only []string
	Now  time.Time
}

// Evidence is what an EvidenceSource returns: a fragment whose every
// object carries provenance, and one TenantRun per tenant.
type Evidence struct {
	Fragment *estate.Estate `json:"-"`
	Tenants  []TenantRun    `json:"tenants"`
	Stats    Stats          `json:"stats"`
}

// Refused reports whether the run read nothing at all (credentials
// refused, every list forbidden): the fragment holds gaps and no object.
// Writing it would drop the tenants and technicians the last good run
// collected from the estate (and close their PSA tickets as if the
// controls passed), so serve and `firebreak collect` keep the previous
// fragment instead, with the first gap's reason as the error.
func (e *Evidence) Refused() (bool, string) {
	f := e.Fragment
	if f == nil || len(f.CollectionGap) == 0 || len(f.Tenants) > 0 || len(f.Identities) > 0 || len(f.Assets) > 0 || len(f.Grants) > 0 {
		return false, ""
	}
	return true, f.CollectionGap[0].Reason
}

// EvidenceSource produces estate evidence. A tenant's failure is recorded
// in its TenantRun (and as estate gaps); the error is only for a run that
// could not start at all.
type EvidenceSource interface {
	Collect(ctx context.Context, req Request) (*Evidence, error)
}

// Record is one raw activity record of an event source, in the vendor's
// own JSON; Format names the internal/ingest parser that reads it (e.g.
// "okta", "entra", "gworkspace"), so detection sees the same events from a
// poll as from a file export.
type Record struct {
	Tenant string
	Format string
	Raw    json.RawMessage
	// Event is set when the connector maps the record itself because
	// internal/ingest has no parser for Format (the mapping then lives in
	// the connector's package, once).
	Event *event.Event
}

// Cursor is an event source's opaque position per tenant (for Okta the
// next link, for the Reports API the last event time); the host stores it
// between polls.
type Cursor map[string]string

// EventSource polls activity records since the cursor, calls emit for
// each, and returns the new cursor. Tenants fail separately: their errors
// are in the TenantRuns and their cursor entries advance only past what
// was emitted, so the next poll resumes without loss or duplicates.
type EventSource interface {
	Poll(ctx context.Context, req Request, cur Cursor, emit func(Record) error) (Cursor, []TenantRun, error)
}

// Item is one thing an outbound target delivers (a ticket, a batch of
// events); Key makes delivery idempotent (the same key updates, never
// duplicates).
type Item struct {
	Key    string
	Kind   string // "finding", "case", "incident", "events"
	Tenant string
	Body   json.RawMessage
}

// Target delivers items to another system. Send makes one attempt; the
// host retries with Retry and keeps undelivered items (an outbox).
// Errors wrapped with Permanent are not retried.
type Target interface {
	Send(ctx context.Context, it Item) error
}

// Build makes a Definition.New from a typed constructor: the config
// section is decoded strictly into C and handed to build.
func Build[C any, T any](build func(C, Env) (T, error)) func(decode func(any) error, env Env) (any, error) {
	return func(decode func(any) error, env Env) (any, error) {
		var c C
		if err := decode(&c); err != nil {
			return nil, err
		}
		return build(c, env)
	}
}

// Only filters tenants by a Request's Only list (all when empty), keeping
// their order.
func Only(tenants []string, only []string) []string {
	if len(only) == 0 {
		return tenants
	}
	var out []string
	for _, t := range tenants {
		if slices.Contains(only, t) {
			out = append(out, t)
		}
	}
	return out
}

// Construct makes a Definition's New from a typed constructor: decode the
// connector's config section into C, then call newFn with it.
func Construct[C, T any](newFn func(C, Env) (T, error)) func(decode func(v any) error, env Env) (any, error) {
	return func(decode func(v any) error, env Env) (any, error) {
		var c C
		if err := decode(&c); err != nil {
			return nil, err
		}
		return newFn(c, env)
	}
}
