// Package sqlstore is the SQL implementation of store.Store shared by the
// SQLite and PostgreSQL stores. It speaks database/sql with "?"
// placeholders (rebound to $n for PostgreSQL) and portable SQL (ON CONFLICT,
// RETURNING, SUBSTR); the dialect packages supply the connections, the
// schema (store/migrations) and the event bulk writer.
//
// Imported only by store/sqlite and store/postgres.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// Config wires a dialect into the shared implementation.
type Config struct {
	Dialect string  // "sqlite" or "postgres"
	W       *sql.DB // writes (SQLite: one connection)
	R       *sql.DB // reads (may equal W)
	// AppendEvents writes a batch durably; records already carry Received
	// and truncated timestamps; it must set IDs.
	AppendEvents func(ctx context.Context, batch []store.EventRecord) error
	// AppendPending, when set, is AppendEvents that also inserts the
	// batch's row in event_publish (PendingIDs, meta) in the same
	// transaction and returns the row's id (store.EventPublishLog).
	AppendPending func(ctx context.Context, batch []store.EventRecord, meta []byte) (int64, error)
	// PurgeEvents, when set, replaces the chunked DELETE of PurgeEvents
	// (PostgreSQL drops daily partitions).
	PurgeEvents func(ctx context.Context, before time.Time) (int64, error)
	// Lock, when set, is executed first in transactions that must be
	// serialised across processes (audit append).
	Lock    string
	OnClose func() error
	Box     *store.SecretBox // nil: secrets in the clear
	Options store.Options
}

// DB implements store.Store.
type DB struct {
	cfg    Config
	w, r   *sql.DB
	log    *slog.Logger
	now    func() time.Time
	pg     bool
	mu     sync.Mutex
	closed bool
	qcache sync.Map // string -> rebound string
	snaps  snapCache
}

var _ store.Store = (*DB)(nil)

// New returns a store over cfg. The schema must already be migrated.
func New(cfg Config) *DB {
	d := &DB{cfg: cfg, w: cfg.W, r: cfg.R, pg: cfg.Dialect == "postgres"}
	if d.r == nil {
		d.r = d.w
	}
	d.log = cfg.Options.Logger
	if d.log == nil {
		d.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d.now = cfg.Options.Now
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// Dialect implements store.Store.
func (d *DB) Dialect() string { return d.cfg.Dialect }

// Ping implements store.Store.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.check(); err != nil {
		return err
	}
	return d.r.PingContext(ctx)
}

// SchemaVersion implements store.Store.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := d.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// Close implements store.Store.
func (d *DB) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	d.mu.Unlock()
	if d.cfg.OnClose != nil {
		return d.cfg.OnClose()
	}
	return nil
}

func (d *DB) check() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return store.ErrClosed
	}
	return nil
}

// q rebinds "?" placeholders to $n for PostgreSQL.
func (d *DB) q(s string) string {
	if !d.pg {
		return s
	}
	if v, ok := d.qcache.Load(s); ok {
		return v.(string)
	}
	r := Rebind(s)
	d.qcache.Store(s, r)
	return r
}

// Rebind turns each "?" into $1, $2, ...
func Rebind(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 16)
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (d *DB) forUpdate() string {
	if d.pg {
		return " FOR UPDATE"
	}
	return ""
}

// stamp is the store's clock, truncated to the stored precision.
func (d *DB) stamp() time.Time { return d.now().UTC().Truncate(time.Microsecond) }

// tx runs fn in a write transaction, committing when fn returns nil.
func (d *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := d.check(); err != nil {
		return err
	}
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Micros is the stored form of a time: unix microseconds, 0 when zero.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros is the inverse of Micros (UTC).
func FromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "null"
	}
	return string(b)
}

func noRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// isUnique reports a unique-constraint violation in either dialect.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "SQLSTATE 23505") || strings.Contains(s, "duplicate key value")
}

// placeholders returns "(?,?,...),(?,...)" for rows×cols.
func placeholders(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}

// scopeCond returns a condition on column col for the scope and its args.
// A scope that matches nothing yields "1=0".
func scopeCond(s store.Scope, col string) (string, []any) {
	switch {
	case s.AllTenants:
		return "1=1", nil
	case s.Tenant != "":
		return col + " = ?", []any{s.Tenant}
	}
	return "1=0", nil
}

// queryAll runs a read query on the reader pool and scans every row with
// scan; what is an error and an empty result are the same for every list
// (an empty, non-nil slice when no row matches). what names the list in
// errors ("listing claims").
func queryAll[T any](ctx context.Context, d *DB, what, query string, args []any, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	rows, err := d.r.QueryContext(ctx, d.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
