package ingest

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// A followed gzip file (detect reads one like any log: NewReader detects
// the compression) is read once, whole, when it is complete: gzip writes
// its stream's end last, so a file that does not decompress to its
// trailer yet is still being written and is looked at again when its size
// or time changes. Its saved position is its size once read (a restart
// does not read it again). A compressed file holding data the tail read
// already — a rotated log's archive (auth.log.1 compressed into
// auth.log.2.gz) — is recognised by its start: the tail keeps a print
// (the hash of up to the first printSize bytes) of every plain file it
// reads, in the saved positions too, and a gzip file whose decompressed
// start matches one is not read. Memory is bounded by the decompressor's
// window and one Reader's buffer.

// printSize is how much of a file's start a print covers; minPrint the
// least (a shorter file is not printed: its archive would be read).
const (
	printSize = 256
	minPrint  = 32
	maxPrints = 512
)

// prints are the starts of the plain files the tail has read, as
// "length:hex sha-256", oldest first (at most maxPrints).
type prints struct{ list []string }

func printOf(b []byte) string {
	sum := sha256.Sum256(b)
	return strconv.Itoa(len(b)) + ":" + hex.EncodeToString(sum[:16])
}

func (ps *prints) add(p string) {
	if slices.Contains(ps.list, p) {
		return
	}
	ps.list = append(ps.list, p)
	if len(ps.list) > maxPrints {
		ps.list = slices.Delete(ps.list, 0, len(ps.list)-maxPrints)
	}
}

// matches reports whether head (a file's first bytes, up to printSize)
// starts with the content of a printed file.
func (ps *prints) matches(head []byte) bool {
	for _, p := range ps.list {
		n, _, ok := strings.Cut(p, ":")
		if !ok {
			continue
		}
		if k, err := strconv.Atoi(n); err == nil && k <= len(head) && printOf(head[:k]) == p {
			return true
		}
	}
	return false
}

// notePrint records the print of the plain file fl reads, once its start
// is longer than the print last taken (up to printSize).
func (fl *followed) notePrint() {
	if fl.prints == nil || fl.src == nil || fl.printed >= printSize {
		return
	}
	var b [printSize]byte
	n, _ := fl.src.f.ReadAt(b[:], 0)
	if n <= fl.printed || n < minPrint {
		return
	}
	fl.printed = n
	fl.prints.add(printOf(b[:n]))
}

// isGzip reports whether the followed file starts with the gzip magic.
func (fl *followed) isGzip() bool {
	var magic [2]byte
	n, _ := fl.src.f.ReadAt(magic[:], 0)
	return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b
}

// drainGzip reads a followed gzip file's events once it is complete (see
// above).
func (fl *followed) drainGzip(opts Options, ev *event.Event, fn func(*event.Event) error) error {
	if fl.gzDone {
		return nil
	}
	fi, err := fl.src.f.Stat()
	if err != nil {
		return nil
	}
	if fl.gzSeen != nil && fi.Size() == fl.gzSeen.Size() && fi.ModTime().Equal(fl.gzSeen.ModTime()) {
		return nil // not complete when last looked at, and unchanged since
	}
	fl.gzSeen = fi
	whole := io.NewSectionReader(fl.src.f, 0, fi.Size())
	head, err := gzipComplete(whole)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil // still being written
	}
	if err != nil {
		if tell := fl.onSkip(opts); tell != nil {
			tell(SkipNotRead, Sample{File: fl.path, Reason: fmt.Sprintf("compressed file not read: %v (read when it changes)", err)})
		}
		return nil
	}
	fl.gzDone, fl.src.off = true, fi.Size()
	if fl.prints != nil && fl.prints.matches(head) {
		return nil // an archive of a file read already
	}
	if opts.ModTime.IsZero() {
		opts.ModTime = fi.ModTime()
	}
	opts.OnSkip = fl.onSkip(opts)
	r, err := NewReader(fl.path, io.NewSectionReader(fl.src.f, 0, fi.Size()), opts)
	if err != nil {
		return fmt.Errorf("following %s: %w", fl.path, err)
	}
	for {
		err := r.Next(ev)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("following %s: %w", fl.path, err)
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

// gzipComplete decompresses r to its end, returning the first printSize
// bytes of its content; io.ErrUnexpectedEOF means the stream is not
// complete yet.
func gzipComplete(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF // not even a whole header yet
		}
		return nil, err
	}
	head := make([]byte, printSize)
	n := 0
	for n < len(head) && err == nil {
		var k int
		k, err = zr.Read(head[n:])
		n += k
	}
	switch {
	case err == nil:
		_, err = io.Copy(io.Discard, zr) // nil at the stream's end
	case errors.Is(err, io.EOF):
		err = nil // shorter than printSize
	}
	return head[:n], err
}
