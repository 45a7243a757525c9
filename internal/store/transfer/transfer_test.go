package transfer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/migrations"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

const totp = "JBSWY3DPEHPK3PXP"

// seed fills a real SQLite store with events, a run, a user with a sealed
// TOTP seed, a notification target with a sealed config and audit entries.
func seed(t *testing.T, dir string, events int) {
	t.Helper()
	ctx := storetest.Ctx(t)
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < events; i += 500 {
		var batch []store.EventRecord
		for j := i; j < min(events, i+500); j++ {
			batch = append(batch, storetest.Event(storetest.Alpha, fmt.Sprintf("user%d", j%7), "203.0.113.7", storetest.T0.Add(time.Duration(j)*time.Second), "failure"))
		}
		if err := s.AppendEvents(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	meta, _, err := s.PutSnapshot(ctx, storetest.Estate(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveRun(ctx, meta.ID, "test", storetest.Report("2026-03-01T09:00:00Z", true)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &store.User{Username: "owner", Role: store.RoleOwner, PasswordHash: "$argon2id$x", TOTPSecret: store.Secret(totp), TOTPEnrolled: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutNotifyTarget(ctx, store.AllTenants(), &store.NotifyTarget{ID: "hook", Name: "hook", Kind: store.TargetWebhook, Enabled: true,
		Config: json.RawMessage(`{"url":"https://example.test/x","secret":"s3cret"}`)}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.AppendAudit(ctx, &store.AuditEntry{Actor: "owner", Action: fmt.Sprintf("test.%d", i), At: storetest.T0}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkStore opens a store and checks it holds what seed wrote, secrets
// readable with its key and the audit chain intact.
func checkStore(t *testing.T, s store.Store, events int64) {
	t.Helper()
	ctx := storetest.Ctx(t)
	n, err := s.CountEvents(ctx, store.AllTenants(), store.EventQuery{})
	if err != nil || n != events {
		t.Errorf("events = %d (%v), want %d", n, err, events)
	}
	u, err := s.GetUser(ctx, "owner")
	if err != nil || u.TOTPSecret.Reveal() != totp {
		t.Errorf("owner TOTP after transfer: %v", err)
	}
	tg, err := s.GetNotifyTarget(ctx, store.AllTenants(), "hook")
	if err != nil || !strings.Contains(string(tg.Config), "s3cret") {
		t.Errorf("notify target config after transfer: %v", err)
	}
	runs, err := s.ListRuns(ctx, store.AllTenants(), 10)
	if err != nil || len(runs) != 1 {
		t.Errorf("runs = %d (%v), want 1", len(runs), err)
	}
	if entries, _, err := s.VerifyAudit(ctx); err != nil || entries != 3 {
		t.Errorf("audit chain: %d entries, %v", entries, err)
	}
	// The store keeps working: ids continue past the copied rows.
	batch := []store.EventRecord{storetest.Event(storetest.Bravo, "x", "198.51.100.1", storetest.T0, "success")}
	if err := s.AppendEvents(ctx, batch); err != nil || batch[0].ID <= events {
		t.Errorf("append after transfer: id %d, %v", batch[0].ID, err)
	}
}

func TestBackupRestore(t *testing.T) {
	ctx := storetest.Ctx(t)
	src := t.TempDir()
	seed(t, src, 2000)
	// serve's attestation signing key: customers verify against its public
	// half, so a restore must bring the same key back.
	attestPEM := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIHt0ZXN0LWtleS1ub3QtZm9yLXByb2R1Y3Rpb24hIQ==\n-----END PRIVATE KEY-----\n"
	if err := os.WriteFile(filepath.Join(src, attestKeyFile), []byte(attestPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	bk := filepath.Join(t.TempDir(), "fb.backup")
	m, err := Backup(ctx, src, bk, BackupOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Events != 2000 || !m.HasKey || !m.HasAttestKey || m.SchemaVersion < 1 {
		t.Errorf("manifest %+v", m)
	}
	if fi, err := os.Stat(bk); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode: %v %v", fi.Mode(), err)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := Restore(ctx, bk, dst, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkStore(t, s, 2000)
	if got, err := os.ReadFile(filepath.Join(dst, attestKeyFile)); err != nil || string(got) != attestPEM {
		t.Errorf("attest.key after restore: %q, %v; want the backed-up key", got, err)
	} else if fi, _ := os.Stat(filepath.Join(dst, attestKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("attest.key mode %v, want 0600", fi.Mode().Perm())
	}
	have, latest, err := SchemaVersion(ctx, dst)
	if err != nil || have != latest {
		t.Errorf("SchemaVersion = %d, %d, %v", have, latest, err)
	}
}

// TestBackupWhileWriting takes a backup while another store connection keeps
// appending: the backup finishes, is consistent, and holds at least the
// events present when it started.
func TestBackupWhileWriting(t *testing.T) {
	ctx := storetest.Ctx(t)
	dir := t.TempDir()
	seed(t, dir, 5000)
	s, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var appended int
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			b := []store.EventRecord{storetest.Event(storetest.Alpha, "w", "203.0.113.9", storetest.T0, "failure")}
			if err := s.AppendEvents(ctx, b); err != nil {
				t.Error(err)
				return
			}
			appended++
		}
	}()
	bk := filepath.Join(t.TempDir(), "fb.backup")
	m, err := Backup(ctx, dir, bk, BackupOptions{})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if m.Events < 5000 || m.Events > int64(5000+appended) {
		t.Errorf("backup holds %d events; %d before, %d appended during", m.Events, 5000, appended)
	}
	if _, err := Inspect(ctx, bk); err != nil {
		t.Error(err)
	}
}

func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		h := sha256.Sum256(b)
		out[strings.TrimPrefix(p, dir)] = hex.EncodeToString(h[:])
		return nil
	})
	return out
}

// TestRestoreRefuses: foreign, corrupt, newer and non-empty-target restores
// are refused with a clear error and change nothing.
func TestRestoreRefuses(t *testing.T) {
	ctx := storetest.Ctx(t)
	src := t.TempDir()
	seed(t, src, 300)
	tmp := t.TempDir()
	good := filepath.Join(tmp, "good.backup")
	if _, err := Backup(ctx, src, good, BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(good)

	text := filepath.Join(tmp, "notes.txt")
	os.WriteFile(text, []byte("hello, not a backup\n"), 0o600)
	foreign := filepath.Join(tmp, "foreign.db")
	if db, err := sql.Open("sqlite", "file:"+foreign); err == nil {
		db.Exec(`CREATE TABLE t (x)`)
		db.Close()
	}
	truncated := filepath.Join(tmp, "truncated.backup")
	os.WriteFile(truncated, b[:len(b)/2], 0o600)
	flipped := filepath.Join(tmp, "flipped.backup")
	fb := append([]byte(nil), b...)
	for i := len(fb) / 3; i < len(fb)/3+4096 && i < len(fb); i++ {
		fb[i] ^= 0xA5
	}
	os.WriteFile(flipped, fb, 0o600)
	newer := filepath.Join(tmp, "newer.backup")
	os.WriteFile(newer, b, 0o600)
	if db, err := openSQLite(newer, false); err == nil {
		if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (999, '0999_future.sql', 0)`); err != nil {
			t.Fatal(err)
		}
		db.Exec(`UPDATE ` + manifestTable + ` SET value = '999' WHERE key = 'schema_version'`)
		db.Close()
	}
	miscounted := filepath.Join(tmp, "miscounted.backup")
	os.WriteFile(miscounted, b, 0o600)
	if db, err := openSQLite(miscounted, false); err == nil {
		if _, err := db.Exec(`UPDATE ` + manifestTable + ` SET value = '5' WHERE key = 'events'`); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}

	for _, tc := range []struct {
		name, file string
		want       error
	}{
		{"text", text, ErrNotBackup},
		{"foreign_sqlite", foreign, ErrNotBackup},
		{"truncated", truncated, ErrCorrupt},
		{"flipped", flipped, ErrCorrupt},
		{"newer_schema", newer, migrations.ErrNewerSchema},
		{"miscounted", miscounted, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			os.WriteFile(filepath.Join(dst, "keep.txt"), []byte("x"), 0o600)
			before := dirState(t, dst)
			_, err := Restore(ctx, tc.file, dst, RestoreOptions{})
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.file) {
				t.Errorf("Restore(%s) = %v, want %v naming the file", tc.name, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "<nil>") {
				t.Errorf("Restore(%s) = %q: the message shows a nil error", tc.name, err)
			}
			if after := dirState(t, dst); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("refused restore changed the data dir: %v -> %v", before, after)
			}
		})
	}

	t.Run("non_empty_target", func(t *testing.T) {
		other := t.TempDir()
		seed(t, other, 10)
		before := dirState(t, other)
		_, err := Restore(ctx, good, other, RestoreOptions{})
		if !errors.Is(err, ErrNotEmpty) {
			t.Errorf("Restore over a store = %v, want ErrNotEmpty", err)
		}
		if after := dirState(t, other); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Error("refused restore changed the data dir")
		}
		// --force moves the old store aside, intact.
		if _, err := Restore(ctx, good, other, RestoreOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		aside, _ := filepath.Glob(filepath.Join(other, "pre-restore-*", "firebreak.db"))
		if len(aside) != 1 {
			t.Fatalf("old store not kept aside: %v", aside)
		}
		old, err := sqlite.Open(ctx, filepath.Dir(aside[0]))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := old.CountEvents(ctx, store.AllTenants(), store.EventQuery{})
		old.Close()
		if n != 10 {
			t.Errorf("kept-aside store has %d events, want 10", n)
		}
	})
}

func pgURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("FIREBREAK_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		storetest.ServiceUnavailable(t, "PostgreSQL at "+base, err)
	}
	schema := "fbmig_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, base); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func TestToPostgres(t *testing.T) {
	ctx := storetest.Ctx(t)
	dir := t.TempDir()
	seed(t, dir, 3000)
	url := pgURL(t)
	srcKey, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	from, _ := store.NewSecretBox([]byte(strings.TrimSpace(string(srcKey))))
	dstKey := make([]byte, 32)
	rand.Read(dstKey)
	to, _ := store.NewSecretBox(dstKey)
	st, err := ToPostgres(ctx, dir, url, MigrateOptions{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if st.ByTable["events"] != 3000 || st.ByTable["users"] != 1 {
		t.Errorf("stats %+v", st)
	}
	pg, err := postgres.OpenWith(ctx, url, store.Options{SecretKey: dstKey})
	if err != nil {
		t.Fatal(err)
	}
	checkStore(t, pg, 3000)
	pg.Close()

	// A second migration into the now non-empty database is refused and
	// writes nothing.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var before int64
	conn.QueryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&before)
	_, err = ToPostgres(ctx, dir, url, MigrateOptions{From: from, To: to})
	if !errors.Is(err, ErrNotEmpty) || strings.Contains(err.Error(), "password") {
		t.Errorf("migrate into a non-empty db = %v, want ErrNotEmpty", err)
	}
	var after int64
	conn.QueryRow(ctx, `SELECT COUNT(*) FROM events`).Scan(&after)
	if after != before {
		t.Errorf("refused migration changed events: %d -> %d", before, after)
	}
}

// TestToPostgresWrongKey: a source key that does not open the sealed
// secrets fails the migration and leaves the target empty.
func TestToPostgresWrongKey(t *testing.T) {
	ctx := storetest.Ctx(t)
	dir := t.TempDir()
	seed(t, dir, 10)
	url := pgURL(t)
	wrong, _ := store.NewSecretBox([]byte("not the key"))
	_, err := ToPostgres(ctx, dir, url, MigrateOptions{From: wrong, To: wrong})
	if err == nil || !strings.Contains(err.Error(), "source key") {
		t.Fatalf("migrate with the wrong key = %v", err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	conn.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n)
	if n != 0 {
		t.Errorf("failed migration left %d tables", n)
	}
}
