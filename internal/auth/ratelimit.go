package auth

import (
	"context"
	"log/slog"
	"strings"
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

// AccountLockFactor: a whole account is locked only after this many times
// auth.max_failures failed factors across all addresses (a distributed
// guess stays bounded); one address is locked out of one account after
// max_failures (NIST SP 800-63B §5.2.2, throttling per account and source).
const AccountLockFactor = 20

func failKey(user, ip string) string { return "login-fail:" + strings.ToLower(user) + "|" + ip }

// PairLocked reports whether sign-in to user from client address ip is
// locked: max_failures failed factors from that address within the lockout
// duration. Counted in the store, so every process sees it; fails closed.
func (a *Sessions) PairLocked(ctx context.Context, user, ip string, now time.Time) bool {
	n, err := a.st.Count(ctx, failKey(user, ip), a.cfg.LockoutDuration, now)
	if err != nil {
		a.log.Warn("sign-in failure count unavailable; refusing the attempt", "err", err)
		return true
	}
	return n >= a.cfg.MaxFailures
}

// RecordFailure counts one failed factor for user from ip. It returns
// whether that address is now locked out of the account, and the account
// as stored (locked as a whole only at AccountLockFactor × max_failures).
// Failed attempts never end the account's existing sessions: they may be
// someone else's.
func (a *Sessions) RecordFailure(ctx context.Context, user, ip string, now time.Time) (pairLocked bool, u *store.User, err error) {
	n, err := a.st.Hit(ctx, failKey(user, ip), a.cfg.LockoutDuration, now)
	if err != nil {
		return true, nil, err
	}
	u, err = a.st.RecordLoginFailure(ctx, user, now, a.cfg.MaxFailures*AccountLockFactor, a.cfg.LockoutDuration)
	return n >= a.cfg.MaxFailures, u, err
}
