package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// startTails follows the configured log files (across rotation) into the
// store and detection.
func (s *Server) startTails(ctx context.Context, g *errgroup.Group) {
	if len(s.cfg.Ingest.Files) == 0 {
		return
	}
	b := newSyslogBatcher(s)
	g.Go(func() error { b.run(ctx); return nil })
	for _, f := range s.cfg.Ingest.Files {
		opts := ingest.Options{Format: f.Format, Tenant: f.Tenant, TenantMap: s.tenantMap(), Year: s.cfg.Ingest.Year}
		g.Go(func() error {
			err := ingest.Follow(ctx, []string{f.Path}, opts, func(ev *event.Event) error {
				b.add(store.EventRecord{Event: copyEvent(ev)})
				return nil
			})
			if err != nil && ctx.Err() == nil {
				s.log.Error("tailing log file", "path", f.Path, "err", err)
			}
			return nil
		})
	}
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
// detector of their own, in file order (demo and one-shot imports).
func (s *Server) IngestFiles(ctx context.Context, paths []string) (IngestStats, error) {
	var st IngestStats
	if s.eng == nil || s.eng.NewDetector == nil {
		return st, errors.New("no detection engine")
	}
	det, err := s.eng.NewDetector()
	if err != nil {
		return st, err
	}
	seen := map[string]bool{}
	handle := func(incs []store.Incident) {
		for i := range incs {
			seen[incs[i].ID] = true
		}
		s.pipe.handle(ctx, incs)
	}
	for _, path := range paths {
		rd, err := ingest.Open(ctx, path, ingest.Options{TenantMap: s.tenantMap(), Now: s.now})
		if err != nil {
			return st, err
		}
		st.Files++
		var ev event.Event
		batch := make([]store.EventRecord, 0, 1000)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if err := s.st.AppendEvents(ctx, batch); err != nil {
				return fmt.Errorf("storing events from %s: %w", path, err)
			}
			s.metrics.eventsStored.Add(float64(len(batch)))
			for i := range batch {
				handle(det.Process(&batch[i].Event))
			}
			batch = batch[:0]
			return nil
		}
		for {
			err := rd.Next(&ev)
			if err == io.EOF {
				break
			}
			if err != nil {
				rd.Close()
				return st, fmt.Errorf("reading %s: %w", path, err)
			}
			batch = append(batch, store.EventRecord{Event: copyEvent(&ev)})
			st.Events++
			if len(batch) == cap(batch) {
				if err := flush(); err != nil {
					rd.Close()
					return st, err
				}
			}
		}
		if err := flush(); err != nil {
			rd.Close()
			return st, err
		}
		rs := rd.Stats()
		st.Lines += rs.Lines
		st.Unparsed += rs.Unparsed
		rd.Close()
	}
	handle(det.Flush())
	st.Incidents = len(seen)
	return st, nil
}
