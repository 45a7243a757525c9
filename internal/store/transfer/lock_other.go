//go:build !unix

package transfer

import "errors"

// LockFile is the file in a SQLite data directory that `firebreak serve`
// holds an exclusive lock on while it runs (unix only).
const LockFile = "firebreak.lock"

// ErrInUse is returned by LockDataDir when another process holds the lock.
var ErrInUse = errors.New("the data directory is in use by a running firebreak serve")

// LockDataDir is a no-op where flock is not available.
func LockDataDir(string) (func(), error) { return func() {}, nil }
