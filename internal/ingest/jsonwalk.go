package ingest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON value kinds passed to a walk callback.
const (
	kString = 's'
	kNumber = 'n'
	kTrue   = 't'
	kFalse  = 'f'
	kNull   = 'z'
)

const maxJSONDepth = 64

var (
	errJSONSyntax = errors.New("bad JSON")
	errJSONDepth  = errors.New("JSON nested too deeply")
)

// jsonWalker visits every scalar of a JSON object with its dotted path
// (array elements get their index as a path element: "target.0.type"),
// without building maps. Strings are unescaped; the path and value slices
// are only valid during the callback.
//
// It walks iteratively with an explicit stack, keeping the position in a
// local variable: parsing every record of a log this way is about twice as
// fast as a recursive descent (jsonwalk_ref_test.go keeps that one as the
// reference it is fuzzed against).
type jsonWalker struct {
	path    []byte
	scratch []byte
	stack   [maxJSONDepth + 2]walkFrame
}

// walkFrame is an open object (n < 0) or array (n: index of the current
// element) whose path had length base.
type walkFrame struct {
	base int
	n    int
}

// walk visits the object (or array) in data.
func (w *jsonWalker) walk(data []byte, fn func(path, val []byte, kind byte)) error {
	i := skipWS(data, 0)
	if i >= len(data) || (data[i] != '{' && data[i] != '[') {
		return errJSONSyntax
	}
	i, err := w.run(data, i, fn)
	if err != nil {
		return err
	}
	if skipWS(data, i) != len(data) {
		return errJSONSyntax
	}
	return nil
}

func skipWS(d []byte, i int) int {
	for i < len(d) && d[i] <= ' ' && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n') {
		i++
	}
	return i
}

// run walks the value at d[i] and returns the index after it.
func (w *jsonWalker) run(d []byte, i int, fn func(path, val []byte, kind byte)) (int, error) {
	path := w.path[:0]
	sp := 0 // open containers; the depth of the next value
	var (
		f   *walkFrame
		s   []byte
		ok  bool
		c   byte
		err error
	)
value:
	if sp > maxJSONDepth {
		err = errJSONDepth
		goto fail
	}
	i = skipWS(d, i)
	if i >= len(d) {
		goto syntax
	}
	switch c = d[i]; c {
	case '{':
		i = skipWS(d, i+1)
		if i < len(d) && d[i] == '}' {
			i++
			goto after
		}
		w.stack[sp] = walkFrame{base: len(path), n: -1}
		sp++
		goto key
	case '[':
		i = skipWS(d, i+1)
		if i < len(d) && d[i] == ']' {
			i++
			goto after
		}
		w.stack[sp] = walkFrame{base: len(path), n: 0}
		sp++
		if len(path) > 0 {
			path = append(path, '.')
		}
		path = append(path, '0')
		goto value
	case '"':
		if s, i, ok = w.strAt(d, i); !ok {
			goto syntax
		}
		fn(path, s, kString)
	case 't':
		if !hasLit(d, i, "true") {
			goto syntax
		}
		i += 4
		fn(path, d[i-4:i], kTrue)
	case 'f':
		if !hasLit(d, i, "false") {
			goto syntax
		}
		i += 5
		fn(path, d[i-5:i], kFalse)
	case 'n':
		if !hasLit(d, i, "null") {
			goto syntax
		}
		i += 4
		fn(path, d[i-4:i], kNull)
	default:
		if c != '-' && (c < '0' || c > '9') {
			goto syntax
		}
		start := i
		for i++; i < len(d); i++ {
			if c := d[i]; (c < '0' || c > '9') && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
				break
			}
		}
		fn(path, d[start:i], kNumber)
	}
