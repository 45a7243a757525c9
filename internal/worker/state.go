package worker

import (
	"context"
	"sync"

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
