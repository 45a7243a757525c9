package worker

import (
	"context"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// estateState caches what the server derives from the current estate: the
// tenant set (to refuse events for unknown tenants) and the ingest tenant map.
type estateState struct {
	mu      sync.RWMutex
	estate  *estate.Estate
	known   map[string]bool
	tmap    *ingest.TenantMap
	snapID  int64
	loaded  bool
	lastErr error
}

// SetEstate makes e (stored as snapshot snapID) the current estate.
func (w *Worker) SetEstate(e *estate.Estate, snapID int64) {
	known := make(map[string]bool, len(e.Tenants)+1)
	known[estate.MSP] = true
	for _, t := range e.Tenants {
		known[t.ID] = true
	}
	tm := ingest.TenantMapFromEstate(e)
	if w.eng != nil && w.eng.DetectionContext != nil {
		w.eng.DetectionContext(e)
	}
	w.est.mu.Lock()
	w.est.estate, w.est.known, w.est.tmap, w.est.snapID, w.est.loaded, w.est.lastErr = e, known, tm, snapID, true, nil
	w.est.mu.Unlock()
}

// CurrentEstate returns the current estate and its snapshot id (nil before the first load).
func (w *Worker) CurrentEstate() (*estate.Estate, int64) {
	w.est.mu.RLock()
	defer w.est.mu.RUnlock()
	return w.est.estate, w.est.snapID
}

// KnownTenants returns the tenant ids of the current estate (plus "msp"),
// or nil when no estate is known yet (then tenants are not checked).
func (w *Worker) KnownTenants(ctx context.Context) map[string]bool {
	w.est.mu.RLock()
	known, loaded := w.est.known, w.est.loaded
	w.est.mu.RUnlock()
	if loaded {
		return known
	}
	// Not loaded in this process: fall back to the latest stored snapshot.
	ts, err := w.st.ListTenants(ctx, store.AllTenants())
	if err != nil || len(ts) == 0 {
		return nil
	}
	known = map[string]bool{estate.MSP: true}
	for _, t := range ts {
		known[t.ID] = true
	}
	return known
}

// TenantMap is the configured tenant map file when given, else the one
// derived from the current estate (domains, hosts, Entra tenant ids).
func (w *Worker) TenantMap() *ingest.TenantMap {
	if w.tmapFile != nil {
		return w.tmapFile
	}
	w.est.mu.RLock()
	defer w.est.mu.RUnlock()
	return w.est.tmap
}

// PrimeDetection gives the detectors their tenant context before they
// start (they rebuild the last day's windows at once): from the configured
// estate sources when they load, else from the latest stored snapshot. The
// scheduler's loads keep it current afterwards.
func (w *Worker) PrimeDetection(ctx context.Context) {
	if w.eng == nil || w.eng.DetectionContext == nil {
		return
	}
	if len(w.cfg.Estate.Paths) > 0 {
		if e, err := loadEstates(w.cfg.Estate.Paths); err == nil {
			w.eng.DetectionContext(e)
			return
		}
	}
	if s, err := w.st.GetSnapshot(ctx, store.AllTenants(), 0); err == nil && s.Estate != nil {
		w.eng.DetectionContext(s.Estate)
	}
}

// PrimeEstate makes the estate current in a process without the worker
// role (split api, ingest, detect), which loads no estate of its own: from
// the configured estate sources when they load, else from the latest
// stored snapshot. Ingest places events in tenants by it (the tenant map)
// and refuses unknown tenants, detection takes its tenant context from
// it; without it an ingest process stored events with no tenant, so every
// per-tenant window of a split deployment joined all tenants.
// FollowSnapshots keeps it current afterwards.
func (w *Worker) PrimeEstate(ctx context.Context) {
	if len(w.cfg.Estate.Paths) > 0 {
		if e, err := loadEstates(w.cfg.Estate.Paths); err == nil {
			w.SetEstate(e, 0)
			return
		}
	}
	if s, err := w.st.GetSnapshot(ctx, store.AllTenants(), 0); err == nil && s.Estate != nil {
		w.SetEstate(s.Estate, s.ID)
	}
}

// FollowSnapshots keeps the current estate (tenant map, known tenants,
// detection context) at the latest stored snapshot until ctx ends: for a
// process without the worker role (split roles), whose estate another
// process loads. Until it has seen a snapshot it looks every two seconds.
func (w *Worker) FollowSnapshots(ctx context.Context) {
	every := w.cfg.Estate.PollInterval
	if every <= 0 {
		every = 30 * time.Second
	}
	var last int64
	for {
		if ms, err := w.st.ListSnapshots(ctx, 1); err == nil && len(ms) > 0 && ms[0].ID != last {
			if s, err := w.st.GetSnapshot(ctx, store.AllTenants(), ms[0].ID); err == nil && s.Estate != nil {
				w.SetEstate(s.Estate, ms[0].ID)
				last = ms[0].ID
			}
		}
		wait := every
		if last == 0 {
			wait = min(every, 2*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}
