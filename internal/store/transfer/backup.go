package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/store/migrations"
)

// The store's files in a data directory (the names internal/store/sqlite
// uses).
const (
	dbFile  = "firebreak.db"
	keyFile = "secret.key"
	// attestKeyFile is serve's attestation signing key when attest.key is
	// not configured (internal/worker): customers verify attestations
	// against its public half, so a restore must bring it back.
	attestKeyFile = "attest.key"
)

// Format names the backup file layout: an SQLite database, the store's own
// tables plus a firebreak_backup table holding the manifest.
const Format = "firebreak-backup/1"

const manifestTable = "firebreak_backup"

// ErrNotBackup is returned for a file that is not a firebreak backup (not
// SQLite, or SQLite without a firebreak manifest).
var ErrNotBackup = errors.New("not a firebreak backup")

// ErrCorrupt is returned for a backup that fails SQLite's integrity check.
var ErrCorrupt = errors.New("backup is corrupt")

// ErrNotEmpty is returned when a restore or migration target already holds
// data; nothing is written.
var ErrNotEmpty = errors.New("target is not empty")

// Manifest describes a backup.
type Manifest struct {
	Format        string    `json:"format"`
	Created       time.Time `json:"created"`
	Version       string    `json:"firebreak_version"` // the firebreak that wrote it
	SchemaVersion int       `json:"schema_version"`
	Source        string    `json:"source"`         // data directory it was taken from
	HasKey        bool      `json:"has_key"`        // carries the data directory's secret.key
	HasAttestKey  bool      `json:"has_attest_key"` // carries the data directory's attest.key
	Events        int64     `json:"events"`         // rows in events, for a quick check after restore
	Bytes         int64     `json:"bytes"`          // size of the backup file
	Seconds       float64   `json:"seconds"`        // how long the backup took
}

// BackupOptions tune Backup.
type BackupOptions struct {
	Version string           // firebreak version recorded in the manifest
	Now     func() time.Time // defaults to time.Now
	// RateMB caps the copy at this many MB per second (0: as fast as the
	// disk goes), so a backup leaves disk bandwidth and CPU to a serve
	// that keeps ingesting.
	RateMB float64
}

// stepPages is how many 4 KiB pages one backup step copies (4 MiB), and
// syncEvery how many steps are written between flushes of the copy (16 MiB).
const (
	stepPages = 1024
	syncEvery = 4
)

// copyOnline copies the source database into dst with SQLite's online
// backup API, in steps, inside one read transaction held on the source
// connection. Holding the transaction pins one snapshot (WAL mode lets the
// writer go on), so writes by serve do not restart the copy, and the steps
// can be paced (RateMB) to leave the disk and CPU to ingest.
func copyOnline(ctx context.Context, conn *sql.Conn, dst string, o BackupOptions) error {
	if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
		return err
	}
	defer func() { _, _ = conn.ExecContext(context.Background(), `COMMIT`) }()
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		return err
	}
	return conn.Raw(func(dc any) error {
		rc, ok := dc.(rawConn)
		if !ok {
			return fmt.Errorf("sqlite driver has no online backup (%T)", dc)
		}
		bk, err := rc.NewBackup("file:" + dst)
		if err != nil {
			return err
		}
		// Write the copy back to disk as it grows (every syncEvery steps):
		// left to the kernel, hundreds of MB of dirty pages are written at
		// the end in one burst, and serve's own fsyncs (synchronous=FULL)
		// wait behind it. The flusher does it without fsync (see flusher).
		df, err := os.OpenFile(dst, os.O_RDWR, 0)
		if err != nil {
			_ = bk.Finish()
			return err
		}
		defer func() { _ = df.Close() }()
		fl := newFlusher(df)
		steps := 0
		start := time.Now()
		var copied float64
		for {
			if err := ctx.Err(); err != nil {
				_ = bk.Finish()
				return err
			}
			more, err := bk.Step(stepPages)
			if err != nil {
				_ = bk.Finish()
				return err
			}
			if !more {
				break
			}
			if steps++; steps%syncEvery == 0 {
				if err := fl.flush(); err != nil {
					_ = bk.Finish()
					return err
				}
			}
			copied += stepPages * 4096 / 1e6
			if o.RateMB > 0 {
				ahead := time.Duration(copied/o.RateMB*float64(time.Second)) - time.Since(start)
				if ahead > 0 {
					select {
					case <-time.After(ahead):
					case <-ctx.Done():
					}
				}
			}
		}
		return bk.Finish()
	})
}

