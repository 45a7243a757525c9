// Package roles composes the parts one firebreak process runs for its
// configured roles (api, ingest, detect, worker): the notifier, the
// detection pipeline (in process or on the JetStream bus), the worker
// (schedules, estate, assessments, attestations), the connectors and the
// ingest listeners, and runs their background work around an HTTP front.
//
// cmd/firebreak (serve, demo) builds a Node with New and hands it to
// internal/server, which only fronts it over HTTP. Tests and bench tools
// compose the same way. Imported by cmd/firebreak, internal/server (for
// the Node type it fronts) and bench tools.
package roles

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/attest"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/intake"
	"github.com/firebreak-msp/firebreak/internal/integrations"
	"github.com/firebreak-msp/firebreak/internal/lease"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// Options configure New.
type Options struct {
	Config  config.Config
	Store   store.Store
	Logger  *slog.Logger     // nil: discard
	Now     func() time.Time // nil: time.Now
	Version string
	// Metrics is the process's registry; nil makes a new one.
	Metrics *metrics.Metrics
	// Engines runs assessments, blast radius and detection. Nil runs no
	// engines (the API then serves what the store holds).
	Engines *worker.Engines
	// Bus, when set, is used instead of dialling Config.Bus.URL (tests).
	Bus *bus.Bus
	// LockSpace is the advisory-lock namespace of the detectors' partition
	// ownership (0: lease.DefaultSpace); the cross-tenant stage uses the
	// next one. Tests sharing a database give each deployment its own.
	LockSpace int64
	// ConvertToSingle lets a process without a bus claim a database a
	// split deployment has used (its mark is removed; serve
	// --convert-to-single-process): see Claim.
	ConvertToSingle bool
}

// Node is the set of parts one process runs. The HTTP front reads its
// exported fields; Run runs their background work.
type Node struct {
	cfg   config.Config
	log   *slog.Logger
	eng   *worker.Engines
	space int64         // partition locks' namespace
	claim *lease.Locker // Claim's locks, held until Run ends
	st    store.Store
	now   func() time.Time
	// unsplit: a bus-less process may take a split deployment's database
	// (Options.ConvertToSingle).
	unsplit bool

	Metrics *metrics.Metrics
	Bus     *bus.Bus // nil: one process, no stream
	// Cross is the cross-tenant stage's stream (split roles with
	// cross-tenant rules), keyed by attacker; lanes are its rules.
	Cross       *bus.Bus
	lanes       []pipeline.Lane
	PipeOptions pipeline.Options
	NewDetector func() (pipeline.Detector, error) // nil without engines
	Pipe        *pipeline.Pipeline
	Work        *worker.Worker
	Intake      *intake.Intake
	Tools       *integrations.Runner // connectors: RMM, IT Glue, PSA, SIEM
	// Signer signs posture attestations (nil without engines); Trusted
	// are the public keys /verify accepts (the signer's first).
	Signer  *attest.Key
	Trusted []*attest.Key
}

