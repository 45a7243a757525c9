package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Run serves on ln until ctx ends, with background work (detection,
// scheduled assessments, syslog, retention), then shuts down gracefully:
// in-flight requests finish, queued events are detected, state is flushed.
// tlsCfg nil serves plain HTTP.
func (s *Server) Run(ctx context.Context, ln net.Listener, tlsCfg *tls.Config) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.HTTP.ReadTimeout,
		WriteTimeout:      s.cfg.HTTP.WriteTimeout,
		IdleTimeout:       s.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		TLSConfig:         tlsCfg,
		ErrorLog:          nil,
	}
	bg, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer bgCancel()
	g, gctx := errgroup.WithContext(bg)
	if s.eng != nil && s.eng.NewDetector != nil {
		det, err := s.eng.NewDetector()
		if err != nil {
			return fmt.Errorf("starting detection: %w", err)
		}
		pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		go func() { s.pipe.run(pctx, det); close(done) }()
		defer func() { pcancel(); <-done }()
	}
	g.Go(func() error { s.runScheduler(gctx); return nil })
	g.Go(func() error { s.runRetention(gctx); return nil })
	s.startTails(gctx, g)
	if err := s.startSyslog(gctx, g, tlsCfg); err != nil {
		return err
	}
	s.setReady(true)
	errc := make(chan error, 1)
	go func() {
		var err error
		if tlsCfg != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.setReady(false)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown", "err", err)
	}
	bgCancel()
	s.notify.wait(s.cfg.HTTP.ShutdownTimeout)
	if err := g.Wait(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// runRetention purges events older than the retention period and expired
// sessions, hourly.
func (s *Server) runRetention(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		cut := s.now().Add(-time.Duration(s.cfg.Retention.EventsDays) * 24 * time.Hour)
		if n, err := s.st.PurgeEvents(ctx, cut); err != nil && ctx.Err() == nil {
			s.log.Warn("purging events", "err", err)
		} else if n > 0 {
			s.log.Info("purged events past retention", "count", n)
		}
		if _, err := s.st.PurgeSessions(ctx, s.now()); err != nil && ctx.Err() == nil {
			s.log.Warn("purging sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AssessNow loads the configured estate and runs one assessment (demo, tests).
func (s *Server) AssessNow(ctx context.Context, trigger string) error {
	return s.reloadAndAssess(ctx, trigger)
}

// AssessEstate stores e as a snapshot, makes it current and assesses it
// (uploads, benchmarks).
func (s *Server) AssessEstate(ctx context.Context, e *estate.Estate, source, trigger string) error {
	meta, _, err := s.st.PutSnapshot(ctx, e, source)
	if err != nil {
		return fmt.Errorf("storing snapshot: %w", err)
	}
	s.setEstate(e, meta.ID)
	_, _, err = s.assessNow(ctx, e, meta.ID, trigger)
	return err
}
