package ingest

import (
	"bytes"
	"encoding/binary"
	"io"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// exportSource reads systemd's Journal Export Format (`journalctl -o
// export`): one entry per block of fields separated by an empty line; a
// text field is a line KEY=VALUE; a binary field (a value with a newline or
// non-printable bytes) is the line KEY, a little-endian 64-bit length, the
// value's bytes, and a newline. The fields reach the journald JSON parser
// under the same names, so both forms parse alike. A binary value longer
// than the maximum line is skipped (counted as a bad entry), never held.
type exportSource struct {
	l    *lineReader
	p    *journaldParser
	max  int
	line int64 // first line of the entry being read
	bad  string
	rec  []byte // the entry's text, for samples (bounded)
}

func newExportSource(l *lineReader, o *Options) *exportSource {
	return &exportSource{l: l, p: newJournaldParser(o).(*journaldParser), max: o.maxLine()}
}

// isJournalExport reports whether an input's first bytes look like the
// export format: a first line KEY=VALUE whose key is a journal field name
// (upper case, digits, underscores) and a __REALTIME_TIMESTAMP or __CURSOR
// field among them.
func isJournalExport(head []byte) bool {
	eq := bytes.IndexByte(head, '=')
	nl := bytes.IndexByte(head, '\n')
	if eq <= 0 || (nl >= 0 && nl < eq) {
		return false
	}
	for _, c := range head[:eq] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return bytes.HasPrefix(head, []byte("__CURSOR=")) || bytes.HasPrefix(head, []byte("__REALTIME_TIMESTAMP=")) ||
		bytes.Contains(head, []byte("\n__REALTIME_TIMESTAMP=")) || bytes.Contains(head, []byte("\n__CURSOR="))
}

// raw returns the next n bytes of the input (n ≤ max), consuming them.
func (s *exportSource) raw(n int) ([]byte, bool) {
	l := s.l
	for l.w-l.r < n && l.fill() {
	}
	if l.w-l.r < n {
		return nil, false
	}
	b := l.buf[l.r : l.r+n]
	l.r += n
	l.pos += int64(n)
	return b, true
}

// discard consumes n bytes without holding them.
func (s *exportSource) discard(n uint64) bool {
	l := s.l
	for n > 0 {
		if l.w == l.r && !l.fill() {
			return false
		}
		k := min(uint64(l.w-l.r), n)
		l.r += int(k)
		l.pos += int64(k)
		n -= k
	}
	return true
}

// next reads one entry into the parser. It returns io.EOF at the end.
func (s *exportSource) next() error {
	p := s.p
	p.reset()
	s.bad, s.line, s.rec = "", 0, s.rec[:0]
	fields := 0
	for {
		line, err := s.l.next()
		if err != nil {
			if fields > 0 && err == io.EOF {
				return nil // the last entry without its empty line
			}
			return err
		}
		if s.line == 0 {
			s.line = s.l.lineNo
		}
		if line == nil { // a text field longer than the maximum
			s.bad = "journal export field longer than the maximum line"
			fields++
			continue
		}
		if len(line) == 0 {
			if fields == 0 {
				s.line = 0
				continue // blank lines between entries
			}
			return nil
		}
		fields++
		if len(s.rec) < maxSampleText {
			s.rec = append(s.rec, line...)
			s.rec = append(s.rec, '\n')
		}
		if eq := bytes.IndexByte(line, '='); eq >= 0 {
			p.field(line[:eq], line[eq+1:], kString)
			continue
		}
		// A binary field: KEY, then a 64-bit little-endian length, the
		// value and a newline. The key is copied: raw may move the buffer.
		key := string(line)
		nb, ok := s.raw(8)
		if !ok {
			return io.ErrUnexpectedEOF
		}
		n := binary.LittleEndian.Uint64(nb)
		if n > uint64(s.max) {
			if !s.discard(n) {
				return io.ErrUnexpectedEOF
			}
			s.bad = "journal export binary field " + key + " longer than the maximum line"
		} else {
			v, ok := s.raw(int(n))
			if !ok {
				return io.ErrUnexpectedEOF
			}
			p.field([]byte(key), v, kString)
		}
		if nl, ok := s.raw(1); !ok || nl[0] != '\n' {
			s.bad = "journal export binary field " + key + " not followed by a newline"
		}
	}
}

func (r *Reader) nextExport(ev *event.Event) error {
	s := r.jexp
	for {
		if err := s.next(); err != nil {
			if err == io.ErrUnexpectedEOF {
				r.st.Lines++
				r.bad(s.line, "journal export entry cut short (truncated binary field)", s.rec)
				return io.EOF
			}
			return err
		}
		r.st.Lines++
		ev.Reset()
		if s.bad != "" {
			r.bad(s.line, s.bad, s.rec)
			r.programBad(s.p.program(), s.line, s.bad, s.rec)
			continue
		}
		res, why := s.p.finish(ev)
		switch res {
		case resEvent:
			r.st.Parsed++
			r.progStats(s.p.program()).Parsed++
			ev.File, ev.Line, ev.Offset = r.name, s.line, r.lines.pos
			if ev.Tenant == "" {
				r.assignTenant(ev)
			}
			return nil
		case resIgnored:
			r.st.Ignored++
			r.progStats(s.p.program()).Ignored++
		default:
			r.bad(s.line, why, s.rec)
			r.programBad(s.p.program(), s.line, why, s.rec)
		}
	}
}
