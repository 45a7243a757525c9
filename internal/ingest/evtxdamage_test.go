package ingest

import (
	"bytes"
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