// New composes the parts for o.Config's roles. It starts no goroutines
// (a configured bus is dialled).
func New(o Options) (*Node, error) {
	if o.Store == nil {
		return nil, fmt.Errorf("roles: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	cfg := o.Config
	n := &Node{cfg: cfg, log: o.Logger, Metrics: o.Metrics, Bus: o.Bus, eng: o.Engines, space: cmp.Or(o.LockSpace, lease.DefaultSpace), st: o.Store, now: o.Now, unsplit: o.ConvertToSingle}
	var allow []netip.Prefix
	for _, a := range cfg.Notify.AllowNetworks {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return nil, fmt.Errorf("notify.allow_networks: %w", err)
		}
		allow = append(allow, p.Masked())
	}
	notifier := worker.NewNotifier(worker.NotifierOptions{Store: o.Store, Logger: o.Logger, Now: o.Now, Version: o.Version, Metrics: o.Metrics, BaseURL: cfg.BaseURL, AllowNetworks: allow})
	if cfg.Database != "" || !cfg.HasRole(config.RoleWorker) {
		// Alerts this process raises are recorded in the outbox; only the
		// worker holding the leader lease sends (Run), so N replicas of
		// each role send each alert once.
		notifier.SetSending(false)
	}
	eng := o.Engines
	if eng != nil {
		n.NewDetector = eng.NewDetector
	}
	// One-shot imports (IngestFiles) detect with an engine of their own
	// over every rule, cross-tenant ones included: the split below leaves
	// the tenant partitions' detectors without them.
	oneShot := n.NewDetector
	popts := pipeline.Options{Store: o.Store, Metrics: o.Metrics, Log: o.Logger, Now: o.Now, Queue: cfg.Ingest.Queue, Notify: notifier,
		Detect: n.NewDetector != nil && cfg.HasRole(config.RoleDetect), MaxSkew: cfg.Ingest.MaxSkew}
	// The connectors (the worker's) are built first: whether they poll
	// events decides whether a worker needs the stream. Their hooks reach
	// the pipeline and worker built below.
	tools, err := integrations.New(integrations.Options{Config: cfg, Registry: connector.NewRegistry(integrations.Definitions()...),
		Store: o.Store, Commit: func(ctx context.Context, recs []store.EventRecord) error { return n.Pipe.Commit(ctx, recs) },
		Estate: func() (*estate.Estate, int64) { return n.Work.CurrentEstate() }, TenantMap: func() *ingest.TenantMap { return n.Work.TenantMap() },
		Log: o.Logger, Now: o.Now})
	if err != nil {
		return nil, err
	}
	// A process needs the stream when it takes events (ingest), detects
	// them, commits its own sign-in events (api: failures feed the
	// brute-force rules) or — the worker — commits events its connectors
	// poll. A worker without event connectors does not connect:
	// FIREBREAK_BUS_URL set for every process is harmless there.
	needBus := cfg.HasRole(config.RoleIngest) || cfg.HasRole(config.RoleDetect) || cfg.HasRole(config.RoleAPI) ||
		(cfg.HasRole(config.RoleWorker) && tools.PollsEvents())
	bo := bus.Options{Stream: cfg.Bus.Stream, Subject: cfg.Bus.Subject, Partitions: cfg.Bus.Partitions, MaxAge: cfg.Bus.MaxAge, Replicas: cfg.Bus.Replicas, MaxBytes: cfg.Bus.MaxBytes}
	if cfg.Bus.URL != "" && n.Bus == nil && needBus {
		// Split roles: committed events go to the detectors' stream.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		b, err := bus.Open(ctx, cfg.Bus.URL, bo)
		cancel()
		switch {
		case err == nil:
			n.Bus = b
		case cfg.HasRole(config.RoleIngest) || cfg.HasRole(config.RoleDetect):
			return nil, err
		default:
			// An api or worker process starts without the stream (the
			// dashboard stays up): what it commits waits in the publish
			// backlog, which an ingest process's publisher sends.
			o.Logger.Warn("event stream unavailable at start: this process's events wait in the publish backlog for an ingest process to send", "err", err)
			popts.Publish = func(context.Context, []store.EventRecord) error {
				return fmt.Errorf("not connected to the event stream at start: %w", err)
			}
		}
	}
	if n.Bus != nil {
		popts.Publish = n.Bus.Publish
		popts.Detect = false // this process's queue is unused: detectors read the stream
		if eng != nil && eng.NewDetectorFor != nil && cfg.Bus.URL != "" && needBus {
			// Cross-tenant rules run as a second stage keyed by the
			// attacker (pipeline.SplitRules); the tenant partitions run
			// the rest.
			first, lanes := pipeline.SplitRules(eng.Rules)
			n.NewDetector = func() (pipeline.Detector, error) { return eng.NewDetectorFor(first) }
			if len(lanes) > 0 {
				mayMatch, err := pipeline.MayMatchLanes(lanes)
				if err != nil {
					return nil, err
				}
				co := bo
				co.Stream = cmp.Or(cfg.Bus.Stream, "FIREBREAK_EVENTS") + "_CROSS"
				co.Subject = cmp.Or(cfg.Bus.Subject, "firebreak.events") + "_cross"
				co.Keys = pipeline.LaneKeys(lanes, mayMatch)
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				cb, err := bus.Open(ctx, cfg.Bus.URL, co)
				cancel()
				if err != nil {
					return nil, err
				}
				n.Cross, n.lanes = cb, lanes
				events := n.Bus
				popts.Publish = func(ctx context.Context, recs []store.EventRecord) error {
					// Both streams at once: one round trip to the acknowledgements.
					var g errgroup.Group
					g.Go(func() error { return events.Publish(ctx, recs) })
					g.Go(func() error { return cb.Publish(ctx, recs) })
					return g.Wait()
				}
			}
		}
	}
	popts.NewDetector = n.NewDetector
	n.PipeOptions = popts
	n.Pipe = pipeline.New(popts)
	if eng != nil {
		k, err := worker.LoadSigner(cfg.Attest.Key, cfg.DataDir)
		if err != nil {
			return nil, err
		}
		n.Signer = k
		n.Trusted = append(n.Trusted, k)
	}
	for _, f := range cfg.Attest.TrustedKeys {
		k, err := attest.LoadKey(f)
		if err != nil {
			return nil, fmt.Errorf("attest.trusted_keys: %w", err)
		}
		n.Trusted = append(n.Trusted, k)
	}
	w, err := worker.New(worker.Options{Config: cfg, Store: o.Store, Logger: o.Logger, Now: o.Now, Metrics: o.Metrics, Engines: eng, Notifier: notifier, Incidents: n.Pipe, Signer: n.Signer})
	if err != nil {
		return nil, err
	}
	n.Work = w
	n.Tools = tools
	if !tools.Empty() {
		o.Metrics.Reg.MustRegister(tools.Collector())
	}
	in, err := intake.New(intake.Options{Config: cfg, Store: o.Store, Pipeline: n.Pipe, Tenants: w, NewDetector: oneShot, Logger: o.Logger, Now: o.Now, Metrics: o.Metrics})
	if err != nil {
		return nil, err
	}
	n.Intake = in
	return n, nil
}

// Claim refuses a misconfigured deployment before the process serves
// (serve calls it before "serving on"; Run calls it when serve did not),
// holding its locks until Run ends. Detection without a bus sees this
// process's events only: a second such process on the same database would
// split every window and miss cross-tenant sprays, so one may run; and it
// may not join a split deployment's database (processes with a bus hold
// the split lock shared), whose detectors would never see the events it
// ingests; nor may a split process start while it runs.
func (n *Node) Claim(ctx context.Context) error {
	cfg := &n.cfg
	solo := cfg.HasRole(config.RoleDetect) && n.NewDetector != nil && n.Bus == nil
	split := cfg.Bus.URL != ""
	if n.claim != nil || cfg.Database == "" || !solo && !split {
		return nil
	}
	l, err := lease.OpenIn(ctx, cfg.Database, n.space)
	if err != nil {
		return err
	}
	fail := func(err error) error { _ = l.Close(); return err }
	splitKey, err := l.SplitKey(ctx)
	if err != nil {
		return fail(err)
	}
	if split {
		ok, err := l.TryLockShared(ctx, splitKey)
		if err != nil {
			return fail(err)
		}
		if !ok {
			return fail(fmt.Errorf("a firebreak process without a bus (every role in one process) runs on this database: it would detect the events it ingests apart from this deployment's detectors. Stop it, or give it bus.url and --roles like the others (docs/deploy.md)"))
		}
		// The database is a split deployment's from now on, whether or
		// not one of its processes runs when a bus-less one starts.
		if m, ok := n.st.(store.DeploymentMarks); ok {
			if err := m.SetMark(ctx, store.MarkSplit, "roles "+cfg.RolesString()+" with bus "+busAddress(cfg.Bus.URL), n.now()); err != nil {
				return fail(err)
			}
		}
	} else {
		key, err := l.SoloKey(ctx)
		if err != nil {
			return fail(err)
		}
		ok, err := l.TryLock(ctx, key)
		if err != nil {
			return fail(err)
		}
		if !ok {
			return fail(fmt.Errorf("another firebreak process already detects on this database without a bus: each would see only the events it ingests (windows split, cross-tenant sprays missed). Run one process with every role, or split the roles over NATS JetStream (bus.url, --roles; docs/deploy.md)"))
		}
		if ok, err = l.TryLock(ctx, splitKey); err != nil {
			return fail(err)
		}
		if !ok {
			return fail(fmt.Errorf("this database is a split deployment's (processes with bus.url run on it): a process without a bus would ingest events no detector sees and detect apart from them. Set bus.url (FIREBREAK_BUS_URL) and --roles like the other processes (docs/deploy.md), or stop them first"))
		}
		if m, ok := n.st.(store.DeploymentMarks); ok {
			mark, split, err := m.Mark(ctx, store.MarkSplit)
			if err != nil {
				return fail(err)
			}
			switch {
			case split && !n.unsplit:
				return fail(fmt.Errorf("this database is a split deployment's (%s, since %s), though none of its processes runs now: a process without a bus would detect apart from the events its stream holds. Set bus.url (FIREBREAK_BUS_URL) and --roles like its processes (docs/deploy.md); or, when that deployment is retired for good, start once with --convert-to-single-process to make this database a single process's again",
					mark.Value, mark.At.Format(time.RFC3339)))
			case split:
				if err := m.ClearMark(ctx, store.MarkSplit); err != nil {
					return fail(err)
				}
				n.log.Warn("database converted from a split deployment to a single process (--convert-to-single-process)", "was", mark.Value, "since", mark.At)
			}
		}
	}
	n.claim = l
	return nil
}

// Run starts the background work of the process's roles (detection,
// singletons under a leader lease, ingest listeners), then runs front —
// the HTTP server, which returns once ctx ends and its requests are
// done — and finally stops the background work: queued events are
// detected, notifications sent, state flushed. ready, if not nil, is
// called once the background work has started. tlsCfg nil runs the
// syslog TLS listener without a certificate (it is then refused by
// intake when configured).
func (n *Node) Run(ctx context.Context, tlsCfg *tls.Config, front func(ctx context.Context) error) error {
	bg, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer bgCancel()
	g, gctx := errgroup.WithContext(bg)
	cfg := &n.cfg
	if err := n.Claim(ctx); err != nil {
		return err
	}
	if n.claim != nil {
		defer func() { _ = n.claim.Close() }()
	}
	if !cfg.HasRole(config.RoleWorker) {
		// A process without the worker role loads no estate of its own:
		// it starts from the configured estate (or the latest stored
		// snapshot) and follows the snapshots the worker stores, for
		// ingest's tenant map and known tenants and detection's context.
		n.Work.PrimeEstate(ctx)
		g.Go(func() error { n.Work.FollowSnapshots(gctx); return nil })
	}
	if cfg.HasRole(config.RoleDetect) && n.NewDetector != nil {
		// Detectors start with the estate's tenant context; the worker's
		// reloads (or, without the worker role, the stored snapshots) keep
		// it current.
		if cfg.HasRole(config.RoleWorker) {
			n.Work.PrimeDetection(ctx)
		}
		pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		if n.Bus != nil {
			// Split roles: own a share of the stream's partitions.
			var wg sync.WaitGroup
			run := func(po pipeline.PartitionOptions) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := pipeline.RunPartitions(pctx, po); err != nil {
						n.log.Error("detection", "stage", po.Stage, "err", err)
					}
				}()
			}
			run(pipeline.PartitionOptions{Base: n.PipeOptions, Bus: n.Bus, DatabaseURL: cfg.Database, NewDetector: n.NewDetector, LockSpace: n.space})
			if n.Cross != nil {
				// The cross-tenant stage: its own partitions (by attacker),
				// owned through locks of their own namespace.
				eng, lanes, cb := n.eng, n.lanes, n.Cross
				run(pipeline.PartitionOptions{Base: n.PipeOptions, Bus: cb, DatabaseURL: cfg.Database, Stage: "cross", LockSpace: n.space + 1,
					PartitionDetector: func(p int) (pipeline.Detector, error) {
						return pipeline.CrossDetector(lanes, p, cb.PartitionOf, eng.NewDetectorFor)
					}})
			}
			go func() { wg.Wait(); close(done) }()
		} else {
			det, err := n.NewDetector()
			if err != nil {
				pcancel()
				return fmt.Errorf("starting detection: %w", err)
			}
			go func() { n.Pipe.Run(pctx, det); close(done) }()
		}
		defer func() { pcancel(); <-done }()
	}
	if cfg.HasRole(config.RoleWorker) {
		singletons := func(ctx context.Context) {
			g, gctx := errgroup.WithContext(ctx)
			// Notifications: every process records its alerts in the
			// outbox; the leader sends them (its own at once, the others'
			// at the notifier's next pass) — one sender per deployment.
			nt := n.Work.Notifier()
			if cfg.Database != "" {
				nt.SetSending(true)
				defer nt.SetSending(false)
			}
			g.Go(func() error { nt.Run(gctx); return nil })
			g.Go(func() error { n.Work.Run(gctx); return nil })
			if !n.Tools.Empty() {
				g.Go(func() error { return n.Tools.Run(gctx) })
			}
			if err := g.Wait(); err != nil && ctx.Err() == nil {
				n.log.Error("connectors", "err", err)
			}
		}
		if cfg.Database != "" {
			// Any number of replicas: one leads at a time (PostgreSQL
			// advisory lock), so each schedule, drift alert and ticket runs once.
			g.Go(func() error {
				lease.RunAsLeaderIn(gctx, cfg.Database, n.space, 5*time.Second, n.log, func(v bool) { n.Metrics.Leader.Set(map[bool]float64{true: 1}[v]) }, singletons)
				return nil
			})
		} else {
			n.Metrics.Leader.Set(1)
			g.Go(func() error { singletons(gctx); return nil })
		}
	}
	if cfg.HasRole(config.RoleIngest) {
		if n.Bus != nil {
			// Committed batches the stream did not take (NATS down) wait
			// in the store's publish backlog; this sends them once it is back.
			g.Go(func() error { n.Pipe.RunPublisher(gctx); return nil })
		}
		if err := n.Intake.Start(gctx, g, tlsCfg); err != nil {
			return err
		}
	}
	err := front(ctx)
	bgCancel()
	n.Work.Notifier().Wait(cfg.HTTP.ShutdownTimeout)
	if gerr := g.Wait(); gerr != nil && err == nil {
		err = gerr
	}
	return err
}

