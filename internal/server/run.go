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

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/intake"
	"github.com/firebreak-msp/firebreak/internal/lease"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
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
	cfg := &s.cfg
	if cfg.HasRole(config.RoleDetect) && s.newDetector != nil {
		// Detectors start with the estate's tenant context; the worker's
		// reloads (or, without the worker role, the stored snapshots) keep
		// it current.
		s.work.PrimeDetection(ctx)
		if !cfg.HasRole(config.RoleWorker) {
			g.Go(func() error { s.work.FollowSnapshots(gctx); return nil })
		}
		pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		if s.bus != nil {
			// Split roles: own a share of the stream's partitions.
			go func() {
				err := pipeline.RunPartitions(pctx, pipeline.PartitionOptions{Base: s.popts, Bus: s.bus, DatabaseURL: cfg.Database, NewDetector: s.newDetector})
				if err != nil {
					s.log.Error("detection", "err", err)
				}
				close(done)
			}()
		} else {
			det, err := s.newDetector()
			if err != nil {
				pcancel()
				return fmt.Errorf("starting detection: %w", err)
			}
			go func() { s.pipe.Run(pctx, det); close(done) }()
		}
		defer func() { pcancel(); <-done }()
	}
	if cfg.HasRole(config.RoleWorker) {
		singletons := func(ctx context.Context) {
			g, gctx := errgroup.WithContext(ctx)
			g.Go(func() error { s.work.Run(gctx); return nil })
			if !s.tools.Empty() {
				g.Go(func() error { return s.tools.Run(gctx) })
			}
			if err := g.Wait(); err != nil && ctx.Err() == nil {
				s.log.Error("connectors", "err", err)
			}
		}
		if cfg.Database != "" {
			// Any number of replicas: one leads at a time (PostgreSQL
			// advisory lock), so each schedule, drift alert and ticket runs once.
			g.Go(func() error {
				lease.RunAsLeader(gctx, cfg.Database, 5*time.Second, s.log, func(v bool) { s.metrics.Leader.Set(map[bool]float64{true: 1}[v]) }, singletons)
				return nil
			})
		} else {
			s.metrics.Leader.Set(1)
			g.Go(func() error { singletons(gctx); return nil })
		}
	}
	if cfg.HasRole(config.RoleIngest) {
		if err := s.intake.Start(gctx, g, tlsCfg); err != nil {
			return err
		}
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
	s.work.Notifier().Wait(s.cfg.HTTP.ShutdownTimeout)
	if err := g.Wait(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// ListenAddr reports the bound address of a listener: syslog-udp,
// syslog-tcp or syslog-tls ("" when not listening).
func (s *Server) ListenAddr(name string) string { return s.intake.ListenAddr(name) }

// AssessNow loads the configured estate and runs one assessment (demo, tests).
func (s *Server) AssessNow(ctx context.Context, trigger string) error {
	return s.work.AssessNow(ctx, trigger)
}

// AssessEstate stores e as a snapshot, makes it current and assesses it
// (uploads, benchmarks).
func (s *Server) AssessEstate(ctx context.Context, e *estate.Estate, source, trigger string) error {
	return s.work.AssessEstate(ctx, e, source, trigger)
}

// IngestFiles reads whole log files into the store and runs them through a
// detector of their own (demo, one-shot imports); see intake.IngestFiles.
func (s *Server) IngestFiles(ctx context.Context, paths []string, mapping *ingest.Mapping) (intake.IngestStats, error) {
	return s.intake.IngestFiles(ctx, paths, mapping)
}
