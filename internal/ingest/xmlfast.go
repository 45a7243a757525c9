package ingest

import (
	"bytes"
	"unicode/utf8"
)

// decodeFast is decodeStd for the XML that rendered Windows events are
// made of (`wevtutil qe /f:xml`, Event Viewer, Windows Event Forwarding):
// elements with ASCII names and no namespace prefix, attributes in quotes,
// text and values in UTF-8 with at most the five predefined entity
// references. It tokenizes the record in place, with no
// allocation per token, and visits the same paths and values in the same
// order as encoding/xml's non-strict RawToken walk.
//
// It returns false on anything outside that subset — a reference (&amp;,
// &#52;), CDATA, a comment, a processing instruction or directive, a
// carriage return or non-ASCII byte in text or a value (encoding/xml
// normalises the one and checks the other), a prefixed or non-ASCII name,
// an unquoted or valueless attribute, nesting deeper than decodeStd's
// limit, an unbalanced or truncated record, or any syntax error — and
// the caller decodes the record again with decodeStd, after resetting the
// parser: fields it visited before giving up are discarded there.
// FuzzXMLFastAgrees checks that whenever it returns true, decodeStd
// succeeds with the same visits.
func (s *xmlSource) decodeFast(rec []byte, visit func(path, val []byte, kind byte)) bool {
	s.names = s.names[:0]
	s.nbuf = s.nbuf[:0]
	s.named = s.named[:0]
	s.leaf = s.leaf[:0]
	var text []byte // character data since the last tag (encoding/xml's s.text)
	n := len(rec)
	i := 0
	for i < n {
		if rec[i] != '<' {
			j, val, cr, ok := xmlSpan(rec, i, '<', &s.text)
			if !ok || j == n {
				return false // or text at the end: a truncated record
			}
			if cr && j+1 < n && rec[j+1] == '/' {
				// a CR before an end tag: a value if the element is a leaf,
				// which encoding/xml gives with CR LF as LF
				if k := len(s.leaf); k > 0 && s.leaf[k-1] {
					return false
				}
			}
			text = val
			i = j
			continue
		}
		i++
		if i >= n {
			return false
		}
		if rec[i] == '/' { // </name>
			j, ok := xmlName(rec, i+1)
			if !ok {
				return false
			}
			j = xmlSpace(rec, j)
			if j >= n || rec[j] != '>' {
				return false
			}
			i = j + 1
			if !s.endFast(text, visit) {
				return false
			}
			text = nil
			continue
		}
		// <name attr='v' …> or <name …/>
		j, ok := xmlName(rec, i)
		if !ok || len(s.names) >= 32 {
			return false // '?', '!', a bad name; or too deep: decodeStd says so
		}
		name := rec[i:j]
		i = j
		text = nil
		if k := len(s.leaf); k > 0 {
			s.leaf[k-1] = false
		}
		s.names = append(s.names, name)
		isData := string(name) == "Data"
		named, empty := false, false
		base := -1 // s.path holds the element's path once an attribute needs it
		for {
			i = xmlSpace(rec, i)
			if i >= n {
				return false
			}
			if rec[i] == '/' {
				if i+1 >= n || rec[i+1] != '>' {
					return false
				}
				i += 2
				empty = true
				break
			}
			if rec[i] == '>' {
				i++
				break
			}
			j, ok := xmlName(rec, i)
			xmlns := false
			if !ok {
				// only the namespace declarations xmlns:p='…' (skipped, as by decodeStd)
				if j < n && rec[j] == ':' && string(rec[i:j]) == "xmlns" {
					if j, ok = xmlName(rec, j+1); !ok {
						return false
					}
					xmlns = true
				} else {
					return false
				}
			}
			attr := rec[i:j]
			i = xmlSpace(rec, j)
			if i >= n || rec[i] != '=' {
				return false // non-strict valueless attribute: decodeStd
			}
			i = xmlSpace(rec, i+1)
			if i >= n || rec[i] != '\'' && rec[i] != '"' {
				return false
			}
			q := rec[i]
			j, val, cr, ok := xmlSpan(rec, i+1, q, &s.aval)
			if !ok || cr || j >= n {
				return false
			}
			i = j + 1
			switch {
			case xmlns || string(attr) == "xmlns":
			case isData && string(attr) == "Name":
				named = true
				// kept past the next value's decoding (s.aval is reused)
				s.nbuf = append(s.nbuf, val...)
				s.names[len(s.names)-1] = s.nbuf[len(s.nbuf)-len(val):]
			default:
				if base < 0 {
					s.path = s.fastPath()
					// the element's own name, as decodeStd (a Data's Name
					// attribute does not rename the paths of its attributes)
					s.path = append(s.path[:len(s.path)-len(s.names[len(s.names)-1])], name...)
					base = len(s.path)
				}
				s.path = append(append(s.path[:base], '.'), attr...)
				visit(s.path, val, kString)
			}
		}
		s.named = append(s.named, named)
		s.leaf = append(s.leaf, true)
		if empty && !s.endFast(nil, visit) {
			return false
		}
	}
	return len(s.names) == 0
}

