//go:build !linux

package transfer

import "os"

// flusher writes a growing file back to disk as it grows; without Linux's
// sync_file_range it syncs the file.
type flusher struct{ f *os.File }

func newFlusher(f *os.File) *flusher { return &flusher{f: f} }

func (w *flusher) flush() error { return w.f.Sync() }
