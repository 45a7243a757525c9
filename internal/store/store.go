// Package store persists everything firebreak's service keeps between runs:
// estate snapshots, assessment runs and their results, blast-radius results,
// events, incidents, users, sessions, API tokens, notification targets and the
// hash-chained audit log.
//
// One interface (Store), two implementations (store/sqlite, the embedded
// default, and store/postgres), one conformance suite (store/storetest) run
// against both. Migrations are embedded, versioned, forward-only SQL files
// (store/migrations) applied in a transaction when a store is opened.
//
// Tenant isolation is enforced here, in the queries: every read or change of
// tenant-owned data takes a Scope, and every query filters on it. A zero Scope
// sees nothing. The server maps a user or API token to a Scope (ScopeFor) and
// passes it down; it never filters rows itself.
//
// Times are stored with microsecond precision (PostgreSQL's); the store
// truncates every time it is given, so values read back compare equal to the
// truncated input. All times are returned in UTC.
//
// Imported by internal/server and cmd/firebreak; imports only the shared
// model packages (estate, assess, event).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
)

// Sentinel errors callers branch on (errors.Is).
var (
	ErrNotFound  = errors.New("not found")          // no such row, or not visible in the scope
	ErrConflict  = errors.New("already exists")     // unique key taken (username, token id)
	ErrRevoked   = errors.New("token revoked")      // API token revoked
	ErrExpired   = errors.New("expired")            // session or API token past its expiry
	ErrInvalid   = errors.New("invalid argument")   // caller passed a value the store refuses (bad status, empty id)
	ErrForbidden = errors.New("outside of scope")   // a change aimed at data the scope may not touch
	ErrClosed    = errors.New("store is closed")    // method called after Close
	ErrReplay    = errors.New("totp step replayed") // TOTP step not newer than the last one used
)

// DefaultEventRetention is how long events are kept unless configured
// otherwise: the advisory asks for at least six months.
const DefaultEventRetention = 180 * 24 * time.Hour

// Scope says which tenants' data a read or change may touch. A zero Scope
// matches nothing (fail closed).
type Scope struct {
	AllTenants bool   // the MSP's view: every tenant and MSP-level data
	Tenant     string // when !AllTenants: exactly this tenant id
}

// AllTenants is the MSP-wide scope (owner, analyst, MSP-level tokens).
func AllTenants() Scope { return Scope{AllTenants: true} }

// TenantScope limits a caller to one tenant.
func TenantScope(tenant string) Scope { return Scope{Tenant: tenant} }

// Allows reports whether data owned by tenant is visible in the scope.
func (s Scope) Allows(tenant string) bool {
	return s.AllTenants || (s.Tenant != "" && s.Tenant == tenant)
}

// Valid reports whether the scope can match anything at all.
func (s Scope) Valid() bool { return s.AllTenants || s.Tenant != "" }

func (s Scope) String() string {
	if s.AllTenants {
		return "all tenants"
	}
	if s.Tenant == "" {
		return "nothing"
	}
	return "tenant " + s.Tenant
}

// ScopeFor is the scope a user of the given role and tenant works in.
func ScopeFor(role Role, tenant string) Scope {
	switch role {
	case RoleOwner, RoleAnalyst:
		return AllTenants()
	case RoleTenantViewer, RoleTenantAttester:
		return TenantScope(tenant)
	}
	return Scope{}
}

// Secret is a string that must never be logged or serialised by accident:
// String, GoString, LogValue and MarshalJSON all redact. Use Reveal to read it.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string   { return redact(s) }
func (s Secret) GoString() string { return redact(s) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redact(s)) }

// MarshalJSON implements json.Marshaler; secrets never leave as JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redact(s)) }

func redact(s Secret) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Store is the whole persistence interface. It is safe for concurrent use.
type Store interface {
	EstateStore
	RunStore
	BlastStore
	EventStore
	IncidentStore
	UserStore
	SessionStore
	TokenStore
	NotifyTargetStore
	AuditStore
	OutboxStore
	AttestStore
	RateLimitStore
	RemediationStore

	// Dialect is "sqlite" or "postgres".
	Dialect() string
	// SchemaVersion is the highest migration applied.
	SchemaVersion(ctx context.Context) (int, error)
	// Ping checks the database answers (for /readyz).
	Ping(ctx context.Context) error
	// Close releases the database; pending event batches are flushed first.
	Close() error
}

// Options tune an implementation. The zero value is usable.
type Options struct {
	Logger *slog.Logger     // nil: discard
	Now    func() time.Time // nil: time.Now; stamps Created/Updated fields
	// SecretKey encrypts secrets at rest (TOTP seeds, notification target
	// configs) with AES-256-GCM. SQLite: when empty, a random key is created
	// in <data-dir>/secret.key (0600) on first open. PostgreSQL: when empty,
	// FIREBREAK_SECRET_KEY is not consulted by the store (the caller decides);
	// secrets are then stored unencrypted and a warning is logged at open.
	SecretKey []byte
	// PartitionsAhead and PartitionsBehind (PostgreSQL) are the days
	// around today that get a daily events partition at open and at every
	// retention pass (retention.partitions_ahead_days / _behind_days).
	// Zero: 7 ahead, 1 behind. SQLite ignores them.
	PartitionsAhead, PartitionsBehind int
}

// ---------------------------------------------------------------------------
// Estate snapshots

