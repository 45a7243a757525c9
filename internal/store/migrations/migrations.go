// Package migrations holds firebreak's schema as embedded, versioned,
// forward-only SQL files, one set per dialect (sqlite/, postgres/), and
// applies the pending ones in a single transaction.
//
// Files are named NNNN_description.sql; a version once released is never
// edited, only followed by a new file. Imported by the store implementations.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// ErrNewerSchema is returned when a database was migrated by a newer
// firebreak than this binary: it refuses to touch it rather than run an old
// program on a schema it does not know.
var ErrNewerSchema = errors.New("database schema is newer than this binary knows")

// SchemaTable creates the table that records applied migrations (the same
// statement for both dialects).
const SchemaTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name    TEXT    NOT NULL,
  applied BIGINT  NOT NULL
)`

// Latest is the newest schema version this binary knows for a dialect.
func Latest(dialect string) (int, error) {
	ms, err := List(dialect)
	return len(ms), err
}

// Current reads a database's schema version: 0 for a database firebreak has
// never migrated (no schema_migrations table).
func Current(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&n)
	if err != nil {
		var exists int
		// Tell "no table" from a real error without dialect-specific codes.
		if db.QueryRowContext(ctx, `SELECT 1 FROM schema_migrations WHERE 1 = 0`).Scan(&exists) != nil {
			return 0, nil
		}
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return n, nil
}

// Migration is one schema version.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// List returns a dialect's migrations in version order.
func List(dialect string) ([]Migration, error) {
	entries, err := fs.ReadDir(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("unknown dialect %q: %w", dialect, err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_description.sql", dialect, name)
		}
		b, err := files.ReadFile(path.Join(dialect, name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s/%s: expected version %d (no gaps, no duplicates)", dialect, m.Name, i+1)
		}
	}
	return out, nil
}

// Apply brings db to the latest schema version, applying every pending
// migration (and recording it in schema_migrations) in one transaction:
// either all apply or none. lock, when not empty, is run first inside the
// transaction to serialise concurrent migrators (PostgreSQL advisory lock).
// It returns the resulting version.
func Apply(ctx context.Context, db *sql.DB, dialect, lock string, now time.Time) (int, error) {
	ms, err := List(dialect)
	if err != nil {
		return 0, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("beginning migration: %w", err)
	}
	defer tx.Rollback()
	if lock != "" {
		if _, err := tx.ExecContext(ctx, lock); err != nil {
			return 0, fmt.Errorf("locking for migration: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, SchemaTable); err != nil {
		return 0, fmt.Errorf("creating schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	if current > len(ms) {
		return current, fmt.Errorf("%w: version %d, this binary knows %d: upgrade firebreak (or restore a backup made by this version)", ErrNewerSchema, current, len(ms))
	}
	ins := `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`
	if dialect == "postgres" {
		ins = `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`
	}
	for _, m := range ms[current:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return current, fmt.Errorf("applying migration %s/%s: %w", dialect, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, ins, m.Version, m.Name, now.UnixMicro()); err != nil {
			return current, fmt.Errorf("recording migration %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return current, fmt.Errorf("committing migrations: %w", err)
	}
	return len(ms), nil
}
