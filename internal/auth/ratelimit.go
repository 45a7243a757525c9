package auth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// limiter is a fixed-window counter per key (client IP or username), bounded
// in size: when full, expired windows are swept and, failing that, the
// request is refused (fail closed).
type Limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	max    int
	m      map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func NewLimiter(limit int, per time.Duration, maxKeys int) *Limiter {
	return &Limiter{limit: limit, window: per, max: maxKeys, m: make(map[string]*window)}
}

// allow counts one attempt for key at now and reports whether it is within the limit.
func (l *Limiter) Allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.m[key]
	if !ok || now.Sub(w.start) >= l.window {
		if !ok && len(l.m) >= l.max {
			for k, v := range l.m {
				if now.Sub(v.start) >= l.window {
					delete(l.m, k)
				}
			}
			if len(l.m) >= l.max {
				return false
			}
		}
		l.m[key] = &window{start: now, n: 1}
		return true
	}
	w.n++
	return w.n <= l.limit
}

// RateLimiter counts attempts per key and says whether one more is allowed.
type RateLimiter interface {
	Allow(key string, now time.Time) bool
}

var _ RateLimiter = (*Limiter)(nil)

// SharedLimiter is a fixed-window limit counted in the store, shared by
// every process on the database. It fails closed: when the store cannot
// count, the attempt is refused.
type SharedLimiter struct {
	Store  store.RateLimitStore
	Prefix string // key namespace, e.g. "login-ip:"
	Limit  int
	Window time.Duration
	Log    *slog.Logger
}

// Allow counts one attempt for key at now.
func (l *SharedLimiter) Allow(key string, now time.Time) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := l.Store.Hit(ctx, l.Prefix+key, l.Window, now)
	if err != nil {
		if l.Log != nil {
			l.Log.Warn("shared rate limit unavailable; refusing the attempt", "err", err)
		}
		return false
	}
	return n <= l.Limit
}
