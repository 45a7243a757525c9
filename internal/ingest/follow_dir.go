package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// A followed directory: every regular file under it (recursively,
// through symbolic links to files and folders, each file once: WalkDir) is
// followed, files that appear later are read from their start on the next
// poll, and each file's format is sniffed on its own as detect does.
// Gzip files are read once complete, as detect reads them, except an
// archive of data the tail read already (auth.log.1 compressed into
// auth.log.2.gz by rotation: follow_gzip.go). Other compressed files
// (which detect cannot read either) and hidden files are left out. A
// file renamed within the directory (auth.log -> auth.log.1) is recognised
// by its identity and read on from where its old name left off, never again
// from its start.

// compressedExt are the suffixes a directory tail leaves out: compressed
// forms NewReader does not read (gzip it does).
var compressedExt = []string{".bz2", ".xz", ".zst", ".zip", ".lz4", ".z"}

// dirFileWanted is the tail's filter on top of WalkDir's own rules (which
// leave out hidden files and folders, as detect DIR does): no archives
// but gzip.
func dirFileWanted(name string) bool {
	lower := strings.ToLower(filepath.Base(name))
	return !slices.ContainsFunc(compressedExt, func(s string) bool { return strings.HasSuffix(lower, s) })
}

// retired is a file whose name was rotated away, with how far it was read.
type retired struct {
	fi      os.FileInfo
	off     int64
	lastRec int64
}

// tailSet is the files follow reads: the configured ones and those found
// under the configured directories.
type tailSet struct {
	state   *followState // positions saved by a previous run
	roots   []string
	files   []*followed
	known   map[string]bool
	retired []retired
	// told are the paths WalkDir left out (a link in a loop or to what was
	// read already, a dangling link, an unreadable folder, not a regular
	// file) already passed to onSkip, which tells each once.
	told   map[walkSkip]bool
	onSkip func(kind string, s Sample)
	// prints are the starts of the plain files read (follow_gzip.go).
	prints prints
}

func newTailSet(paths []string, fromEnd bool, state *followState, onSkip func(string, Sample)) (*tailSet, error) {
	ts := &tailSet{known: map[string]bool{}, state: state, onSkip: onSkip}
	if state != nil {
		ts.prints.list = slices.Clone(state.Prints)
	}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			ts.roots = append(ts.roots, p)
			continue
		}
		if err := ts.add(p, fromEnd); err != nil {
			return nil, err
		}
	}
	if err := ts.scan(fromEnd); err != nil {
		return nil, err
	}
	return ts, nil
}

func (ts *tailSet) add(p string, fromEnd bool) error {
	fl := &followed{path: p, prints: &ts.prints}
	if err := fl.open(fromEnd); err != nil {
		return err
	}
	if err := fl.restore(ts.state); err != nil {
		return err
	}
	ts.files = append(ts.files, fl)
	ts.known[p] = true
	return nil
}

// scan walks the directories for files not followed yet (WalkDir:
// symbolic links to files and folders followed, each file once).
func (ts *tailSet) scan(fromEnd bool) error {
	for _, root := range ts.roots {
		files, skipped, err := walkDir(root, dirFileWanted)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("following %s: %w", root, err)
			}
			continue // a vanished root: try again next poll
		}
		ts.tell(skipped)
		for _, p := range files {
			if err := ts.found(p, fromEnd); err != nil {
				return fmt.Errorf("following %s: %w", root, err)
			}
		}
	}
	return nil
}

// tell passes what a walk left out to onSkip (SkipNotRead), each once,
// with the reason detect DIR reports in its summary.
func (ts *tailSet) tell(skipped []walkSkip) {
	if ts.onSkip == nil {
		return
	}
	for _, s := range skipped {
		if ts.told[s] || len(ts.told) >= maxTold {
			continue
		}
		if ts.told == nil {
			ts.told = map[walkSkip]bool{}
		}
		ts.told[s] = true
		ts.onSkip(SkipNotRead, Sample{File: s.path, Reason: s.why})
	}
}

