package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
)

// Spool is a bounded on-disk FIFO of JSON documents, one per line, in
// segment files (seg-<n>.jsonl) with a persisted read cursor. It lets an
// exporter keep everything a SIEM could not take (down for an hour) up to
// MaxBytes; past the bound new documents are dropped and counted, never
// silently. A restarted process resumes at the cursor: documents are sent
// at least once.
type Spool struct {
	dir      string
	maxBytes int64
	segBytes int64

	mu      sync.Mutex
	w       *os.File
	wbuf    *bufio.Writer
	wSeg    int64
	wOff    int64 // bytes written to the current segment (flushed or buffered)
	rSeg    int64 // cursor: segment and offset of the next unsent document
	rOff    int64
	pending int64 // bytes not yet committed
	docs    int64 // documents not yet committed (approximate after a restart: counted on open)
	dropped int64
	corrupt int64
	ready   chan struct{}
}

// Position is a place in the spool (returned by Peek, given to Commit).
type Position struct{ Seg, Off int64 }

// SpoolStats is what the spool holds and lost.
type SpoolStats struct {
	PendingBytes int64 `json:"pending_bytes"`
	PendingDocs  int64 `json:"pending_docs"`
	MaxBytes     int64 `json:"max_bytes"`
	Dropped      int64 `json:"dropped"` // refused because the spool was full
	Corrupt      int64 `json:"corrupt"` // torn lines skipped after a crash
}

const defaultSegBytes = 8 << 20

