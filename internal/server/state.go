package server

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

func (s *Server) setEstate(e *estate.Estate, snapID int64) {
	known := make(map[string]bool, len(e.Tenants)+1)
	known[estate.MSP] = true
	for _, t := range e.Tenants {
		known[t.ID] = true
	}
	tm := ingest.TenantMapFromEstate(e)
	s.est.mu.Lock()
	s.est.estate, s.est.known, s.est.tmap, s.est.snapID, s.est.loaded, s.est.lastErr = e, known, tm, snapID, true, nil
	s.est.mu.Unlock()
}

func (s *Server) currentEstate() (*estate.Estate, int64) {
	s.est.mu.RLock()
	defer s.est.mu.RUnlock()
	return s.est.estate, s.est.snapID
}

// knownTenants returns the tenant ids of the current estate (plus "msp"),
// or nil when no estate is known yet (then tenants are not checked).
func (s *Server) knownTenants(ctx context.Context) map[string]bool {
	s.est.mu.RLock()
	known, loaded := s.est.known, s.est.loaded
	s.est.mu.RUnlock()
	if loaded {
		return known
	}
	// Not loaded in this process: fall back to the latest stored snapshot.
	ts, err := s.st.ListTenants(ctx, store.AllTenants())
	if err != nil || len(ts) == 0 {
		return nil
	}
	known = map[string]bool{estate.MSP: true}
	for _, t := range ts {
		known[t.ID] = true
	}
	return known
}

// tenantMap is the configured tenant map file when given, else the one
// derived from the current estate (domains, hosts, Entra tenant ids).
func (s *Server) tenantMap() *ingest.TenantMap {
	if s.tmapFile != nil {
		return s.tmapFile
	}
	s.est.mu.RLock()
	defer s.est.mu.RUnlock()
	return s.est.tmap
}
