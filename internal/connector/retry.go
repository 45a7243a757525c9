package connector

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Retry is the one retry policy of firebreak's outside calls (collectors,
// event polls, outbound targets): at most Attempts tries, waiting between
// them an exponential backoff with full jitter (a random wait in
// [0, min(Max, Base·2^(n-1))]) or, when the server said so, its
// Retry-After (capped at Max). Zero fields take defaults.
type Retry struct {
	Attempts int           // total tries (default 6)
	Base     time.Duration // first backoff ceiling (default 500 ms)
	Max      time.Duration // backoff cap and Retry-After cap (default 30 s)
	// Sleep waits d or until ctx ends (tests inject an instant one).
	Sleep func(ctx context.Context, d time.Duration) error
	// Rand returns a float in [0,1) for jitter (default math/rand/v2).
	Rand func() float64
	// OnRetry, when set, is told about every retry (for counters and logs).
	OnRetry func(attempt int, wait time.Duration, err error)
}

// Defaults of Retry.
const (
	DefaultAttempts = 6
	DefaultBase     = 500 * time.Millisecond
	DefaultMax      = 30 * time.Second
)

// WithDefaults fills zero fields.
func (r Retry) WithDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = DefaultAttempts
	}
	if r.Base <= 0 {
		r.Base = DefaultBase
	}
	if r.Max <= 0 {
		r.Max = DefaultMax
	}
	if r.Sleep == nil {
		r.Sleep = SleepContext
	}
	if r.Rand == nil {
		r.Rand = rand.Float64
	}
	return r
}

// SleepContext waits d or until ctx ends.
func SleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Backoff is the wait before try n+1 (n >= 1): full jitter over
// min(Max, Base·2^(n-1)).
func (r Retry) Backoff(n int) time.Duration {
	r = r.WithDefaults()
	ceil := r.Base << min(max(n-1, 0), 30)
	if ceil <= 0 || ceil > r.Max {
		ceil = r.Max
	}
	return time.Duration(r.Rand() * float64(ceil))
}

// PermanentError marks a failure retrying cannot fix (a 4xx answer, a
// rejected item, a bad configuration).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so Do does not retry it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// RetryAfterError asks Do to wait After (the server's Retry-After) before
// the next try instead of the backoff.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }
func (e *RetryAfterError) Unwrap() error { return e.Err }

// After wraps err with the server's requested wait.
func After(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{Err: err, After: d}
}

// ExhaustedError is a call that failed on every try.
type ExhaustedError struct {
	Attempts int
	Err      error
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("%v (gave up after %d attempts)", e.Err, e.Attempts)
}
func (e *ExhaustedError) Unwrap() error { return e.Err }

// Do calls fn (with the 1-based try number) until it returns nil, a
// permanent error, ctx ends, or Attempts tries were made. A permanent error
// is returned unwrapped (its cause); running out of tries returns an
// *ExhaustedError wrapping the last error.
func (r Retry) Do(ctx context.Context, fn func(attempt int) error) error {
	r = r.WithDefaults()
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		if err == nil {
			return nil
		}
		var perm *PermanentError
		if errors.As(err, &perm) {
			return perm.Err
		}
		if ctx.Err() != nil {
			return err
		}
		if attempt >= r.Attempts {
			return &ExhaustedError{Attempts: attempt, Err: err}
		}
		wait := r.Backoff(attempt)
		var ra *RetryAfterError
		if errors.As(err, &ra) && ra.After > 0 {
			wait = min(ra.After, r.Max)
		}
		if r.OnRetry != nil {
			r.OnRetry(attempt, wait, err)
		}
		if serr := r.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("%w (gave up waiting to retry: %v)", err, serr)
		}
	}
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date (relative to now). ok is false when absent or unreadable.
func ParseRetryAfter(h string, now time.Time) (d time.Duration, ok bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// Transient reports whether an HTTP status is worth retrying: 408, 425,
// 429 and 5xx except 501 and 505.
func Transient(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500 && status <= 599
}
