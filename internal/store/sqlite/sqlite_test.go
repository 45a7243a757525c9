package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/migrations"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

func openTest(t *testing.T) (store.Store, func(string) error) {
	dir := t.TempDir()
	s, err := Open(storetest.Ctx(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return s, func(q string) error { _, err := raw.Exec(q); return err }
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{Open: openTest})
}

func TestIncidentVersions(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s, err := OpenWith(storetest.Ctx(t), t.TempDir(), store.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.IncidentVersions(t, s)
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := storetest.Ctx(t)
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, &store.User{Username: "alice", Role: store.RoleOwner, TOTPSecret: "JBSWY3DPEHPK3PXP"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
	s, err = Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	u, err := s.GetUser(ctx, "alice")
	if err != nil || u.TOTPSecret != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("after reopen: %+v %v", u, err)
	}
	if v, _ := s.SchemaVersion(ctx); v != latestSchema(t) {
		t.Errorf("schema version %d, want %d", v, latestSchema(t))
	}
	if fi, err := os.Stat(filepath.Join(dir, KeyFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret key file: %v %v", fi, err)
	}
}

// TestSecretsNotInDatabaseFile checks the database never holds a TOTP seed,
// a notification secret, a session token or an API token in the clear.
func TestSecretsNotInDatabaseFile(t *testing.T) {
	ctx := storetest.Ctx(t)
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{"TOTPSEEDXYZ23456", "hmac-signing-secret-987", "session-token-raw-555", "fbk_apitoken_raw_444"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateUser(ctx, &store.User{Username: "alice", Role: store.RoleOwner, TOTPSecret: store.Secret(secrets[0])}))
	must(s.PutNotifyTarget(ctx, store.AllTenants(), &store.NotifyTarget{ID: "w", Kind: store.TargetWebhook, Config: []byte(`{"secret":"` + secrets[1] + `"}`)}))
	must(s.CreateSession(ctx, store.Secret(secrets[2]), &store.Session{Username: "alice", Expires: storetest.T0}))
	must(s.CreateAPIToken(ctx, store.Secret(secrets[3]), &store.APIToken{ID: "t"}))
	must(s.Close())
	var all []byte
	for _, f := range []string{FileName, FileName + "-wal"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		all = append(all, b...)
	}
	if len(all) == 0 {
		t.Fatal("no database file")
	}
	for _, sec := range secrets {
		if bytes.Contains(all, []byte(sec)) {
			t.Errorf("secret %q stored in the clear", sec)
		}
	}
}

// TestKillChild is the subprocess of TestKillDuringAppend.
func TestKillChild(t *testing.T) {
	storetest.KillChild(func(ctx context.Context) (store.Store, error) { return Open(ctx, os.Getenv("FIREBREAK_KILL_DIR")) })
}

func TestKillDuringAppend(t *testing.T) {
	dir := t.TempDir()
	storetest.KillTest(t, "TestKillChild", []string{"FIREBREAK_KILL_DIR=" + dir}, 25, 3, func(ctx context.Context) (store.Store, error) { return Open(ctx, dir) })
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var check string
	if err := raw.QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity check after kill -9: %q %v", check, err)
	}
}

func BenchmarkAppendEvents(b *testing.B) {
	for _, bc := range []struct {
		name          string
		size, writers int
	}{{"batch1000", 1000, 1}, {"batch500x8writers", 500, 8}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Open(storetest.Ctx(b), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchAppend(b, s, bc.size, bc.writers)
		})
	}
}

func BenchmarkResults(b *testing.B) {
	s, err := Open(storetest.Ctx(b), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	storetest.BenchResults(b, s)
}

// TestMigrationIsAllOrNothing: a migration that fails half-way leaves no
// table of it behind, and a database newer than the binary is refused.
func TestMigrationIsAllOrNothing(t *testing.T) {
	ctx := storetest.Ctx(t)
	dir := t.TempDir()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	// A conflicting table makes the first migration fail at "CREATE TABLE users".
	if _, err := raw.Exec(`CREATE TABLE users (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir); err == nil || !strings.Contains(err.Error(), "0001_init.sql") {
		t.Fatalf("Open over a conflicting schema: %v", err)
	}
	var n int
	raw.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('snapshots', 'events', 'schema_migrations')`).Scan(&n)
	if n != 0 {
		t.Errorf("failed migration left %d tables behind", n)
	}
	raw.Exec(`DROP TABLE users`)
	raw.Close()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, _ = sql.Open("sqlite", "file:"+filepath.Join(dir, FileName))
	defer raw.Close()
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (99, '0099_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// latestSchema is the version of the dialect's last migration.
func latestSchema(t *testing.T) int {
	ms, err := migrations.List("sqlite")
	if err != nil || len(ms) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	return ms[len(ms)-1].Version
}

// TestFilesPrivate: every file of the store is 0600, in a directory that
// is world-readable and with a database file an older version left 0644.
func TestFilesPrivate(t *testing.T) {
	ctx := storetest.Ctx(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, fresh := range []bool{true, false} {
		if !fresh {
			if err := os.Chmod(filepath.Join(dir, FileName), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s, err := Open(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AppendEvents(ctx, []store.EventRecord{{Event: event.Event{Timestamp: time.Unix(1_700_000_000, 0), UserName: "u"}}}); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, e.Name())
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("fresh=%v: %s is %o, want 600", fresh, e.Name(), fi.Mode().Perm())
			}
		}
		if !slices.Contains(names, FileName+"-wal") {
			t.Errorf("fresh=%v: no WAL file among %v: the check saw too little", fresh, names)
		}
		s.Close()
	}
}
