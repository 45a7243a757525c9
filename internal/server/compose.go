package server

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/firebreak-msp/firebreak/internal/attest"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/intake"
	"github.com/firebreak-msp/firebreak/internal/integrations"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store/bus"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// compose builds the parts the HTTP server fronts, all in this process:
// the notifier, the detection pipeline, the worker (schedules, estate) and
// intake (listeners). eng nil runs no engines.
func (s *Server) compose(eng *worker.Engines) error {
	var allow []netip.Prefix
	for _, n := range s.cfg.Notify.AllowNetworks {
		allow = append(allow, netip.MustParsePrefix(n).Masked()) // validated by Config.Validate
	}
	notifier := worker.NewNotifier(worker.NotifierOptions{Store: s.st, Logger: s.log, Now: s.now, Version: s.version, Metrics: s.metrics, BaseURL: s.cfg.BaseURL, AllowNetworks: allow})
	var newDetector func() (pipeline.Detector, error)
	if eng != nil {
		newDetector = eng.NewDetector
		s.rules = ruleIndex(eng.Rules)
	}
	popts := pipeline.Options{Store: s.st, Metrics: s.metrics, Log: s.log, Now: s.now, Queue: s.cfg.Ingest.Queue, Notify: notifier, Detect: newDetector != nil && s.cfg.HasRole(config.RoleDetect),
		MaxSkew: s.cfg.Ingest.MaxSkew, NewDetector: newDetector}
	if s.cfg.Bus.URL != "" && s.bus == nil {
		// Split roles: committed events go to the detectors' stream.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		b, err := bus.Open(ctx, s.cfg.Bus.URL, bus.Options{Stream: s.cfg.Bus.Stream, Partitions: s.cfg.Bus.Partitions, MaxAge: s.cfg.Bus.MaxAge, Replicas: s.cfg.Bus.Replicas})
		cancel()
		if err != nil {
			return err
		}
		s.bus = b
	}
	if s.bus != nil {
		popts.Publish = s.bus.Publish
		popts.Detect = false // this process's queue is unused: detectors read the stream
	}
	s.popts, s.newDetector = popts, newDetector
	s.pipe = pipeline.New(popts)
	if eng != nil {
		k, err := worker.LoadSigner(s.cfg.Attest.Key, s.cfg.DataDir)
		if err != nil {
			return err
		}
		s.signer = k
		s.trusted = append(s.trusted, k)
	}
	for _, f := range s.cfg.Attest.TrustedKeys {
		k, err := attest.LoadKey(f)
		if err != nil {
			return fmt.Errorf("attest.trusted_keys: %w", err)
		}
		s.trusted = append(s.trusted, k)
	}
	w, err := worker.New(worker.Options{Config: s.cfg, Store: s.st, Logger: s.log, Now: s.now, Metrics: s.metrics, Engines: eng, Notifier: notifier, Incidents: s.pipe, Signer: s.signer})
	if err != nil {
		return err
	}
	w.OnChange(s.warmMatrix, s.blastChanged)
	s.work = w
	tools, err := integrations.New(integrations.Options{Config: s.cfg, Registry: connector.NewRegistry(integrations.Definitions()...),
		Store: s.st, Commit: s.pipe.Commit, Estate: w.CurrentEstate, TenantMap: w.TenantMap, Log: s.log, Now: s.now})
	if err != nil {
		return err
	}
	s.tools = tools
	if s.metrics != nil && !tools.Empty() {
		s.metrics.Reg.MustRegister(tools.Collector())
	}
	in, err := intake.New(intake.Options{Config: s.cfg, Store: s.st, Pipeline: s.pipe, Tenants: w, NewDetector: newDetector, Logger: s.log, Now: s.now, Metrics: s.metrics})
	if err != nil {
		return err
	}
	s.intake = in
	return nil
}
