package ingest

import (
	"bytes"
	"errors"
	"io"
)

// docSplitter streams the records of a JSON document: the elements of a
// top-level array, the elements of the "value" (Graph) or "records" (Azure
// Monitor) array of a top-level wrapper object, or top-level objects
// themselves (pretty-printed or concatenated). Records are copied out, up to
// max bytes; a longer record is reported as nil.
type docSplitter struct {
	lr  *lineReader
	max int

	rec      []byte
	overflow bool

	depth     int
	inStr     bool
	esc       bool
	capturing bool
	capDepth  int  // depth before the captured record's opening brace
	elemDepth int  // depth at which array elements are records; -1 none
	topObj    bool // capturing a top-level object that might be a wrapper
	wrapper   bool // inside a wrapper object (not capturing it)

	strBuf   []byte // the current string at depth 1 of a top-level object
	keyStr   bool   // collecting strBuf
	key      []byte // last key at depth 1
	line     int64
	recLine  int64
	recOff   int64
	head     []byte // the start of the last record longer than max (for its sample)
	capStart int    // index in lr.buf where the capture resumes in this chunk
}

var errTruncatedDoc = errors.New("unexpected end of JSON document")

func newDocSplitter(lr *lineReader, max int) *docSplitter {
	return &docSplitter{lr: lr, max: max, elemDepth: -1, line: 1}
}

func (d *docSplitter) flushCapture(end int) {
	if !d.capturing || d.overflow {
		return
	}
	chunk := d.lr.buf[d.capStart:end]
	if len(d.rec)+len(chunk) > d.max {
		d.overflow = true
		d.head = append(d.head[:0], d.rec[:min(len(d.rec), maxSampleText)]...)
		d.head = append(d.head, chunk[:min(maxSampleText-len(d.head), len(chunk))]...)
		d.rec = d.rec[:0]
		return
	}
	d.rec = append(d.rec, chunk...)
}

// next returns the next record and the line it starts on. A nil record with
// nil error is a record longer than max.
func (d *docSplitter) next() ([]byte, int64, error) {
	lr := d.lr
	for {
		buf := lr.buf
		i, n := lr.r, lr.w
		d.capStart = i
		for i < n {
			c := buf[i]
			if d.inStr {
				switch {
				case d.esc:
					d.esc = false
				case c == '\\':
					d.esc = true
				case c == '"':
					d.inStr = false
					if d.keyStr {
						d.keyStr = false
					}
				case c == '\n':
					d.line++
				default:
					if d.keyStr && len(d.strBuf) < 32 {
						d.strBuf = append(d.strBuf, c)
					}
				}
				i++
				continue
			}
			switch c {
			case '\n':
				d.line++
			case '"':
				d.inStr = true
				if d.depth == 1 && (d.topObj || d.wrapper) {
					d.keyStr = true
					d.strBuf = d.strBuf[:0]
				}
			case ':':
				if d.depth == 1 && (d.topObj || d.wrapper) {
					d.key = append(d.key[:0], d.strBuf...)
				}
			case '{', '[':
				switch {
				case !d.capturing && d.depth == 0 && c == '{':
					d.startCapture(i)
					d.topObj = true
				case !d.capturing && d.depth == 0 && c == '[':
					d.elemDepth = 1
				case !d.capturing && d.elemDepth >= 0 && d.depth == d.elemDepth && c == '{':
					d.startCapture(i)
				case d.depth == 1 && (d.topObj || d.wrapper) && c == '[' && (string(d.key) == "value" || string(d.key) == "records"):
					// a wrapper: stream the array's elements instead
					d.capturing, d.topObj, d.wrapper = false, false, true
					d.rec = d.rec[:0]
					d.overflow = false
					d.elemDepth = 2
				}
				d.depth++
			case '}', ']':
				d.depth--
				if d.depth < 0 {
					lr.pos += int64(i + 1 - lr.r)
					lr.r = i + 1
					d.depth = 0
					return nil, d.line, errors.New("unbalanced closing bracket")
				}
				if d.elemDepth >= 0 && d.depth == d.elemDepth-1 && c == ']' {
					d.elemDepth = -1
				}
				if d.depth == 0 && d.wrapper && c == '}' {
					d.wrapper = false
				}
				if d.capturing && d.depth == d.capDepth {
					d.flushCapture(i + 1)
					d.capturing, d.topObj = false, false
					lr.pos += int64(i + 1 - lr.r)
					lr.r = i + 1
					if d.overflow {
						d.overflow = false
						d.rec = d.rec[:0]
						return nil, d.recLine, nil
					}
					return d.rec, d.recLine, nil
				}
			}
			i++
		}
		d.flushCapture(n)
		lr.pos += int64(n - lr.r)
		lr.r = n
		if !lr.fill() {
			if d.capturing || d.depth > 0 {
				d.capturing = false
				if err := lr.endErr(); err != io.EOF {
					return nil, d.line, err
				}
				return nil, d.line, errTruncatedDoc
			}
			return nil, d.line, lr.endErr()
		}
	}
}

func (d *docSplitter) startCapture(i int) {
	d.capturing = true
	d.capDepth = d.depth
	d.capStart = i
	d.rec = d.rec[:0]
	d.overflow = false
	d.recLine = d.line
	d.recOff = d.lr.pos + int64(i-d.lr.r)
}

// isJSONDocument reports whether the input is a JSON document to be split
// by structure rather than JSON lines: it starts with '[' or its first line
// is not a complete object.
func isJSONDocument(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n")
	t = bytes.TrimPrefix(t, []byte("\xef\xbb\xbf"))
	t = bytes.TrimLeft(t, " \t\r\n")
	if len(t) == 0 {
		return false
	}
	if t[0] == '[' {
		return true
	}
	if t[0] != '{' {
		return false
	}
	nl := bytes.IndexByte(t, '\n')
	if nl < 0 {
		return false // a single line: JSON lines (a wrapper line is expanded)
	}
	first := bytes.TrimRight(t[:nl], " \t\r")
	return len(first) == 0 || first[len(first)-1] != '}'
}

// isWrapperLine reports whether one line holds a whole wrapper document
// ({"@odata.context": ..., "value": [...]} or {"records": [...]}) or array.
func isWrapperLine(line []byte) bool {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	t := line[i:]
	if len(t) == 0 {
		return false
	}
	if t[0] == '[' {
		return true
	}
	if t[0] != '{' {
		return false
	}
	if len(t) > 64 {
		t = t[:64]
	}
	return bytes.HasPrefix(t, []byte(`{"@odata`)) || bytes.HasPrefix(t, []byte(`{"value"`)) ||
		bytes.HasPrefix(t, []byte(`{"records"`)) || bytes.HasPrefix(t, []byte(`{ "value"`)) ||
		bytes.HasPrefix(t, []byte(`{ "records"`)) || bytes.HasPrefix(t, []byte(`{ "@odata`))
}