// rawConn is the modernc.org/sqlite connection's online-backup method.
type rawConn interface {
	NewBackup(dstURI string) (*sqlite.Backup, error)
}

// Backup takes an online backup of the SQLite store in dataDir into dst,
// while the store may be in use (serve keeps ingesting: SQLite's backup API
// reads one consistent snapshot in WAL mode without blocking the writer).
// The file is written beside dst and renamed into place only once it is
// complete and passes an integrity check; it holds the data directory's
// secret key, so it is created 0600.
func Backup(ctx context.Context, dataDir, dst string, o BackupOptions) (Manifest, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now()
	src := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(src); err != nil {
		return Manifest{}, fmt.Errorf("backing up %s: no store there: %w", dataDir, err)
	}
	if atomicfile.Special(dst) {
		// The backup is renamed into place: over /dev/null or a pipe that
		// would replace the device with a regular file.
		return Manifest{}, fmt.Errorf("backing up to %s: not a regular file; name a file to create or replace", dst)
	}
	db, err := openSQLite(src, true)
	if err != nil {
		return Manifest{}, err
	}
	defer func() { _ = db.Close() }()
	schema, err := migrations.Current(ctx, db)
	if err != nil {
		return Manifest{}, fmt.Errorf("backing up %s: %w", src, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return Manifest{}, fmt.Errorf("backing up: %w", err)
	}
	tmpPath := tmp.Name()
	_ = tmp.Close()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmpPath)
		}
	}()
	if err := os.Chmod(tmpPath, 0o600); err != nil {
		return Manifest{}, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return Manifest{}, err
	}
	err = copyOnline(ctx, conn, tmpPath, o)
	_ = conn.Close()
	if err != nil {
		return Manifest{}, fmt.Errorf("backing up %s: %w", src, err)
	}

	m := Manifest{Format: Format, Created: start.UTC(), Version: o.Version, SchemaVersion: schema, Source: dataDir}
	key, err := os.ReadFile(filepath.Join(dataDir, keyFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("reading secret key: %w", err)
	}
	m.HasKey = err == nil
	attestKey, err := os.ReadFile(filepath.Join(dataDir, attestKeyFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, fmt.Errorf("reading attestation key: %w", err)
	}
	m.HasAttestKey = err == nil
	out, err := openSQLite(tmpPath, false)
	if err != nil {
		return Manifest{}, err
	}
	err = func() error {
		defer func() { _ = out.Close() }()
		if err := out.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&m.Events); err != nil {
			return fmt.Errorf("counting events in the copy: %w", err)
		}
		// A self-contained file: no -wal beside it.
		if _, err := out.ExecContext(ctx, `PRAGMA journal_mode=DELETE`); err != nil {
			return err
		}
		if _, err := out.ExecContext(ctx, `CREATE TABLE `+manifestTable+` (key TEXT PRIMARY KEY, value TEXT NOT NULL)`); err != nil {
			return err
		}
		kv := map[string]string{
			"format": m.Format, "created": m.Created.Format(time.RFC3339Nano), "firebreak_version": m.Version,
			"schema_version": strconv.Itoa(m.SchemaVersion), "source": m.Source, "events": strconv.FormatInt(m.Events, 10),
		}
		if m.HasKey {
			kv["secret_key"] = string(bytes.TrimSpace(key))
		}
		if m.HasAttestKey {
			kv["attest_key"] = string(attestKey)
		}
		sum, err := contentDigest(ctx, out, kv)
		if err != nil {
			return fmt.Errorf("checksumming the copy: %w", err)
		}
		kv[contentKey] = sum
		for k, v := range kv {
			if _, err := out.ExecContext(ctx, `INSERT INTO `+manifestTable+` (key, value) VALUES (?, ?)`, k, v); err != nil {
				return err
			}
		}
		return quickCheck(ctx, out)
	}()
	if err != nil {
		return Manifest{}, fmt.Errorf("finishing backup %s: %w", dst, err)
	}
	if err := syncFile(tmpPath); err != nil {
		return Manifest{}, err
	}
	if err := os.Rename(tmpPath, dst); err != nil {
		return Manifest{}, fmt.Errorf("backing up: %w", err)
	}
	ok = true
	if fi, err := os.Stat(dst); err == nil {
		m.Bytes = fi.Size()
	}
	m.Seconds = now().Sub(start).Seconds()
	return m, nil
}