// EstateStore keeps versioned, content-hashed estate snapshots. Snapshots are
// MSP-level documents; a tenant scope reads only the objects that tenant owns
// (see ObjectOwner).
type EstateStore interface {
	// PutSnapshot stores e unless it is identical (same content hash, which
	// ignores file positions) to the latest snapshot, in which case the latest
	// snapshot is returned with created=false.
	PutSnapshot(ctx context.Context, e *estate.Estate, source string) (meta SnapshotMeta, created bool, err error)
	// GetSnapshot returns snapshot id (0: the latest). A tenant scope gets an
	// estate holding only that tenant's objects. ErrNotFound when absent.
	GetSnapshot(ctx context.Context, scope Scope, id int64) (*Snapshot, error)
	// ListSnapshots lists snapshots newest first (limit <= 0: 100).
	ListSnapshots(ctx context.Context, limit int) ([]SnapshotMeta, error)
	// DiffSnapshots compares two snapshots object by object (kind+id),
	// limited to the objects the scope may see.
	DiffSnapshots(ctx context.Context, scope Scope, from, to int64) (*SnapshotDiff, error)
	// ListTenants returns the tenants of the latest snapshot visible in scope,
	// sorted by id. Empty when no snapshot exists yet.
	ListTenants(ctx context.Context, scope Scope) ([]Tenant, error)
}

// SnapshotMeta describes one stored snapshot.
type SnapshotMeta struct {
	ID      int64     `json:"id"`
	Hash    string    `json:"hash"`   // hex SHA-256 of the position-free canonical content
	Source  string    `json:"source"` // e.g. "examples/harbourview", "upload by alice", "collect graph"
	Created time.Time `json:"created"`
	Tenants int       `json:"tenants"`
	Objects int       `json:"objects"`
}

// Snapshot is a stored estate.
type Snapshot struct {
	SnapshotMeta
	Estate *estate.Estate `json:"estate"`
}

// Tenant is a tenant's summary from the latest snapshot.
type Tenant struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Criticality string `json:"criticality,omitempty"`
	Sector      string `json:"sector,omitempty"`
	Endpoints   int    `json:"endpoints,omitempty"`
}

