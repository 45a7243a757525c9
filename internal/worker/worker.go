// Package worker is firebreak's scheduled work: estate reloads and
// assessments on a schedule, drift incidents, retention, and notification
// delivery (the worker role). It also holds the current estate, from which
// the other parts learn the known tenants and the ingest tenant map.
//
// It composes the engines (assess, trust, detect) through Engines and feeds
// drift incidents to the detection pipeline; it imports no HTTP routing.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/firebreak-msp/firebreak/internal/attest"
	"github.com/firebreak-msp/firebreak/internal/audit"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// ErrNoEngine is returned when an assessment is asked of a worker without
// an assessment engine.
var ErrNoEngine = errors.New("assessment engine not configured")

// Incidents takes incidents to store and notify (the detection pipeline).
type Incidents interface {
	Handle(ctx context.Context, incs []store.Incident)
}

// Options configure a Worker.
type Options struct {
	Config   config.Config
	Store    store.Store
	Logger   *slog.Logger
	Now      func() time.Time
	Metrics  *metrics.Metrics
	Engines  *Engines  // nil: no assessments (the store's runs are served as they are)
	Notifier *Notifier // nil: incidents are not notified
	// Signer signs a posture attestation per tenant after each assessment
	// (nil: none are issued).
	Signer *attest.Key
	// Incidents receives drift incidents; set it with SetIncidents when the
	// pipeline is built after the worker.
	Incidents Incidents
}

// Worker runs the scheduled work and holds the current estate.
type Worker struct {
	cfg     config.Config
	st      store.Store
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics.Metrics
	eng     *Engines
	notify  *Notifier
	inc     Incidents
	signer  *attest.Key

	est      estateState
	tmapFile *ingest.TenantMap

	onRun   func(ctx context.Context, runID int64) // a run was stored (warms the HTTP views)
	onBlast func(ctx context.Context)              // a blast result was stored
}

// New builds a worker; Run starts its schedules.
func New(o Options) (*Worker, error) {
	w := &Worker{cfg: o.Config, st: o.Store, log: o.Logger, now: o.Now, metrics: o.Metrics, eng: o.Engines, notify: o.Notifier, inc: o.Incidents, signer: o.Signer}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.metrics == nil {
		w.metrics = metrics.New()
	}
	if w.cfg.Ingest.TenantMap != "" {
		tm, err := ingest.LoadTenantMap(w.cfg.Ingest.TenantMap)
		if err != nil {
			return nil, err
		}
		w.tmapFile = tm
	}
	return w, nil
}

// SetIncidents sets where drift incidents go.
func (w *Worker) SetIncidents(inc Incidents) { w.inc = inc }

// OnChange sets callbacks for a stored run and a stored blast result (the
// HTTP part uses them to warm and drop its view caches).
func (w *Worker) OnChange(onRun func(ctx context.Context, runID int64), onBlast func(ctx context.Context)) {
	w.onRun, w.onBlast = onRun, onBlast
}

// Engines returns the engines (nil when none are configured).
func (w *Worker) Engines() *Engines { return w.eng }

// Notifier returns the notifier (nil when none is configured).
func (w *Worker) Notifier() *Notifier { return w.notify }

// Run runs the schedules (estate reload and assessment, retention) until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() { w.runRetention(ctx); close(done) }()
	w.runScheduler(ctx)
	<-done
}

func (w *Worker) audit(ctx context.Context, action, target, tenant string, detail any) {
	audit.Append(ctx, w.st, w.log, "anonymous", "", action, target, tenant, detail)
}

// BlastQuery answers "what falls if node is compromised" on the last trust graph.
func (w *Worker) BlastQuery(node string) (any, error) { return w.eng.blastQuery(node) }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
