//go:build unix

package transfer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LockFile is the file in a SQLite data directory that `firebreak serve`
// holds an exclusive lock on while it runs.
const LockFile = "firebreak.lock"

// ErrInUse is returned by LockDataDir when another process holds the lock.
var ErrInUse = errors.New("the data directory is in use by a running firebreak serve")

// LockDataDir takes the data directory's exclusive lock (flock on
// firebreak.lock, released by the kernel when the process ends, kill -9
// included). serve holds it while it runs; restore takes it before it
// moves anything, so neither runs on a store the other is using.
func LockDataDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w (stop it first)", dir, ErrInUse)
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { _ = f.Close() }, nil
}
