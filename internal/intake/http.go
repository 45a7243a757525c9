package intake

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
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
	// Treatment says how detection treats the accepted events: live, in a
	// back-fill pass (older than live detection's horizon), or quarantined
	// (dated past the receive clock plus ingest.max_skew).
	Treatment pipeline.Treatment `json:"treatment"`
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

// commitBatch is how many parsed events an HTTP ingest request holds
// before committing them: memory per request stays bounded whatever the
// body's size after decompression.
const commitBatch = 5000

// ErrLimit is wrapped by IngestBody's error when the body passes the
// decompressed-size or event-count limit (HTTP 413). Events parsed before
// the limit are committed and counted in the Response.
var ErrLimit = errors.New("ingest limit")

// ErrStore is wrapped by IngestBody's error when a batch could not be
// committed; the Response counts the batches committed before it.
var ErrStore = errors.New("storing events")

// limitedReader fails once more than n bytes were read through it.
type limitedReader struct {
	r   io.Reader
	n   int64
	hit bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		l.hit = true
		return 0, ErrLimit
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	k, err := l.r.Read(p)
	l.n -= int64(k)
	if l.n < 0 {
		l.hit = true
		return k, ErrLimit
	}
	return k, err
}

// IngestBody parses an HTTP ingest body (format "" detects it; tenant is
// the caller's tenant, "" for the tenant map to place events) and commits
// its events in batches of commitBatch as they are parsed; source names the
// sender (its watermark, see pipeline.CommitFrom). check returns
// why an event may not be stored, or "". A gzip body is inflated here,
// through the ingest.max_decompressed_bytes limit; past it, or past
// ingest.max_events_per_request events, parsing stops with ErrLimit. The
// Response counts what was committed (Accepted, and how detection treats
// it) in every case; nrejected is how many lines were rejected.
func (in *Intake) IngestBody(ctx context.Context, body []byte, format, tenant, source string, check func(*event.Event) string) (resp Response, nrejected int, err error) {
	return in.IngestBodyFrom(ctx, body, format, tenant, source, check, 0, nil)
}

// IngestBodyFrom is IngestBody resuming a body whose first resume events
// (those check accepts, in order) an earlier attempt committed: they are
// not stored again but counted in Accepted (their detection treatment is
// not). After each committed batch, committed (if not nil) is told how
// many of the body's events are stored so far; its error stops the
// request as a store error (the batch is stored, the count not recorded).
func (in *Intake) IngestBodyFrom(ctx context.Context, body []byte, format, tenant, source string, check func(*event.Event) string, resume int, committed func(int) error) (resp Response, nrejected int, err error) {
	gz := len(body) > 1 && body[0] == 0x1f && body[1] == 0x8b
	samples := bytes.Count(body, []byte("\n")) + 2
	var src io.Reader = bytes.NewReader(body)
	if gz {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return resp, 0, fmt.Errorf("reading gzip header: %w", err)
		}
		src = zr
		samples = min(in.cfg.Ingest.MaxEvents, 1<<20) + 1
	}
	lim := &limitedReader{r: src, n: in.cfg.Ingest.MaxDecompressedBytes}
	opts := ingest.Options{
		Format:       format,
		Tenant:       tenant,
		TenantMap:    in.tenantMap(),
		MaxLineBytes: in.cfg.Ingest.MaxLineBytes,
		MaxSamples:   samples,
		Now:          in.now,
		Year:         in.cfg.Ingest.Year,
		Mapping:      in.mapping,
	}
	rd, err := ingest.NewReader("request", lim, opts)
	if err != nil {
		return resp, 0, err
	}
	resp = Response{Format: rd.Format(), Rejected: []RejectedLine{}}
	var ev event.Event
	reject := func(line int64, reason string) {
		if len(resp.Rejected) < maxRejectedListed {
			resp.Rejected = append(resp.Rejected, RejectedLine{Line: line, Reason: reason})
		}
	}
	keepRaw := !gz && (in.cfg.Ingest.KeepRaw == nil || *in.cfg.Ingest.KeepRaw)
	recs := make([]store.EventRecord, 0, min(commitBatch, samples))
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		t, err := in.pipe.CommitFrom(ctx, recs, func(int) string { return source })
		if err != nil {
			return fmt.Errorf("%w: %w", ErrStore, err)
		}
		resp.Accepted += len(recs)
		if committed != nil {
			if err := committed(resp.Accepted); err != nil {
				return fmt.Errorf("%w: recording the committed count: %w", ErrStore, err)
			}
		}
		resp.Treatment.Live += t.Live
		resp.Treatment.Backfill += t.Backfill
		resp.Treatment.Quarantined += t.Quarantined
		clear(recs)
		recs = recs[:0]
		return nil
	}
	events := 0
	var stop error
	for {
		err := rd.Next(&ev)
		if err == io.EOF {
			break
		}
		if lim.hit {
			stop = fmt.Errorf("%w: more than %d bytes after decompression (ingest.max_decompressed_bytes)", ErrLimit, in.cfg.Ingest.MaxDecompressedBytes)
			break
		}
		if err != nil {
			return resp, nrejected, err
		}
		if reason := check(&ev); reason != "" {
			reject(ev.Line, reason)
			nrejected++
			continue
		}
		if events == in.cfg.Ingest.MaxEvents {
			stop = fmt.Errorf("%w: more than %d events (ingest.max_events_per_request); the first %d are stored", ErrLimit, in.cfg.Ingest.MaxEvents, events)
			break
		}
		events++
		if events <= resume {
			resp.Accepted++ // committed by an earlier attempt
			continue
		}
		rec := store.EventRecord{Event: timeline.Copy(&ev)}
		rec.Event.File = ""
		if keepRaw {
			rec.Raw = rawLine(body, ev.Offset, in.cfg.Ingest.MaxLineBytes)
		}
		recs = append(recs, rec)
		if len(recs) == commitBatch {
			if err := flush(); err != nil {
				return resp, nrejected, err
			}
		}
	}
	if err := flush(); err != nil {
		return resp, nrejected, err
	}
	st := rd.Stats()
	resp.Lines = st.Lines
	resp.Ignored = st.Ignored
	for _, smp := range st.Samples {
		reject(smp.Line, smp.Reason)
		nrejected++
	}
	slices.SortFunc(resp.Rejected, func(a, b RejectedLine) int { return int(a.Line - b.Line) })
	return resp, nrejected, stop
}
