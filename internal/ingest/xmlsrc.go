package ingest

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"math/bits"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// xmlSource reads rendered Windows event XML: the <Event> elements that
// `wevtutil qe /f:xml`, Event Viewer's "Save as XML", Get-WinEvent's
// ToXml() and Windows Event Forwarding produce, with or without an
// <Events> root, a byte order mark, a prolog, or newlines between events.
// Each <Event> is cut out of the stream and decoded on its own, so one
// malformed event is counted and skipped and the next one is read.
// Values reach the Windows parser under the same paths as JSON's and
// .evtx's (Event.System.EventID, Event.EventData.TargetUserName), so every
// Windows form shares one mapping.
type xmlSource struct {
	l     *lineReader
	p     *windowsParser
	max   int
	n     int64  // records cut so far
	at    int64  // byte offset of the last record cut
	cut   bool   // the last record has no end tag (cut off, or the input's end)
	head  []byte // the start of the last record longer than max (for its sample)
	stack []string
	path  []byte
	text  []byte
	named []bool   // element is <Data Name=...>
	leaf  []bool   // element has no child element (so its text is a value, not indentation)
	names [][]byte // decodeFast's element stack: names, or a <Data>'s Name value
	aval  []byte   // decodeFast's attribute value with its references replaced
	nbuf  []byte   // decodeFast's <Data> Name values of the record
	visit func(path, val []byte, kind byte)
	// stdOnly: every record through encoding/xml (tests compare the paths)
	stdOnly bool
}

func newXMLSource(l *lineReader, o *Options) *xmlSource {
	s := &xmlSource{l: l, p: newWindowsParser(o).(*windowsParser), max: o.maxLine()}
	s.visit = s.p.field
	return s
}

var (
	xmlEventOpen  = []byte("<Event")
	xmlEventClose = []byte("</Event>")
)

// eventStart finds "<Event" followed by whitespace, '>' or '/' (not
// <Events>, <EventData>, <EventID>).
func eventStart(b []byte) int {
	off := 0
	for {
		i := bytes.Index(b[off:], xmlEventOpen)
		if i < 0 {
			return -1
		}
		j := off + i + len(xmlEventOpen)
		if j >= len(b) {
			return off + i // decide after more data
		}
		switch b[j] {
		case ' ', '\t', '\r', '\n', '>':
			return off + i
		}
		off = j
	}
}

// eventEnd finds, in one pass over the '<' of buf (which starts with an
// event's start tag), where that event ends: j, the offset of its first
// "</Event>" (-1 when buf has none yet), or k > 0, the offset of another
// event's start tag before it (0 when none, or when it cannot tell yet: an
// "<Event" at the end of buf). Rendered events never nest <Event>
// elements, and a "<Event" in a value is escaped, so k > 0 is a record
// cut off (only one with such a tag inside a comment or CDATA is cut in
// two, and both halves reported). It is
//
//	j = bytes.Index(buf, "</Event>")
//	k = the first eventStart at or after len("<Event") and before j, whose
//	    byte after "<Event" is in buf
//
// without a search per "<EventID", "<EventData"… (FuzzEventEnd).
func eventEnd(buf []byte) (j, k int) {
	n := len(buf)
	const lt = 0x3c3c3c3c3c3c3c3c // '<' in every byte
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for i := len(xmlEventOpen); i < n; i++ {
		// the next '<', eight bytes at a time (the lowest zero byte of
		// w^lt is exact)
		for i+8 <= n {
			x := binary.LittleEndian.Uint64(buf[i:]) ^ lt
			if t := (x - lo) &^ x & hi; t != 0 {
				i += bits.TrailingZeros64(t) >> 3
				break
			}
			i += 8
		}
		if i >= n {
			break
		}
		if buf[i] != '<' {
			continue
		}
		if i+len(xmlEventClose) <= n && string(buf[i:i+len(xmlEventClose)]) == string(xmlEventClose) {
			return i, 0
		}
		if i+len(xmlEventOpen) < n && string(buf[i:i+len(xmlEventOpen)]) == string(xmlEventOpen) {
			switch buf[i+len(xmlEventOpen)] {
			case ' ', '\t', '\r', '\n', '>':
				return -1, i
			}
		}
	}
	return -1, 0
}

// eventPrefixAtEnd is the length of the longest suffix of b that is a
// proper prefix of "<Event" (an event's start tag may go on in the bytes
// not read yet).
func eventPrefixAtEnd(b []byte) int {
	for n := min(len(b), len(xmlEventOpen)-1); n > 0; n-- {
		if bytes.HasPrefix(xmlEventOpen, b[len(b)-n:]) {
			return n
		}
	}
	return 0
}

