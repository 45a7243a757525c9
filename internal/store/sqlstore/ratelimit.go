package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// rateKey is the stored form of a rate-limit key: keys are opaque to
// callers (the per-account sign-in key holds a NUL), and PostgreSQL text
// cannot hold NUL, so backslash and NUL are escaped (one-to-one).
var rateKey = strings.NewReplacer(`\`, `\\`, "\x00", `\0`).Replace

// Hit implements store.RateLimitStore with one upsert: a new window starts
// when the stored one has ended.
func (d *DB) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	t, ended := Micros(now), Micros(now.Add(-window))
	var n int64
	err := d.w.QueryRowContext(ctx, d.q(`INSERT INTO rate_limits (key, window_start, n) VALUES (?, ?, 1)
ON CONFLICT (key) DO UPDATE SET
  n = CASE WHEN rate_limits.window_start <= ? THEN 1 ELSE rate_limits.n + 1 END,
  window_start = CASE WHEN rate_limits.window_start <= ? THEN ? ELSE rate_limits.window_start END
RETURNING n`), rateKey(key), t, ended, ended, t).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	if n == 1 && t%64 == 0 { // now and then, on a new window: drop day-old windows
		_, _ = d.w.ExecContext(ctx, d.q(`DELETE FROM rate_limits WHERE window_start < ?`), Micros(now.Add(-24*time.Hour)))
	}
	return int(n), nil
}

// Count implements store.RateLimitStore: the attempts in key's open window.
func (d *DB) Count(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	var n int64
	err := d.r.QueryRowContext(ctx, d.q(`SELECT n FROM rate_limits WHERE key = ? AND window_start > ?`), rateKey(key), Micros(now.Add(-window))).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return int(n), nil
}
