package bus

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"time"
	"unsafe"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// The stream carries events in batches: one message holds the records of
// one publish call routed to one partition, in a compact binary form
// (each string length-prefixed, integers as varints), decoded once into
// records that share one string of the message's bytes. One JSON message
// per event cost the split path most of its CPU (encode at ingest, decode
// at the detector, one acknowledgement per event); see docs/performance.md.
//
// A batch message starts with batchMagic and a format version; a message
// without it is one JSON-encoded store.EventRecord (streams written by
// earlier versions), still read.
//
// What a detector needs of a record is its store id, its event and when
// ingest committed it (alert latency): the original line stays in the
// database.

const (
	batchMagic   = 0xfb
	batchVersion = 1
	// maxBatchBytes bounds one message (NATS' default max_payload is 1 MB).
	maxBatchBytes = 768 << 10
)

var errBatch = errors.New("bus: malformed event batch")

// appendRecord appends rec's id and event to b.
func appendRecord(b []byte, rec *store.EventRecord) []byte {
	ev := &rec.Event
	b = binary.AppendVarint(b, rec.ID)
	var ts int64
	if !ev.Timestamp.IsZero() {
		ts = ev.Timestamp.UnixNano()
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, ts)
	var recv int64
	if !rec.Received.IsZero() {
		recv = rec.Received.UnixNano()
	}
	b = binary.AppendVarint(b, recv)
	for _, s := range [...]string{ev.Category, ev.Action, ev.Outcome, ev.Reason, ev.Code, ev.UserName, ev.UserDomain, ev.HostName, ev.Tenant, ev.Dataset, ev.Message, ev.File} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, int64(ev.Count))
	b = binary.AppendVarint(b, int64(ev.SourcePort))
	b = binary.AppendVarint(b, ev.Offset)
	b = binary.AppendVarint(b, ev.Line)
	ip, _ := ev.SourceIP.MarshalBinary()
	b = binary.AppendUvarint(b, uint64(len(ip)))
	b = append(b, ip...)
	b = binary.AppendUvarint(b, uint64(len(ev.Fields)))
	if len(ev.Fields) > 0 {
		for _, k := range slices.Sorted(maps.Keys(ev.Fields)) {
			b = appendString(b, k)
			b = appendString(b, ev.Fields[k])
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// batchReader decodes one batch message. Its strings are substrings of
// one copy of the message.
type batchReader struct {
	s   string
	off int
	err error
}

func newBatchReader(data []byte) (*batchReader, int, error) {
	if len(data) < 2 || data[0] != batchMagic {
		return nil, 0, errBatch
	}
	if data[1] != batchVersion {
		return nil, 0, errors.New("bus: event batch of an unknown version (a newer firebreak wrote it)")
	}
	r := &batchReader{s: string(data), off: 2}
	n := r.uvarint()
	if r.err != nil || n > uint64(len(data)) {
		return nil, 0, errBatch
	}
	return r, int(n), nil
}

func (r *batchReader) bytes() []byte {
	return unsafe.Slice(unsafe.StringData(r.s), len(r.s))
}

func (r *batchReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.bytes()[r.off:])
	if n <= 0 {
		r.err = errBatch
		return 0
	}
	r.off += n
	return v
}

// varint reads binary.AppendVarint's form: a zig-zag uvarint.
func (r *batchReader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *batchReader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.s)-r.off) {
		r.err = errBatch
		return ""
	}
	s := r.s[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

func (r *batchReader) byte() byte {
	if r.err != nil || r.off >= len(r.s) {
		r.err = errBatch
		return 0
	}
	c := r.s[r.off]
	r.off++
	return c
}

// record decodes the next record into rec.
func (r *batchReader) record(rec *store.EventRecord) error {
	*rec = store.EventRecord{ID: r.varint()}
	ev := &rec.Event
	hasTime := r.byte()
	ts := r.varint()
	if hasTime == 1 {
		ev.Timestamp = time.Unix(0, ts).UTC()
	}
	if recv := r.varint(); recv != 0 {
		rec.Received = time.Unix(0, recv).UTC()
	}
	for _, p := range [...]*string{&ev.Category, &ev.Action, &ev.Outcome, &ev.Reason, &ev.Code, &ev.UserName, &ev.UserDomain, &ev.HostName, &ev.Tenant, &ev.Dataset, &ev.Message, &ev.File} {
		*p = r.str()
	}
	ev.Count = int(r.varint())
	ev.SourcePort = int(r.varint())
	ev.Offset = r.varint()
	ev.Line = r.varint()
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > uint64(len(r.s)-r.off) {
			return errBatch
		}
		if err := ev.SourceIP.UnmarshalBinary(r.bytes()[r.off : r.off+int(n)]); err != nil {
			return errBatch
		}
		r.off += int(n)
	}
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > uint64(len(r.s)) {
			return errBatch
		}
		ev.Fields = make(map[string]string, n)
		for range n {
			k := r.str()
			ev.Fields[k] = r.str()
		}
	}
	return r.err
}

// encodeBatches encodes recs (all of one partition) into messages of at
// most maxBatchBytes each (a larger record gets a message of its own),
// calling emit with each message and the index of its first and last
// record.
func encodeBatches(recs []*store.EventRecord, emit func(data []byte, first, last int) error) error {
	start := 0
	var body []byte
	var one []byte
	for i, rec := range recs {
		one = appendRecord(one[:0], rec)
		if i > start && len(body)+len(one) > maxBatchBytes {
			if err := emit(batchMessage(body, i-start), start, i-1); err != nil {
				return err
			}
			body, start = body[:0], i
		}
		body = append(body, one...)
	}
	if len(recs) > start {
		return emit(batchMessage(body, len(recs)-start), start, len(recs)-1)
	}
	return nil
}

func batchMessage(body []byte, n int) []byte {
	msg := make([]byte, 0, len(body)+12)
	msg = append(msg, batchMagic, batchVersion)
	msg = binary.AppendUvarint(msg, uint64(n))
	return append(msg, body...)
}
