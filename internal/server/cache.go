package server

import "sync"

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
