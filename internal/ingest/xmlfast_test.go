package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// wefEvent is one event as Windows Event Forwarding delivers it (double
// quotes, CRLF indentation, RenderingInfo, a Data without Name, an empty
// named Data, a self-closing named Data).
const wefEvent = "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\r\n" +
	"  <System>\r\n    <Provider Name=\"Microsoft-Windows-Security-Auditing\" Guid=\"{54849625-5478-4994-a5ba-3e3b0328c30d}\" />\r\n" +
	"    <EventID>4625</EventID>\r\n    <TimeCreated SystemTime=\"2026-11-26T09:00:01.1234567Z\" />\r\n" +
	"    <Execution ProcessID = \"636\"\tThreadID=\"1120\"/>\r\n    <Channel>Security</Channel>\r\n    <Computer>dc01.corp.example</Computer>\r\n  </System>\r\n" +
	"  <EventData>\r\n    <Data Name=\"TargetUserName\">alice</Data>\r\n    <Data Name=\"IpAddress\">203.0.113.9</Data>\r\n" +
	"    <Data Name=\"Status\">0xc000006d</Data>\r\n    <Data>unnamed</Data>\r\n    <Data Name=\"Empty\"></Data>\r\n    <Data Name=\"Closed\"/>\r\n  </EventData>\r\n" +
	"  <RenderingInfo Culture=\"en-US\">\r\n    <Message>An account failed to log on.</Message>\r\n    <Level>Information</Level>\r\n  </RenderingInfo>\r\n</Event>"

// xmlFastCases are records decodeFast must hand to encoding/xml (or that
// probe its edges): references, CDATA, comments, CR in values, non-ASCII,
// prefixes, valueless and unquoted attributes, unbalanced and truncated
// records, ]]> in text, names encoding/xml refuses.
var xmlFastCases = []string{
	"<Event><System><EventID>4625</EventID></System><EventData><Data Name='TargetUserName'>a&amp;b</Data></EventData></Event>",
	"<Event><System><EventID>&#52;625</EventID></System></Event>",
	"<Event><System><EventID><![CDATA[4624]]></EventID></System></Event>",
	"<Event><System><!-- c --><EventID>4624</EventID></System></Event>",
	"<Event><System><?pi x?><EventID>4624</EventID></System></Event>",
	"<Event><EventData><Data Name='A'>x\r\ny</Data></EventData></Event>",
	"<Event><EventData><Data Name='A'>Jürgen</Data></EventData></Event>",
	"<Event><EventData><Data Name='Jü'>x</Data></EventData></Event>",
	"<Event><EventData><Data Name='A' x='a\rb'>x</Data></EventData></Event>",
	"<e:Event xmlns:e='x'><e:System><e:EventID>4624</e:EventID></e:System></e:Event>",
	"<Event xmlns:e='x' e:a='1' a:xmlns='2'><System/></Event>",
	"<Event><System a>x</System></Event>",
	"<Event><System a=b>x</System></Event>",
	"<Event><System a='1'b=\"2\">x</System></Event>",
	"<Event><System></Other></Event>",
	"<Event></System></Event></Event>",
	"<Event><System><EventID>4624",
	"<Event><System>x]]>y</System></Event>",
	"<Event><System a='x]]>y'>z</System></Event>",
	"<Event><1a>x</1a></Event>",
	"<Event><a.b-c_d>x</a.b-c_d></Event>",
	"<Event>< System>x</System></Event>",
	"<Event><System>x</ System></Event>",
	"<Event><System>x</System ></Event >",
	"<Event><System/ ></Event>",
	"<Event><Data Name='A' Name='B' Other='C'>x</Data><Data Other='D' Name=''/></Event>",
	"<Event><System x='a<b'>y</System></Event>",
	"<Event><System>\x00</System></Event>",
	"<Event><System>\x7f</System></Event>",
	"<Event><System xmlns:e1='x'/></Event>",
	"<Event xmlns:='x'/>",
	"<Event/>",
	"<Event>text</Event>tail",
	"<Event><a><b><c><d><e><f><g><h><i><j><k><l><m><n><o><p><q><r><s><t><u><v><w><x><y><z><a><b><c><d><e><f><g>x</g></f></e></d></c></b></a></z></y></x></w></v></u></t></s></r></q></p></o></n></m></l></k></j></i></h></g></f></e></d></c></b></a></Event>",
	wefEvent,
	"<Event><EventData><Data Name='A'>\xff</Data></EventData></Event>",
	"<Event><EventData><Data Name='A'>\xed\xa0\x80</Data></EventData></Event>",
	"<Event><EventData><Data Name='A'>\xef\xbf\xbe</Data></EventData></Event>",
	"<Event><EventData><Data Name='A'>\xef\xbf\xbd \xf0\x9f\x94\x91</Data></EventData></Event>",
	"<Event>\xff<EventData/></Event>",
	"<Event><EventData><Data Name='A' B='\xc3'>x</Data></EventData></Event>",
	"<Event><EventData><Data Name='A&amp;B'>&lt;x&gt; &quot;y&apos; ]]&gt;</Data><Data Name='&lt;' C='&amp;&amp;'>z</Data></EventData></Event>",
	"<Event><EventData><Data Name='A'>&nbsp;</Data><Data Name='B'>&amp</Data><Data Name='C'>&#x41;</Data></EventData></Event>",
	"<Event><EventData><Data Name='A'>a&amp;]]>b</Data></EventData></Event>",
	"<Event><EventData><Data Name='A'>a]&amp;]>b</Data></EventData></Event>",
	"<Event><EventData><Data Name='A'>x&amp;y<Data Name='B'>z</Data></Data></EventData></Event>",
}

