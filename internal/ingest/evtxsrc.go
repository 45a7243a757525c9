package ingest

import (
	"io"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx"
)

// evtxSource reads binary .evtx records through the Windows parser: the
// reader hands each wanted value to the parser under the path the
// rendered XML would give it, so .evtx, event XML and JSON share one
// mapping.
type evtxSource struct {
	rd  *evtx.Reader
	p   *windowsParser
	cnt *countingReader
	msg strings.Builder
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func newEVTXSource(r io.Reader, o *Options) (*evtxSource, error) {
	s := &evtxSource{p: newWindowsParser(o).(*windowsParser), cnt: &countingReader{r: r}}
	rd, err := evtx.NewReader(s.cnt, evtx.Options{Want: s.p.evtxWant})
	if err != nil {
		return nil, err
	}
	s.rd = rd
	return s, nil
}

// nextEVTX is Reader.Next for .evtx input. Damaged records and chunks are
// counted as unparsed with their record number; checksum warnings are
// counted in Stats.Warnings.
func (r *Reader) nextEVTX(ev *event.Event) error {
	s := r.evtx
	for {
		ev.Reset()
		s.p.reset(ev)
		rec, err := s.rd.Next(s.p.evtxVisit)
		for _, pr := range s.rd.TakeProblems() {
			n := int64(pr.Record) // the record, or the first of a chunk's
			if n == 0 {
				n = int64(pr.First)
			}
			if pr.Skipped {
				r.st.Lines++
				r.bad(n, pr.String(), nil)
			} else {
				r.st.Warnings++
				r.warn(n, pr.String())
			}
		}
		if err != nil {
			return err
		}
		r.st.Lines++
		res, why := s.p.finish(ev)
		switch res {
		case resEvent:
			r.st.Parsed++
			r.progStats(s.p.program()).Parsed++
			ev.File = r.name
			ev.Line = int64(rec.ID)
			ev.Offset = rec.Offset
			if ev.Message == "" {
				ev.Message = s.message(ev)
			}
			if ev.Tenant == "" {
				r.assignTenant(ev)
			}
			return nil
		case resIgnored:
			r.st.Ignored++
			r.progStats(s.p.program()).Ignored++
		default:
			r.bad(int64(rec.ID), why, nil)
			r.programBad(s.p.program(), int64(rec.ID), why, nil)
		}
	}
}

// message renders the event data a .evtx record carries (it has no
// rendered message: that needs the provider's message file) as
// "EventID=4625 TargetUserName=alice ..." for Sigma keyword rules.
func (s *evtxSource) message(ev *event.Event) string {
	b := &s.msg
	b.Reset()
	b.WriteString("EventID=")
	b.WriteString(ev.Code)
	for i, name := range winFieldNames {
		if i == wFailureReason || i == wIpPort {
			continue
		}
		if v, ok := ev.Fields[name]; ok {
			b.WriteByte(' ')
			b.WriteString(name)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return b.String()
}
