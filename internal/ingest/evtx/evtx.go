// Package evtx reads Windows XML Event Log (.evtx) files in pure Go,
// streaming: a 4 KiB file header, then 64 KiB chunks read one at a time,
// each holding event records in binary XML (BinXML) that refer to templates
// and names stored earlier in the same chunk.
//
// It does not build XML. For each record it reports the values a consumer
// asks for as (path, value) pairs, with the paths the rendered XML would
// give: "Event.System.EventID", "Event.System.TimeCreated.SystemTime"
// (attributes are path components too), and, for <Data Name="X">, the path
// "Event.EventData.X". Templates are compiled once per chunk into a list of
// such paths with the substitution each reads, so a record costs one pass
// over its substitution array.
//
// Damage is expected (files copied from a live system are "dirty", chunks
// get truncated): a chunk whose header or record checksums fail is still
// read record by record (a warning names the chunk and the records its
// header lists), each record is checked for its signature and its size
// copy, and an unreadable record is reported as a Problem and skipped.
// The file header's chunk count is not trusted (chunks are read to the
// end of the file), and records past a chunk header's free space offset
// are read while they are whole and numbered in sequence (the header of
// a chunk being written lags its records); one numbered out of sequence
// with the log's records going on after it is reported and skipped.
// Memory is bounded by one chunk and its compiled templates.
//
// Imported by internal/ingest; imports only the standard library.
package evtx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// Sizes of the on-disk structures.
const (
	FileHeaderSize  = 4096
	ChunkSize       = 65536
	chunkHeaderSize = 512
	recordHeader    = 24
)

var (
	fileMagic  = []byte("ElfFile\x00")
	chunkMagic = []byte("ElfChnk\x00")
)

// ErrNotEVTX is returned by NewReader when the input does not start with
// the EVTX file signature.
var ErrNotEVTX = errors.New("not an EVTX file (no ElfFile signature)")

// IsEVTX reports whether head starts with the EVTX file signature.
func IsEVTX(head []byte) bool {
	return len(head) >= 8 && string(head[:8]) == string(fileMagic)
}

// Record describes one event record.
type Record struct {
	ID      uint64    // EventRecordID
	Written time.Time // the record header's write time
	Chunk   int       // 0-based chunk number
	Offset  int64     // file offset of the record
}

// Problem is a damaged chunk or record that was skipped (or, for checksum
// mismatches, read with care).
type Problem struct {
	Chunk  int
	Record uint64 // 0 when the record id is unknown
	// First and Last are the records a chunk's header says it holds, for
	// a problem of a whole chunk (0 when unknown).
	First, Last uint64
	Offset      int64
	Reason      string
	// Skipped is true when data was lost (a record or chunk could not be
	// read), false for a warning (a checksum mismatch whose records were
	// all still read).
	Skipped bool
}

func (p Problem) String() string {
	if p.Record != 0 {
		return fmt.Sprintf("record %d (chunk %d, offset %d): %s", p.Record, p.Chunk, p.Offset, p.Reason)
	}
	if p.Chunk < 0 {
		return p.Reason
	}
	if p.First != 0 {
		return fmt.Sprintf("chunk %d (records %d-%d, offset %d): %s", p.Chunk, p.First, p.Last, p.Offset, p.Reason)
	}
	return fmt.Sprintf("chunk %d (offset %d): %s", p.Chunk, p.Offset, p.Reason)
}

// Visitor receives one value of a record. path and val are valid only
// during the call.
type Visitor func(path, val []byte)

// Options configure a Reader.
type Options struct {
	// Want reports whether the consumer needs the value at path; values of
	// unwanted paths are not rendered. nil wants everything.
	Want func(path string) bool
	// VerifyChecksums checks the CRC32 of each chunk header and of its
	// records (default on: see NewReader). A mismatch is reported as a
	// Problem and the chunk is still read record by record.
	SkipChecksums bool
}

