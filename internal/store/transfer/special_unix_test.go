//go:build unix

package transfer

import (
	"context"
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
