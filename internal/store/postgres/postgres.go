// Package postgres is firebreak's PostgreSQL store (pgx/v5 with pgxpool),
// for MSPs that outgrow one machine. Schema changes are serialised across
// processes by an advisory lock; events are bulk-loaded with COPY, and a
// batch is acknowledged only after its COPY has committed (with the server's
// default synchronous_commit=on, i.e. flushed to the WAL on disk). Events
// are partitioned by day and purged by dropping partitions (partitions.go).
//
// The schema used is the connection's search_path, so one database can hold
// several firebreak instances (the conformance tests use one schema per test).
//
// Imported by the server and the CLI.
package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/migrations"
	"github.com/firebreak-msp/firebreak/internal/store/sqlstore"
)

// Advisory lock keys (arbitrary, fixed).
const (
	lockMigrate = 0x46b0001
	lockAudit   = 0x46b0002
)

// Open connects to url (postgres://…) with default options.
func Open(ctx context.Context, url string) (store.Store, error) {
	return OpenWith(ctx, url, store.Options{})
}

// OpenWith connects to url and applies pending migrations.
func OpenWith(ctx context.Context, url string, opts store.Options) (store.Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("opening postgres store %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	db := stdlib.OpenDBFromPool(pool)
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if _, err := migrations.Apply(ctx, db, "postgres", fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", lockMigrate), now()); err != nil {
		_ = db.Close()
		pool.Close()
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	if err := ensurePartitions(ctx, pool, now(), spanOf(opts)); err != nil {
		_ = db.Close()
		pool.Close()
		return nil, fmt.Errorf("opening postgres store: %w", err)
	}
	var box *store.SecretBox
	if len(opts.SecretKey) > 0 {
		if box, err = store.NewSecretBox(opts.SecretKey); err != nil {
			_ = db.Close()
			pool.Close()
			return nil, fmt.Errorf("opening postgres store: %w", err)
		}
	} else if opts.Logger != nil {
		opts.Logger.Warn("postgres store: no secret key configured; TOTP seeds and notification secrets are stored unencrypted")
	}
	p := &pg{pool: pool, now: now, days: map[int64]bool{}, sp: spanOf(opts)}
	return sqlstore.New(sqlstore.Config{
		Dialect:      "postgres",
		W:            db,
		R:            db,
		AppendEvents: p.appendEvents,
		AppendPending: func(ctx context.Context, batch []store.EventRecord, meta []byte) (int64, error) {
			return p.appendEventsPending(ctx, batch, meta, time.Now) // the backlog ages by the wall clock
		},
		PurgeEvents: func(ctx context.Context, before time.Time) (int64, error) {
			p.purged.Store(before.UnixMicro())
			return purgeEvents(ctx, pool, before, now(), spanOf(opts))
		},
		Lock:    fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", lockAudit),
		Box:     box,
		Options: opts,
		OnClose: func() error {
			err := db.Close()
			pool.Close()
			return err
		},
	}), nil
}

type pg struct {
	pool *pgxpool.Pool
	now  func() time.Time
	sp   span
	// days (guarded by mu) are the UTC days (Unix seconds of midnight) a
	// batch needed that were checked: they have a partition, or their
	// events stay in events_default (see ensureDays). purged is the last
	// retention cutoff (Unix µs; 0: none yet).
	mu     sync.Mutex
	days   map[int64]bool
	purged atomic.Int64
}

// appendEvents reserves ids from the sequence, then COPYs the batch in one
// transaction.
func (p *pg) appendEvents(ctx context.Context, batch []store.EventRecord) error {
	_, err := p.appendEventsPending(ctx, batch, nil, nil)
	return err
}

// appendEventsPending is appendEvents; with now set it also records the
// batch in the publish backlog (event_publish) in the same transaction and
// returns that row's id.
func (p *pg) appendEventsPending(ctx context.Context, batch []store.EventRecord, meta []byte, now func() time.Time) (int64, error) {
	if err := p.ensureDays(ctx, batch); err != nil {
		return 0, err
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	rows, err := tx.Query(ctx, `SELECT nextval('events_id_seq') FROM generate_series(1, $1)`, len(batch))
	if err != nil {
		return 0, err
	}
	i := 0
	for rows.Next() {
		if err := rows.Scan(&batch[i].ID); err != nil {
			rows.Close()
			return 0, err
		}
		i++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	src := make([][]any, len(batch))
	for i := range batch {
		src[i] = noNUL(sqlstore.EventRow(make([]any, 0, len(sqlstore.EventColumns)), &batch[i]))
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"events"}, sqlstore.EventColumns, pgx.CopyFromRows(src)); err != nil {
		clearIDs(batch)
		return 0, err
	}
	var pid int64
	if now != nil {
		err := tx.QueryRow(ctx, `INSERT INTO event_publish (created, events, ids, meta) VALUES ($1, $2, $3, $4) RETURNING id`,
			sqlstore.Micros(now()), len(batch), sqlstore.PendingIDs(batch), string(meta)).Scan(&pid)
		if err != nil {
			clearIDs(batch)
			return 0, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		clearIDs(batch)
		return 0, err
	}
	return pid, nil
}

// noNUL replaces NUL in the text values of row by U+FFFD: PostgreSQL's
// text refuses NUL ("invalid byte sequence 0x00"), which failed the whole
// batch, and the sender's retries, forever. The event is kept rather than
// skipped: a NUL in a user name must not hide a sign-in from detection.
func noNUL(row []any) []any {
	for j, v := range row {
		if s, ok := v.(string); ok && strings.IndexByte(s, 0) >= 0 {
			row[j] = strings.ReplaceAll(s, "\x00", "\uFFFD")
		}
	}
	return row
}

func clearIDs(batch []store.EventRecord) {
	for i := range batch {
		batch[i].ID = 0
	}
}
