package sqlstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

var _ store.IdempotencyKeys = (*DB)(nil)

// ClaimIdempotency implements store.IdempotencyKeys with one upsert: a
// key whose record has expired is taken afresh.
func (d *DB) ClaimIdempotency(ctx context.Context, owner, key, bodyHash string, now time.Time) (store.IdempotentAnswer, bool, error) {
	if err := d.check(); err != nil {
		return store.IdempotentAnswer{}, false, err
	}
	t, expired := Micros(now), Micros(now.Add(-store.IdempotencyTTL))
	// A claim still in flight (status 0) older than IdempotencyAbandoned
	// was abandoned (a crash, or a 503 whose release failed too): it is
	// taken over. The upsert holds the row, so of concurrent takers the
	// first one's claim is fresh and the later ones see it (nonce).
	abandoned := Micros(now.Add(-store.IdempotencyAbandoned))
	var a store.IdempotentAnswer
	var created int64
	// The upsert returns the row either way; it is ours when it carries
	// our claim's nonce (in response while status is 0): two claims in
	// the same microsecond (two replicas) must not both be first.
	nonce := "claim:" + rand.Text()
	const take = `(idempotency_keys.created <= ? OR (idempotency_keys.status = 0 AND idempotency_keys.created <= ?))`
	err := d.w.QueryRowContext(ctx, d.q(`INSERT INTO idempotency_keys (owner, key, body_hash, status, response, created) VALUES (?, ?, ?, 0, ?, ?)
ON CONFLICT (owner, key) DO UPDATE SET
  body_hash = CASE WHEN `+take+` THEN excluded.body_hash ELSE idempotency_keys.body_hash END,
  status    = CASE WHEN `+take+` THEN 0 ELSE idempotency_keys.status END,
  response  = CASE WHEN `+take+` THEN excluded.response ELSE idempotency_keys.response END,
  committed = CASE WHEN `+take+` AND NOT (idempotency_keys.status = 0 AND idempotency_keys.body_hash = excluded.body_hash) THEN 0 ELSE idempotency_keys.committed END,
  created   = CASE WHEN `+take+` THEN excluded.created ELSE idempotency_keys.created END
RETURNING body_hash, status, response, created, committed`), owner, key, bodyHash, nonce, t, expired, abandoned, expired, abandoned, expired, abandoned, expired, abandoned, expired, abandoned).Scan(&a.BodyHash, &a.Status, &a.Response, &created, &a.Committed)
	if err != nil {
		return a, false, fmt.Errorf("idempotency key: %w", err)
	}
	fresh := a.Status == 0 && a.Response == nonce
	if a.Status == 0 {
		a.Response = "" // (another claim's nonce)
	}
	if fresh && t%64 == 0 { // now and then: drop expired keys (bounded table)
		_, _ = d.w.ExecContext(ctx, d.q(`DELETE FROM idempotency_keys WHERE created <= ?`), expired)
	}
	return a, fresh, nil
}

// FinishIdempotency implements store.IdempotencyKeys.
func (d *DB) FinishIdempotency(ctx context.Context, owner, key string, status int, response []byte) error {
	if err := d.check(); err != nil {
		return err
	}
	if _, err := d.w.ExecContext(ctx, d.q(`UPDATE idempotency_keys SET status = ?, response = ? WHERE owner = ? AND key = ?`), status, string(response), owner, key); err != nil {
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}

// ProgressIdempotency implements store.IdempotencyKeys.
func (d *DB) ProgressIdempotency(ctx context.Context, owner, key string, committed int) error {
	if err := d.check(); err != nil {
		return err
	}
	if _, err := d.w.ExecContext(ctx, d.q(`UPDATE idempotency_keys SET committed = ? WHERE owner = ? AND key = ? AND status = 0`), committed, owner, key); err != nil {
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotency implements store.IdempotencyKeys: the claim is made
// abandoned at once (its time moved back by IdempotencyAbandoned), so the
// next claim takes it over and, with the same body, keeps its progress.
func (d *DB) ReleaseIdempotency(ctx context.Context, owner, key string) error {
	if err := d.check(); err != nil {
		return err
	}
	if _, err := d.w.ExecContext(ctx, d.q(`UPDATE idempotency_keys SET created = created - ? WHERE owner = ? AND key = ? AND status = 0`), int64(store.IdempotencyAbandoned/time.Microsecond)+1, owner, key); err != nil {
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}
