package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
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
}

func (fl *followed) close() {
	if fl.src != nil {
		_ = fl.src.f.Close()
	}
	fl.src, fl.r, fl.fi = nil, nil, nil
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
	if fl.r != nil || fl.src == nil {
		return nil
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
	r, err := NewReader(fl.path, fl.src, opts)
	if err != nil {
		return err
	}
	if r.evtx != nil {
		// Windows rewrites .evtx chunks in place; it cannot be tailed
		return fmt.Errorf("%s: a binary .evtx file cannot be followed (Windows rewrites it in place); read it without --follow, or forward the events as XML or JSON", fl.path)
	}
	r.lines.resume()
	fl.r = r
	return nil
}

// drain reads every complete record available now.
func (fl *followed) drain(ev *event.Event, fn func(*event.Event) error) error {
	if fl.r == nil {
		return nil
	}
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
	files := make([]*followed, len(paths))
	for i, p := range paths {
		files[i] = &followed{path: p}
		if err := files[i].open(opts.FollowFromEnd); err != nil {
			return err
		}
	}
	defer func() {
		for _, fl := range files {
			fl.close()
		}
	}()
	var ev event.Event
	for {
		for _, fl := range files {
			if err := fl.reader(opts); err != nil {
				return err
			}
			if err := fl.drain(&ev, fn); err != nil {
				return err
			}
			if err := fl.checkRotation(opts, &ev, fn); err != nil {
				return err
			}
		}
		if err := wait(ctx); err != nil {
			return err
		}
	}
}

// checkRotation detects rename+create and copytruncate.
func (fl *followed) checkRotation(opts Options, ev *event.Event, fn func(*event.Event) error) error {
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
		return fl.drain(ev, fn)
	}
	if !os.SameFile(cur, fl.fi) {
		// rename+create: finish the old file, then switch to the new one from its start
		if err := fl.drain(ev, fn); err != nil {
			return err
		}
		fl.flushPartial(ev, fn)
		if fl.r != nil && opts.OnRotate != nil {
			opts.OnRotate(fl.r.Stats())
		}
		fl.close()
		if err := fl.open(false); err != nil {
			return err
		}
		if err := fl.reader(opts); err != nil {
			return err
		}
		return fl.drain(ev, fn)
	}
	if cur.Size() < fl.src.off {
		// copytruncate: start again at offset 0
		if fl.r != nil && opts.OnRotate != nil {
			opts.OnRotate(fl.r.Stats())
		}
		if _, err := fl.src.f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("following %s: %w", fl.path, err)
		}
		fl.src.off = 0
		fl.fi = cur
		fl.r = nil
		if err := fl.reader(opts); err != nil {
			return err
		}
		return fl.drain(ev, fn)
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
