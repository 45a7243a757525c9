package server

import (
	"context"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// viewCache keeps derived page data for one generation (a run or snapshot
// id): when the generation changes everything is dropped. Keys include the
// caller's scope, and values are computed from store reads made in that
// scope, so the cache never widens what a caller sees.
type viewCache struct {
	mu  sync.Mutex
	gen int64
	m   map[string]any
}

const viewCacheMax = 512

func (c *viewCache) get(gen int64, key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return nil, false
	}
	v, ok := c.m[key]
	return v, ok
}

func (c *viewCache) put(gen int64, key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.m == nil || len(c.m) >= viewCacheMax {
		c.gen, c.m = gen, map[string]any{}
	}
	c.m[key] = v
}

// blastCache holds the latest blast result per scope. It is dropped when
// this process stores a new result, and entries expire after blastTTL so
// several servers sharing one PostgreSQL converge.
type blastCache struct {
	mu  sync.Mutex
	gen int64
	m   map[string]blastEntry
}

type blastEntry struct {
	gen int64
	at  time.Time
	b   *store.BlastResult
}

const blastTTL = 30 * time.Second

// latestBlast returns the latest blast result in scope (store.ErrNotFound
// when there is none). Callers must not modify it.
func (s *Server) latestBlast(ctx context.Context, scope store.Scope) (*store.BlastResult, error) {
	key := scope.String()
	now := time.Now()
	c := &s.blasts
	c.mu.Lock()
	e, ok := c.m[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && e.gen == gen && now.Sub(e.at) < blastTTL {
		return e.b, nil
	}
	b, err := s.st.GetBlast(ctx, scope, 0)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) > 10000 {
		c.m = map[string]blastEntry{}
	}
	if c.gen == gen {
		c.m[key] = blastEntry{gen: gen, at: now, b: b}
	}
	c.mu.Unlock()
	return b, nil
}

// blastChanged drops cached blast results (a new one was stored) and
// builds the explorer's data for the new graph and plan, so the first
// person to open the explorer after an assessment does not wait for it.
func (s *Server) blastChanged(ctx context.Context) {
	s.blasts.mu.Lock()
	s.blasts.gen++
	s.blasts.m = nil
	s.blasts.mu.Unlock()
	s.warmExplorer(ctx)
}
