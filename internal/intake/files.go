package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/timeline"
)

// startTails follows the configured log files (across rotation) into the
// store and detection. Each tail commits its events itself (tailSink)
// before its positions are saved: a saved position never covers an event
// that is not stored.
func (in *Intake) startTails(ctx context.Context, g *errgroup.Group) {
	for _, f := range in.cfg.Ingest.Files {
		sink := &tailSink{in: in, ctx: ctx, source: "file:" + f.Path, path: f.Path}
		opts := ingest.Options{Format: f.Format, Tenant: f.Tenant, TenantMap: in.tenantMap(), Year: in.cfg.Ingest.Year, Mapping: in.mapping,
			FollowState:  tailStatePath(in.cfg.DataDir, f.Path),
			FollowCommit: sink.commit,
			OnStateError: func(err error) { in.log.Warn("tail positions", "path", f.Path, "err", err) },
			OnSkip:       in.tailSkipped(f.Path)}
		g.Go(func() error {
			err := ingest.Follow(ctx, []string{f.Path}, opts, sink.add)
			if err != nil && ctx.Err() == nil {
				in.log.Error("tailing log file", "path", f.Path, "err", err)
			}
			return nil
		})
	}
}

// tailSink commits a tail's events in batches (Follow's goroutine only).
// A commit the store refuses is retried, backing off, until it is taken:
// the tail reads no further meanwhile (the file keeps the rest). Once ctx
// ends, what is left is tried once more without it, so a stopped serve
// stores what it read before its positions are saved; if that fails the
// positions stay where the last commit left them, and the next start reads
// those events again.
type tailSink struct {
	in     *Intake
	ctx    context.Context
	source string
	path   string
	recs   []store.EventRecord
}

func (s *tailSink) add(ev *event.Event) error {
	s.recs = append(s.recs, store.EventRecord{Event: timeline.Copy(ev)})
	if len(s.recs) < syslogBatch {
		return nil
	}
	return s.commit()
}

// commit commits the events added since the last commit.
func (s *tailSink) commit() error {
	var backoff time.Duration
	for len(s.recs) > 0 {
		ctx := s.ctx
		if ctx.Err() != nil {
			ctx = context.WithoutCancel(ctx) // the last attempt
		}
		_, err := s.in.pipe.CommitFrom(ctx, s.recs, func(int) string { return s.source })
		if err == nil {
			s.recs = s.recs[:0]
			return nil
		}
		if s.ctx.Err() != nil {
			s.in.log.Error("storing tailed events at shutdown; read again at the next start", "path", s.path, "count", len(s.recs), "err", err)
			return fmt.Errorf("storing tailed events: %w", err)
		}
		backoff = min(max(2*backoff, 250*time.Millisecond), 5*time.Second)
		s.in.log.Warn("storing tailed events; the tail waits and retries", "path", s.path, "count", len(s.recs), "retry_in", backoff, "err", err)
		for i := range s.recs {
			s.recs[i].ID = 0
		}
		select {
		case <-s.ctx.Done():
		case <-time.After(backoff):
		}
	}
	return nil
}

// maxSkipLogs bounds the skipped records a tail logs per file (all are
// counted in the metric).
const maxSkipLogs = 20

// tailSkipped logs and counts what the tail of path skipped: a file that
// is no log, a record that did not parse, damage (the words detect
// reports). The ingest follow tells each problem once; a file's records
// past maxSkipLogs are counted, not logged.
func (in *Intake) tailSkipped(path string) func(string, ingest.Sample) {
	logged := map[string]int{}
	return func(kind string, s ingest.Sample) {
		if in.metrics != nil {
			in.metrics.TailSkipped.WithLabelValues(kind).Inc()
		}
		n := logged[s.File]
		if n > maxSkipLogs {
			return
		}
		logged[s.File] = n + 1
		if n == maxSkipLogs {
			in.log.Warn("tail: further skipped records of this file are counted, not logged", "tail", path, "file", s.File)
			return
		}
		in.log.Warn("tail skipped", "tail", path, "file", s.File, "record", s.Line, "reason", s.Reason, "kind", kind)
	}
}

