package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx"
)

// DefaultPoll is how often Follow checks files for new data and rotation.
const DefaultPoll = 250 * time.Millisecond

// Follow tails paths like `tail -F`, calling fn for every event, until ctx
// is done (it then returns nil) or fn returns an error. It survives rotation
// by rename+create (the old file is read to its end, then the new one from
// its start) and by copytruncate (reading restarts at offset 0). A missing
// file is waited for. fn's event is reused between calls. Options.FollowPoll,
// FollowFromEnd and OnRotate tune it.
func Follow(ctx context.Context, paths []string, opts Options, fn func(*event.Event) error) error {
	poll := opts.FollowPoll
	if poll <= 0 {
		poll = DefaultPoll
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	wait := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		}
	}
	err := follow(ctx, paths, opts, fn, wait)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// followSrc reads a file and reports errWait at its current end.
type followSrc struct {
	f   *os.File
	off int64
}

func (s *followSrc) Read(p []byte) (int, error) {
	n, err := s.f.Read(p)
	s.off += int64(n)
	if err == io.EOF {
		return n, errWait
	}
	return n, err
}

type followed struct {
	path string
	src  *followSrc
	fi   os.FileInfo
	r    *Reader

	evtx     bool            // a binary .evtx file: read by drainEVTX
	evtxSkip bool            // followed from the end: the records there at the first read are not delivered
	evtxSeen os.FileInfo     // size and time when it was last read
	evtxAt   time.Time       // when it was last read
	lastRec  int64           // .evtx: the last record number delivered
	base     int64           // file offset where r started reading
	dead     bool            // dropped from a directory tail (its name is another file's now)
	gz       bool            // a gzip file: read by drainGzip
	gzDone   bool            // read (or an archive of data read), or followed from its end
	gzSeen   os.FileInfo     // size and time when it was last found incomplete
	prints   *prints         // the tail's prints of the plain files it read (follow_gzip.go)
	printed  int             // bytes of this file's start printed so far
	told     map[Sample]bool // problems already passed to Options.OnSkip (an .evtx is re-read)
}

// maxTold bounds the problems remembered per followed file; past it, a
// re-read .evtx's problems are no longer told (they were, at least once).
const maxTold = 256

// onSkip is opts.OnSkip telling each of fl's problems once.
func (fl *followed) onSkip(opts Options) func(string, Sample) {
	if opts.OnSkip == nil {
		return nil
	}
	return func(kind string, s Sample) {
		if fl.told[s] {
			return
		}
		if fl.told == nil {
			fl.told = map[Sample]bool{}
		}
		if len(fl.told) < maxTold {
			fl.told[s] = true
		} else if fl.evtx {
			return
		}
		opts.OnSkip(kind, s)
	}
}

func (fl *followed) close() {
	if fl.src != nil {
		_ = fl.src.f.Close()
	}
	fl.src, fl.r, fl.fi = nil, nil, nil
	fl.evtx, fl.evtxSeen, fl.lastRec, fl.evtxSkip = false, nil, 0, false
	fl.gz, fl.gzDone, fl.gzSeen, fl.printed = false, false, nil, 0
}

// open opens the file; fromEnd seeks to its end.
func (fl *followed) open(fromEnd bool) error {
	f, err := os.Open(fl.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // wait for it
		}
		return fmt.Errorf("following %s: %w", fl.path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("following %s: %w", fl.path, err)
	}
	fl.src = &followSrc{f: f}
	fl.fi = fi
	if fromEnd {
		off, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			_ = f.Close()
			return fmt.Errorf("following %s: %w", fl.path, err)
		}
		fl.src.off = off
	}
	return nil
}

// reader builds the Reader once the file has data to sniff.
func (fl *followed) reader(opts Options) error {
	if fl.r != nil || fl.src == nil || fl.evtx || fl.gz {
		return nil
	}
	if fl.isGzip() {
		// read whole once complete (drainGzip); from the end, or read
		// before a restart (its size saved): not read
		fi, err := fl.src.f.Stat()
		fl.gz, fl.gzDone = true, err == nil && fl.src.off > 0 && fl.src.off >= fi.Size()
		return nil
	}
	if opts.Format == FormatAuto || opts.Format == FormatEVTX {
		var magic [8]byte
		if n, _ := fl.src.f.ReadAt(magic[:], 0); n == len(magic) && evtx.IsEVTX(magic[:]) {
			// Windows rewrites an .evtx's open chunk in place: drainEVTX
			// re-reads the file and passes on the records not yet
			// delivered (from the end: the records there now are skipped)
			fl.evtx, fl.evtxSkip = true, fl.src.off > 0 && fl.lastRec == 0
			return nil
		}
	}
	if opts.Format == "" {
		fi, err := fl.src.f.Stat()
		if err != nil || fi.Size() <= fl.src.off {
			return nil // nothing to sniff yet
		}
	}
	if opts.ModTime.IsZero() {
		opts.ModTime = fl.fi.ModTime()
	}
	base := fl.src.off
	opts.OnSkip = fl.onSkip(opts)
	r, err := NewReader(fl.path, fl.src, opts)
	if err != nil {
		return err
	}
	fl.base = base
	if r.evtx != nil {
		fl.evtx = true // an .evtx whose header arrived after the check above
		return nil
	}
	r.lines.resume()
	fl.r = r
	return nil
}

