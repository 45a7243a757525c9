package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/firebreak-msp/firebreak/internal/store/transfer"
	"github.com/firebreak-msp/firebreak/internal/version"
)

type backupOptions struct {
	dataDir  string
	database string
	output   string
	format   string
	rateMB   float64
	priority string
}

func (o *backupOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.dataDir, "data-dir", dataDirDefault(), "data directory of the SQLite store to back up (env FIREBREAK_DATA_DIR)")
	fs.StringVar(&o.database, "database", os.Getenv("FIREBREAK_DATABASE"), "PostgreSQL URL: not backed up by firebreak (use pg_dump; see docs/backup.md)")
	fs.StringVarP(&o.output, "output", "o", "", "backup `FILE` to write (required)")
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text or json")
	fs.Float64Var(&o.rateMB, "rate-mb", 64, "copy at most `MB` per second, leaving disk and CPU to a running serve (0: no limit)")
	fs.StringVar(&o.priority, "priority", "low", "CPU and I/O priority of the backup: low (nice 10, lowest best-effort I/O, so serve keeps its ingest rate) or normal")
}

func newBackupCommand(g *globalOptions) *cobra.Command {
	var o backupOptions
	cmd := &cobra.Command{
		Use:   "backup -o FILE",
		Short: "Take an online backup of the SQLite store (while serve keeps running)",
		Long: `backup copies the SQLite store of a data directory into one file with SQLite's
online backup API: a consistent snapshot taken while serve keeps ingesting. The
file is an SQLite database with a manifest (firebreak version, schema version,
event count) and the data directory's secret key (TOTP seeds and notification
secrets are sealed with it), so it is written 0600: keep it as safe as the
data directory. It is checked (SQLite quick_check) before it is renamed into
place, and carries a SHA-256 over its content that restore checks. Restore it with firebreak restore.

A PostgreSQL store is backed up with PostgreSQL's own tools (pg_dump -Fc),
see docs/backup.md.`,
		Example: `  firebreak backup --data-dir /var/lib/firebreak -o /backup/firebreak-$(date +%F).fbk
  firebreak restore /backup/firebreak-2026-12-07.fbk --data-dir /var/lib/firebreak`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runBackup(cmd.Context(), o, g) },
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runBackup(ctx context.Context, o backupOptions, g *globalOptions) error {
	if o.database != "" {
		return usageError{errors.New("a PostgreSQL store is backed up with pg_dump -Fc (and restored with pg_restore), not firebreak backup: see docs/backup.md")}
	}
	if o.output == "" {
		return usageError{errors.New("backup needs -o FILE")}
	}
	if isDirTarget(o.output) {
		// Said before the copy, not as a failed rename after it.
		return usageError{fmt.Errorf("-o %s is a directory: name the backup file, e.g. -o %s", o.output, filepath.Join(o.output, "firebreak-"+time.Now().UTC().Format("2006-01-02")+".fbk"))}
	}
	if err := checkFormat(o.format); err != nil {
		return err
	}
	switch o.priority {
	case "low":
		if err := lowerPriority(); err != nil {
			fmt.Fprintf(g.stderr, "firebreak: warning: backup: could not lower its priority (%v); copying at normal priority\n", err)
		}
	case "normal":
	default:
		return usageError{fmt.Errorf("--priority %q: want low or normal", o.priority)}
	}
	m, err := transfer.Backup(ctx, o.dataDir, o.output, transfer.BackupOptions{Version: version.Get().Short(), RateMB: o.rateMB})
	if err != nil {
		return err
	}
	if o.format == "json" {
		return writeJSON(g, struct {
			File string `json:"file"`
			transfer.Manifest
		}{o.output, m})
	}
	fmt.Fprintf(g.stdout, "backup %s: %d events, schema %d, %.1f MB in %.1fs%s\n", o.output, m.Events, m.SchemaVersion,
		float64(m.Bytes)/1e6, m.Seconds, map[bool]string{true: " (includes the secret key: keep it safe)", false: ""}[m.HasKey])
	return nil
}

type restoreOptions struct {
	dataDir string
	force   bool
	check   bool
	format  string
}

func (o *restoreOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.dataDir, "data-dir", dataDirDefault(), "data directory to restore into (env FIREBREAK_DATA_DIR)")
	fs.BoolVar(&o.force, "force", false, "restore over an existing store: its files are moved into DIR/pre-restore-<time>/, never deleted")
	fs.BoolVar(&o.check, "check", false, "only check the backup file (manifest, schema, integrity) and print its manifest")
	fs.StringVarP(&o.format, "format", "f", "text", "output format: text or json")
}

func newRestoreCommand(g *globalOptions) *cobra.Command {
	var o restoreOptions
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore a backup made by firebreak backup into a data directory",
		Long: `restore checks a backup (an SQLite database with a firebreak manifest, of a
schema this binary knows, passing SQLite's integrity check) and installs it,
with its secret key, as the store of the data directory. It refuses, and
changes nothing, when the file is not a firebreak backup, is corrupt, comes
from a newer firebreak, or the data directory already holds a store (pass
--force to move the old files aside). Stop serve first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRestore(cmd.Context(), args[0], o, g) },
	}
	o.AddFlags(cmd.Flags())
	return cmd
}

func runRestore(ctx context.Context, file string, o restoreOptions, g *globalOptions) error {
	if err := checkFormat(o.format); err != nil {
		return err
	}
	var m transfer.Manifest
	var err error
	if o.check {
		m, err = transfer.Inspect(ctx, file)
	} else {
		m, err = transfer.Restore(ctx, file, o.dataDir, transfer.RestoreOptions{Force: o.force})
	}
	if err != nil {
		return err
	}
	if o.format == "json" {
		return writeJSON(g, m)
	}
	verb := "restored into " + o.dataDir
	if o.check {
		verb = "ok"
	}
	fmt.Fprintf(g.stdout, "%s: %s — backup of %s taken %s by firebreak %s: %d events, schema %d\n", file, verb,
		m.Source, m.Created.Format("2006-01-02 15:04:05Z07:00"), cmp.Or(m.Version, "?"), m.Events, m.SchemaVersion)
	return nil
}

func checkFormat(f string) error {
	if f != "text" && f != "json" {
		return usageError{fmt.Errorf("--format %q: expected text or json", f)}
	}
	return nil
}

func writeJSON(g *globalOptions, v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
