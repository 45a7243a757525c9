// Package evtxtest writes small but valid .evtx files for tests: Security
// events built from one BinXML template per event data layout, with the
// names, templates and checksums laid out as Windows does, so the reader
// is tested on the same structures it meets in real files. Only tests
// import it.
package evtxtest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"time"
	"unicode/utf16"
)

// Event is one record to write.
type Event struct {
	ID       int
	Time     time.Time
	Computer string
	Channel  string      // default "Security"
	Provider string      // default "Microsoft-Windows-Security-Auditing"
	Data     [][2]string // EventData Name, value (all strings)
}

const (
	chunkSize  = 65536
	headerSize = 4096
)

// Write renders events into an .evtx file, as many chunks as needed.
func Write(events []Event) []byte {
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, e := range events {
		if err := w.Add(e); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	out := b.Bytes()
	copy(out, w.Header())
	return out
}

// Writer streams events into an .evtx file: a placeholder file header,
// then each chunk as it fills. Header returns the final file header, to be
// written over the first 4 KiB once the writer is closed (Windows, too,
// updates it last).
type Writer struct {
	w      io.Writer
	c      *chunk
	recID  uint64
	chunks int
	err    error
}

// NewWriter starts a file on w.
func NewWriter(w io.Writer) *Writer {
	wr := &Writer{w: w, recID: 1}
	_, wr.err = w.Write(make([]byte, headerSize))
	return wr
}

// Add appends one event.
func (w *Writer) Add(e Event) error {
	if w.err != nil {
		return w.err
	}
	if w.c == nil {
		w.c = newChunk(w.recID)
	}
	if !w.c.add(e, w.recID) {
		if w.c.last == 0 {
			return errors.New("evtxtest: event larger than a chunk")
		}
		w.flush()
		w.c = newChunk(w.recID)
		if !w.c.add(e, w.recID) {
			return errors.New("evtxtest: event larger than a chunk")
		}
	}
	w.recID++
	return w.err
}

func (w *Writer) flush() {
	if w.c == nil || w.err != nil {
		return
	}
	_, w.err = w.w.Write(w.c.finish())
	w.chunks++
	w.c = nil
}

// Close writes the last chunk.
func (w *Writer) Close() error {
	if w.c != nil && w.c.last != 0 {
		w.flush()
	}
	return w.err
}

// Header is the file header for the chunks written.
func (w *Writer) Header() []byte {
	hdr := make([]byte, headerSize)
	copy(hdr, "ElfFile\x00")
	le := binary.LittleEndian
	le.PutUint64(hdr[8:], 0)
	le.PutUint64(hdr[16:], uint64(max(w.chunks-1, 0)))
	le.PutUint64(hdr[24:], w.recID)
	le.PutUint32(hdr[32:], 128)
	le.PutUint16(hdr[36:], 1)
	le.PutUint16(hdr[38:], 3)
	le.PutUint16(hdr[40:], headerSize)
	le.PutUint16(hdr[42:], uint16(w.chunks))
	le.PutUint32(hdr[0x7c:], crc32.ChecksumIEEE(hdr[:0x78]))
	return hdr
}

type chunk struct {
	buf       []byte
	names     map[string]uint32
	templates map[string]uint32 // layout key -> definition offset
	first     uint64
	last      uint64
	lastOff   uint32
}

func newChunk(first uint64) *chunk {
	c := &chunk{buf: make([]byte, 512, chunkSize), names: map[string]uint32{}, templates: map[string]uint32{}, first: first}
	copy(c.buf, "ElfChnk\x00")
	return c
}

func u16(b []byte, v int) []byte    { return binary.LittleEndian.AppendUint16(b, uint16(v)) }
func u32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func utf16le(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = u16(b, int(r))
	}
	return b
}

// name appends a name reference at absolute chunk offset base+len(b),
// defining the name inline the first time.
func (c *chunk) name(b []byte, base int, s string) []byte {
	if off, ok := c.names[s]; ok {
		return u32(b, off)
	}
	pos := uint32(base + len(b) + 4)
	c.names[s] = pos
	b = u32(b, pos)
	b = u32(b, 0) // next name in the hash bucket
	b = u16(b, 0) // hash (not checked by readers)
	b = u16(b, len(utf16.Encode([]rune(s))))
	b = append(b, utf16le(s)...)
	return u16(b, 0)
}