// drain reads every complete record available now.
func (fl *followed) drain(opts Options, ev *event.Event, fn func(*event.Event) error) error {
	if fl.evtx {
		return fl.drainEVTX(opts, ev, fn)
	}
	if fl.gz {
		return fl.drainGzip(opts, ev, fn)
	}
	if fl.r == nil {
		return nil
	}
	fl.notePrint()
	fl.r.lines.resume()
	for {
		err := fl.r.Next(ev)
		if err == nil {
			if err := fn(ev); err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, errWait) {
			return nil
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("following %s: %w", fl.path, err)
	}
}

func follow(ctx context.Context, paths []string, opts Options, fn func(*event.Event) error, wait func(context.Context) error) error {
	state, err := loadFollowState(opts.FollowState)
	if err != nil && state == nil {
		return err
	}
	if err != nil && opts.OnStateError != nil {
		opts.OnStateError(err)
	}
	ts, err := newTailSet(paths, opts.FollowFromEnd, state, opts.OnSkip)
	if err != nil {
		return err
	}
	var saved []byte
	defer func() {
		for _, fl := range ts.files {
			fl.close()
		}
	}()
	var ev event.Event
	for first := true; ; first = false {
		if !first {
			if err := ts.scan(false); err != nil {
				return err
			}
		}
		for _, fl := range ts.files {
			if err := fl.reader(opts); err != nil {
				if !errors.Is(err, ErrNeedsMapping) || len(ts.roots) == 0 {
					return err
				}
				// found in a folder: told as not read, as detect DIR
				// warns, and the rest of the folder followed
				fl.close()
				fl.dead = true
				ts.tell([]walkSkip{{path: fl.path, why: err.Error() + " (not read; --mapping names one)"}})
				continue
			}
			if err := fl.drain(opts, &ev, fn); err != nil {
				return err
			}
			if err := fl.checkRotation(ts, opts, &ev, fn); err != nil {
				return err
			}
		}
		ts.files = slices.DeleteFunc(ts.files, func(fl *followed) bool { return fl.dead })
		if opts.FollowCommit != nil {
			// the positions only after the events they cover are committed
			if err := opts.FollowCommit(); err != nil {
				return err
			}
		}
		if err := ts.save(opts.FollowState, &saved); err != nil && opts.OnStateError != nil {
			opts.OnStateError(err)
		}
		if err := wait(ctx); err != nil {
			return err
		}
	}
}

// checkRotation detects rename+create and copytruncate.
func (fl *followed) checkRotation(ts *tailSet, opts Options, ev *event.Event, fn func(*event.Event) error) error {
	cur, err := os.Stat(fl.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil // renamed away, not yet re-created: keep reading the old file
		}
		return fmt.Errorf("following %s: %w", fl.path, err)
	}
	if fl.src == nil { // appeared: read it from its start
		if err := fl.open(false); err != nil {
			return err
		}
		if err := fl.reader(opts); err != nil {
			return err
		}
		return fl.drain(opts, ev, fn)
	}
	if !os.SameFile(cur, fl.fi) {
		// rename+create: finish the old file, then switch to the new one from its start
		if err := fl.drain(opts, ev, fn); err != nil {
			return err
		}
		fl.flushPartial(ev, fn)
		if fl.r != nil && opts.OnRotate != nil {
			opts.OnRotate(fl.r.Stats())
		}
		ts.retire(fl)
		fl.close()
		if ts.held(cur, fl) {
			// the name now points to a file another name of the folder is
			// reading (auth.log.1 replaced by auth.log): that one reads on;
			// this name is found again once it is a file of its own
			fl.dead = true
			delete(ts.known, fl.path)
			return nil
		}
		if err := fl.open(false); err != nil {
			return err
		}
		if err := fl.reader(opts); err != nil {
			return err
		}
		return fl.drain(opts, ev, fn)
	}
	if cur.Size() < fl.src.off && !fl.evtx {
		// copytruncate: start again at offset 0
		if fl.r != nil && opts.OnRotate != nil {
			opts.OnRotate(fl.r.Stats())
		}
		if _, err := fl.src.f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("following %s: %w", fl.path, err)
		}
		fl.src.off = 0
		fl.fi = cur
		fl.r, fl.printed = nil, 0
		if err := fl.reader(opts); err != nil {
			return err
		}
		return fl.drain(opts, ev, fn)
	}
	fl.fi = cur
	return nil
}

// flushPartial processes a last line without a newline in a file that was
// rotated away (it will never be completed).
func (fl *followed) flushPartial(ev *event.Event, fn func(*event.Event) error) {
	if fl.r == nil {
		return
	}
	fl.r.lines.err = io.EOF
	for {
		if err := fl.r.Next(ev); err != nil {
			return
		}
		if fn(ev) != nil {
			return
		}
	}
}