// found starts following p, a file found under a directory, unless it is
// followed already.
func (ts *tailSet) found(p string, fromEnd bool) error {
	if ts.known[p] {
		return nil
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil // vanished or unreadable: try again next poll
	}
	for _, fl := range ts.files {
		if fl.fi != nil && os.SameFile(fi, fl.fi) {
			return nil // renamed, its old name not yet rotated: next poll
		}
	}
	for i, r := range ts.retired {
		if os.SameFile(fi, r.fi) {
			// auth.log rotated to auth.log.1: read on from where it was
			fl := &followed{path: p, lastRec: r.lastRec, prints: &ts.prints}
			if err := fl.open(false); err != nil {
				return err
			}
			if fl.src != nil {
				if _, err := fl.src.f.Seek(r.off, 0); err != nil {
					return fmt.Errorf("following %s: %w", p, err)
				}
				fl.src.off = r.off
			}
			ts.files = append(ts.files, fl)
			ts.known[p] = true
			ts.retired = slices.Delete(ts.retired, i, i+1)
			return nil
		}
	}
	return ts.add(p, fromEnd)
}

// held reports whether a followed file other than fl is fi.
func (ts *tailSet) held(fi os.FileInfo, fl *followed) bool {
	return slices.ContainsFunc(ts.files, func(o *followed) bool {
		return o != fl && !o.dead && o.fi != nil && os.SameFile(fi, o.fi)
	})
}

// retire remembers a rotated-away file of a directory tail.
func (ts *tailSet) retire(fl *followed) {
	if len(ts.roots) == 0 || fl.fi == nil || fl.src == nil {
		return
	}
	ts.retired = append(ts.retired, retired{fi: fl.fi, off: fl.src.off, lastRec: fl.lastRec})
	if len(ts.retired) > 64 {
		ts.retired = ts.retired[1:]
	}
}

// evtxRecheck: a followed .evtx whose size and time did not change is
// still read again this often (a writer that rewrites its open chunk in
// place without the modification time changing, as NTFS may defer it).
const evtxRecheck = 30 * time.Second

// drainEVTX reads the records of a followed .evtx file appended since the
// last poll. Windows (and a copy in progress) grows an .evtx by whole
// 64 KiB chunks and rewrites the open chunk in place, so the file is read
// again from its start whenever its size or modification time changed (and
// at least every evtxRecheck even when neither did), and only records with
// a higher record number than the last one delivered are passed on. A
// chunk still being written fails its checksum and is skipped until it is
// complete.
func (fl *followed) drainEVTX(opts Options, ev *event.Event, fn func(*event.Event) error) error {
	fi, err := os.Stat(fl.path)
	if err != nil {
		return nil
	}
	if fl.evtxSeen != nil && fi.Size() == fl.evtxSeen.Size() && fi.ModTime().Equal(fl.evtxSeen.ModTime()) &&
		time.Since(fl.evtxAt) < evtxRecheck {
		return nil
	}
	f, err := os.Open(fl.path)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }()
	opts.Format = FormatEVTX
	opts.OnSkip = fl.onSkip(opts)
	if opts.ModTime.IsZero() {
		opts.ModTime = fi.ModTime()
	}
	r, err := NewReader(fl.path, f, opts)
	if err != nil {
		return nil // the header is not complete yet
	}
	fl.evtxSeen, fl.evtxAt = fi, time.Now()
	if fl.evtxSkip {
		fl.evtxSkip = false
		fn = func(*event.Event) error { return nil }
	}
	for {
		if err := r.Next(ev); err != nil {
			return nil // end of the complete chunks, or a damaged rest
		}
		if ev.Line <= fl.lastRec {
			continue
		}
		fl.lastRec = ev.Line
		if err := fn(ev); err != nil {
			return err
		}
	}
}
