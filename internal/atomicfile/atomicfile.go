// Package atomicfile writes files so that a reader sees either the old or the
// new content, never a partial one: the data goes to a temporary file in the
// same directory, is flushed and fsynced, and is renamed over the target only
// when everything succeeded. Any package may import it.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Write creates or replaces path, with mode perm, with what fill writes. On
// any error (fill's is returned as it is) the temporary file is removed and
// path is left untouched. The directory must exist.
//
// A path that exists and is not a regular file (after symlinks), such as
// /dev/null, /dev/stdout or a named pipe, is written to directly: renaming
// over it would replace the device with a regular file (`-o /dev/null` run
// as root used to turn the machine's /dev/null into a 0600 file).
func Write(path string, perm fs.FileMode, fill func(w io.Writer) error) (err error) {
	if Special(path) {
		return writeInPlace(path, fill)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriter(f)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Special reports whether path exists and is neither a regular file nor a
// directory (after symlinks): a device such as /dev/null, a named pipe, a
// socket. Such a target must be written through, never renamed over.
func Special(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.Mode().IsRegular() && !fi.IsDir()
}

// writeInPlace writes to an existing non-regular file (a device, a pipe)
// through an ordinary open; there is nothing to make atomic there.
func writeInPlace(path string, fill func(w io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	if err := fill(bw); err != nil {
		_ = f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteBytes is Write for data already in memory.
func WriteBytes(path string, perm fs.FileMode, data []byte) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