// Inspect reads and checks a backup file without changing it: it must be an
// SQLite database carrying a firebreak manifest, of a schema this binary
// knows, and pass SQLite's quick integrity check.
func Inspect(ctx context.Context, path string) (Manifest, error) {
	m, _, _, err := inspect(ctx, path)
	return m, err
}

func inspect(ctx context.Context, path string) (m Manifest, secretKey, attestKey string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return Manifest{}, "", "", err
	}
	head := make([]byte, 16)
	_, err = io.ReadFull(f, head)
	fi, _ := f.Stat()
	_ = f.Close()
	if err != nil || string(head) != "SQLite format 3\x00" {
		return Manifest{}, "", "", fmt.Errorf("%s: %w: not an SQLite database", path, ErrNotBackup)
	}
	db, err := openSQLite(path, true)
	if err != nil {
		return Manifest{}, "", "", err
	}
	defer func() { _ = db.Close() }()
	rows, err := db.QueryContext(ctx, `SELECT key, value FROM `+manifestTable)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return Manifest{}, "", "", fmt.Errorf("%s: %w: an SQLite database without a firebreak manifest (table %s)", path, ErrNotBackup, manifestTable)
		}
		if strings.Contains(err.Error(), "malformed") || strings.Contains(err.Error(), "not a database") {
			return Manifest{}, "", "", fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
		}
		return Manifest{}, "", "", fmt.Errorf("%s: reading manifest: %w", path, err)
	}
	kv := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return Manifest{}, "", "", fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
		}
		kv[k] = v
	}
	if err := rows.Close(); err != nil {
		return Manifest{}, "", "", fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	if kv["format"] != Format {
		return Manifest{}, "", "", fmt.Errorf("%s: %w: manifest format %q, this binary reads %q", path, ErrNotBackup, kv["format"], Format)
	}
	m = Manifest{Format: kv["format"], Version: kv["firebreak_version"], Source: kv["source"]}
	m.Created, _ = time.Parse(time.RFC3339Nano, kv["created"])
	m.SchemaVersion, _ = strconv.Atoi(kv["schema_version"])
	m.Events, _ = strconv.ParseInt(kv["events"], 10, 64)
	m.HasKey = kv["secret_key"] != ""
	m.HasAttestKey = kv["attest_key"] != ""
	if fi != nil {
		m.Bytes = fi.Size()
	}
	// The whole check before a restore: integrity_check also proves every
	// index matches its table (quick_check, used when writing the backup,
	// checks the structure only).
	if err := integrityCheck(ctx, db); err != nil {
		return m, "", "", fmt.Errorf("%s: %w", path, err)
	}
	have, err := migrations.Current(ctx, db)
	if err != nil {
		return m, "", "", fmt.Errorf("%s: %w", path, err)
	}
	latest, err := migrations.Latest("sqlite")
	if err != nil {
		return m, "", "", err
	}
	if have == 0 || have != m.SchemaVersion {
		return m, "", "", fmt.Errorf("%s: %w: manifest says schema %d, the tables say %d", path, ErrCorrupt, m.SchemaVersion, have)
	}
	if have > latest {
		return m, "", "", fmt.Errorf("%s: %w: version %d, this binary knows %d: restore it with a newer firebreak", path, migrations.ErrNewerSchema, have, latest)
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM events`).Scan(&n); err != nil {
		return m, "", "", fmt.Errorf("%s: %w: counting events: %v", path, ErrCorrupt, err)
	}
	if n != m.Events {
		return m, "", "", fmt.Errorf("%s: %w: manifest says %d events, the table holds %d", path, ErrCorrupt, m.Events, n)
	}
	// Every stored value and manifest entry, against the digest taken when
	// the backup was written: quick_check sees the file's structure only,
	// not a changed byte inside a value. (Backups written before the digest
	// existed have none.)
	if want := kv[contentKey]; want != "" {
		got, err := contentDigest(ctx, db, kv)
		if err != nil {
			return m, "", "", fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
		}
		if got != want {
			return m, "", "", fmt.Errorf("%s: %w: content checksum differs from the one taken at backup (a stored value or manifest entry changed)", path, ErrCorrupt)
		}
	}
	return m, kv["secret_key"], kv["attest_key"], nil
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Force restores into a data directory that already holds a store: its
	// files are moved into a pre-restore-<time> subdirectory first, never
	// deleted or overwritten.
	Force bool
	Now   func() time.Time
}

// Restore checks the backup at src (see Inspect) and installs it as the
// store of dataDir, with its secret key. It refuses, changing nothing, when
// the backup is not a firebreak backup, is corrupt, is of a newer schema,
// or dataDir already holds a store or a different key (unless Force). The
// store must not be open while restoring.
func Restore(ctx context.Context, src, dataDir string, o RestoreOptions) (Manifest, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	m, key, attestKey, err := inspect(ctx, src)
	if err != nil {
		return m, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return m, err
	}
	dbPath := filepath.Join(dataDir, dbFile)
	keyPath := filepath.Join(dataDir, keyFile)
	var present []string
	for _, n := range []string{dbFile, dbFile + "-wal", dbFile + "-shm", keyFile, attestKeyFile} {
		if _, err := os.Stat(filepath.Join(dataDir, n)); err == nil {
			present = append(present, n)
		}
	}
	if len(present) > 0 && !o.Force {
		return m, fmt.Errorf("restoring into %s: %w: it holds %s; restore into an empty directory, or pass --force to move them into a pre-restore subdirectory", dataDir, ErrNotEmpty, strings.Join(present, ", "))
	}
	// Not under a running serve: it would keep writing to the moved file.
	release, err := LockDataDir(dataDir)
	if err != nil {
		return m, fmt.Errorf("restoring into %w", err)
	}
	defer release()
	// Prepare the new database beside the old one before moving anything.
	tmp := filepath.Join(dataDir, "."+dbFile+".restore")
	if err := copyFile(src, tmp, 0o600); err != nil {
		return m, err
	}
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	db, err := openSQLite(tmp, false)
	if err != nil {
		return m, err
	}
	_, err = db.ExecContext(ctx, `DROP TABLE `+manifestTable)
	if err == nil {
		_, err = db.ExecContext(ctx, `VACUUM`)
	}
	if err == nil {
		// The store's own journal mode, so opening it changes nothing.
		_, err = db.ExecContext(ctx, `PRAGMA journal_mode=WAL`)
	}
	_ = db.Close()
	if err != nil {
		return m, fmt.Errorf("preparing restore: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return m, err
	}
	if len(present) > 0 {
		aside := filepath.Join(dataDir, "pre-restore-"+now().UTC().Format("20060102T150405Z"))
		if err := os.Mkdir(aside, 0o700); err != nil {
			return m, fmt.Errorf("restoring into %s: %w", dataDir, err)
		}
		for _, n := range present {
			if err := os.Rename(filepath.Join(dataDir, n), filepath.Join(aside, n)); err != nil {
				return m, fmt.Errorf("moving %s aside: %w", n, err)
			}
		}
	}
	if key != "" {
		if err := os.WriteFile(keyPath, []byte(key+"\n"), 0o600); err != nil {
			return m, fmt.Errorf("writing secret key: %w", err)
		}
	}
	if attestKey != "" {
		if err := os.WriteFile(filepath.Join(dataDir, attestKeyFile), []byte(attestKey), 0o600); err != nil {
			return m, fmt.Errorf("writing attestation key: %w", err)
		}
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return m, fmt.Errorf("restoring: %w", err)
	}
	ok = true
	return m, nil
}

// SchemaVersion reports the schema version of the SQLite store in dataDir
// and the newest this binary knows. It opens the database read-only and
// migrates nothing.
func SchemaVersion(ctx context.Context, dataDir string) (have, latest int, err error) {
	latest, err = migrations.Latest("sqlite")
	if err != nil {
		return 0, 0, err
	}
	path := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(path); err != nil {
		return 0, latest, fmt.Errorf("no store in %s: %w", dataDir, err)
	}
	db, err := openSQLite(path, true)
	if err != nil {
		return 0, latest, err
	}
	defer func() { _ = db.Close() }()
	have, err = migrations.Current(ctx, db)
	return have, latest, err
}

func openSQLite(path string, readOnly bool) (*sql.DB, error) {
	q := "_pragma=busy_timeout(10000)"
	if readOnly {
		q += "&mode=ro"
	}
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// contentKey is the manifest entry holding contentDigest.
const contentKey = "content_sha256"

// contentDigest is a SHA-256 over every row of every table but the
// manifest, in each table's scan order (the same for the same file), each
// value with its type and length, and then over the manifest entries
// (sorted, contentKey left out).
func contentDigest(ctx context.Context, db *sql.DB, manifest map[string]string) (string, error) {
	h := sha256.New()
	var tables []string
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != ? ORDER BY name`, manifestTable)
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return "", err
		}
		tables = append(tables, n)
	}
	if err := rows.Close(); err != nil {
		return "", err
	}
	var num [8]byte
	put := func(tag byte, b []byte) {
		binary.LittleEndian.PutUint64(num[:], uint64(len(b)))
		h.Write([]byte{tag})
		h.Write(num[:])
		h.Write(b)
	}
	for _, t := range tables {
		put('T', []byte(t))
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+strings.ReplaceAll(t, `"`, `""`)+`"`)
		if err != nil {
			return "", err
		}
		cols, err := rows.Columns()
		if err != nil {
			rows.Close()
			return "", err
		}
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", err
			}
			h.Write([]byte{'R'})
			for _, v := range vals {
				if v == nil {
					h.Write([]byte{'N'})
					continue
				}
				put('V', v)
			}
		}
		if err := rows.Close(); err != nil {
			return "", err
		}
	}
	keys := make([]string, 0, len(manifest))
	for k := range manifest {
		if k != contentKey {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		put('K', []byte(k))
		put('V', []byte(manifest[k]))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func integrityCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check(20)`)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	var problems []string
	for rows.Next() {
		var res string
		if err := rows.Scan(&res); err != nil {
			rows.Close()
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if res != "ok" {
			problems = append(problems, res)
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: integrity_check: %s", ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

func quickCheck(ctx context.Context, db *sql.DB) error {
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA quick_check`).Scan(&res); err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if res != "ok" {
		return fmt.Errorf("%w: quick_check: %s", ErrCorrupt, res)
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
