package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/transfer"
)

type migrateOptions struct {
	dataDir string
	to      string
	format  string
}

func (o *migrateOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.dataDir, "data-dir", dataDirDefault(), "data directory of the SQLite store to move (env FIREBREAK_DATA_DIR)")
	fs.StringVar(&o.to, "to", "", "PostgreSQL `URL` of an empty database (postgres://user@host/db)")
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text or json")
}

func newMigrateCommand(g *globalOptions) *cobra.Command {
	var o migrateOptions
	cmd := &cobra.Command{
		Use:   "migrate --to postgres://…",
		Short: "Move a SQLite store into an empty PostgreSQL database",
		Long: `migrate copies every table of the SQLite store in the data directory into an
empty PostgreSQL database with COPY, in one transaction: either everything
arrives or the database is left as empty as it was. It refuses a database
whose schema already has tables. Secrets sealed at rest (TOTP seeds,
notification settings) are re-sealed for PostgreSQL with the key serve uses
there: FIREBREAK_SECRET_KEY, else DATA_DIR/secret.key. Stop serve first (rows
written after the copy starts are not moved), then start serve with
--database URL (and the same data directory or FIREBREAK_SECRET_KEY).`,
		Example: `  firebreak migrate --data-dir /var/lib/firebreak --to postgres://firebreak@db.internal/firebreak`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return runMigrate(cmd.Context(), o, g) },
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runMigrate(ctx context.Context, o migrateOptions, g *globalOptions) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	if !strings.HasPrefix(o.to, "postgres://") && !strings.HasPrefix(o.to, "postgresql://") {
		return usageError{errors.New("migrate needs --to postgres://user@host/database")}
	}
	if _, err := os.Stat(filepath.Join(o.dataDir, "firebreak.db")); err != nil {
		return usageError{fmt.Errorf("no SQLite store in %s (--data-dir): %w", o.dataDir, err)}
	}
	// The SQLite store seals with its key file's text; the PostgreSQL store
	// with the decoded key serve uses (secretKey).
	raw, err := os.ReadFile(filepath.Join(o.dataDir, "secret.key"))
	if err != nil {
		return fmt.Errorf("reading the SQLite store's secret key: %w", err)
	}
	from, err := store.NewSecretBox([]byte(strings.TrimSpace(string(raw))))
	if err != nil {
		return err
	}
	key, err := secretKey(o.dataDir)
	if err != nil {
		return err
	}
	to, err := store.NewSecretBox(key)
	if err != nil {
		return err
	}
	opts := transfer.MigrateOptions{From: from, To: to}
	if !g.quiet && o.format == "text" {
		opts.Progress = func(table string, rows int64) { fmt.Fprintf(g.stderr, "  %-18s %10d rows\n", table, rows) }
	}
	st, err := transfer.ToPostgres(ctx, o.dataDir, o.to, opts)
	if err != nil {
		return err
	}
	switch {
	case o.format == "json":
		return writeJSON(g, st)
	case !g.quiet:
		fmt.Fprintf(g.stdout, "migrated %d rows in %d tables (schema %d) in %.1fs (%.0f rows/s); start serve with --database and the same secret key\n",
			st.Rows, st.Tables, st.Schema, st.Seconds, float64(st.Rows)/max(st.Seconds, 1e-9))
	}
	return nil
}