// Degraded names the parts this process depends on that are down right now
// (nil: none): PostgreSQL (or SQLite) not answering, the NATS connection of
// the event stream or the cross-tenant stage lost, a publish backlog. For
// the dashboard's degraded-status line.
func (n *Node) Degraded(ctx context.Context) []string {
	_, d := n.Ready(ctx)
	return d
}

// Ready reports whether this process can do its work for a caller now
// (/readyz), with the degraded parts: only the store not answering makes it
// unready. With the event stream down an ingest process still commits
// events (they wait in the publish backlog) and a detector resumes by
// itself, so a load balancer must not take them out of rotation; the
// degraded parts are said, not refused.
func (n *Node) Ready(ctx context.Context) (ready bool, degraded []string) {
	ready = true
	if st := n.PipeOptions.Store; st != nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := st.Ping(pctx)
		cancel()
		if err != nil {
			ready = false
			degraded = append(degraded, "database unreachable: "+err.Error())
		}
	}
	for _, b := range []*bus.Bus{n.Bus, n.Cross} {
		if b != nil && !b.Connected() {
			degraded = append(degraded, "NATS JetStream unreachable ("+busAddress(n.cfg.Bus.URL)+"): detection is paused until it is back (ingest keeps storing events and publishes them then)")
			break
		}
	}
	// The backlog lives in the store: every split process shows it (the
	// api's dashboard banner too), not only the ingest processes that send it.
	if pl, ok := n.PipeOptions.Store.(store.EventPublishLog); ok && n.cfg.Bus.URL != "" {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, events, err := pl.PublishBacklog(pctx)
		cancel()
		if err == nil && events > 0 {
			degraded = append(degraded, fmt.Sprintf("publish backlog: %d events stored but not yet on the event stream (detection is behind until they are sent)", events))
		}
	}
	return ready, degraded
}