// Change kinds in diffs.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// ObjectChange is one estate object that differs between two snapshots.
// Kind is the estate collection ("tenants", "identities", "grants", ...).
type ObjectChange struct {
	Kind   string          `json:"kind"`
	ID     string          `json:"id"`
	Tenant string          `json:"tenant"` // owner: "msp" or a tenant id
	Change string          `json:"change"` // added, removed, changed
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// SnapshotDiff is the object-level difference of two snapshots, sorted by
// kind then id.
type SnapshotDiff struct {
	From    int64          `json:"from"`
	To      int64          `json:"to"`
	Changes []ObjectChange `json:"changes"`
}

// ---------------------------------------------------------------------------
// Assessment runs

// RunStore keeps assessment reports. Results and scores are tenant-owned by
// their Subject ("msp" results are visible to AllTenants scopes only).
type RunStore interface {
	// SaveRun stores a report (its results and scores); snapshotID may be 0.
	SaveRun(ctx context.Context, snapshotID int64, trigger string, r *assess.Report) (Run, error)
	// ListRuns lists runs newest first (limit <= 0: 100). For a tenant scope,
	// Scores holds only that tenant's score and the counts are the tenant's.
	ListRuns(ctx context.Context, scope Scope, limit int) ([]Run, error)
	// GetRun returns run id (0: the latest) with its report, results and
	// scores filtered to the scope.
	GetRun(ctx context.Context, scope Scope, id int64) (*Run, *assess.Report, error)
	// Results filters the results of one run (RunID 0: latest).
	Results(ctx context.Context, scope Scope, f ResultFilter) ([]assess.Result, error)
	// ScoreHistory returns a subject's score in each run, oldest first
	// (limit <= 0: 100 most recent).
	ScoreHistory(ctx context.Context, scope Scope, subject string, limit int) ([]ScorePoint, error)
	// DiffRuns returns every control×subject×object whose status differs
	// between run from and run to (drift: pass → fail).
	DiffRuns(ctx context.Context, scope Scope, from, to int64) ([]ResultChange, error)
}

// Run is one stored assessment.
type Run struct {
	ID         int64          `json:"id"`
	SnapshotID int64          `json:"snapshot_id,omitempty"`
	Trigger    string         `json:"trigger,omitempty"` // schedule, reload, manual, api
	At         time.Time      `json:"at"`                // Report.At
	Created    time.Time      `json:"created"`
	Provider   string         `json:"provider"`
	KEV        string         `json:"kev,omitempty"` // Report.KEV: the KEV catalog version judged by, "" none
	Pass       int            `json:"pass"`
	Fail       int            `json:"fail"`
	Other      int            `json:"other"`
	Scores     []assess.Score `json:"scores"` // MSP first, then tenants worst first (as reported)
}

// ResultFilter selects results; empty fields match everything.
type ResultFilter struct {
	RunID    int64  // 0: latest run
	Subject  string // "msp" or a tenant id
	Control  string
	Status   assess.Status
	Severity string
	Limit    int // <= 0: no limit
	Offset   int
	// Brief returns results without Evidence, Missing, Remediation,
	// Attestation and Exception (only Control, Title, Heading, Severity,
	// Subject, Object, Status, Message), several times faster: for
	// matrices and lists.
	Brief bool
}

// ScorePoint is a subject's score in one run.
type ScorePoint struct {
	RunID int64     `json:"run_id"`
	At    time.Time `json:"at"`
	assess.Score
}

// ResultChange is a status change of one control for one subject (and
// object) between two runs. From or To is "" when the result is absent on
// that side.
type ResultChange struct {
	Control  string        `json:"control"`
	Title    string        `json:"title"`
	Severity string        `json:"severity"`
	Subject  string        `json:"subject"`
	Object   string        `json:"object,omitempty"`
	From     assess.Status `json:"from"`
	To       assess.Status `json:"to"`
}

// Drift reports whether the change is a regression from pass to fail.
func (c ResultChange) Drift() bool {
	return c.From == assess.StatusPass && c.To == assess.StatusFail
}

// ---------------------------------------------------------------------------
// Blast radius

// BlastStore keeps blast-radius results: the whole JSON document (MSP
// scope only) plus ranking rows (filtered per tenant).
type BlastStore interface {
	// SaveBlast stores b and sets b.ID and b.Created.
	SaveBlast(ctx context.Context, b *BlastResult) error
	// GetBlast returns blast result id (0: latest). For a tenant scope JSON is
	// nil and Ranking holds only rows reaching that tenant, each with Tenants
	// reduced to that tenant.
	GetBlast(ctx context.Context, scope Scope, id int64) (*BlastResult, error)
}

// BlastResult is one blast-radius computation.
type BlastResult struct {
	ID         int64           `json:"id"`
	RunID      int64           `json:"run_id,omitempty"`
	SnapshotID int64           `json:"snapshot_id,omitempty"`
	Created    time.Time       `json:"created"`
	JSON       json.RawMessage `json:"result,omitempty"` // the trust engine's full result
	Ranking    []BlastRank     `json:"ranking"`
}

// BlastRank is one node of the single-points-of-failure ranking.
type BlastRank struct {
	Rank        int      `json:"rank"`
	Node        string   `json:"node"` // estate object id
	Kind        string   `json:"kind"` // identity, tool, group, vendor, asset
	Name        string   `json:"name,omitempty"`
	Score       float64  `json:"score"`
	TenantCount int      `json:"tenant_count"`
	Tenants     []string `json:"tenants"`
	Privilege   string   `json:"privilege,omitempty"` // highest privilege reached
}

// ---------------------------------------------------------------------------
// Events

// EventStore keeps normalized events with their raw line.
type EventStore interface {
	// AppendEvents writes a batch durably (committed and synced) before it
	// returns nil, and sets each record's ID and Received. Concurrent calls
	// may be committed together. Either the whole batch is stored or none of
	// it. When it returns an error the batch must be treated as not stored
	// (a client retry may then store it twice: delivery is at least once).
	AppendEvents(ctx context.Context, batch []EventRecord) error
	// SearchEvents returns events matching q in the scope, newest first
	// (by timestamp, then id).
	SearchEvents(ctx context.Context, scope Scope, q EventQuery) ([]EventRecord, error)
	// CountEvents counts events matching q (BeforeID ignored). With
	// q.Limit > 0 it stops counting at q.Limit (the result is then at most
	// q.Limit): a bounded count reads at most that many rows, however many
	// match (the events page says "more than 10,000").
	CountEvents(ctx context.Context, scope Scope, q EventQuery) (int64, error)
	// EventHistogram counts every event matching q (BeforeID and Limit
	// ignored) with from <= timestamp < to, per bucket: element i counts
	// [from+i*bucket, from+(i+1)*bucket), and there are ceil((to-from)/
	// bucket) elements (the last one ends at to). q.From and q.To narrow
	// the range further. bucket is at least a microsecond and the range
	// holds at most MaxHistogramBuckets buckets.
	EventHistogram(ctx context.Context, scope Scope, q EventQuery, from, to time.Time, bucket time.Duration) ([]int64, error)
	// PurgeEvents deletes events with a timestamp before cutoff and returns
	// how many were deleted (retention).
	PurgeEvents(ctx context.Context, before time.Time) (int64, error)
	// AuthSources summarises the authentication events (category
	// authentication) with a timestamp at or after since, per tenant,
	// dataset, host and failure: how many and the last one. It is the
	// stored truth serve judges FB-AUTH-004 from (it survives restarts).
	AuthSources(ctx context.Context, since time.Time) ([]AuthSourceStat, error)
}

// IdempotencyKeys is implemented by stores that keep the answers to
// requests sent with an Idempotency-Key (POST /api/v1/events; the SQL
// stores), shared by every replica of the API.
type IdempotencyKeys interface {
	// ClaimIdempotency records key of owner for a request whose query and
	// body hash to bodyHash, unless a record younger than IdempotencyTTL
	// exists (a record still in flight older than IdempotencyAbandoned is
	// taken over): fresh is true when this request is the key's first (answer
	// it, then FinishIdempotency or ReleaseIdempotency), else a is the
	// record (Status 0: its first request is still being answered).
	ClaimIdempotency(ctx context.Context, owner, key, bodyHash string, now time.Time) (a IdempotentAnswer, fresh bool, err error)
	// FinishIdempotency stores the answer to key's first request.
	FinishIdempotency(ctx context.Context, owner, key string, status int, response []byte) error
	// ProgressIdempotency records that the first committed events of the
	// key's body are stored (a claim in flight); a claim taking the key
	// over with the same body gets it in Committed and resumes after them.
	ProgressIdempotency(ctx context.Context, owner, key string, committed int) error
	// ReleaseIdempotency gives up an unanswered key (its request failed;
	// a retry is a first request again, resuming after what was
	// committed).
	ReleaseIdempotency(ctx context.Context, owner, key string) error
}

// IdempotentAnswer is the stored first answer to an Idempotency-Key.
type IdempotentAnswer struct {
	BodyHash string
	Status   int // 0: not answered yet
	Response string
	// Committed: events of the body already stored (a fresh claim taking
	// over an abandoned or released one of the same body).
	Committed int
}

// IdempotencyTTL is how long an Idempotency-Key's answer is kept.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyAbandoned is how old a claim still in flight (Status 0) is
// when it is taken to be abandoned — its process crashed, or its 503's
// release failed — and a new claim takes it over: longer than a request
// can run (the HTTP server's write timeout, 60 s by default).
const IdempotencyAbandoned = 2 * time.Minute

// DeploymentMarks is implemented by stores that keep facts about how their
// database is deployed, beyond any process's life (the SQL stores): a
// split deployment marks the database "split" (MarkSplit) so that a
// process without a bus refuses it even while no split process runs.
type DeploymentMarks interface {
	// SetMark records name with value at now unless it is recorded
	// already (the first one stands).
	SetMark(ctx context.Context, name, value string, now time.Time) error
	// Mark returns name's record (ok false: none).
	Mark(ctx context.Context, name string) (m DeploymentMark, ok bool, err error)
	// ClearMark removes name's record.
	ClearMark(ctx context.Context, name string) error
}

// DeploymentMark is one recorded fact of DeploymentMarks.
type DeploymentMark struct {
	Name, Value string
	At          time.Time
}

// MarkSplit names the mark of a database a split deployment uses.
const MarkSplit = "split"

// EventPublishLog is implemented by stores that record, in the
// transaction that stores a batch of events, that the batch is still to be
// published to the event stream (split roles): a NATS outage then delays
// detection instead of failing ingest, and a publisher sends the backlog
// in order once the stream is back. PostgreSQL implements it; SQLite's
// AppendEventsPending returns errors.ErrUnsupported (one process, no stream).
type EventPublishLog interface {
	// AppendEventsPending is AppendEvents that also records the batch
	// (its ids in order, and meta, opaque to the store) as not yet
	// published, in the same transaction; it returns the record's id.
	AppendEventsPending(ctx context.Context, batch []EventRecord, meta []byte) (int64, error)
	// PendingPublishes returns up to limit unpublished batches recorded
	// before before, oldest first, each with its events in batch order
	// (events retention already removed are left out).
	PendingPublishes(ctx context.Context, before time.Time, limit int) ([]PendingPublish, error)
	// DonePublishes removes published batches from the backlog.
	DonePublishes(ctx context.Context, ids []int64) error
	// PublishBacklog counts the unpublished batches and their events.
	PublishBacklog(ctx context.Context) (batches, events int64, err error)
}

// PendingPublish is a committed batch of events not yet published.
type PendingPublish struct {
	ID      int64
	Created time.Time
	Records []EventRecord
	Meta    []byte
}

// AuthSourceStat is one log source's authentication events, successes
// and failures apart.
type AuthSourceStat struct {
	Tenant  string
	Dataset string
	Host    string
	Failed  bool      // outcome failure
	Events  int64     // occurrences (an aggregated event counts its count)
	Last    time.Time // the newest event's timestamp
}

// EventRecord is one stored event.
type EventRecord struct {
	ID       int64       `json:"id"`
	Received time.Time   `json:"received"`
	Event    event.Event `json:"event"`
	Raw      string      `json:"raw,omitempty"` // the original line
}

// MaxHistogramBuckets bounds EventHistogram's buckets.
const MaxHistogramBuckets = 10000

// EventQuery filters events; empty fields match everything. Tenant narrows
// an AllTenants scope (it cannot widen a tenant scope).
type EventQuery struct {
	Tenant   string
	From, To time.Time // [From, To); zero: unbounded
	User     string    // user.name, exact
	SourceIP string    // source.ip, exact
	Dataset  string
	Host     string
	Outcome  string
	BeforeID int64 // keyset paging: only ids < BeforeID (0: none)
	Limit    int   // SearchEvents: <= 0: 100; capped at 10000. CountEvents: > 0 stops counting there
}

// ---------------------------------------------------------------------------
// Incidents

// Incident statuses.
const (
	StatusOpen         = "open"
	StatusAcknowledged = "acknowledged"
	StatusResolved     = "resolved"
)

// IncidentStore keeps incidents: one per attacker key, updated in place.
//
// Visibility: an incident is visible to a tenant scope when its Tenant is
// that tenant or that tenant is one of its Tenants. A tenant scope sees a
// cross-tenant incident with Tenants reduced to its own tenant and Detail
// withheld (nil), so no other customer is named.
type IncidentStore interface {
	// UpsertIncident inserts the incident or updates its detection fields
	// (title, severity, tenants, last, count, level, techniques, key, detail).
	// Status, assignee and notes are preserved, except that a resolved
	// incident whose Last moves forward is reopened. Returns whether it was
	// created and the stored incident.
	UpsertIncident(ctx context.Context, inc *Incident) (stored *Incident, created bool, err error)
	GetIncident(ctx context.Context, scope Scope, id string) (*Incident, error)
	// ListIncidents returns incidents, most recently active first.
	ListIncidents(ctx context.Context, scope Scope, f IncidentFilter) ([]Incident, error)
	// SetIncidentStatus moves an incident to open, acknowledged or resolved
	// and records who did it. ErrNotFound outside the scope.
	SetIncidentStatus(ctx context.Context, scope Scope, id, status, by string) (*Incident, error)
	// AssignIncident sets (or clears, with "") the assignee.
	AssignIncident(ctx context.Context, scope Scope, id, assignee string) (*Incident, error)
	// AddIncidentNote appends a note; At is set by the store when zero.
	AddIncidentNote(ctx context.Context, scope Scope, id string, n Note) (*Incident, error)
}

// Incident is the stored form of a detection incident.
type Incident struct {
	ID         string            `json:"id"`
	Tenant     string            `json:"tenant"`            // primary tenant ("" or "msp" for MSP-level)
	Tenants    []string          `json:"tenants,omitempty"` // every tenant involved
	Rule       string            `json:"rule"`
	Title      string            `json:"title"`
	Severity   string            `json:"severity"`
	Status     string            `json:"status"` // open, acknowledged, resolved
	Assignee   string            `json:"assignee,omitempty"`
	Notes      []Note            `json:"notes,omitempty"`
	First      time.Time         `json:"first"`
	Last       time.Time         `json:"last"`
	Count      int               `json:"count"`
	Level      int               `json:"level"`
	Techniques []string          `json:"techniques,omitempty"`
	Key        map[string]string `json:"key,omitempty"`
	Detail     json.RawMessage   `json:"detail,omitempty"` // e.g. sample events
	Created    time.Time         `json:"created"`
	// Updated is when the incident was last written; every write
	// increases it (by a microsecond when the clock has not moved on), so
	// it is also the incident's version: a cache of anything derived from
	// the row or its detail is current while Updated is the same.
	Updated  time.Time `json:"updated"`
	StatusBy string    `json:"status_by,omitempty"` // who last changed the status
	StatusAt time.Time `json:"status_at,omitzero"`
}

// Note is one analyst note on an incident.
type Note struct {
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

// IncidentFilter selects incidents; empty fields match everything.
type IncidentFilter struct {
	Tenant   string // narrows an AllTenants scope (matches Tenant or Tenants)
	Status   string
	Severity string
	Rule     string
	Since    time.Time // Last >= Since
	IDs      []string  // only these incidents (empty: any)
	Limit    int       // <= 0: 100
	Offset   int
	// Brief returns incidents without Notes and Detail (the sample events,
	// kilobytes each): for callers that count or group incidents by tenant
	// rather than show them.
	Brief bool
}

// ---------------------------------------------------------------------------
// Users, sessions, tokens

// Role of a user.
type Role string

const (
	RoleOwner        Role = "owner"         // everything, including users, tokens and settings
	RoleAnalyst      Role = "analyst"       // MSP-wide read and incident handling
	RoleTenantViewer Role = "tenant_viewer" // one tenant, read only
	// RoleTenantAttester is a tenant viewer who may also record
	// attestations and exceptions for the customer's side of the controls
	// of their tenant (issue 17).
	RoleTenantAttester Role = "tenant_attester"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	return r == RoleOwner || r == RoleAnalyst || r == RoleTenantViewer || r == RoleTenantAttester
}

// TenantBound reports whether the role sees exactly one tenant.
func (r Role) TenantBound() bool { return r == RoleTenantViewer || r == RoleTenantAttester }

// UserStore keeps local users. Users are MSP-level: list and change them only
// with an AllTenants scope (the server checks the owner role); lookups by
// username during login take no scope.
type UserStore interface {
	CreateUser(ctx context.Context, u *User) error // ErrConflict when the username is taken
	GetUser(ctx context.Context, username string) (*User, error)
	// ListUsers: AllTenants sees all users; a tenant scope sees that tenant's users.
	ListUsers(ctx context.Context, scope Scope) ([]User, error)
	// UpdateUser changes role, tenant, disabled and email (not secrets or counters).
	UpdateUser(ctx context.Context, u *User) error
	DeleteUser(ctx context.Context, username string) error
	// SetOIDCSubject links (or with "" unlinks) a single sign-on identity
	// (see User.OIDCSubject).
	SetOIDCSubject(ctx context.Context, username, subject string) error
	// SetPassword sets a user's password hash; mustChange marks it one-time
	// (set by someone else: it must be changed at the next sign-in).
	SetPassword(ctx context.Context, username, hash string, mustChange bool) error
	// SetTOTP stores the (encrypted) TOTP secret; enrolled marks enrolment
	// as confirmed. An empty secret clears TOTP. Resets the last used step.
	SetTOTP(ctx context.Context, username string, secret Secret, enrolled bool) error
	// UseTOTPStep atomically records step as used; ErrReplay when step is not
	// greater than the last step used (a replayed or older code).
	UseTOTPStep(ctx context.Context, username string, step int64) error
	// RecordLoginFailure increments the failure counter; when it reaches
	// maxFailures the account is locked until at+lockFor and the counter
	// resets. Returns the updated user.
	RecordLoginFailure(ctx context.Context, username string, at time.Time, maxFailures int, lockFor time.Duration) (*User, error)
	// RecordLoginSuccess clears failures and the lock and sets LastLogin.
	RecordLoginSuccess(ctx context.Context, username string, at time.Time) error
	// SetWebAuthn replaces the user's WebAuthn credentials document.
	SetWebAuthn(ctx context.Context, username string, creds json.RawMessage) error
}

// User is a local account. PasswordHash and TOTPSecret never serialise.
type User struct {
	Username     string          `json:"username"`
	Email        string          `json:"email,omitempty"`
	Role         Role            `json:"role"`
	Tenant       string          `json:"tenant,omitempty"` // for tenant_viewer
	PasswordHash string          `json:"-"`                // argon2id PHC string, made by the server
	TOTPSecret   Secret          `json:"-"`                // decrypted on read
	TOTPEnrolled bool            `json:"totp_enrolled"`
	TOTPLastStep int64           `json:"-"`
	FailedLogins int             `json:"failed_logins"`
	LockedUntil  time.Time       `json:"locked_until,omitzero"`
	WebAuthn     json.RawMessage `json:"-"`
	Disabled     bool            `json:"disabled"`
	// MustChangePassword: the password was set by someone else (bootstrap,
	// an administrator) and must be changed before anything else.
	MustChangePassword bool `json:"must_change_password"`
	// OIDCSubject is the single sign-on identity linked to the account
	// (issuer#subject, or entra:tid:oid); sign-in matches on it.
	OIDCSubject string    `json:"oidc_subject,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	LastLogin   time.Time `json:"last_login,omitzero"`
}

// LogValue keeps secrets out of logs.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("username", u.Username), slog.String("role", string(u.Role)), slog.String("tenant", u.Tenant))
}

// Scope is the user's scope.
func (u *User) Scope() Scope { return ScopeFor(u.Role, u.Tenant) }

// Locked reports whether the account is locked at time now.
func (u *User) Locked(now time.Time) bool { return now.Before(u.LockedUntil) }

// SessionStore keeps login sessions. The store is given the raw session
// token and keeps only its SHA-256 hash.
type SessionStore interface {
	// CreateSession stores s under the hash of token.
	CreateSession(ctx context.Context, token Secret, s *Session) error
	// GetSession returns the session for token; ErrNotFound when unknown,
	// ErrExpired when past Expires at time now.
	GetSession(ctx context.Context, token Secret, now time.Time) (*Session, error)
	// UpdateSession changes MFA, Expires, LastSeen and CSRF of a session.
	UpdateSession(ctx context.Context, token Secret, s *Session) error
	DeleteSession(ctx context.Context, token Secret) error
	// DeleteUserSessions logs a user out everywhere (password change, lockout).
	DeleteUserSessions(ctx context.Context, username string) error
	// PurgeSessions deletes sessions expired before now.
	PurgeSessions(ctx context.Context, now time.Time) (int64, error)
}

// Session is a login session.
type Session struct {
	Username string    `json:"username"`
	CSRF     Secret    `json:"-"`   // per-session CSRF token
	MFA      bool      `json:"mfa"` // second factor completed
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	LastSeen time.Time `json:"last_seen"`
	IP       string    `json:"ip,omitempty"`
	Agent    string    `json:"agent,omitempty"`
}

// TokenStore keeps API tokens (bearer tokens for ingest and the API). The
// store is given the raw token once and keeps only its SHA-256 hash.
type TokenStore interface {
	// CreateAPIToken stores t for raw; sets t.Created. t.ID must be unique.
	CreateAPIToken(ctx context.Context, raw Secret, t *APIToken) error
	// UseAPIToken looks a raw token up and records its use at time at
	// (LastUsed is written at most once a minute). ErrNotFound, ErrRevoked or
	// ErrExpired when it may not be used.
	UseAPIToken(ctx context.Context, raw Secret, at time.Time) (*APIToken, error)
	// ListAPITokens: AllTenants sees all tokens; a tenant scope sees tokens
	// bound to that tenant.
	ListAPITokens(ctx context.Context, scope Scope) ([]APIToken, error)
	RevokeAPIToken(ctx context.Context, scope Scope, id string, at time.Time) error
}

// Token permissions.
const (
	PermIngest = "events:write" // POST /api/v1/events
	PermRead   = "read"         // read the API within the token's scope
	// PermReadHeavy: with read, the reads whose cost grows with the data
	// (reports, diffs, event search, blast radius, estate export); a token
	// without it gets 403 there (least privilege, issue 10).
	PermReadHeavy = "read:heavy"
)

// APIToken is a bearer token's metadata.
type APIToken struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Prefix      string    `json:"prefix"`           // first characters of the token, for display
	Tenant      string    `json:"tenant,omitempty"` // "": all tenants
	Source      string    `json:"source,omitempty"` // "": any; else the event source/dataset this token may send
	Permissions []string  `json:"permissions"`
	CreatedBy   string    `json:"created_by,omitempty"`
	Created     time.Time `json:"created"`
	Expires     time.Time `json:"expires,omitzero"`
	LastUsed    time.Time `json:"last_used,omitzero"`
	Revoked     time.Time `json:"revoked,omitzero"`
}

// Scope is the token's tenant scope.
func (t *APIToken) Scope() Scope {
	if t.Tenant == "" {
		return AllTenants()
	}
	return TenantScope(t.Tenant)
}

// Can reports whether the token holds permission p.
func (t *APIToken) Can(p string) bool {
	for _, x := range t.Permissions {
		if x == p {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Notification targets

// Notification target kinds (see internal/notify).
const (
	TargetWebhook = "webhook"
	TargetSlack   = "slack"
	TargetTeams   = "teams"
	TargetSyslog  = "syslog"
	TargetSMTP    = "smtp"
)

// NotifyTargetStore keeps where alerts are sent. Config (which holds secrets:
// webhook signing keys, SMTP passwords) is encrypted at rest.
type NotifyTargetStore interface {
	// PutNotifyTarget inserts or replaces target t.ID (sets Created/Updated).
	PutNotifyTarget(ctx context.Context, scope Scope, t *NotifyTarget) error
	GetNotifyTarget(ctx context.Context, scope Scope, id string) (*NotifyTarget, error)
	// ListNotifyTargets: AllTenants sees all; a tenant scope sees its own.
	ListNotifyTargets(ctx context.Context, scope Scope) ([]NotifyTarget, error)
	DeleteNotifyTarget(ctx context.Context, scope Scope, id string) error
	// RecordDelivery counts a delivery attempt outcome (errText "" = success).
	RecordDelivery(ctx context.Context, id string, at time.Time, errText string) error
}

// NotifyTarget is a configured alert destination.
type NotifyTarget struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`             // webhook, slack, teams, syslog, smtp
	Tenant      string          `json:"tenant,omitempty"` // "": MSP-wide (all tenants' alerts); else that tenant's only
	MinSeverity string          `json:"min_severity,omitempty"`
	Enabled     bool            `json:"enabled"`
	Config      json.RawMessage `json:"-"` // kind-specific, holds secrets; never serialised
	Created     time.Time       `json:"created"`
	Updated     time.Time       `json:"updated"`
	Sent        int64           `json:"sent"`
	Failed      int64           `json:"failed"`
	LastError   string          `json:"last_error,omitempty"`
	LastAt      time.Time       `json:"last_at,omitzero"`
}

// LogValue keeps Config out of logs.
func (t NotifyTarget) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", t.ID), slog.String("kind", t.Kind), slog.String("name", t.Name))
}

// ---------------------------------------------------------------------------
// Audit log

// AuditStore keeps the append-only audit log. Each entry's Hash is
// SHA-256(PrevHash || canonical entry) (see AuditEntry.Canonical), so any
// change, removal or reordering of past entries breaks the chain.
type AuditStore interface {
	// AppendAudit appends e, setting Seq, At (when zero), PrevHash and Hash.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// ListAudit returns entries newest first. A tenant scope sees entries
	// whose Tenant is that tenant.
	ListAudit(ctx context.Context, scope Scope, f AuditFilter) ([]AuditEntry, error)
	// VerifyAudit walks the whole chain. It returns the number of entries
	// and the head hash, or an *AuditError naming the first broken entry.
	VerifyAudit(ctx context.Context) (entries int64, head string, err error)
}

// AuditEntry is one recorded change.
type AuditEntry struct {
	Seq      int64           `json:"seq"` // 1, 2, 3, ... with no gaps
	At       time.Time       `json:"at"`
	Actor    string          `json:"actor"`            // username, "token:<id>", or "system"
	Action   string          `json:"action"`           // e.g. user.create, incident.acknowledge, login.failure
	Target   string          `json:"target,omitempty"` // object acted on
	Tenant   string          `json:"tenant,omitempty"` // tenant concerned, if any
	IP       string          `json:"ip,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"` // compact JSON; never secrets
	PrevHash string          `json:"prev_hash"`        // hex; 64 zeros for the first entry
	Hash     string          `json:"hash"`             // hex
}

// AuditFilter selects audit entries.
type AuditFilter struct {
	Actor     string
	Action    string // exact, or a prefix ending in "." (e.g. "incident.")
	Since     time.Time
	BeforeSeq int64 // keyset paging (0: none)
	Limit     int   // <= 0: 100
}

// AuditError reports the first entry where the chain breaks.
type AuditError struct {
	Seq    int64
	Reason string
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("audit log broken at entry %d: %s", e.Seq, e.Reason)
}

// ---------------------------------------------------------------------------
// RateLimitStore counts attempts per key in fixed windows, shared by every
// process on the database (sign-in limits of a split deployment).
type RateLimitStore interface {
	// Hit counts one attempt for key at now and returns the attempts in the
	// current window (a window starts at the first attempt after the last
	// one ended). Windows that ended a day ago are purged now and then.
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
	// Count returns the attempts in key's current window without counting
	// one (0 when no window is open).
	Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
}

// Outbox

// OutboxStore keeps outbound deliveries that must reach another system
// once per change, across restarts: PSA tickets, one row per target and
// key (a finding or a case), and notifications, one row per target and
// alert (AddOutbox). Put records the desired state; a deliverer
// takes due rows, delivers them and acknowledges the version it delivered,
// so a restart neither loses nor repeats a change, and a row the other
// system rejects stays, retried, with its error visible.
type OutboxStore interface {
	// PutOutbox records its desired state. A new row starts at version 1;
	// a row whose kind, tenant or body changed gets version+1 and is due
	// at once; an unchanged row is left alone. Returns whether it changed.
	PutOutbox(ctx context.Context, it *OutboxItem) (changed bool, err error)
	// AddOutbox records a one-off delivery (a notification) unless a row
	// of that target and key exists already, whatever its body: the key
	// names the alert, so every replica or restart that raises the same
	// alert adds it once. Returns whether it was added.
	AddOutbox(ctx context.Context, it *OutboxItem) (added bool, err error)
	// DueOutbox returns up to limit rows of target not yet delivered at
	// their current version whose next attempt is at or before now,
	// least recently updated first.
	DueOutbox(ctx context.Context, target string, now time.Time, limit int) ([]OutboxItem, error)
	// AckOutbox records that version was delivered and, when remote is not
	// empty, the id the other system gave the item; it clears the error.
	AckOutbox(ctx context.Context, target, key string, version int64, remote string) error
	// ClaimOutbox is DueOutbox for deliverers that may run side by side
	// (replicas, a leader hand-over): it returns up to limit due rows of
	// target that no one else holds a live claim on and claims them for
	// owner until now+lease, in one statement (PostgreSQL: FOR UPDATE SKIP
	// LOCKED; SQLite: its single writer). AckOutbox and FailOutbox release
	// the claim; a deliverer that dies leaves its rows claimable again once
	// the lease has passed.
	ClaimOutbox(ctx context.Context, target, owner string, now time.Time, lease time.Duration, limit int) ([]OutboxItem, error)
	// FailOutbox records a failed attempt and when to try again.
	FailOutbox(ctx context.Context, target, key, errText string, next time.Time) error
	// ListOutbox lists rows in the scope (by tenant), newest change first.
	ListOutbox(ctx context.Context, scope Scope, f OutboxFilter) ([]OutboxItem, error)
	// PruneOutbox deletes the rows of targets named with prefix whose
	// current version was delivered and that have not changed since
	// before (one-off deliveries: notifications), and reports how many.
	PruneOutbox(ctx context.Context, prefix string, before time.Time) (int64, error)
}

// OutboxItem is one row of the outbox.
type OutboxItem struct {
	Target    string          `json:"target"` // configured target name, e.g. "connectwise"
	Key       string          `json:"key"`    // e.g. "finding/tenant-a/MFA-01/user-x" or "incident/3f2a…"
	Kind      string          `json:"kind"`   // finding, incident, case
	Tenant    string          `json:"tenant,omitempty"`
	Body      json.RawMessage `json:"body"`    // the desired state (the target's own format)
	Version   int64           `json:"version"` // changes of Body so far
	Sent      int64           `json:"sent"`    // version last delivered (0: never)
	Remote    string          `json:"remote,omitempty"`
	Attempts  int             `json:"attempts"` // failed attempts at the current version
	LastError string          `json:"last_error,omitempty"`
	NextAt    time.Time       `json:"next_at,omitzero"`
	// ClaimedBy holds the row until ClaimedUntil (ClaimOutbox).
	ClaimedBy    string    `json:"claimed_by,omitempty"`
	ClaimedUntil time.Time `json:"claimed_until,omitzero"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
}

// Pending reports a row whose current version was not delivered yet.
func (it *OutboxItem) Pending() bool { return it.Sent < it.Version }

// OutboxFilter selects outbox rows; zero fields match everything.
type OutboxFilter struct {
	Target  string
	Pending bool // only rows not delivered at their current version
	Failing bool // only rows whose last attempt failed
	Limit   int  // <= 0: 100; capped at 10000
}

// ---------------------------------------------------------------------------
// Attestations (issue 17)

// AttestStore keeps signed posture attestations (one DSSE envelope per
// tenant and run) and the claims recorded in the dashboard: attestations
// of controls, exceptions and reviewed contract clauses.
type AttestStore interface {
	// SavePosture stores p and sets p.ID and p.Created.
	SavePosture(ctx context.Context, p *Posture) error
	// ListPostures lists tenant's postures newest first (limit <= 0: 100),
	// without their envelopes. A scope that does not allow tenant sees none.
	ListPostures(ctx context.Context, scope Scope, tenant string, limit int) ([]Posture, error)
	// GetPosture returns posture id with its envelope; ErrNotFound when it
	// does not exist or the scope does not allow its tenant.
	GetPosture(ctx context.Context, scope Scope, id int64) (*Posture, error)

	// PutClaim stores a new claim and sets c.ID and c.Created.
	PutClaim(ctx context.Context, c *Claim) error
	// ListClaims lists claims in the scope, newest first, without evidence
	// bytes.
	ListClaims(ctx context.Context, scope Scope, f ClaimFilter) ([]Claim, error)
	// GetClaim returns claim id with its evidence bytes.
	GetClaim(ctx context.Context, scope Scope, id int64) (*Claim, error)
	// RevokeClaim marks claim id revoked by whom at when; ErrNotFound when
	// it does not exist, is out of scope or is already revoked.
	RevokeClaim(ctx context.Context, scope Scope, id int64, by string, at time.Time) error
}

// Posture is one signed posture attestation.
type Posture struct {
	ID       int64     `json:"id"`
	Tenant   string    `json:"tenant"`
	RunID    int64     `json:"run_id"`
	KeyID    string    `json:"key_id"`
	Issued   time.Time `json:"issued"`
	Expires  time.Time `json:"expires"`
	Created  time.Time `json:"created"`
	Envelope []byte    `json:"-"`
}

// Claim kinds.
const (
	ClaimAttestation = "attestation" // a control attested by a person
	ClaimException   = "exception"   // a failing control accepted until expiry
	ClaimContract    = "contract"    // reviewed contract clauses (Body: JSON)
)

// Claim is one statement recorded in the dashboard. Tenant is a tenant id
// or "msp" for the MSP's own controls.
type Claim struct {
	ID      int64     `json:"id"`
	Kind    string    `json:"kind"`
	Tenant  string    `json:"tenant"`
	Control string    `json:"control,omitempty"`
	Body    string    `json:"body"` // statement, reason, or contract JSON
	By      string    `json:"by"`
	Owner   string    `json:"owner,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"`

	EvidenceName   string `json:"evidence_name,omitempty"`
	EvidenceSHA256 string `json:"evidence_sha256,omitempty"`
	Evidence       []byte `json:"-"`

	Revoked   time.Time `json:"revoked,omitzero"`
	RevokedBy string    `json:"revoked_by,omitempty"`
}

// Active reports whether the claim holds at t: not revoked and not expired.
func (c *Claim) Active(t time.Time) bool {
	return c.Revoked.IsZero() && (c.Expires.IsZero() || t.Before(c.Expires))
}

// ClaimFilter selects claims; zero fields match everything.
type ClaimFilter struct {
	Tenant string
	Kind   string
	// ActiveAt, when set, keeps only claims active at that time.
	ActiveAt time.Time
	Limit    int // <= 0: 1000
}

// ECS returns the incident as an ECS alert document's data (event.Alert),
// the form the API and the SIEM export write.
func (inc *Incident) ECS() event.Alert {
	a := event.Alert{ID: inc.ID, Dataset: "firebreak.incident", Time: inc.Updated, Start: inc.First, End: inc.Last,
		RuleID: inc.Rule, Title: inc.Title, Severity: inc.Severity, Tenant: inc.Tenant, Tenants: inc.Tenants,
		Count: int64(inc.Count), Techniques: inc.Techniques, Key: inc.Key, Status: inc.Status, Extra: inc.Detail,
		Assignee: inc.Assignee}
	for _, n := range inc.Notes {
		a.Notes = append(a.Notes, event.AlertNote{At: n.At, Author: n.Author, Text: n.Text})
	}
	return a
}

// ---------------------------------------------------------------------------
// Remediation queue (issue 15)

// Remediation states.
const (
	RemediationOpen       = "open"
	RemediationInProgress = "in_progress"
	RemediationDone       = "done"
)

// RemediationStore keeps the remediation queue: the steps of the blast
// plan ("fix first") with an owner, a due date and a state. Steps are
// MSP-level; a tenant scope sees the steps that make its tenant safer.
type RemediationStore interface {
	// SyncRemediation records the plan of run runID: each step is upserted
	// by Key (rank, action, tenants, gain, proof and controls refreshed;
	// owner, due and state kept, a done step reopened). A step of an
	// earlier plan missing from this one is done at at when the controls
	// it fixes pass on this run's assessment; one named in stillFailing
	// (key → the controls that still fail) stays as it is, its controls
	// narrowed to those (the plan dropped it, the control is not fixed).
	SyncRemediation(ctx context.Context, runID int64, steps []Remediation, stillFailing map[string][]string, at time.Time) error
	// ListRemediation lists steps in the scope by rank (not done first).
	ListRemediation(ctx context.Context, scope Scope, f RemediationFilter) ([]Remediation, error)
	// UpdateRemediation sets a step's owner, due date and state
	// (AllTenants scope only; ErrNotFound otherwise or when absent,
	// ErrInvalid for an unknown state).
	UpdateRemediation(ctx context.Context, scope Scope, key, owner string, due time.Time, state string) (*Remediation, error)
}

// Remediation is one step of the remediation queue.
type Remediation struct {
	Key      string    `json:"key"`
	Rank     int       `json:"rank"`
	Action   string    `json:"action"`
	Tenants  []string  `json:"tenants"`  // tenants the step makes safer
	Gain     int       `json:"gain"`     // exposure removed (reaches above the limit)
	Proof    string    `json:"proof"`    // one path the step cuts
	Controls []string  `json:"controls"` // failing controls on the objects it changes
	Owner    string    `json:"owner,omitempty"`
	Due      time.Time `json:"due,omitzero"`
	State    string    `json:"state"`
	RunID    int64     `json:"run_id"` // the run whose plan last listed it
	DoneAt   time.Time `json:"done_at,omitzero"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// RemediationFilter selects steps; zero fields match everything.
type RemediationFilter struct {
	Tenant string // steps that make this tenant safer
	Open   bool   // only steps not done
}
