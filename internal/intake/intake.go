// Package intake is firebreak's event intake (the ingest role): the syslog
// listeners, followed log files, one-shot file imports, and the parse core
// of HTTP ingest. Every path parses with internal/ingest, refuses events of
// unknown tenants, and commits through the pipeline (durable before any
// acknowledgement). It serves no HTTP routes itself.
package intake

import (
	"context"
	"crypto/tls"
	"log/slog"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"golang.org/x/sync/errgroup"
)

// Tenants tells intake which tenants exist and how to place events.
type Tenants interface {
	// KnownTenants returns the known tenant ids, or nil when none are known
	// yet (then tenants are not checked).
	KnownTenants(ctx context.Context) map[string]bool
	// TenantMap places events that name no tenant (nil: none).
	TenantMap() *ingest.TenantMap
}

// Options configure an Intake.
type Options struct {
	Config   config.Config
	Store    store.Store
	Pipeline *pipeline.Pipeline // commits events and feeds detection
	Tenants  Tenants
	// NewDetector returns a fresh detector for IngestFiles (nil: IngestFiles
	// is refused).
	NewDetector func() (pipeline.Detector, error)
	Logger      *slog.Logger
	Now         func() time.Time
	Metrics     *metrics.Metrics
}

// Intake owns the listeners and the parse-and-commit path of events.
type Intake struct {
	cfg         config.Config
	st          store.Store
	pipe        *pipeline.Pipeline
	tenants     Tenants
	newDetector func() (pipeline.Detector, error)
	log         *slog.Logger
	now         func() time.Time
	metrics     *metrics.Metrics
	mapping     *ingest.Mapping // generic JSON mapping (ingest.mapping)

	mu    sync.RWMutex
	addrs map[string]string
}

// New builds an intake; Run starts its listeners.
func New(o Options) (*Intake, error) {
	in := &Intake{cfg: o.Config, st: o.Store, pipe: o.Pipeline, tenants: o.Tenants, newDetector: o.NewDetector, log: o.Logger, now: o.Now, metrics: o.Metrics}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if in.now == nil {
		in.now = time.Now
	}
	if in.metrics == nil {
		in.metrics = metrics.New()
	}
	if in.cfg.Ingest.Mapping != "" {
		m, err := ingest.LoadMapping(in.cfg.Ingest.Mapping)
		if err != nil {
			return nil, err
		}
		in.mapping = m
	}
	return in, nil
}

// Mapping is the configured generic JSON mapping (nil when none).
func (in *Intake) Mapping() *ingest.Mapping { return in.mapping }

// Commit stores records durably and queues them for detection; nil means
// committed (the caller may acknowledge).
func (in *Intake) Commit(ctx context.Context, recs []store.EventRecord) error {
	return in.pipe.Commit(ctx, recs)
}

func (in *Intake) knownTenants(ctx context.Context) map[string]bool {
	if in.tenants == nil {
		return nil
	}
	return in.tenants.KnownTenants(ctx)
}

func (in *Intake) tenantMap() *ingest.TenantMap {
	if in.tenants == nil {
		return nil
	}
	return in.tenants.TenantMap()
}

// Start follows the configured log files and opens the syslog listeners on
// g, until ctx ends. tlsCfg is needed for syslog over TLS.
func (in *Intake) Start(ctx context.Context, g *errgroup.Group, tlsCfg *tls.Config) error {
	in.startTails(ctx, g)
	return in.startSyslog(ctx, g, tlsCfg)
}
