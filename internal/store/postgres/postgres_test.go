package postgres

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/migrations"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

func baseURL() string {
	if u := os.Getenv("FIREBREAK_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// withSchema returns url with search_path set to schema.
func withSchema(url, schema string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// freshSchema creates a uniquely named schema, dropped at the end of the
// test, and returns a URL using it; it skips (fails in CI) when PostgreSQL
// is unreachable.
func freshSchema(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, baseURL())
	if err != nil {
		storetest.ServiceUnavailable(t, "PostgreSQL at "+baseURL(), err)
	}
	schema := "fbtest_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close(ctx)
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, baseURL()); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	return withSchema(baseURL(), schema)
}

func openTest(t *testing.T) (store.Store, func(string) error) {
	url := freshSchema(t)
	ctx := storetest.Ctx(t)
	s, err := OpenWith(ctx, url, store.Options{SecretKey: []byte("test-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return s, func(q string) error { _, err := conn.Exec(ctx, q); return err }
}

func TestIncidentVersions(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	s, err := OpenWith(storetest.Ctx(t), freshSchema(t), store.Options{SecretKey: []byte("test-key-0123456789"), Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.IncidentVersions(t, s)
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{Open: openTest})
}

func TestReopenAndConcurrentMigration(t *testing.T) {
	url := freshSchema(t)
	ctx := storetest.Ctx(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			s, err := Open(ctx, url)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != latestSchema(t) {
		t.Fatalf("schema version %d %v, want %d", v, err, latestSchema(t))
	}
}

func TestUnreachableNamesTheServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("error = %v, want one naming the host", err)
	}
}

// TestKillChild is the subprocess of TestKillDuringAppend.
func TestKillChild(t *testing.T) {
	storetest.KillChild(func(ctx context.Context) (store.Store, error) { return Open(ctx, os.Getenv("FIREBREAK_KILL_URL")) })
}

func TestKillDuringAppend(t *testing.T) {
	url := freshSchema(t)
	s, err := Open(storetest.Ctx(t), url) // migrate before the child starts
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	storetest.KillTest(t, "TestKillChild", []string{"FIREBREAK_KILL_URL=" + url}, 25, 3, func(ctx context.Context) (store.Store, error) { return Open(ctx, url) })
}

func BenchmarkAppendEvents(b *testing.B) {
	for _, bc := range []struct {
		name          string
		size, writers int
	}{{"batch1000", 1000, 1}, {"batch500x8writers", 500, 8}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := Open(storetest.Ctx(b), freshSchema(b))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.BenchAppend(b, s, bc.size, bc.writers)
		})
	}
}

// TestMigrationIsAllOrNothing: a migration that fails half-way leaves no
// table of it behind, and a database newer than the binary is refused.
func TestMigrationIsAllOrNothing(t *testing.T) {
	url := freshSchema(t)
	ctx := storetest.Ctx(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE users (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url); err == nil || !strings.Contains(err.Error(), "0001_init.sql") {
		t.Fatalf("Open over a conflicting schema: %v", err)
	}
	var n int
	conn.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('snapshots', 'events', 'schema_migrations')`).Scan(&n)
	if n != 0 {
		t.Errorf("failed migration left %d tables behind", n)
	}
	conn.Exec(ctx, `DROP TABLE users`)
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (99, '0099_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url); err == nil || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

// latestSchema is the version of the dialect's last migration.
func latestSchema(t *testing.T) int {
	ms, err := migrations.List("postgres")
	if err != nil || len(ms) == 0 {
		t.Fatalf("migrations: %v", err)
	}
	return ms[len(ms)-1].Version
}
