package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func runCLI(t *testing.T, ctx context.Context, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(ctx, args, &out, &out)
	return code, out.String()
}

// TestBackupRestoreCLI runs the verbs an operator uses: the demo's store is
// backed up, checked, restored elsewhere, refused over itself, and its
// schema version shown; a store from a newer firebreak is refused by serve.
func TestBackupRestoreCLI(t *testing.T) {
	ctx := context.Background()
	var out bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: &out, log: slog.New(slog.DiscardHandler)}
	if err := runDemo(ctx, demoOptions{listen: "127.0.0.1:0", now: "2026-11-27T09:00:00Z", noServe: true, keep: true}, g); err != nil {
		t.Fatalf("demo: %v", err)
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	data := strings.TrimSpace(first[strings.LastIndex(first, " ")+1:])
	if !strings.HasPrefix(data, os.TempDir()) {
		t.Fatalf("demo data dir %q", data)
	}
	t.Cleanup(func() { os.RemoveAll(data) })
	bk := filepath.Join(t.TempDir(), "fb.fbk")
	if code, s := runCLI(t, ctx, "backup", "--data-dir", data, "-o", bk, "-f", "json"); code != 0 {
		t.Fatalf("backup: %d %s", code, s)
	} else {
		var m struct{ Events int64 }
		if err := json.Unmarshal([]byte(s), &m); err != nil || m.Events < 1000 {
			t.Errorf("backup json %q: %v", s, err)
		}
	}
	if code, s := runCLI(t, ctx, "restore", "--check", bk); code != 0 || !strings.Contains(s, "ok") {
		t.Errorf("restore --check: %d %s", code, s)
	}
	if code, s := runCLI(t, ctx, "restore", bk, "--data-dir", data); code != 1 || !strings.Contains(s, "not empty") {
		t.Errorf("restore over the live store: %d %s", code, s)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if code, s := runCLI(t, ctx, "restore", bk, "--data-dir", dst); code != 0 {
		t.Fatalf("restore: %d %s", code, s)
	}
	if code, s := runCLI(t, ctx, "version", "--data-dir", dst); code != 0 || !strings.Contains(s, "(current)") {
		t.Errorf("version --data-dir: %d %s", code, s)
	}
	if code, s := runCLI(t, ctx, "restore", "../../go.mod", "--data-dir", t.TempDir()); code != 1 || !strings.Contains(s, "not a firebreak backup") {
		t.Errorf("restore of go.mod: %d %s", code, s)
	}
	if code, s := runCLI(t, ctx, "migrate", "--data-dir", dst, "--to", "mysql://x"); code != 2 {
		t.Errorf("migrate --to mysql: %d %s", code, s)
	}

	// A store written by a newer firebreak: version says so, serve refuses.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dst, "firebreak.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied) VALUES (99, '0099_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, s := runCLI(t, ctx, "version", "--data-dir", dst); code != 0 || !strings.Contains(s, "NEWER") {
		t.Errorf("version --data-dir on a newer store: %d %s", code, s)
	}
	before, _ := os.ReadFile(filepath.Join(dst, "firebreak.db"))
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if code, s := runCLI(t, sctx, "serve", "--data-dir", dst, "--listen", "127.0.0.1:0", "--insecure-http"); code != 1 || !strings.Contains(s, "newer than this binary") {
		t.Errorf("serve on a newer store: %d %s", code, s)
	}
	if after, _ := os.ReadFile(filepath.Join(dst, "firebreak.db")); !bytes.Equal(before, after) {
		t.Error("serve changed a store it refused")
	}
}

// backup -o DIR/ is a usage error naming a file to write, said before the
// copy (it used to fail after it, with "rename …: file exists").
func TestBackupOutputDirRefused(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := cli(t, "backup", "--data-dir", filepath.Join(dir, "none"), "-o", dir+"/")
	if code != exitUsage || !strings.Contains(errOut, "is a directory") || !strings.Contains(errOut, ".fbk") {
		t.Errorf("backup -o DIR/: exit %d, stderr %q; want a usage error naming a file", code, errOut)
	}
}