// next cuts the next <Event>…</Event>. A nil record with nil error is an
// event longer than the line limit (skipped).
func (s *xmlSource) next() ([]byte, error) {
	l := s.l
	for {
		buf := l.buf[l.r:l.w]
		i := eventStart(buf)
		if i < 0 || i+len(xmlEventOpen) >= len(buf) {
			// Keep only what may begin an event's start tag: the position
			// (a followed file's saved offset) is then the end of the last
			// event or the start of the next, never inside the bytes
			// between them, from which a restarted tail sniffs the format.
			keep := len(buf) - i
			if i < 0 {
				keep = eventPrefixAtEnd(buf)
			}
			l.pos += int64(len(buf) - keep)
			l.r = l.w - keep
			if !l.fill() {
				return nil, l.endErr()
			}
			continue
		}
		if i > 0 {
			l.pos += int64(i)
			l.r += i
			buf = buf[i:]
		}
		j, k := eventEnd(buf)
		if k > 0 {
			// another event starts before this one's end tag: this one was
			// cut off (a copy of a file being written, a forwarder stopped
			// mid-event). It ends there, the decoder reports it, and the
			// next event is read on its own.
			rec := buf[:k]
			s.at, s.cut = l.pos, true
			l.pos += int64(k)
			l.r += k
			s.n++
			return rec, nil
		}
		if j < 0 {
			if len(buf) > s.max {
				// too long: drop this start tag and look for the next event
				s.at, s.head = l.pos, append(s.head[:0], buf[:min(len(buf), maxSampleText)]...)
				l.pos += int64(len(xmlEventOpen))
				l.r += len(xmlEventOpen)
				s.n++
				return nil, nil
			}
			if !l.fill() {
				if l.err == errWait {
					// following a file: the rest of the event is not
					// written yet; it is read from its start next time
					return nil, readErr{errWait}
				}
				if l.w > l.r {
					s.n++
					rec := l.buf[l.r:l.w]
					s.at, s.cut = l.pos, true
					l.pos += int64(len(rec))
					l.r = l.w
					return rec, nil // truncated: the decoder reports it
				}
				return nil, l.endErr()
			}
			continue
		}
		rec := buf[:j+len(xmlEventClose)]
		s.at, s.cut = l.pos, false
		l.pos += int64(len(rec))
		l.r += len(rec)
		s.n++
		return rec, nil
	}
}

// decode walks one <Event> element and hands its values to the parser:
// decodeFast for what wevtutil and Windows Event Forwarding render, and
// encoding/xml (decodeStd, from a fresh parser state) for anything else.
func (s *xmlSource) decode(rec []byte) error {
	if !s.stdOnly && s.decodeFast(rec, s.visit) {
		return nil
	}
	s.p.reset(s.p.ev)
	return s.decodeStd(rec, s.visit)
}

// decodeStd is decode on encoding/xml's tokenizer (non-strict RawToken):
// the reference decodeFast must agree with (FuzzXMLFastAgrees).
func (s *xmlSource) decodeStd(rec []byte, visit func(path, val []byte, kind byte)) error {
	d := xml.NewDecoder(bytes.NewReader(rec))
	d.Strict = false
	s.stack = s.stack[:0]
	s.named = s.named[:0]
	s.leaf = s.leaf[:0]
	s.text = s.text[:0]
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			if len(s.stack) != 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(s.stack) >= 32 {
				return errTooDeep
			}
			s.text = s.text[:0]
			if n := len(s.leaf); n > 0 {
				s.leaf[n-1] = false
			}
			s.stack = append(s.stack, t.Name.Local)
			named := false
			s.path = s.joinPath()
			base := len(s.path)
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				if t.Name.Local == "Data" && a.Name.Local == "Name" {
					named = true
					s.stack[len(s.stack)-1] = "\x00" + a.Value
					continue
				}
				s.path = append(append(s.path[:base], '.'), a.Name.Local...)
				visit(s.path, []byte(a.Value), kString)
			}
			s.named = append(s.named, named)
			s.leaf = append(s.leaf, true)
		case xml.CharData:
			s.text = append(s.text, t...)
		case xml.EndElement:
			if len(s.stack) == 0 {
				return errUnbalanced
			}
			v := s.text
			named := s.named[len(s.named)-1]
			if s.leaf[len(s.leaf)-1] && (len(v) > 0 || named) {
				s.path = s.joinPath()
				visit(s.path, v, kString)
			}
			s.text = s.text[:0]
			s.stack = s.stack[:len(s.stack)-1]
			s.named = s.named[:len(s.named)-1]
			s.leaf = s.leaf[:len(s.leaf)-1]
		}
	}
}

type xmlErr string

func (e xmlErr) Error() string { return string(e) }

const (
	errTooDeep    = xmlErr("elements nested too deeply")
	errUnbalanced = xmlErr("end tag without start tag")
)

// joinPath is the dotted path of the element stack; a <Data Name="X">
// element (stored as "\x00X") contributes X in place of "Data".
func (s *xmlSource) joinPath() []byte {
	p := s.path[:0]
	for i, name := range s.stack {
		if i > 0 {
			p = append(p, '.')
		}
		if len(name) > 0 && name[0] == 0 {
			name = name[1:]
		}
		p = append(p, name...)
	}
	return p
}

