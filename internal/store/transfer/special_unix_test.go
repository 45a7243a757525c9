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