after:
	if sp == 0 {
		w.path = path
		return i, nil
	}
	i = skipWS(d, i)
	if i >= len(d) {
		goto syntax
	}
	f = &w.stack[sp-1]
	c = d[i]
	i++
	if f.n < 0 {
		switch c {
		case ',':
			goto key
		case '}':
			path = path[:f.base]
			sp--
			goto after
		}
		goto syntax
	}
	switch c {
	case ',':
		f.n++
		path = path[:f.base]
		if f.base > 0 {
			path = append(path, '.')
		}
		path = appendInt(path, f.n)
		goto value
	case ']':
		path = path[:f.base]
		sp--
		goto after
	}
	goto syntax
key:
	i = skipWS(d, i)
	if i >= len(d) || d[i] != '"' {
		goto syntax
	}
	if s, i, ok = w.strAt(d, i); !ok {
		goto syntax
	}
	f = &w.stack[sp-1]
	path = path[:f.base]
	if f.base > 0 {
		path = append(path, '.')
	}
	path = append(path, s...)
	i = skipWS(d, i)
	if i >= len(d) || d[i] != ':' {
		goto syntax
	}
	i++
	goto value
syntax:
	err = errJSONSyntax
fail:
	w.path = path
	return i, err
}

func hasLit(d []byte, i int, lit string) bool {
	return len(d)-i >= len(lit) && string(d[i:i+len(lit)]) == lit
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// shortStr is how many bytes of a string strAt scans a word at a time
// before handing the rest to IndexByte.
const shortStr = 64

// strAt reads the string whose opening quote is at d[i] and returns its
// unescaped content (a sub-slice of d when there are no escapes) and the
// index after the closing quote.
func (w *jsonWalker) strAt(d []byte, i int) ([]byte, int, bool) {
	i++
	start := i
	// Most keys and values are short: find the closing quote or the first
	// backslash eight bytes at a time, then hand long strings to IndexByte.
	for end := min(len(d), start+shortStr); i+8 <= end; i += 8 {
		x := binary.LittleEndian.Uint64(d[i:])
		if q, b := byteMask(x, '"'), byteMask(x, '\\'); q|b != 0 {
			tq, tb := bits.TrailingZeros64(q), bits.TrailingZeros64(b)
			if tq < tb {
				j := i + tq>>3
				return d[start:j], j + 1, true
			}
			return w.strEscaped(d, start, i+tb>>3)
		}
	}
	for ; i < len(d) && i < start+shortStr; i++ {
		switch d[i] {
		case '"':
			return d[start:i], i + 1, true
		case '\\':
			return w.strEscaped(d, start, i)
		}
	}
	q := bytes.IndexByte(d[i:], '"')
	if q < 0 {
		return nil, i, false
	}
	if b := bytes.IndexByte(d[i:i+q], '\\'); b >= 0 {
		return w.strEscaped(d, start, i+b)
	}
	return d[start : i+q], i + q + 1, true
}

// byteMask returns a word whose lowest set bit is the high bit of the first
// byte of x (in little-endian order) equal to c; bits above it may be set
// too. Zero means c does not occur.
func byteMask(x uint64, c byte) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	v := x ^ (lo * uint64(c))
	return (v - lo) &^ v & hi
}

// strEscaped unescapes the string that starts at d[start] and has its
// first backslash at d[i].
func (w *jsonWalker) strEscaped(d []byte, start, i int) ([]byte, int, bool) {
	out := append(w.scratch[:0], d[start:i]...)
	for i < len(d) {
		c := d[i]
		switch c {
		case '"':
			w.scratch = out
			return out, i + 1, true
		case '\\':
			if i+1 >= len(d) {
				return nil, i, false
			}
			e := d[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := hex4(d, i)
				if !ok {
					return nil, i, false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if i+1 < len(d) && d[i] == '\\' && d[i+1] == 'u' {
						i += 2
						if x, ok := hex4(d, i); ok {
							r2 = x
							i += 4
						}
					}
					r = utf16.DecodeRune(r, r2)
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, i, false
			}
		default:
			out = append(out, c)
			i++
		}
	}
	return nil, i, false
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