// nextXML is Reader.Next for rendered event XML.
func (r *Reader) nextXML(ev *event.Event) error {
	s := r.xml
	for {
		rec, err := s.next()
		if err != nil {
			return err
		}
		if rec == nil {
			r.tooLong(s.n, s.at, s.head)
			continue
		}
		r.st.Lines++
		ev.Reset()
		s.p.reset(ev)
		if s.p.opts.Wanted != nil && !s.cut && s.skipByID(rec) {
			// an event id no loaded rule may match: not decoded (as JSON)
			r.st.Ignored++
			r.progStats(s.p.program()).Ignored++
			continue
		}
		if err := s.decode(rec); err != nil {
			why := "bad event XML: " + err.Error()
			if s.cut {
				why = fmt.Sprintf("truncated event XML (no </Event>) at byte %d: %v", s.at, err)
			}
			r.bad(s.n, why, rec)
			r.programBad(nil, s.n, why, rec)
			continue
		}
		res, why := s.p.finish(ev)
		switch res {
		case resEvent:
			r.st.Parsed++
			r.progStats(s.p.program()).Parsed++
			ev.File = r.name
			ev.Line = s.n
			ev.Offset = r.lines.pos
			if ev.Message == "" {
				ev.Message = string(rec)
			}
			if ev.Tenant == "" {
				r.assignTenant(ev)
			}
			return nil
		case resIgnored:
			r.st.Ignored++
			r.progStats(s.p.program()).Ignored++
		default:
			r.bad(s.n, why, rec)
			r.programBad(s.p.program(), s.n, why, rec)
		}
	}
}

var (
	xmlChannel         = []byte("Channel")
	xmlSecurityChannel = []byte("<Channel>Security</Channel>")
)

// xmlSecurity reports whether a record's channel is plainly Security or
// absent: then an event id alone says what decoding would (finish), down
// to the program it is counted under; a record of another channel, or
// one that names it in another way, is decoded.
func xmlSecurity(rec []byte) bool {
	// bytes.Count(rec, "Channel") is 0, or 2 and both are in
	// "<Channel>Security</Channel>" (they are whenever it is there)
	i := bytes.Index(rec, xmlChannel)
	if i < 0 {
		return true
	}
	if i == 0 || !bytes.HasPrefix(rec[i-1:], xmlSecurityChannel) {
		return false
	}
	return !bytes.Contains(rec[i-1+len(xmlSecurityChannel):], xmlChannel)
}

// skipByID reports whether rec may be counted as ignored by its event id
// without decoding (skipID, which sets the parser's id, only for a
// Security-channel record): the id is looked at first, so a wanted record
// is not searched for its channel.
func (s *xmlSource) skipByID(rec []byte) bool {
	id := xmlEventID(rec)
	if id == 0 || s.p.want(id) {
		return false
	}
	return xmlSecurity(rec) && s.p.skipID(id)
}

var (
	xmlEventIDOpen  = []byte("<EventID")
	xmlEventIDClose = []byte("</EventID>")
)

// xmlEventID finds the event id of one rendered <Event> without decoding
// it: the digits of its one <EventID> element (<EventID>4624</EventID> or
// with attributes, <EventID Qualifiers="">4624</EventID>). It returns 0 —
// decode the record — when there is no such element, more than one, or
// anything but 1 to 6 digits in it (entities, CDATA, spaces, a prefix).
// The id it names is the one decoding finds, or decoding finds none (an
// <EventID> outside <System>: the record is no event either way) —
// FuzzXMLEventID.
func xmlEventID(rec []byte) int {
	if bytes.Count(rec, xmlEventIDOpen[1:]) != 2 {
		return 0 // none, or "EventID" elsewhere too (an element or attribute): decode
	}
	i := bytes.Index(rec, xmlEventIDOpen)
	if i < 0 {
		return 0
	}
	rest := rec[i+len(xmlEventIDOpen):]
	if len(rest) == 0 {
		return 0
	}
	switch rest[0] {
	case '>':
	case ' ', '\t', '\r', '\n':
		gt := bytes.IndexByte(rest, '>')
		if gt < 0 || bytes.IndexByte(rest[:gt], '<') >= 0 || rest[gt-1] == '/' {
			return 0
		}
		rest = rest[gt:]
	default:
		return 0 // <EventIDx>
	}
	rest = rest[1:]
	n, k := 0, 0
	for k < len(rest) && k < 6 && rest[k] >= '0' && rest[k] <= '9' {
		n = n*10 + int(rest[k]-'0')
		k++
	}
	if k == 0 || !bytes.HasPrefix(rest[k:], xmlEventIDClose) {
		return 0
	}
	return n
}
