package ingest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// WalkDir lists the files under the folder root that detect reads, in
// name order, recursively, leaving out hidden files and folders and those
// keep (if set) refuses. Symbolic links to files and folders are followed
// (an MSP often links the logs it collects into one folder). Each folder
// and file is read once, through the first path that reaches it: a link
// back to a folder above it (a loop) or to one already read is not
// followed, and a second path to a file is left out. Those links, dangling
// ones, unreadable folders and anything that is not a regular file (a
// socket, a device) are listed in skipped as "path: why", one each.
// Only an unreadable root is an error.
func WalkDir(root string, keep func(path string) bool) (files, skipped []string, err error) {
	files, sk, err := walkDir(root, keep)
	for _, s := range sk {
		skipped = append(skipped, s.String())
	}
	return files, skipped, err
}

// walkSkip is one path WalkDir left out, and why.
type walkSkip struct{ path, why string }

func (s walkSkip) String() string { return s.path + ": " + s.why }

// walkDir is WalkDir with what it skipped as path and reason apart (a
// folder tail tells them as samples).
func walkDir(root string, keep func(path string) bool) ([]string, []walkSkip, error) {
	w := &dirWalk{keep: keep, seen: map[walkID]string{}}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, nil, err
	}
	w.seen[w.id(root, fi)] = root
	if err := w.dir(root, true); err != nil {
		return nil, nil, err
	}
	return w.files, w.skipped, nil
}

type dirWalk struct {
	keep    func(string) bool
	seen    map[walkID]string // folders and files read, by identity: the path first read
	files   []string
	skipped []walkSkip
}

// walkID identifies a file: its device and inode, or where the system
// gives none, its path with every link resolved.
type walkID struct {
	dev, ino uint64
	path     string
}

func (w *dirWalk) id(p string, fi os.FileInfo) walkID {
	if dev, ino, ok := fileID(fi); ok {
		return walkID{dev: dev, ino: ino}
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		real = p
	}
	abs, err := filepath.Abs(real)
	if err != nil {
		abs = real
	}
	return walkID{path: abs}
}

func (w *dirWalk) skip(p, why string, a ...any) {
	w.skipped = append(w.skipped, walkSkip{p, fmt.Sprintf(why, a...)})
}

func (w *dirWalk) dir(dir string, root bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if root {
			return err
		}
		w.skip(dir, "folder not read: %v", err)
		return nil
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		link := e.Type()&fs.ModeSymlink != 0
		var fi os.FileInfo
		if link {
			fi, err = os.Stat(p)
		} else {
			fi, err = e.Info()
		}
		if err != nil {
			if link {
				w.skip(p, "symbolic link not followed: %v", unwrapPath(err))
			} else if !os.IsNotExist(err) { // gone since listed: nothing to read
				w.skip(p, "not read: %v", unwrapPath(err))
			}
			continue
		}
		mode := fi.Mode()
		if !mode.IsDir() && !mode.IsRegular() {
			w.skip(p, "not a regular file (%s)", mode.Type())
			continue
		}
		if !mode.IsDir() && w.keep != nil && !w.keep(p) {
			continue
		}
		id := w.id(p, fi)
		if first, dup := w.seen[id]; dup {
			switch {
			case mode.IsRegular():
				w.skip(p, "same file as %s (read once)", first)
			case p == first || strings.HasPrefix(p, first+string(filepath.Separator)):
				w.skip(p, "symbolic link loop back to %s (not followed)", first)
			default:
				w.skip(p, "same folder as %s (read once)", first)
			}
			continue
		}
		w.seen[id] = p
		if mode.IsRegular() {
			w.files = append(w.files, p)
			continue
		}
		if err := w.dir(p, false); err != nil {
			return err
		}
	}
	return nil
}

// unwrapPath drops the path an *fs.PathError repeats.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