// Reader reads records from an EVTX stream.
type Reader struct {
	r     io.Reader
	opts  Options
	buf   []byte // current chunk
	chunk int    // number of the current chunk
	base  int64  // file offset of the current chunk
	pos   int    // next record offset in buf
	end   int    // end of the records area in buf
	have  bool   // buf holds a chunk
	eof   bool
	dirty bool

	first, last uint64 // the records the current chunk's header names
	lastID      uint64 // the last record read from the current chunk
	pastFree    bool   // records were read past the chunk's free space offset

	tmpl  map[uint32]*template // compiled templates of this chunk, by definition offset
	names map[uint32]string    // names of this chunk, by offset
	want  map[string]bool      // Want's answers, by path

	problems []Problem
	pending  []Problem // problems not yet taken
	chunks   int
	records  int64

	budget int // values left for the current record (nested BinXML can multiply work)

	// scratch
	val  []byte
	path []byte
}

// NewReader reads the file header and returns a Reader positioned before
// the first chunk.
func NewReader(r io.Reader, opts Options) (*Reader, error) {
	hdr := make([]byte, FileHeaderSize)
	n, err := io.ReadFull(r, hdr)
	if n < 8 || !IsEVTX(hdr[:n]) {
		return nil, ErrNotEVTX
	}
	if err != nil {
		return nil, fmt.Errorf("evtx file header: %w", err)
	}
	rd := &Reader{r: r, opts: opts, buf: make([]byte, ChunkSize), base: FileHeaderSize,
		tmpl: map[uint32]*template{}, names: map[uint32]string{}, want: map[string]bool{}}
	rd.dirty = binary.LittleEndian.Uint32(hdr[0x78:])&1 != 0
	if !opts.SkipChecksums {
		if crc32.ChecksumIEEE(hdr[:0x78]) != binary.LittleEndian.Uint32(hdr[0x7c:]) {
			rd.problem(Problem{Chunk: -1, Offset: 0, Reason: "file header checksum mismatch"})
		}
	}
	rd.chunk = -1
	return rd, nil
}

// Dirty reports whether the file header says the log was not closed
// cleanly (a copy of a live log).
func (r *Reader) Dirty() bool { return r.dirty }

// Chunks reports how many chunks have been read.
func (r *Reader) Chunks() int { return r.chunks }

// Problems returns every problem met so far.
func (r *Reader) Problems() []Problem { return r.problems }

// TakeProblems returns the problems met since the last call.
func (r *Reader) TakeProblems() []Problem {
	p := r.pending
	r.pending = nil
	return p
}

func (r *Reader) problem(p Problem) {
	if len(r.problems) < 1000 {
		r.problems = append(r.problems, p)
	}
	if len(r.pending) < 1000 {
		r.pending = append(r.pending, p)
	}
}

// Next decodes the next record, calling visit for each wanted value, and
// returns its header. It returns io.EOF at the end. A damaged record is
// recorded as a Problem and skipped; the returned error is then nil for the
// next good record. Read errors other than a short last chunk are returned.
func (r *Reader) Next(visit Visitor) (Record, error) {
	for {
		if !r.have || r.pos >= r.end {
			if r.have && r.morePastFree() {
				continue
			}
			if err := r.nextChunk(); err != nil {
				return Record{}, err
			}
			continue
		}
		rec, ok := r.record(visit)
		if ok {
			r.records++
			return rec, nil
		}
	}
}