// OpenSpool opens (creating) the spool in dir, bounded at maxBytes.
func OpenSpool(dir string, maxBytes int64) (*Spool, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("spool %s: max_bytes must be positive", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	s := &Spool{dir: dir, maxBytes: maxBytes, segBytes: min(defaultSegBytes, max(maxBytes/4, 4096)), ready: make(chan struct{}, 1)}
	segs, err := s.segments()
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cursor")); err == nil {
		if _, err := fmt.Sscanf(string(b), "%d %d", &s.rSeg, &s.rOff); err != nil {
			return nil, fmt.Errorf("spool %s: cursor file: %w", dir, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("spool %s: %w", dir, err)
	}
	for _, seg := range segs {
		if seg < s.rSeg {
			_ = os.Remove(s.segPath(seg)) // fully sent before a crash
			continue
		}
		fi, err := os.Stat(s.segPath(seg))
		if err != nil {
			return nil, fmt.Errorf("spool %s: %w", dir, err)
		}
		n := fi.Size()
		if seg == s.rSeg {
			n -= min(s.rOff, n)
		}
		s.pending += n
		s.wSeg = max(s.wSeg, seg)
	}
	if len(segs) > 0 {
		s.docs = s.countDocs()
	} else {
		s.rOff = 0
	}
	if len(segs) == 0 || s.rSeg > s.wSeg {
		s.rSeg, s.rOff = s.wSeg+1, 0
	}
	// Always write into a fresh segment: a torn tail of the last one stays
	// where the reader skips it.
	if err := s.rotate(); err != nil {
		return nil, err
	}
	if s.pending > 0 {
		s.signal()
	}
	return s, nil
}

func (s *Spool) segPath(seg int64) string {
	return filepath.Join(s.dir, fmt.Sprintf("seg-%016d.jsonl", seg))
}

func (s *Spool) segments() ([]int64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool %s: %w", s.dir, err)
	}
	var out []int64
	for _, e := range ents {
		n, ok := strings.CutPrefix(e.Name(), "seg-")
		if !ok {
			continue
		}
		n, ok = strings.CutSuffix(n, ".jsonl")
		if v, err := strconv.ParseInt(n, 10, 64); ok && err == nil {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (s *Spool) countDocs() int64 {
	var n int64
	segs, _ := s.segments()
	for _, seg := range segs {
		f, err := os.Open(s.segPath(seg))
		if err != nil {
			continue
		}
		if seg == s.rSeg {
			_, _ = f.Seek(s.rOff, io.SeekStart)
		}
		buf := make([]byte, 64<<10)
		for {
			k, err := f.Read(buf)
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			if err != nil {
				break
			}
		}
		_ = f.Close()
	}
	return n
}

// rotate closes the current segment and starts the next one.
func (s *Spool) rotate() error {
	if s.w != nil {
		if err := s.wbuf.Flush(); err != nil {
			return fmt.Errorf("spool %s: %w", s.dir, err)
		}
		if err := s.w.Close(); err != nil {
			return fmt.Errorf("spool %s: %w", s.dir, err)
		}
	}
	s.wSeg++
	f, err := os.OpenFile(s.segPath(s.wSeg), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool %s: %w", s.dir, err)
	}
	s.w, s.wOff = f, 0
	if s.wbuf == nil {
		s.wbuf = bufio.NewWriterSize(f, 256<<10)
	} else {
		s.wbuf.Reset(f)
	}
	return nil
}

func (s *Spool) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Ready is signalled when documents were appended.
func (s *Spool) Ready() <-chan struct{} { return s.ready }

// Append adds documents; those that would take the spool past its bound
// are dropped and counted. A document holding a newline is compacted
// first; one that is not JSON is an error (nothing of that call is kept
// after it).
func (s *Spool) Append(docs ...[]byte) (accepted int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range docs {
		if bytes.IndexByte(d, '\n') >= 0 {
			var c bytes.Buffer
			if err := json.Compact(&c, d); err != nil {
				return accepted, fmt.Errorf("spool: document is not JSON: %w", err)
			}
			d = c.Bytes()
		}
		n := int64(len(d)) + 1
		if s.pending+n > s.maxBytes {
			s.dropped++
			continue
		}
		if s.wOff > 0 && s.wOff+n > s.segBytes {
			if err := s.rotate(); err != nil {
				return accepted, err
			}
		}
		_, _ = s.wbuf.Write(d)
		if err := s.wbuf.WriteByte('\n'); err != nil {
			return accepted, fmt.Errorf("spool %s: %w", s.dir, err)
		}
		s.wOff += n
		s.pending += n
		s.docs++
		accepted++
	}
	if accepted > 0 {
		s.signal()
	}
	return accepted, nil
}

// Sync flushes buffered documents to disk and fsyncs the segment.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.wbuf.Flush(); err != nil {
		return fmt.Errorf("spool %s: %w", s.dir, err)
	}
	return s.w.Sync()
}

// Peek returns up to maxDocs documents totalling at most maxBytes, counting
// each document's length plus overhead (at least one document, however
// large), from the cursor, and the position after
// them. It does not move the cursor. Torn lines (a crash mid-write) are
// skipped and counted.
func (s *Spool) Peek(maxBytes, maxDocs, overhead int) ([][]byte, Position, error) {
	s.mu.Lock()
	if err := s.wbuf.Flush(); err != nil {
		s.mu.Unlock()
		return nil, Position{}, fmt.Errorf("spool %s: %w", s.dir, err)
	}
	wSeg, wOff := s.wSeg, s.wOff
	pos := Position{s.rSeg, s.rOff}
	s.mu.Unlock()
	for {
		if pos.Seg > wSeg || (pos.Seg == wSeg && pos.Off >= wOff) {
			return nil, pos, nil
		}
		limit := int64(-1)
		if pos.Seg == wSeg {
			limit = wOff
		}
		docs, next, torn, err := s.readSeg(pos, limit, maxBytes, maxDocs, overhead)
		if err != nil {
			return nil, pos, err
		}
		if torn > 0 {
			s.mu.Lock()
			s.corrupt += torn
			s.mu.Unlock()
		}
		if len(docs) > 0 {
			return docs, next, nil
		}
		if pos.Seg == wSeg {
			return nil, next, nil
		}
		// An older segment is used up: move to the next one, skipping gaps.
		if err := s.Commit(Position{pos.Seg + 1, 0}, 0); err != nil {
			return nil, pos, err
		}
		pos = Position{pos.Seg + 1, 0}
	}
}

func (s *Spool) readSeg(pos Position, limit int64, maxBytes, maxDocs, overhead int) (docs [][]byte, next Position, torn int64, err error) {
	f, err := os.Open(s.segPath(pos.Seg))
	if errors.Is(err, os.ErrNotExist) {
		return nil, pos, 0, nil
	}
	if err != nil {
		return nil, pos, 0, fmt.Errorf("spool %s: %w", s.dir, err)
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(pos.Off, io.SeekStart); err != nil {
		return nil, pos, 0, fmt.Errorf("spool %s: %w", s.dir, err)
	}
	var r io.Reader = f
	if limit >= 0 {
		r = io.LimitReader(f, limit-pos.Off)
	}
	br := bufio.NewReaderSize(r, 256<<10)
	size := 0
	next = pos
	for len(docs) < maxDocs {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			d := line[:len(line)-1]
			if len(docs) > 0 && size+len(d)+overhead > maxBytes {
				break
			}
			docs = append(docs, d)
			size += len(d) + overhead
			next.Off += int64(len(line))
		} else if len(line) > 0 {
			// A line without its newline at the end of a closed segment
			// is a torn write; in the open segment it cannot happen (the
			// limit is a line boundary).
			torn++
			next.Off += int64(len(line))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return docs, next, torn, fmt.Errorf("spool %s: %w", s.dir, err)
		}
	}
	return docs, next, torn, nil
}

// Commit moves the cursor to pos after n documents were delivered (or
// given up), deleting segments left behind, and persists it.
func (s *Spool) Commit(pos Position, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if pos.Seg < s.rSeg || (pos.Seg == s.rSeg && pos.Off <= s.rOff) {
		return nil
	}
	// Account for the bytes and lines consumed.
	var freed int64
	if pos.Seg == s.rSeg {
		freed = pos.Off - s.rOff
	} else {
		for seg := s.rSeg; seg < pos.Seg; seg++ {
			if fi, err := os.Stat(s.segPath(seg)); err == nil {
				if seg == s.rSeg {
					freed += max(fi.Size()-s.rOff, 0)
				} else {
					freed += fi.Size()
				}
			}
			if seg != s.wSeg {
				_ = os.Remove(s.segPath(seg))
			}
		}
		freed += pos.Off
	}
	s.rSeg, s.rOff = pos.Seg, pos.Off
	s.pending = max(s.pending-freed, 0)
	s.docs = max(s.docs-int64(n), 0)
	return atomicfile.WriteBytes(filepath.Join(s.dir, "cursor"), 0o600, fmt.Appendf(nil, "%d %d\n", s.rSeg, s.rOff))
}

// Stats returns what the spool holds and lost.
func (s *Spool) Stats() SpoolStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return SpoolStats{PendingBytes: s.pending, PendingDocs: s.docs, MaxBytes: s.maxBytes, Dropped: s.dropped, Corrupt: s.corrupt}
}

// Close flushes and closes the spool.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.wbuf.Flush(); err != nil {
		return err
	}
	return s.w.Close()
}