type xmlVisits struct{ got []string }

func (v *xmlVisits) visit(path, val []byte, kind byte) {
	v.got = append(v.got, fmt.Sprintf("%s=%c%q", path, kind, val))
}

// FuzzXMLFastAgrees: decodeFast against encoding/xml on the same record.
// Whenever decodeFast accepts a record, decodeStd accepts it too, with the
// same paths and values in the same order; a record decodeFast refuses is
// decoded by decodeStd, so the events cannot differ.
func FuzzXMLFastAgrees(f *testing.F) {
	for _, c := range xmlFastCases {
		f.Add([]byte(c))
	}
	f.Add(xmlSkipCorpus()[:3000])
	f.Add(renderXML(evtxtest.KerberosSpray(fixtureBase)[:2], true, true))
	s := newXMLSource(nil, &Options{})
	f.Fuzz(func(t *testing.T, rec []byte) {
		var fast, std xmlVisits
		ok := s.decodeFast(rec, fast.visit)
		err := s.decodeStd(rec, std.visit)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("decodeFast accepted what encoding/xml refuses (%v):\n%q", err, rec)
		}
		if d := cmp.Diff(std.got, fast.got); d != "" {
			t.Fatalf("visits differ (-encoding/xml +fast) on\n%q\n%s", rec, d)
		}
	})
}