// nextChunk loads the next chunk that carries the chunk signature.
func (r *Reader) nextChunk() error {
	for {
		if r.eof {
			return io.EOF
		}
		if r.have {
			r.base += ChunkSize
		}
		r.have = false
		n, err := io.ReadFull(r.r, r.buf)
		r.chunk++
		if err == io.EOF {
			r.eof = true
			return io.EOF
		}
		if err == io.ErrUnexpectedEOF {
			r.eof = true
			if n >= chunkHeaderSize && string(r.buf[:8]) == string(chunkMagic) {
				r.problem(Problem{Chunk: r.chunk, Offset: r.base, Reason: fmt.Sprintf("truncated chunk (%d of %d bytes); reading its complete records", n, ChunkSize)})
				clear(r.buf[n:])
			} else {
				if n > 0 && !allZero(r.buf[:n]) {
					r.problem(Problem{Chunk: r.chunk, Offset: r.base, Reason: fmt.Sprintf("truncated data at end of file (%d bytes)", n), Skipped: true})
				}
				return io.EOF
			}
		} else if err != nil {
			return fmt.Errorf("reading evtx chunk %d: %w", r.chunk, err)
		}
		r.have = true
		if string(r.buf[:8]) != string(chunkMagic) {
			if !allZero(r.buf[:chunkHeaderSize]) {
				r.problem(Problem{Chunk: r.chunk, Offset: r.base, Reason: "no chunk signature; chunk skipped", Skipped: true})
			}
			continue
		}
		r.chunks++
		clear(r.tmpl)
		clear(r.names)
		r.pos = chunkHeaderSize
		r.end = int(binary.LittleEndian.Uint32(r.buf[0x30:])) // free space offset
		r.first, r.last = binary.LittleEndian.Uint64(r.buf[0x18:]), binary.LittleEndian.Uint64(r.buf[0x20:])
		r.lastID, r.pastFree = 0, false
		chunkProblem := func(why string) {
			r.problem(Problem{Chunk: r.chunk, First: r.first, Last: r.last, Offset: r.base, Reason: why})
		}
		headerOK := true
		if !r.opts.SkipChecksums {
			c := crc32.ChecksumIEEE(r.buf[:0x78])
			c = crc32.Update(c, crc32.IEEETable, r.buf[0x80:chunkHeaderSize])
			if c != binary.LittleEndian.Uint32(r.buf[0x7c:]) {
				headerOK = false
				chunkProblem("chunk header checksum mismatch; records checked one by one")
			}
		}
		if r.end < chunkHeaderSize || r.end > ChunkSize {
			if headerOK {
				chunkProblem(fmt.Sprintf("free space offset %d out of range; records checked one by one", r.end))
			}
			r.end = ChunkSize
		} else if !r.opts.SkipChecksums && headerOK {
			if crc32.ChecksumIEEE(r.buf[chunkHeaderSize:r.end]) != binary.LittleEndian.Uint32(r.buf[0x34:]) {
				chunkProblem("event records checksum mismatch; records checked one by one")
			}
		}
		return nil
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// record decodes the record at r.pos. On damage it reports a problem,
// moves past it (resynchronising on the next record signature) and
// returns false.
func (r *Reader) record(visit Visitor) (Record, bool) {
	b := r.buf
	p := r.pos
	if p+recordHeader+4 > r.end || string(b[p:p+4]) != "**\x00\x00" {
		if p+4 <= r.end && allZero(b[p:min(p+recordHeader, r.end)]) {
			r.pos = r.end // free space
			return Record{}, false
		}
		r.resync(p, 0, "no record signature")
		return Record{}, false
	}
	size := int(binary.LittleEndian.Uint32(b[p+4:]))
	id := binary.LittleEndian.Uint64(b[p+8:])
	if size < recordHeader+4 || p+size > len(b) || binary.LittleEndian.Uint32(b[p+size-4:]) != uint32(size) {
		r.resync(p, id, fmt.Sprintf("bad record size %d", size))
		return Record{}, false
	}
	rec := Record{ID: id, Written: filetime(binary.LittleEndian.Uint64(b[p+16:])), Chunk: r.chunk, Offset: r.base + int64(p)}
	r.pos = p + size
	r.lastID = id
	d := decoder{r: r, data: b[:p+size-4], visit: visit}
	r.budget = 1 << 16
	if err := d.fragment(p+recordHeader, "", nil); err != nil {
		r.problem(Problem{Chunk: r.chunk, Record: id, Offset: rec.Offset, Reason: "bad binary XML: " + err.Error(), Skipped: true})
		return Record{}, false
	}
	return rec, true
}

// morePastFree reports whether a record lies past the free space offset
// the chunk's header gives (at r.end): the service updates a chunk's
// header after its records, so a copy of a log in use (a "dirty" file)
// holds records its header does not count yet. A whole record there,
// numbered next in sequence, is read: the records area grows over it.
// One numbered otherwise is either torn (the log's own records go on
// after it) or left from an earlier use of the chunk, as are all the
// records after it (real logs hold such stale records past their free
// space). So the whole records after it are looked at, within the chunk:
// when one is numbered as the log's next but for the records before it,
// those are reported, each with its number, and skipped, and reading goes
// on from it; when none is, the chunk ends there.
func (r *Reader) morePastFree() bool {
	next := r.lastID + 1
	if r.lastID == 0 {
		next = r.first
	}
	p := r.pos
	if p != r.end {
		return false
	}
	for j := uint64(0); ; j++ {
		size, id, ok := r.wholeRecord(p)
		if !ok {
			return false
		}
		if id == next+j {
			break
		}
		p += size
	}
	for q := r.pos; q < p; {
		size, id, _ := r.wholeRecord(q)
		r.problem(Problem{Chunk: r.chunk, Record: id, Offset: r.base + int64(q), Skipped: true,
			Reason: fmt.Sprintf("record past the chunk header's free space offset numbered out of sequence (%d expected); skipped", next)})
		q += size
		next++
	}
	size, id, _ := r.wholeRecord(p)
	if !r.pastFree {
		r.pastFree = true
		r.problem(Problem{Chunk: r.chunk, First: r.first, Last: r.last, Offset: r.base + int64(p),
			Reason: fmt.Sprintf("records from %d on lie past the chunk header's free space offset (a header not yet updated: a log copied while in use); read", id)})
	}
	r.pos, r.end = p, p+size
	return true
}

// wholeRecord reports the size and number of the record at p when one is
// there whole: its signature, and its size repeated at its end, within
// the chunk.
func (r *Reader) wholeRecord(p int) (size int, id uint64, ok bool) {
	b := r.buf
	if p+recordHeader+4 > ChunkSize || string(b[p:p+4]) != "**\x00\x00" {
		return 0, 0, false
	}
	size = int(binary.LittleEndian.Uint32(b[p+4:]))
	if size < recordHeader+4 || p+size > ChunkSize || binary.LittleEndian.Uint32(b[p+size-4:]) != uint32(size) {
		return 0, 0, false
	}
	return size, binary.LittleEndian.Uint64(b[p+8:]), true
}

// resync reports a damaged record at p and moves to the next record
// signature in the chunk.
func (r *Reader) resync(p int, id uint64, why string) {
	r.problem(Problem{Chunk: r.chunk, Record: id, Offset: r.base + int64(p), Reason: why + "; skipped to the next record", Skipped: true})
	for q := p + 1; q+recordHeader+4 <= r.end; q++ {
		if r.buf[q] == '*' && r.buf[q+1] == '*' && r.buf[q+2] == 0 && r.buf[q+3] == 0 {
			size := int(binary.LittleEndian.Uint32(r.buf[q+4:]))
			if size >= recordHeader+4 && q+size <= len(r.buf) && binary.LittleEndian.Uint32(r.buf[q+size-4:]) == uint32(size) {
				r.pos = q
				return
			}
		}
	}
	r.pos = r.end
}

// filetime converts a Windows FILETIME (100 ns since 1601) to time.
func filetime(ft uint64) time.Time {
	const epochDiff = 116444736000000000 // 1601 → 1970 in 100 ns
	if ft < epochDiff {
		return time.Time{}
	}
	d := ft - epochDiff
	return time.Unix(int64(d/1e7), int64(d%1e7)*100).UTC()
}

// wanted caches Options.Want.
func (r *Reader) wanted(path string) bool {
	if r.opts.Want == nil {
		return true
	}
	w, ok := r.want[path]
	if !ok {
		w = r.opts.Want(path)
		if len(r.want) < 4096 {
			r.want[path] = w
		}
	}
	return w
}