// endFast closes decodeFast's innermost element: a leaf's text (or a
// named <Data>'s, even empty) is a value. False on an end tag without a
// start tag.
func (s *xmlSource) endFast(text []byte, visit func(path, val []byte, kind byte)) bool {
	k := len(s.names)
	if k == 0 {
		return false
	}
	if s.leaf[k-1] && (len(text) > 0 || s.named[k-1]) {
		s.path = s.fastPath()
		visit(s.path, text, kString)
	}
	s.names = s.names[:k-1]
	s.named = s.named[:k-1]
	s.leaf = s.leaf[:k-1]
	return true
}

// fastPath is joinPath for decodeFast's stack.
func (s *xmlSource) fastPath() []byte {
	p := s.path[:0]
	for i, name := range s.names {
		if i > 0 {
			p = append(p, '.')
		}
		p = append(p, name...)
	}
	return p
}

// xmlSpan scans character data from i up to the byte stop ('<' for
// text, the quote for an attribute value). val is rec[i:j] itself, or,
// when it holds references, the text with them replaced in *buf. cr: it
// holds a carriage return. ok is false on anything decodeStd must see: a
// reference other than the five predefined entities, a control
// character, invalid UTF-8 or a code point outside XML's character range,
// "]]>", a '<' in a value, or no stop byte.
func xmlSpan(rec []byte, i int, stop byte, buf *[]byte) (j int, val []byte, cr, ok bool) {
	hi, ref := false, false
	for j = i; j < len(rec) && rec[j] != stop; j++ {
		c := rec[j]
		if c >= 0x20 && c < 0x80 && c != '&' && c != '<' && c != '>' {
			continue
		}
		switch {
		case c >= 0x80:
			hi = true
		case c == '\t' || c == '\n':
		case c == '\r':
			cr = true
		case c == '&':
			ref = true
		case c == '>':
			if j-i >= 2 && rec[j-1] == ']' && rec[j-2] == ']' {
				return j, nil, false, false
			}
		default: // '<' in a value, or a control character
			return j, nil, false, false
		}
	}
	if j >= len(rec) {
		return j, nil, false, false
	}
	val = rec[i:j]
	if hi && !xmlChars(val) {
		return j, nil, false, false
	}
	if ref {
		if val, ok = unescapeXML(val, (*buf)[:0]); !ok {
			return j, nil, false, false
		}
		*buf = val
	}
	return j, val, cr, true
}

// unescapeXML appends v to dst with &lt; &gt; &amp; &apos; &quot;
// replaced; false on any other reference (numeric ones included: decodeStd).
func unescapeXML(v, dst []byte) ([]byte, bool) {
	for {
		a := bytes.IndexByte(v, '&')
		if a < 0 {
			return append(dst, v...), true
		}
		dst = append(dst, v[:a]...)
		v = v[a+1:]
		semi := bytes.IndexByte(v, ';')
		if semi < 0 {
			return nil, false
		}
		switch string(v[:semi]) {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "apos":
			dst = append(dst, '\'')
		case "quot":
			dst = append(dst, '"')
		default:
			return nil, false
		}
		v = v[semi+1:]
	}
}

// xmlChars: valid UTF-8 of code points in XML's character range
// (encoding/xml's check of every text and value).
func xmlChars(b []byte) bool {
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			return false
		}
		if !(r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
			return false
		}
		b = b[size:]
	}
	return true
}

// xmlName scans an ASCII name without a prefix from i: [A-Za-z_][A-Za-z0-9_.-]*.
// ok is false when there is none, or the name goes on with ':' or a
// non-ASCII byte (j is then where it stopped).
func xmlName(b []byte, i int) (j int, ok bool) {
	if i >= len(b) {
		return i, false
	}
	if c := b[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '_') {
		return i, false
	}
	j = i + 1
	for ; j < len(b); j++ {
		c := b[j]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-' {
			continue
		}
		if c == ':' || c >= 0x80 {
			return j, false
		}
		break
	}
	return j, true
}

// xmlSpace skips XML white space (encoding/xml's space()).
func xmlSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}
