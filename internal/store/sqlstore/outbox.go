package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

const outboxCols = `target, item_key, kind, tenant, body, version, sent, remote, attempts, last_error, next_at, created, updated`

func scanOutbox(row interface{ Scan(...any) error }) (store.OutboxItem, error) {
	var it store.OutboxItem
	var body string
	var next, created, updated int64
	err := row.Scan(&it.Target, &it.Key, &it.Kind, &it.Tenant, &body, &it.Version, &it.Sent, &it.Remote, &it.Attempts, &it.LastError, &next, &created, &updated)
	if err != nil {
		return it, err
	}
	if body != "" {
		it.Body = []byte(body)
	}
	if next != 0 {
		it.NextAt = FromMicros(next)
	}
	it.Created, it.Updated = FromMicros(created), FromMicros(updated)
	return it, nil
}

// PutOutbox implements store.OutboxStore.
func (d *DB) PutOutbox(ctx context.Context, it *store.OutboxItem) (bool, error) {
	if it.Target == "" || it.Key == "" {
		return false, fmt.Errorf("storing outbox item %q/%q: %w", it.Target, it.Key, store.ErrInvalid)
	}
	body := store.CompactJSON(it.Body)
	now := d.stamp()
	changed := false
	err := d.tx(ctx, func(tx *sql.Tx) error {
		cur, err := scanOutbox(tx.QueryRowContext(ctx, d.q(`SELECT `+outboxCols+` FROM outbox WHERE target = ? AND item_key = ?`+d.forUpdate()), it.Target, it.Key))
		switch {
		case err == sql.ErrNoRows:
			changed = true
			_, err := tx.ExecContext(ctx, d.q(`INSERT INTO outbox (`+outboxCols+`) VALUES (?, ?, ?, ?, ?, 1, 0, '', 0, '', 0, ?, ?)`),
				it.Target, it.Key, it.Kind, it.Tenant, string(body), Micros(now), Micros(now))
			if err != nil {
				return err
			}
			it.Version, it.Sent, it.Remote, it.Attempts, it.LastError, it.NextAt, it.Created, it.Updated = 1, 0, "", 0, "", time.Time{}, now, now
			return nil
		case err != nil:
			return err
		}
		if cur.Kind == it.Kind && cur.Tenant == it.Tenant && bytes.Equal(cur.Body, body) {
			*it = cur
			return nil
		}
		changed = true
		_, err = tx.ExecContext(ctx, d.q(`UPDATE outbox SET kind = ?, tenant = ?, body = ?, version = version + 1, attempts = 0, next_at = 0, updated = ? WHERE target = ? AND item_key = ?`),
			it.Kind, it.Tenant, string(body), Micros(now), it.Target, it.Key)
		if err != nil {
			return err
		}
		cur.Kind, cur.Tenant, cur.Body, cur.Version, cur.Attempts, cur.NextAt, cur.Updated = it.Kind, it.Tenant, body, cur.Version+1, 0, time.Time{}, now
		*it = cur
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("storing outbox item %s/%s: %w", it.Target, it.Key, err)
	}
	return changed, nil
}

// DueOutbox implements store.OutboxStore.
func (d *DB) DueOutbox(ctx context.Context, target string, now time.Time, limit int) ([]store.OutboxItem, error) {
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, d, "listing due outbox items",
		`SELECT `+outboxCols+` FROM outbox WHERE target = ? AND sent < version AND next_at <= ? ORDER BY updated, item_key LIMIT ?`,
		[]any{target, Micros(now), min(limit, 10000)}, scanOutbox)
}

// AckOutbox implements store.OutboxStore.
func (d *DB) AckOutbox(ctx context.Context, target, key string, version int64, remote string) error {
	now := d.stamp()
	res, err := d.w.ExecContext(ctx, d.q(`UPDATE outbox SET sent = CASE WHEN sent > ? THEN sent ELSE ? END, remote = CASE WHEN ? = '' THEN remote ELSE ? END,
		attempts = 0, last_error = '', next_at = 0, updated = ? WHERE target = ? AND item_key = ?`), version, version, remote, remote, Micros(now), target, key)
	if err != nil {
		return fmt.Errorf("acknowledging outbox item %s/%s: %w", target, key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("acknowledging outbox item %s/%s: %w", target, key, store.ErrNotFound)
	}
	return nil
}

// FailOutbox implements store.OutboxStore.
func (d *DB) FailOutbox(ctx context.Context, target, key, errText string, next time.Time) error {
	if len(errText) > 2000 {
		errText = errText[:2000]
	}
	res, err := d.w.ExecContext(ctx, d.q(`UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE target = ? AND item_key = ?`),
		errText, Micros(next), target, key)
	if err != nil {
		return fmt.Errorf("recording outbox failure %s/%s: %w", target, key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("recording outbox failure %s/%s: %w", target, key, store.ErrNotFound)
	}
	return nil
}

// ListOutbox implements store.OutboxStore.
func (d *DB) ListOutbox(ctx context.Context, scope store.Scope, f store.OutboxFilter) ([]store.OutboxItem, error) {
	cond, args := scopeCond(scope, "tenant")
	w := []string{cond}
	if f.Target != "" {
		w, args = append(w, "target = ?"), append(args, f.Target)
	}
	if f.Pending {
		w = append(w, "sent < version")
	}
	if f.Failing {
		w = append(w, "last_error <> ''")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, d, "listing outbox",
		`SELECT `+outboxCols+` FROM outbox WHERE `+strings.Join(w, " AND ")+` ORDER BY updated DESC, item_key LIMIT ?`,
		append(args, min(limit, 10000)), scanOutbox)
}
