package ingest

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// xmlRecords renders events one <Event> each (wevtutil's form, CRLF after each).
func xmlRecords(evs []evtxtest.Event) [][]byte {
	var recs [][]byte
	for _, e := range evs {
		recs = append(recs, renderXML([]evtxtest.Event{e}, false, false))
	}
	return recs
}

// withoutPosition drops what depends on where a record sits in the
// stream (its record number and offset).
func withoutPosition(evs []event.Event) []event.Event {
	for i := range evs {
		evs[i].Line, evs[i].Offset = 0, 0
	}
	return evs
}

// TestXMLTruncatedRecordSkipped: a record cut off mid-way (a copy of a
// file still being written, a forwarder killed mid-event) is one unparsed
// record named by file and record number; the complete record after it
// is read, not swallowed into the broken one.
func TestXMLTruncatedRecordSkipped(t *testing.T) {
	recs := xmlRecords(evtxtest.KerberosSpray(fixtureBase))
	cut := bytes.Index(recs[1], []byte("</EventID>")) + len("</Eve")
	var b bytes.Buffer
	for i, r := range recs {
		if i == 1 {
			b.Write(r[:cut])
			b.WriteString("\n")
			continue
		}
		b.Write(r)
	}
	got, st := readAllFrom(t, bytes.NewReader(b.Bytes()), Options{Format: FormatXML})
	want, _ := readAllFrom(t, bytes.NewReader(bytes.Join(append(recs[:1:1], recs[2:]...), nil)), Options{Format: FormatXML})
	if d := cmp.Diff(withoutPosition(want), withoutPosition(got), cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("events around the truncated record (-want +got):\n%s", d)
	}
	if st.Unparsed != 1 || st.Lines != int64(len(recs)) || len(st.Samples) != 1 {
		t.Fatalf("stats: %d records, %d unparsed, %d samples; want %d, 1, 1", st.Lines, st.Unparsed, len(st.Samples), len(recs))
	}
	s := st.Samples[0]
	if s.File != "in.log" || s.Line != 2 || !strings.Contains(s.Reason, "truncated") || !strings.HasPrefix(s.Text, "<Event") {
		t.Errorf("sample %+v: want in.log record 2, a truncated event", s)
	}
}

// FuzzXMLTruncated cuts one record of a stream anywhere and puts
// anything after it: the other records read to the same events as the
// stream without that record, whatever the cut, and the cut record is at
// most one unparsed record per event start tag left in it.
func FuzzXMLTruncated(f *testing.F) {
	recs := xmlRecords(append(evtxtest.KerberosSpray(fixtureBase)[:4], evtxtest.NTLMSpray(fixtureBase)[:3]...))
	f.Add(uint8(1), uint16(300), []byte("\n"))
	f.Add(uint8(0), uint16(6), []byte(""))
	f.Add(uint8(6), uint16(100), []byte("\r\n"))
	f.Add(uint8(3), uint16(2000), []byte("<Event"))
	f.Fuzz(func(t *testing.T, k uint8, cut uint16, tail []byte) {
		i := int(k) % len(recs)
		c := int(cut) % len(recs[i])
		if bytes.Contains(tail, []byte("<")) {
			tail = nil // another event's start or end tag in the junk is another case
		}
		var in, ref bytes.Buffer
		for j, r := range recs {
			if j == i {
				in.Write(r[:c])
				in.Write(tail)
				if bytes.Contains(r[:c], xmlEventClose) {
					ref.Write(r[:c]) // cut after its end tag: whole
				}
				continue
			}
			in.Write(r)
			ref.Write(r)
		}
		got, st := readAllFrom(t, bytes.NewReader(in.Bytes()), Options{Format: FormatXML})
		want, _ := readAllFrom(t, bytes.NewReader(ref.Bytes()), Options{Format: FormatXML})
		if d := cmp.Diff(withoutPosition(want), withoutPosition(got), cmpopts.EquateComparable(netip.Addr{})); d != "" {
			t.Fatalf("record %d cut at %d: events (-want +got):\n%s", i, c, d)
		}
		// one unparsed record per event start left in the cut record and its tail
		junk := append(append(append([]byte(nil), recs[i][:c]...), tail...), '<')
		starts := 0
		for k := eventStart(junk); k >= 0; k = eventStart(junk) {
			starts++
			junk = junk[k+1:]
		}
		if st.Unparsed > int64(starts) {
			t.Fatalf("record %d cut at %d: %d unparsed, %d event starts", i, c, st.Unparsed, starts)
		}
	})
}

// eventEndRef is eventEnd as two searches: the first "</Event>", then
// the first event start tag between the start tag at 0 and it.
func eventEndRef(buf []byte) (j, k int) {
	j = bytes.Index(buf, xmlEventClose)
	lim := len(buf)
	if j >= 0 {
		lim = j + 1 // the '<' of "</Event>" decides an "<Event" just before it
	}
	if len(buf) < len(xmlEventOpen) {
		return j, 0
	}
	k = eventStart(buf[len(xmlEventOpen):lim])
	if k < 0 || k+2*len(xmlEventOpen) >= lim {
		return j, 0
	}
	return j, k + len(xmlEventOpen)
}

// FuzzEventEnd: eventEnd's one pass finds the end tag and the cut the two
// searches find (the end tag only matters when there is no cut).
func FuzzEventEnd(f *testing.F) {
	recs := xmlRecords(evtxtest.KerberosSpray(fixtureBase)[:3])
	all := bytes.Join(recs, nil)
	f.Add(all)
	f.Add(all[:len(recs[0])-5])
	f.Add(append(append([]byte(nil), recs[0][:300]...), recs[1]...))
	f.Add([]byte("<Event><EventID>1</EventID><Event\n</Event>"))
	f.Add([]byte("<Event><Event"))
	f.Add([]byte("<Event></Event"))
	f.Fuzz(func(t *testing.T, buf []byte) {
		if !bytes.HasPrefix(buf, xmlEventOpen) {
			buf = append(append([]byte(nil), xmlEventOpen...), buf...)
		}
		j, k := eventEnd(buf)
		rj, rk := eventEndRef(buf)
		if k != rk || k == 0 && j != rj {
			t.Fatalf("eventEnd(%q) = %d, %d; two searches %d, %d", buf, j, k, rj, rk)
		}
	})
}
