//go:build linux

package transfer

import (
	"os"

	"golang.org/x/sys/unix"
)

// flusher writes a growing file back to disk as it grows without fsync:
// sync_file_range starts write-back of the newest range and waits only for
// the range before it, so dirty pages stay bounded (two ranges) and no
// journal commit is forced. An fsync every few MB would make the file
// system commit its journal each time, and serve's own WAL fsyncs
// (synchronous=FULL) queue behind those commits: the stall PostgreSQL
// avoids the same way (checkpoint_flush_after). The final fsync is left
// to the caller.
type flusher struct {
	f    *os.File
	done int64 // bytes whose write-back has been started
	prev int64 // start of the range started last
}

func newFlusher(f *os.File) *flusher { return &flusher{f: f} }

// flush starts write-back of what was written since the last call and waits
// for the range started by the call before.
func (w *flusher) flush() error {
	fi, err := w.f.Stat()
	if err != nil {
		return err
	}
	end := fi.Size()
	if end <= w.done {
		return nil
	}
	fd := int(w.f.Fd())
	if w.done > w.prev {
		if err := unix.SyncFileRange(fd, w.prev, w.done-w.prev, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER); err != nil {
			return w.f.Sync()
		}
	}
	if err := unix.SyncFileRange(fd, w.done, end-w.done, unix.SYNC_FILE_RANGE_WRITE); err != nil {
		return w.f.Sync()
	}
	w.prev, w.done = w.done, end
	return nil
}
