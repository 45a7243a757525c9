package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// TestEVTXDamageNamed: checksum mismatches in a chunk's header or its
// records are counted as warnings naming the file, the chunk and the
// records it holds, the chunk's records are still read one by one (a
// record whose structure is broken is skipped and named by its number),
// and the rest of the file is read.
func TestEVTXDamageNamed(t *testing.T) {
	var evs []evtxtest.Event
	for i := range 1500 {
		evs = append(evs, evtxtest.Event{ID: 4625, Time: fixtureBase.Add(time.Duration(i) * time.Second), Computer: "FS01.corp.example",
			Data: [][2]string{{"TargetUserName", fmt.Sprintf("user%04d", i)}, {"IpAddress", "192.0.2.7"}, {"SubStatus", "0xc000006a"}}})
	}
	good := evtxtest.Write(evs)
	recs := evtxtest.Records(good)
	second := 0 // the first record of chunk 1
	for recs[second] < 4096+65536 {
		second++
	}
	bad := evtxtest.Corrupt(good, recs[11]-7)    // record 11's last value: chunk 0's records checksum
	bad = evtxtest.Corrupt(bad, recs[20]+4)      // record 21's size: structure broken, skipped
	bad = evtxtest.Corrupt(bad, 4096+65536+0x7c) // chunk 1's header checksum
	r, err := NewReader("sec.evtx", bytes.NewReader(bad), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, st := readEvents(t, r)
	if len(got) != len(evs)-1 || st.Parsed != int64(len(evs)-1) || st.Unparsed != 1 || st.Warnings != 2 {
		t.Fatalf("%d events, stats parsed %d unparsed %d warnings %d; want %d, 1 unparsed, 2 warnings (samples %v)",
			len(got), st.Parsed, st.Unparsed, st.Warnings, len(evs)-1, st.Samples)
	}
	var all []string
	for _, s := range st.Samples {
		all = append(all, s.String())
	}
	for _, want := range []string{
		fmt.Sprintf("sec.evtx:1: warning: chunk 0 (records 1-%d, offset 4096): event records checksum mismatch", second),
		fmt.Sprintf("sec.evtx:21: record 21 (chunk 0, offset %d): bad record size", recs[20]),
		fmt.Sprintf("sec.evtx:%d: warning: chunk 1 (records %d-", second+1, second+1),
	} {
		found := false
		for _, s := range all {
			found = found || strings.HasPrefix(s, want)
		}
		if !found {
			t.Errorf("no sample starting %q in\n%s", want, strings.Join(all, "\n"))
		}
	}
}

// TestEVTXOutOfSequenceNamed: in a dirty file (a log copied while in use,
// its last chunk's header behind its records), a record past the header's
// free space offset numbered out of sequence is counted as unparsed, named
// by the file and its record number, and the records after it in the
// chunk are read. On the old code it ended the chunk: the records after it
// were lost and nothing was counted.
func TestEVTXOutOfSequenceNamed(t *testing.T) {
	evs := sprayEVTX(1500)
	dirty, err := evtxtest.StaleLastChunk(evtxtest.Write(evs), 5)
	if err != nil {
		t.Fatal(err)
	}
	recs := evtxtest.Records(dirty)
	lastChunk := 4096 + (len(dirty)-4096)/65536*65536 - 65536
	k := 0
	for recs[k] < lastChunk {
		k++
	}
	at := k + 8 // three records past the header's end
	binary.LittleEndian.PutUint64(dirty[recs[at]+8:], 3)
	r, err := NewReader("Security.evtx", bytes.NewReader(dirty), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, st := readEvents(t, r)
	if len(got) != len(evs)-1 || st.Parsed != int64(len(evs)-1) || st.Unparsed != 1 {
		t.Fatalf("%d events, stats parsed %d unparsed %d; want %d and 1 unparsed (samples %v)", len(got), st.Parsed, st.Unparsed, len(evs)-1, st.Samples)
	}
	if ts := got[len(got)-1]; ts != evs[len(evs)-1].Time.String() {
		t.Errorf("last event at %s, want the last record's %s", ts, evs[len(evs)-1].Time)
	}
	want := fmt.Sprintf("Security.evtx:3: record 3 (chunk %d, offset %d): record past the chunk header's free space offset numbered out of sequence (%d expected); skipped",
		(lastChunk-4096)/65536, recs[at], at+1)
	found := false
	for _, s := range st.Samples {
		found = found || strings.HasPrefix(s.String(), want)
	}
	if !found {
		t.Errorf("no sample %q in %v", want, st.Samples)
	}
}