// TestXMLFastTakesRenderedEvents: the records wevtutil, Event Viewer and
// WEF render are decoded by decodeFast (not handed back to encoding/xml),
// with encoding/xml's visits; the edge cases above that are plain XML too.
func TestXMLFastTakesRenderedEvents(t *testing.T) {
	evs := append(evtxtest.KerberosSpray(fixtureBase), evtxtest.NTLMSpray(fixtureBase)...)
	s := newXMLSource(nil, &Options{})
	recs := []string{wefEvent,
		"<Event><Data Name='A' Name='B' Other='C'>x</Data><Data Other='D' Name=''/></Event>",
		"<Event><System a='1'b=\"2\">x</System></Event>",
		"<Event><System>x</System ></Event >",
		"<Event xmlns:e='x'><System/></Event>",
		"<Event><EventData><Data Name='TargetUserName'>Jürgen</Data><Data Name='Ünit' Note='ü'>\xef\xbf\xbd</Data></EventData></Event>",
		"<Event><EventData><Data Name='A&amp;B'>&lt;x&gt; &quot;y&apos;</Data><Data Name='&lt;' C='&amp;&amp;'>z</Data><Data Name='D'>a]&amp;]>b</Data></EventData></Event>",
	}
	for _, form := range [][2]bool{{false, false}, {true, true}} {
		data := renderXML(evs, form[0], form[1])
		for {
			i := eventStart(data)
			if i < 0 {
				break
			}
			j := bytes.Index(data[i:], xmlEventClose)
			recs = append(recs, string(data[i:i+j+len(xmlEventClose)]))
			data = data[i+j+len(xmlEventClose):]
		}
	}
	if len(recs) < len(evs)*2 {
		t.Fatalf("%d records cut from %d events twice", len(recs), len(evs))
	}
	for _, rec := range recs {
		var fast, std xmlVisits
		if !s.decodeFast([]byte(rec), fast.visit) {
			t.Fatalf("decodeFast handed back a rendered event:\n%s", rec)
		}
		if err := s.decodeStd([]byte(rec), std.visit); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(std.got, fast.got); d != "" {
			t.Fatalf("visits differ (-encoding/xml +fast):\n%s", d)
		}
	}
}

// TestXMLFallbackSameEvents: a stream mixing records decodeFast takes and
// records it hands back (references, CDATA, a truncated one) reads to the
// same events and counts as with encoding/xml alone — including fields
// the fast path visited before it gave up on a record.
func TestXMLFallbackSameEvents(t *testing.T) {
	var b bytes.Buffer
	for _, c := range xmlFastCases {
		b.WriteString(c)
		b.WriteString("\r\n")
	}
	b.Write(xmlSkipCorpus())
	b.WriteString("<Event><System><EventID>4625</EventID><Computer>dc</Computer><TimeCreated SystemTime='2026-11-26T09:00:00Z'/></System>" +
		"<EventData><Data Name='TargetUserName'>bob</Data><Data Name='IpAddress'>198.51.100.7</Data><Data Name='Status'>0xc000006a</Data><Data Name='WorkstationName'>W&amp;S</Data></EventData></Event>\r\n")
	data := b.Bytes()
	got, gst := readAllFrom(t, bytes.NewReader(data), Options{Format: FormatXML})
	r, err := NewReader("in.log", bytes.NewReader(data), Options{Format: FormatXML})
	if err != nil {
		t.Fatal(err)
	}
	r.xml.stdOnly = true
	var want []event.Event
	for {
		var ev event.Event
		err := r.Next(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, ev)
	}
	wst := r.Stats()
	if len(got) < 20 {
		t.Fatalf("only %d events", len(got))
	}
	if d := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Fatalf("events differ (-encoding/xml +fast):\n%s", d)
	}
	if d := cmp.Diff(wst, gst); d != "" {
		t.Fatalf("stats differ (-encoding/xml +fast):\n%s", d)
	}
}

// BenchmarkWindowsXML: rendered event XML through the Reader, decodeFast
// (with encoding/xml for what it hands back) against encoding/xml alone.
// GOMAXPROCS=1 go test -run '^$' -bench WindowsXML ./internal/ingest
func BenchmarkWindowsXML(b *testing.B) {
	var evs []evtxtest.Event
	for len(evs) < 20000 {
		evs = append(evs, evtxtest.KerberosSpray(fixtureBase)...)
		evs = append(evs, evtxtest.NTLMSpray(fixtureBase)...)
	}
	data := renderXML(evs, false, false)
	for _, std := range []bool{false, true} {
		name := "fast"
		if std {
			name = "encoding-xml"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var ev event.Event
			n := 0
			c0 := cpuTime()
			for b.Loop() {
				r, err := NewReader("bench.xml", bytes.NewReader(data), Options{Format: FormatXML})
				if err != nil {
					b.Fatal(err)
				}
				r.xml.stdOnly = std
				for {
					err := r.Next(&ev)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				n += len(evs)
			}
			if c := cpuTime() - c0; c > 0 {
				b.ReportMetric(float64(c.Nanoseconds())/float64(n), "cpu-ns/event")
			}
		})
	}
}