// element writes <name attrs...> with a dependency id (template form).
func (c *chunk) open(b []byte, base int, name string, hasAttr bool) []byte {
	tok := byte(0x01)
	if hasAttr {
		tok |= 0x40
	}
	b = append(b, tok)
	b = u16(b, 0xffff)
	b = u32(b, 0) // data size: not used by readers
	b = c.name(b, base, name)
	if hasAttr {
		b = u32(b, 0)
	}
	return b
}

func (c *chunk) attr(b []byte, base int, name string, more bool) []byte {
	tok := byte(0x06)
	if more {
		tok |= 0x40
	}
	b = append(b, tok)
	return c.name(b, base, name)
}

func text(b []byte, s string) []byte {
	b = append(b, 0x05, 0x01)
	b = u16(b, len(utf16.Encode([]rune(s))))
	return append(b, utf16le(s)...)
}

func subst(b []byte, idx int, typ byte) []byte {
	b = append(b, 0x0e)
	b = u16(b, idx)
	return append(b, typ)
}

// template builds the template body for a layout: substitution 0 is the
// event id (uint16), 1 the time (FILETIME), 2 the record id (uint64), 3 the
// computer, 4.. the data values (strings).
func (c *chunk) template(base int, ev Event) []byte {
	b := []byte{0x0f, 0x01, 0x01, 0x00}
	b = c.open(b, base, "Event", true)
	b = c.attr(b, base, "xmlns", false)
	b = text(b, "http://schemas.microsoft.com/win/2004/08/events/event")
	b = append(b, 0x02)
	b = c.open(b, base, "System", false)
	b = append(b, 0x02)
	b = c.open(b, base, "Provider", true)
	b = c.attr(b, base, "Name", false)
	b = text(b, ev.Provider)
	b = append(b, 0x03)
	b = c.open(b, base, "EventID", false)
	b = append(b, 0x02)
	b = subst(b, 0, 0x06)
	b = append(b, 0x04)
	b = c.open(b, base, "TimeCreated", true)
	b = c.attr(b, base, "SystemTime", false)
	b = subst(b, 1, 0x11)
	b = append(b, 0x03)
	b = c.open(b, base, "EventRecordID", false)
	b = append(b, 0x02)
	b = subst(b, 2, 0x0a)
	b = append(b, 0x04)
	b = c.open(b, base, "Channel", false)
	b = append(b, 0x02)
	b = text(b, ev.Channel)
	b = append(b, 0x04)
	b = c.open(b, base, "Computer", false)
	b = append(b, 0x02)
	b = subst(b, 3, 0x01)
	b = append(b, 0x04)
	b = append(b, 0x04) // </System>
	b = c.open(b, base, "EventData", false)
	b = append(b, 0x02)
	for i, kv := range ev.Data {
		b = c.open(b, base, "Data", true)
		b = c.attr(b, base, "Name", false)
		b = text(b, kv[0])
		b = append(b, 0x02)
		b = subst(b, 4+i, 0x01)
		b = append(b, 0x04)
	}
	b = append(b, 0x04)       // </EventData>
	b = append(b, 0x04, 0x00) // </Event>, end of stream
	return b
}

func (c *chunk) add(ev Event, id uint64) bool {
	if ev.Channel == "" {
		ev.Channel = "Security"
	}
	if ev.Provider == "" {
		ev.Provider = "Microsoft-Windows-Security-Auditing"
	}
	key := ev.Channel + "|" + ev.Provider
	for _, kv := range ev.Data {
		key += "|" + kv[0]
	}
	start := len(c.buf)
	saveNames := len(c.names)
	namesCopy := make(map[string]uint32, len(c.names))
	for k, v := range c.names {
		namesCopy[k] = v
	}
	rec := make([]byte, 0, 1024)
	rec = append(rec, '*', '*', 0, 0)
	rec = u32(rec, 0) // size, patched
	rec = binary.LittleEndian.AppendUint64(rec, id)
	rec = binary.LittleEndian.AppendUint64(rec, filetime(ev.Time))
	body := []byte{0x0f, 0x01, 0x01, 0x00, 0x0c, 0x01}
	body = u32(body, uint32(len(c.templates)+1))
	def, ok := c.templates[key]
	if ok {
		body = u32(body, def)
	} else {
		defPos := start + len(rec) + len(body) + 4
		body = u32(body, uint32(defPos))
		hdrEnd := defPos + 24
		t := c.template(hdrEnd, ev)
		body = u32(body, 0)                      // next template
		body = append(body, make([]byte, 16)...) // GUID
		body = u32(body, uint32(len(t)))
		body = append(body, t...)
		def = uint32(defPos)
	}
	// substitution values
	vals := [][]byte{
		u16(nil, ev.ID),
		binary.LittleEndian.AppendUint64(nil, filetime(ev.Time)),
		binary.LittleEndian.AppendUint64(nil, id),
		utf16le(ev.Computer),
	}
	types := []byte{0x06, 0x11, 0x0a, 0x01}
	for _, kv := range ev.Data {
		vals = append(vals, utf16le(kv[1]))
		types = append(types, 0x01)
	}
	body = u32(body, uint32(len(vals)))
	for i, v := range vals {
		body = u16(body, len(v))
		body = append(body, types[i], 0)
	}
	for _, v := range vals {
		body = append(body, v...)
	}
	body = append(body, 0x00)
	rec = append(rec, body...)
	size := len(rec) + 4
	binary.LittleEndian.PutUint32(rec[4:], uint32(size))
	rec = u32(rec, uint32(size))
	if start+len(rec) > chunkSize {
		// does not fit: undo the names this record defined
		if len(c.names) != saveNames {
			c.names = namesCopy
		}
		return false
	}
	if !ok {
		c.templates[key] = def
	}
	c.buf = append(c.buf, rec...)
	c.last = id
	c.lastOff = uint32(start)
	return true
}

