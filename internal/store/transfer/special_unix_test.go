//go:build unix

package transfer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A backup named onto a device or pipe (a pipe stands in for /dev/null) is
// refused before anything is written; renaming the backup into place used
// to replace the device with a regular file.
func TestBackupRefusesSpecialFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, dbFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "null")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := Backup(context.Background(), dir, fifo, BackupOptions{})
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Backup onto a pipe: %v, want a refusal", err)
	}
	if fi, err := os.Stat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe was replaced: %v %v", fi.Mode(), err)
	}
}

// restore --force into a data directory a running serve holds (its lock)
// is refused before anything moves; it used to move the live database
// aside while serve kept writing to it (v16).
func TestRestoreRefusesDirInUse(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, dbFile), []byte("live"), 0o600); err != nil {
		t.Fatal(err)
	}
	release, err := LockDataDir(dir) // what serve holds
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, err := LockDataDir(dir); !errors.Is(err, ErrInUse) {
		t.Fatalf("second lock: %v, want ErrInUse", err)
	}
	src := filepath.Join(t.TempDir(), "b.fbk")
	store := t.TempDir()
	seed(t, store, 10)
	if _, err := Backup(context.Background(), store, src, BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = Restore(context.Background(), src, dir, RestoreOptions{Force: true})
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("restore --force under a running serve: %v, want ErrInUse", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, dbFile)); string(b) != "live" {
		t.Fatalf("the live database was touched: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 { // firebreak.db, firebreak.lock
		t.Fatalf("restore left files behind: %v", ents)
	}
}

// A backup whose stored values were changed while its structure stayed
// valid (an edited event: SQLite's own checks pass) is refused by restore's
// content checksum; so is a changed byte inside a value (v16: restored with
// rc 0 before the checksum).
func TestRestoreRefusesChangedContent(t *testing.T) {
	ctx := context.Background()
	store := t.TempDir()
	seed(t, store, 50)
	bk := filepath.Join(t.TempDir(), "b.fbk")
	if _, err := Backup(ctx, store, bk, BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := inspect(ctx, bk); err != nil {
		t.Fatalf("an untouched backup: %v", err)
	}
	db, err := openSQLite(bk, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE events SET raw = replace(raw, 'user', 'usEr') WHERE rowid = (SELECT min(rowid) FROM events)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	dst := t.TempDir()
	_, err = Restore(ctx, bk, dst, RestoreOptions{})
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "content checksum") {
		t.Fatalf("restore of an edited backup: %v, want a content checksum refusal", err)
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 0 {
		t.Fatalf("a refused restore wrote %v", ents)
	}
}
