package intake

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/timeline"
)

// Response is the body of POST /api/v1/events. Status 200: every
// non-blank line was accepted (stored) or ignored (well-formed but not an
// authentication event). Status 400: at least one line was rejected; the
// accepted lines ARE stored (resend only the rejected ones).
type Response struct {
	Error    string         `json:"error,omitempty"`
	Format   string         `json:"format"`
	Lines    int64          `json:"lines"`
	Accepted int            `json:"accepted"`
	Ignored  int64          `json:"ignored"`
	Rejected []RejectedLine `json:"rejected"`
}

// RejectedLine is one rejected line and why.
type RejectedLine struct {
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
}

const maxRejectedListed = 1000

func rawLine(body []byte, off int64, maxLen int) string {
	if off < 0 || off >= int64(len(body)) {
		return ""
	}
	rest := body[off:]
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		rest = rest[:i]
	}
	rest = bytes.TrimRight(rest, "\r")
	if len(rest) > maxLen {
		rest = rest[:maxLen]
	}
	return string(rest)
}

func LineList(rs []RejectedLine) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 20 {
			fmt.Fprintf(&b, ", … (%d more)", len(rs)-20)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "line %d", r.Line)
	}
	return b.String()
}

// ParseBody parses an HTTP ingest body (format "" detects it; tenant is
// the caller's tenant, "" for the tenant map to place events). check
// returns why an event may not be stored, or "". It returns the records to
// commit, the response (Accepted and Error are left to the caller) and how
// many lines were rejected; err means the body is unreadable.
func (in *Intake) ParseBody(body []byte, format, tenant string, check func(*event.Event) string) (recs []store.EventRecord, resp Response, nrejected int, err error) {
	lines := bytes.Count(body, []byte("\n")) + 1
	opts := ingest.Options{
		Format:       format,
		Tenant:       tenant,
		TenantMap:    in.tenantMap(),
		MaxLineBytes: in.cfg.Ingest.MaxLineBytes,
		MaxSamples:   lines + 1,
		Now:          in.now,
		Year:         in.cfg.Ingest.Year,
		Mapping:      in.mapping,
	}
	rd, err := ingest.NewReader("request", bytes.NewReader(body), opts)
	if err != nil {
		return nil, resp, 0, err
	}
	gz := len(body) > 1 && body[0] == 0x1f && body[1] == 0x8b
	resp = Response{Format: rd.Format(), Rejected: []RejectedLine{}}
	var ev event.Event
	reject := func(line int64, reason string) {
		if len(resp.Rejected) < maxRejectedListed {
			resp.Rejected = append(resp.Rejected, RejectedLine{Line: line, Reason: reason})
		}
	}
	for {
		err := rd.Next(&ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, resp, 0, err
		}
		if reason := check(&ev); reason != "" {
			reject(ev.Line, reason)
			nrejected++
			continue
		}
		rec := store.EventRecord{Event: timeline.Copy(&ev)}
		rec.Event.File = ""
		if !gz && (in.cfg.Ingest.KeepRaw == nil || *in.cfg.Ingest.KeepRaw) {
			rec.Raw = rawLine(body, ev.Offset, in.cfg.Ingest.MaxLineBytes)
		}
		recs = append(recs, rec)
	}
	st := rd.Stats()
	resp.Lines = st.Lines
	resp.Ignored = st.Ignored
	for _, smp := range st.Samples {
		reject(smp.Line, smp.Reason)
		nrejected++
	}
	slices.SortFunc(resp.Rejected, func(a, b RejectedLine) int { return int(a.Line - b.Line) })
	return recs, resp, nrejected, nil
}
