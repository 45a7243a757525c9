package bus

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// TestBatchRoundTrip: the records a batch message carries decode to the
// same ids and events (every field a detector reads), split over several
// messages when they exceed maxBatchBytes, in order; a JSON message of an
// earlier version still reads; a truncated batch gives no record.
func TestBatchRoundTrip(t *testing.T) {
	var recs []store.EventRecord
	files, _ := filepath.Glob("../../../examples/harbourview/logs/*")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // the truth directory
		}
		rd, err := ingest.NewReader(f, bytes.NewReader(data), ingest.Options{Year: 2026})
		if err != nil {
			continue // not a log
		}
		var ev event.Event
		for rd.Next(&ev) == nil {
			recs = append(recs, store.EventRecord{ID: int64(len(recs) + 1), Event: ev})
			ev = event.Event{}
		}
	}
	if len(recs) < 1000 {
		t.Fatalf("only %d example events", len(recs))
	}
	recs = append(recs,
		store.EventRecord{ID: -5, Event: event.Event{Count: 3, SourceIP: netip.MustParseAddr("2001:db8::1%eth0"), Fields: map[string]string{"a": "", "EventID": "4625"}}},
		store.EventRecord{ID: 1 << 40, Received: time.Unix(1795680353, 5).UTC(), Event: event.Event{Timestamp: time.Unix(0, 1).UTC(), Message: string(make([]byte, maxBatchBytes+10))}},
	)
	ptrs := make([]*store.EventRecord, len(recs))
	for i := range recs {
		ptrs[i] = &recs[i]
	}
	var got []store.EventRecord
	var seqs []uint64
	msgs, next := 0, 0
	err := encodeBatches(ptrs, func(data []byte, first, last int) error {
		if first != next || len(data) > maxBatchBytes+len(recs[len(recs)-1].Event.Message)+64 {
			t.Errorf("message %d: records %d..%d, %d bytes", msgs, first, last, len(data))
		}
		next = last + 1
		msgs++
		got, seqs = decode(data, uint64(msgs), got, seqs)
		if msgs == 1 {
			if r, _ := decode(data[:len(data)/2], 99, nil, nil); len(r) != 0 {
				t.Errorf("a truncated batch gave %d records", len(r))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if msgs < 2 || len(seqs) != len(recs) || seqs[0] != 1 || seqs[len(seqs)-1] != uint64(msgs) {
		t.Errorf("%d messages, %d sequences", msgs, len(seqs))
	}
	if d := cmp.Diff(recs, got, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("decoded records differ (-sent +got):\n%s", d)
	}
	legacy := []byte(`{"id":7,"event":{"@timestamp":"2026-11-26T10:00:00Z","organization":{"id":"t1"}}}`)
	if r, s := decode(legacy, 3, nil, nil); len(r) != 1 || r[0].ID != 7 || r[0].Event.Tenant != "t1" || s[0] != 3 {
		t.Errorf("JSON record of an earlier version: %+v", r)
	}
}

// BenchmarkDecode: Follow's decoding of one message of the example sshd
// events into a new batch (ns and allocations per event).
func BenchmarkDecode(b *testing.B) {
	data, err := os.ReadFile("../../../examples/harbourview/logs/auth-cedar-law-srv01.log")
	if err != nil {
		b.Skip(err)
	}
	rd, err := ingest.NewReader("auth-cedar-law-srv01.log", bytes.NewReader(data), ingest.Options{Year: 2026})
	if err != nil {
		b.Fatal(err)
	}
	var ptrs []*store.EventRecord
	for {
		rec := &store.EventRecord{ID: int64(len(ptrs) + 1)}
		if rd.Next(&rec.Event) != nil {
			break
		}
		ptrs = append(ptrs, rec)
	}
	var msg []byte
	if err := encodeBatches(ptrs, func(data []byte, first, last int) error {
		if msg == nil {
			msg = append([]byte(nil), data...)
		}
		return nil
	}); err != nil || msg == nil {
		b.Fatal(err)
	}
	r, n, err := newBatchReader(msg)
	if err != nil || r == nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		recs, seqs := decode(msg, 1, nil, nil)
		if len(recs) != n || len(seqs) != n {
			b.Fatalf("%d records of %d", len(recs), n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}