// ListenAddr reports the bound address of a listener: syslog-udp,
// syslog-tcp or syslog-tls ("" when not listening).
func (n *Node) ListenAddr(name string) string { return n.Intake.ListenAddr(name) }

// AssessNow loads the configured estate and runs one assessment (demo, tests).
func (n *Node) AssessNow(ctx context.Context, trigger string) error {
	return n.Work.AssessNow(ctx, trigger)
}

// AssessEstate stores e as a snapshot, makes it current and assesses it
// (uploads, benchmarks).
func (n *Node) AssessEstate(ctx context.Context, e *estate.Estate, source, trigger string) error {
	return n.Work.AssessEstate(ctx, e, source, trigger)
}

// IngestFiles reads whole log files into the store and runs them through a
// detector of their own (demo, one-shot imports); see intake.IngestFiles.
func (n *Node) IngestFiles(ctx context.Context, paths []string, mapping *ingest.Mapping) (intake.IngestStats, error) {
	return n.Intake.IngestFiles(ctx, paths, mapping)
}

// busAddress is the bus URL (a comma-separated list) without user
// information: a NATS URL carries its user and password, or its token as
// the user, and the split mark is stored in the database and shown in
// messages and on the dashboard.
func busAddress(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = nil
			parts[i] = u.String()
		} else if err != nil && strings.Contains(p, "@") {
			parts[i] = "(unparsable URL)"
		}
	}
	return strings.Join(parts, ",")
}
