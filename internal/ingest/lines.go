package ingest

import (
	"bytes"
	"errors"
	"io"
)

// lineReader splits input into lines with a bounded buffer. A line longer
// than max is skipped up to its newline and reported as a nil line, so one
// huge line costs no memory beyond the buffer.
type lineReader struct {
	rd   io.Reader
	buf  []byte
	r, w int
	max  int
	err  error

	bytes     int64 // bytes consumed
	pos       int64 // offset of buf[r] in the input
	lineNo    int64 // 1-based number of the last line returned
	lineOff   int64 // offset of the last line returned
	semi      int64 // skipSyslog: offset of the next ';' (semiFound) or of the end of the stretch searched
	semiFound bool
	longHead  []byte // the start of the last too-long line (for its sample)

	// ignore, if set, is offered the sshd lines the prefilter passes that
	// may be no authentication event (quickIgnorable); it counts and
	// takes (true) those the parser would ignore (skipSyslog).
	ignore func(line []byte) bool
}

func newLineReader(rd io.Reader, max int) *lineReader {
	size := 256 << 10
	if max+1 < size {
		size = max + 1
	}
	if size < 4096 {
		size = 4096
	}
	return &lineReader{rd: rd, buf: make([]byte, size), max: max}
}

// fill reads more data, compacting the buffer first, and growing it up to
// max+1 bytes. It returns false when no more data can arrive.
func (l *lineReader) fill() bool {
	if l.err != nil {
		return false
	}
	if l.r > 0 {
		n := copy(l.buf, l.buf[l.r:l.w])
		l.w = n
		l.r = 0
	}
	if l.w == len(l.buf) {
		if len(l.buf) >= l.max+1 {
			return false
		}
		nb := make([]byte, min(2*len(l.buf), l.max+1))
		copy(nb, l.buf[:l.w])
		l.buf = nb
	}
	for range 100 {
		n, err := l.rd.Read(l.buf[l.w:])
		l.w += n
		l.bytes += int64(n)
		if err != nil {
			l.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	l.err = io.ErrNoProgress
	return false
}

// peek returns up to n bytes without consuming them.
func (l *lineReader) peek(n int) ([]byte, error) {
	for l.w-l.r < n && l.fill() {
	}
	end := min(l.r+n, l.w)
	return l.buf[l.r:end], nil
}

// next returns the next line without its line ending. At the end it returns
// io.EOF (or the read error). A too-long line is returned as nil, nil.
func (l *lineReader) next() ([]byte, error) {
	scanned := 0
	for {
		if i := bytes.IndexByte(l.buf[l.r+scanned:l.w], '\n'); i >= 0 {
			end := l.r + scanned + i
			if end-l.r > l.max {
				// too long however it was read: a whole buffer of
				// short reads or one read must not decide it
				return l.skipLong()
			}
			line := l.buf[l.r:end]
			l.lineNo++
			l.lineOff = l.pos
			adv := end + 1 - l.r
			l.r = end + 1
			l.pos += int64(adv)
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		}
		scanned = l.w - l.r
		if scanned > l.max {
			return l.skipLong()
		}
		if !l.fill() {
			if l.err == errWait {
				return nil, readErr{errWait} // following: keep the partial line for later
			}
			if l.w > l.r {
				if l.w-l.r > l.max {
					return l.skipLong()
				}
				line := l.buf[l.r:l.w]
				l.lineNo++
				l.lineOff = l.pos
				l.pos += int64(l.w - l.r)
				l.r = l.w
				if n := len(line); n > 0 && line[n-1] == '\r' {
					line = line[:n-1]
				}
				return line, nil
			}
			return nil, l.endErr()
		}
		// fill compacted the buffer but kept offsets relative to r, so scanned stays valid
	}
}

// errWait is returned by a followed file's reader at its current end: more
// data may come later. The line reader keeps partial lines and resumes.
var errWait = errors.New("waiting for more data")

// resume clears a errWait condition so reading can continue.
func (l *lineReader) resume() {
	if l.err == errWait {
		l.err = nil
	}
}

func (l *lineReader) endErr() error {
	if l.err == nil || l.err == io.EOF {
		return io.EOF
	}
	return readErr{l.err}
}

// skipLong discards the current line through its newline.
func (l *lineReader) skipLong() ([]byte, error) {
	l.lineNo++
	l.lineOff = l.pos
	l.longHead = append(l.longHead[:0], l.buf[l.r:min(l.r+maxSampleText, l.w)]...)
	for {
		if i := bytes.IndexByte(l.buf[l.r:l.w], '\n'); i >= 0 {
			l.pos += int64(i + 1)
			l.r += i + 1
			return nil, nil
		}
		l.pos += int64(l.w - l.r)
		l.r, l.w = 0, 0
		if !l.fill() {
			return nil, nil
		}
	}
}
