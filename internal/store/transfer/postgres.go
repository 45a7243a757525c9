package transfer

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/migrations"
)

// sealedColumns are the columns holding secrets sealed with the store's
// key (store.SecretBox); a migration opens them with the source key and
// seals them again with the target's.
var sealedColumns = map[string]string{
	"users":          "totp_secret",
	"notify_targets": "config",
}

// MigrateOptions tune ToPostgres.
type MigrateOptions struct {
	// From and To seal secrets at rest in the source and the target (nil:
	// stored in the clear, as a PostgreSQL store without a key does).
	From, To *store.SecretBox
	Now      func() time.Time
	// Progress, when set, is told after each table.
	Progress func(table string, rows int64)
}

// MigrateStats counts what ToPostgres moved.
type MigrateStats struct {
	Tables  int              `json:"tables"`
	Rows    int64            `json:"rows"`
	ByTable map[string]int64 `json:"by_table"`
	Seconds float64          `json:"seconds"`
	Schema  int              `json:"schema_version"`
}

// ToPostgres copies the SQLite store in dataDir into the PostgreSQL
// database at pgURL, which must be empty (no tables in its current schema):
// it creates the schema and copies every table with COPY, in one
// transaction, so a failure leaves the database as empty as it found it.
// The source is read in one read transaction (a consistent snapshot; rows
// written after it started are not moved — stop serve first). Secrets are
// re-sealed for the target's key, and the id sequences are moved past the
// copied rows.
func ToPostgres(ctx context.Context, dataDir, pgURL string, o MigrateOptions) (MigrateStats, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	st := MigrateStats{ByTable: map[string]int64{}}
	srcPath := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(srcPath); err != nil {
		return st, fmt.Errorf("migrating %s: no store there: %w", dataDir, err)
	}
	src, err := openSQLite(srcPath, true)
	if err != nil {
		return st, err
	}
	defer func() { _ = src.Close() }()
	have, err := migrations.Current(ctx, src)
	if err != nil {
		return st, err
	}
	latestSQLite, err := migrations.Latest("sqlite")
	if err != nil {
		return st, err
	}
	pgMigs, err := migrations.List("postgres")
	if err != nil {
		return st, err
	}
	switch {
	case have > latestSQLite:
		return st, fmt.Errorf("migrating %s: %w: version %d, this binary knows %d", dataDir, migrations.ErrNewerSchema, have, latestSQLite)
	case have < latestSQLite:
		return st, fmt.Errorf("migrating %s: the store is at schema %d, this binary's is %d: open it once with this firebreak (serve, or any verb using --data-dir) to upgrade it, then migrate", dataDir, have, latestSQLite)
	case have != len(pgMigs):
		return st, fmt.Errorf("migrating: sqlite schema %d and postgres schema %d differ in this binary", have, len(pgMigs))
	}
	st.Schema = have

	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return st, fmt.Errorf("connecting to postgres: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var existing []string
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		return st, fmt.Errorf("listing tables of the target: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return st, err
		}
		existing = append(existing, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	if len(existing) > 0 {
		show := existing[:min(5, len(existing))]
		return st, fmt.Errorf("migrating into %s: %w: its schema already has %d tables (%s); migrate only into an empty database", redactURL(pgURL), ErrNotEmpty, len(existing), strings.Join(show, ", "))
	}

	// A consistent snapshot of the source across tables.
	rtx, err := src.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, err
	}
	defer rtx.Rollback()
	tables, err := SQLiteTables(ctx, rtx)
	if err != nil {
		return st, err
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return st, err
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, migrations.SchemaTable); err != nil {
		return st, fmt.Errorf("creating schema_migrations: %w", err)
	}
	for _, m := range pgMigs {
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return st, fmt.Errorf("applying migration postgres/%s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)`, m.Version, m.Name, now().UnixMicro()); err != nil {
			return st, err
		}
	}
	for _, t := range tables {
		n, err := copyTable(ctx, rtx, tx, t, o)
		if err != nil {
			return st, fmt.Errorf("copying table %s: %w", t, err)
		}
		st.Tables++
		st.Rows += n
		st.ByTable[t] = n
		if o.Progress != nil {
			o.Progress(t, n)
		}
	}
	if err := fixSequences(ctx, tx); err != nil {
		return st, err
	}
	if err := tx.Commit(ctx); err != nil {
		return st, fmt.Errorf("committing migration: %w", err)
	}
	st.Seconds = now().Sub(start).Seconds()
	return st, nil
}

// SQLiteTables lists a SQLite store's tables in creation order (parents
// before the tables that reference them), as migrate copies them; q is a
// *sql.DB or *sql.Tx.
func SQLiteTables(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT IN ('schema_migrations', '`+manifestTable+`') ORDER BY rowid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

type pgColumn struct{ name, typ string }

func copyTable(ctx context.Context, rtx *sql.Tx, tx pgx.Tx, table string, o MigrateOptions) (int64, error) {
	var cols []pgColumn
	rows, err := tx.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var c pgColumn
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			rows.Close()
			return 0, err
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) == 0 {
		return 0, fmt.Errorf("no such table in the postgres schema")
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
	}
	srcCols, err := sqliteColumns(ctx, rtx, table)
	if err != nil {
		return 0, err
	}
	if !slices.Equal(sortedCopy(srcCols), sortedCopy(names)) {
		return 0, fmt.Errorf("columns differ: sqlite %v, postgres %v", srcCols, names)
	}
	q := `SELECT "` + strings.Join(names, `", "`) + `" FROM "` + table + `"`
	r, err := rtx.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	sealed := -1
	if c, ok := sealedColumns[table]; ok {
		sealed = slices.Index(names, c)
	}
	src := &rowSource{rows: r, cols: cols, vals: make([]any, len(cols)), ptrs: make([]any, len(cols)), sealed: sealed, o: o}
	for i := range src.vals {
		src.ptrs[i] = &src.vals[i]
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, names, src)
	if err != nil {
		return n, err
	}
	return n, src.err
}

func sqliteColumns(ctx context.Context, rtx *sql.Tx, table string) ([]string, error) {
	rows, err := rtx.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// rowSource streams SQLite rows into COPY, converting each value to the Go
// type pgx encodes for the target column's type.
type rowSource struct {
	rows   *sql.Rows
	cols   []pgColumn
	vals   []any
	ptrs   []any
	sealed int
	o      MigrateOptions
	err    error
	row    int64
}

func (s *rowSource) Next() bool {
	if s.err != nil || !s.rows.Next() {
		return false
	}
	if err := s.rows.Scan(s.ptrs...); err != nil {
		s.err = err
		return false
	}
	s.row++
	return true
}

func (s *rowSource) Values() ([]any, error) {
	out := make([]any, len(s.vals))
	for i, v := range s.vals {
		c, err := convert(v, s.cols[i].typ)
		if err != nil {
			return nil, fmt.Errorf("row %d column %s: %w", s.row, s.cols[i].name, err)
		}
		out[i] = c
	}
	if s.sealed >= 0 {
		if str, ok := out[s.sealed].(string); ok && str != "" {
			pt, err := s.o.From.Open(str)
			if err != nil {
				return nil, fmt.Errorf("row %d: opening sealed %s with the source key (is secret.key the one this store was created with?): %w", s.row, s.cols[s.sealed].name, err)
			}
			if out[s.sealed], err = s.o.To.Seal(pt); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (s *rowSource) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.rows.Err()
}

func convert(v any, pgType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch pgType {
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			return int64(x), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "double precision", "real", "numeric":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
	case "boolean":
		switch x := v.(type) {
		case int64:
			return x != 0, nil
		case bool:
			return x, nil
		}
	case "text", "character varying":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case int64, float64:
			return fmt.Sprint(x), nil
		}
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("cannot store %T as %s", v, pgType)
}

// fixSequences moves every serial column's sequence past the copied ids.
func fixSequences(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'`)
	if err != nil {
		return err
	}
	type tc struct{ t, c string }
	var list []tc
	for rows.Next() {
		var x tc
		if err := rows.Scan(&x.t, &x.c); err != nil {
			rows.Close()
			return err
		}
		list = append(list, x)
	}
	rows.Close()
	for _, x := range list {
		q := fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE((SELECT MAX("%s") FROM "%s"), 0) + 1, false)`, x.t, x.c, x.c, x.t)
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("moving sequence of %s.%s: %w", x.t, x.c, err)
		}
	}
	return nil
}

// redactURL drops a password from a connection URL for messages.
func redactURL(u string) string {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return "the target database"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