// tailStatePath is where the tail of path (a file or a folder) keeps how
// far it read each file, so a restarted serve reads on from there (see
// ingest.Options.FollowState): DataDir/tail-<hash of the path>.json.
func tailStatePath(dataDir, path string) string {
	if dataDir == "" {
		return ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dataDir, "tail-"+hex.EncodeToString(sum[:8])+".json")
}

// IngestStats summarises IngestFiles.
type IngestStats struct {
	Files     int
	Lines     int64
	Events    int64
	Unparsed  int64
	Incidents int
}

// IngestFiles reads whole log files into the store and runs them through a
// detector of their own. Events of all files are merged by timestamp first
// (detection windows slide on event time, and files cover overlapping
// periods), so the files are held in memory: this is for the demo and
// one-shot imports, not for unbounded inputs (use ingest.files to tail).
func (in *Intake) IngestFiles(ctx context.Context, paths []string, mapping *ingest.Mapping) (IngestStats, error) {
	var st IngestStats
	if in.newDetector == nil {
		return st, errors.New("no detection engine")
	}
	det, err := in.newDetector()
	if err != nil {
		return st, err
	}
	readers := make([]*ingest.Reader, 0, len(paths))
	defer func() {
		for _, rd := range readers {
			_ = rd.Close()
		}
	}()
	srcs := make([]timeline.Source, 0, len(paths))
	for _, path := range paths {
		rd, err := ingest.Open(ctx, path, ingest.Options{TenantMap: in.tenantMap(), Now: in.now, Mapping: cmpOr(mapping, in.mapping)})
		if err != nil {
			return st, err
		}
		readers = append(readers, rd)
		srcs = append(srcs, namedSource{path, rd})
	}
	seen := map[string]bool{}
	handle := func(incs []store.Incident) {
		for i := range incs {
			seen[incs[i].ID] = true
		}
		in.pipe.Handle(ctx, incs)
	}
	const batch = 2000
	b := make([]store.EventRecord, 0, batch)
	flush := func() error {
		if len(b) == 0 {
			return nil
		}
		if err := in.st.AppendEvents(ctx, b); err != nil {
			return fmt.Errorf("storing events: %w", err)
		}
		in.metrics.EventsStored.Add(float64(len(b)))
		for j := range b {
			handle(det.Process(&b[j].Event))
		}
		// In-place updates (counts, tenants, last seen) since the batch's
		// alerts reach the store once per batch, not per event.
		in.pipe.HandleMode(ctx, det.Updated(), true)
		st.Events += int64(len(b))
		b = b[:0]
		return nil
	}
	// All files are read and sorted by event time first (files cover
	// overlapping periods and need not be in order within themselves).
	err = timeline.Merge(ctx, srcs, timeline.Options{Sort: true, Done: func(i int) {
		rs := readers[i].Stats()
		st.Files++
		st.Lines += rs.Lines
		st.Unparsed += rs.Unparsed
	}}, func(_ int, ev *event.Event) error {
		b = append(b, store.EventRecord{Event: timeline.Copy(ev)})
		if len(b) == batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return st, err
	}
	handle(det.Flush())
	in.pipe.HandleMode(ctx, det.Updated(), true)
	st.Incidents = len(seen)
	return st, nil
}

func cmpOr(a, b *ingest.Mapping) *ingest.Mapping {
	if a != nil {
		return a
	}
	return b
}

// namedSource names read errors after the file.
type namedSource struct {
	path string
	r    *ingest.Reader
}

func (s namedSource) Next(ev *event.Event) error {
	err := s.r.Next(ev)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading %s: %w", s.path, err)
	}
	return err
}
