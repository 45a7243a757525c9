package ingest

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// refWalker is the original recursive jsonWalker, kept as the reference the
// iterative walker is fuzzed against (FuzzJSONWalkReference).
type refWalker struct {
	data    []byte
	i       int
	path    []byte
	scratch []byte
	fn      func(path, val []byte, kind byte)
}

// walk visits the object (or array) in data.
func (w *refWalker) walk(data []byte, fn func(path, val []byte, kind byte)) error {
	w.data, w.i, w.path, w.fn = data, 0, w.path[:0], fn
	w.ws()
	if w.i >= len(w.data) || (w.data[w.i] != '{' && w.data[w.i] != '[') {
		return errJSONSyntax
	}
	if err := w.value(0); err != nil {
		return err
	}
	w.ws()
	if w.i != len(w.data) {
		return errJSONSyntax
	}
	return nil
}

func (w *refWalker) ws() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\r', '\n':
			w.i++
		default:
			return
		}
	}
}

func (w *refWalker) value(depth int) error {
	if depth > maxJSONDepth {
		return errJSONDepth
	}
	w.ws()
	if w.i >= len(w.data) {
		return errJSONSyntax
	}
	switch c := w.data[w.i]; c {
	case '{':
		w.i++
		base := len(w.path)
		w.ws()
		if w.i < len(w.data) && w.data[w.i] == '}' {
			w.i++
			return nil
		}
		for {
			w.ws()
			if w.i >= len(w.data) || w.data[w.i] != '"' {
				return errJSONSyntax
			}
			key, err := w.str()
			if err != nil {
				return err
			}
			if base > 0 {
				w.path = append(w.path[:base], '.')
			} else {
				w.path = w.path[:0]
			}
			w.path = append(w.path, key...)
			w.ws()
			if w.i >= len(w.data) || w.data[w.i] != ':' {
				return errJSONSyntax
			}
			w.i++
			if err := w.value(depth + 1); err != nil {
				return err
			}
			w.ws()
			if w.i >= len(w.data) {
				return errJSONSyntax
			}
			if w.data[w.i] == ',' {
				w.i++
				continue
			}
			if w.data[w.i] == '}' {
				w.i++
				w.path = w.path[:base]
				return nil
			}
			return errJSONSyntax
		}
	case '[':
		w.i++
		base := len(w.path)
		w.ws()
		if w.i < len(w.data) && w.data[w.i] == ']' {
			w.i++
			return nil
		}
		for n := 0; ; n++ {
			if base > 0 {
				w.path = append(w.path[:base], '.')
			} else {
				w.path = w.path[:0]
			}
			w.path = appendInt(w.path, n)
			if err := w.value(depth + 1); err != nil {
				return err
			}
			w.ws()
			if w.i >= len(w.data) {
				return errJSONSyntax
			}
			if w.data[w.i] == ',' {
				w.i++
				continue
			}
			if w.data[w.i] == ']' {
				w.i++
				w.path = w.path[:base]
				return nil
			}
			return errJSONSyntax
		}
	case '"':
		s, err := w.str()
		if err != nil {
			return err
		}
		w.fn(w.path, s, kString)
		return nil
	case 't':
		return w.lit("true", kTrue)
	case 'f':
		return w.lit("false", kFalse)
	case 'n':
		return w.lit("null", kNull)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			start := w.i
			w.i++
			for w.i < len(w.data) {
				c := w.data[w.i]
				if (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-' {
					w.i++
					continue
				}
				break
			}
			w.fn(w.path, w.data[start:w.i], kNumber)
			return nil
		}
		return errJSONSyntax
	}
}

func (w *refWalker) lit(s string, kind byte) error {
	if len(w.data)-w.i < len(s) || string(w.data[w.i:w.i+len(s)]) != s {
		return errJSONSyntax
	}
	w.i += len(s)
	w.fn(w.path, w.data[w.i-len(s):w.i], kind)
	return nil
}

// str reads a string at w.i (on the opening quote) and returns its
// unescaped content (a sub-slice of data when there are no escapes).
func (w *refWalker) str() ([]byte, error) {
	w.i++
	start := w.i
	d := w.data
	q := bytes.IndexByte(d[start:], '"')
	if q < 0 {
		return nil, errJSONSyntax
	}
	if bytes.IndexByte(d[start:start+q], '\\') < 0 {
		w.i = start + q + 1
		return d[start : start+q], nil
	}
	w.i = start + bytes.IndexByte(d[start:], '\\')
	return w.strEscaped(start)
}

func (w *refWalker) strEscaped(start int) ([]byte, error) {
	d := w.data
	out := append(w.scratch[:0], d[start:w.i]...)
	for w.i < len(d) {
		c := d[w.i]
		switch c {
		case '"':
			w.i++
			w.scratch = out
			return out, nil
		case '\\':
			if w.i+1 >= len(d) {
				return nil, errJSONSyntax
			}
			e := d[w.i+1]
			w.i += 2
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
				r, ok := w.hex4()
				if !ok {
					return nil, errJSONSyntax
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if w.i+1 < len(d) && d[w.i] == '\\' && d[w.i+1] == 'u' {
						w.i += 2
						if x, ok := w.hex4(); ok {
							r2 = x
						}
					}
					r = utf16.DecodeRune(r, r2)
				}
				out = utf8.AppendRune(out, r)
			default:
				return nil, errJSONSyntax
			}
		default:
			out = append(out, c)
			w.i++
		}
	}
	return nil, errJSONSyntax
}

func (w *refWalker) hex4() (rune, bool) {
	if w.i+4 > len(w.data) {
		return 0, false
	}
	var r rune
	for _, c := range w.data[w.i : w.i+4] {
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
	w.i += 4
	return r, true
}