func (c *chunk) finish() []byte {
	b := c.buf
	le := binary.LittleEndian
	free := len(b)
	le.PutUint64(b[8:], c.first)
	le.PutUint64(b[16:], c.last)
	le.PutUint64(b[24:], c.first)
	le.PutUint64(b[32:], c.last)
	le.PutUint32(b[40:], 128)
	le.PutUint32(b[44:], c.lastOff)
	le.PutUint32(b[48:], uint32(free))
	le.PutUint32(b[52:], crc32.ChecksumIEEE(b[512:free]))
	h := crc32.ChecksumIEEE(b[:0x78])
	h = crc32.Update(h, crc32.IEEETable, b[0x80:512])
	le.PutUint32(b[0x7c:], h)
	out := make([]byte, chunkSize)
	copy(out, b)
	return out
}

func filetime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}

// Corrupt returns a copy of file with one byte flipped at off (to break a
// checksum or a record).
func Corrupt(file []byte, off int) []byte {
	c := slices.Clone(file)
	c[off] ^= 0xff
	return c
}

// Records returns the offsets of the record signatures in file, for tests
// that damage a given record.
func Records(file []byte) []int {
	var out []int
	for i := 0; ; {
		j := bytes.Index(file[i:], []byte("**\x00\x00"))
		if j < 0 {
			return out
		}
		out = append(out, i+j)
		i += j + 4
	}
}

// StaleLastChunk returns a copy of file made dirty as a copy of a log in
// use is: the file header flagged dirty and counting one chunk too few,
// and the last chunk's header written when it held only its first keep
// records (its free space offset, last record and checksums), the records
// after them already there.
func StaleLastChunk(file []byte, keep int) ([]byte, error) {
	le := binary.LittleEndian
	b := slices.Clone(file)
	last := headerSize + (len(b)-headerSize)/chunkSize*chunkSize - chunkSize
	var in []int
	for _, off := range Records(b) {
		if off >= last && off < last+chunkSize {
			in = append(in, off)
		}
	}
	if keep <= 0 || keep >= len(in) {
		return nil, fmt.Errorf("last chunk has %d records, cannot keep %d", len(in), keep)
	}
	c := b[last : last+chunkSize]
	free := in[keep] - last
	lastID := le.Uint64(c[in[keep-1]-last+8:])
	le.PutUint64(c[0x10:], lastID)
	le.PutUint64(c[0x20:], lastID)
	le.PutUint32(c[0x2c:], uint32(in[keep-1]-last))
	le.PutUint32(c[0x30:], uint32(free))
	le.PutUint32(c[0x34:], crc32.ChecksumIEEE(c[512:free]))
	h := crc32.ChecksumIEEE(c[:0x78])
	le.PutUint32(c[0x7c:], crc32.Update(h, crc32.IEEETable, c[0x80:512]))
	le.PutUint16(b[42:], le.Uint16(b[42:])-1)
	le.PutUint32(b[0x78:], le.Uint32(b[0x78:])|1)
	le.PutUint32(b[0x7c:], crc32.ChecksumIEEE(b[:0x78]))
	return b, nil
}
