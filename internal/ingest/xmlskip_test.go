package ingest

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// xmlSkipCorpus is the Kerberos and NTLM sprays with logoffs (4634) and
// special-privilege logons (4672) between them, rendered as wevtutil does.
func xmlSkipCorpus() []byte {
	var evs []evtxtest.Event
	for i, e := range append(evtxtest.KerberosSpray(fixtureBase), evtxtest.NTLMSpray(fixtureBase)...) {
		evs = append(evs, e)
		off := e
		off.ID = 4634 + (i%2)*38 // 4634, 4672
		off.Data = [][2]string{{"TargetUserName", "svc"}, {"SubjectUserName", "svc"}, {"LogonType", "3"}}
		evs = append(evs, off)
	}
	return renderXML(evs, false, false)
}

// TestXMLSkipsUnwantedIDs: rendered event XML whose event id Wanted
// refuses is passed over undecoded, and the events are exactly those of
// decoding everything and dropping those ids afterwards.
func TestXMLSkipsUnwantedIDs(t *testing.T) {
	data := xmlSkipCorpus()
	refused := []string{"4634", "4672"}
	wanted := func(proto *event.Event, _ bool) bool { return !slices.Contains(refused, proto.Code) }
	all, ast := readAllFrom(t, bytes.NewReader(data), Options{Format: FormatXML})
	var keep []event.Event
	for _, ev := range all {
		if !slices.Contains(refused, ev.Code) {
			keep = append(keep, ev)
		}
	}
	got, gst := readAllFrom(t, bytes.NewReader(data), Options{Format: FormatXML, Wanted: wanted})
	if len(keep) == len(all) || len(keep) == 0 {
		t.Fatalf("corpus: %d events, %d kept", len(all), len(keep))
	}
	if d := cmp.Diff(keep, got, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("events differ (-decoded and dropped +skipped):\n%s", d)
	}
	if gst.Lines != ast.Lines || gst.Parsed != int64(len(keep)) || gst.Unparsed != ast.Unparsed || gst.Ignored != ast.Ignored+int64(len(all)-len(keep)) {
		t.Errorf("counts: skipped %+v, decoded %+v", gst, ast)
	}
}

var xmlEventIDCases = []string{
	"<Event><System><EventID>4624</EventID></System></Event>",
	"<Event><System><EventID Qualifiers=''>4625</EventID></System></Event>",
	"<Event><System><EventID Qualifiers='16384'>7036</EventID></System></Event>",
	"<Event><System><EventID>4624</EventID><EventID>4634</EventID></System></Event>",
	"<Event><System><EventID><![CDATA[4624]]></EventID></System></Event>",
	"<Event><System><EventID>&#52;624</EventID></System></Event>",
	"<Event><System><EventID/></System></Event>",
	"<Event><System><EventID >4768</EventID ></System></Event>",
	"<Event><System><EventIDx>4624</EventIDx></System></Event>",
	"<Event><System><EventRecordID>9</EventRecordID><EventID>4771</EventID></System></Event>",
	"<Event><System><EventID>1234567</EventID></System></Event>",
	"<Event><System><EventID> 4624</EventID></System></Event>",
	"<Event><System><EventID>4672</EventID><TimeCreated SystemTime='2026-11-26T09:00:00Z'/><Channel>Security</Channel></System></Event>",
	"<Event><System><EventID>1</EventID><TimeCreated SystemTime='2026-11-26T09:00:00Z'/><Channel>Microsoft-Windows-Sysmon/Operational</Channel></System></Event>",
	"<Event><System><EventID>4634</EventID><TimeCreated SystemTime='2026-11-26T09:00:00Z'/><Channel>security</Channel></System></Event>",
}

// FuzzXMLEventID: whenever xmlEventID names an id, decoding the record
// finds the same one, or none (then the record is no event whether skipped
// or decoded), or the record does not decode at all. A record the reader
// may skip by its id (xmlSecurity) is, decoded, ignored under the same
// program when Wanted refuses the id, as .evtx and JSON records are.
func FuzzXMLEventID(f *testing.F) {
	for _, c := range xmlEventIDCases {
		f.Add([]byte(c))
	}
	f.Add(xmlSkipCorpus()[:2000])
	f.Fuzz(func(t *testing.T, rec []byte) {
		n := xmlEventID(rec)
		if n == 0 {
			return
		}
		s := newXMLSource(nil, &Options{Wanted: func(*event.Event, bool) bool { return false }})
		var ev event.Event
		s.p.reset(&ev)
		if err := s.decode(rec); err != nil {
			return
		}
		if s.p.id != 0 && s.p.id != n {
			t.Fatalf("xmlEventID %d, decoded %d", n, s.p.id)
		}
		if s.p.id == n && xmlSecurity(rec) {
			res, why := s.p.finish(&ev)
			if prog := string(s.p.program()); res != resIgnored || prog != fmt.Sprintf("Security %d", n) {
				t.Fatalf("skipped as ignored under Security %d, decoded: %v %q under %s", n, res, why, prog)
			}
		}
	})
}

func TestXMLEventIDCases(t *testing.T) {
	want := []int{4624, 4625, 7036, 0, 0, 0, 0, 0, 0, 4771, 0, 0, 4672, 1, 4634}
	for i, c := range xmlEventIDCases {
		if got := xmlEventID([]byte(c)); got != want[i] {
			t.Errorf("%s: %d, want %d", c, got, want[i])
		}
	}
}
