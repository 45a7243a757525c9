package sqlstore

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

const (
	outboxCols   = `target, item_key, kind, tenant, body, version, sent, remote, attempts, last_error, next_at, created, updated, claimed_by, claimed_until`
	outboxInsert = `target, item_key, kind, tenant, body, version, sent, remote, attempts, last_error, next_at, created, updated`
)

func scanOutbox(row interface{ Scan(...any) error }) (store.OutboxItem, error) {
	var it store.OutboxItem
	var body string
	var next, created, updated, claimed int64
	err := row.Scan(&it.Target, &it.Key, &it.Kind, &it.Tenant, &body, &it.Version, &it.Sent, &it.Remote, &it.Attempts, &it.LastError, &next, &created, &updated, &it.ClaimedBy, &claimed)
	if err != nil {
		return it, err
	}
	if body != "" {
		it.Body = []byte(body)
	}
	if next != 0 {
		it.NextAt = FromMicros(next)
	}
	if claimed != 0 {
		it.ClaimedUntil = FromMicros(claimed)
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
			_, err := tx.ExecContext(ctx, d.q(`INSERT INTO outbox (`+outboxInsert+`) VALUES (?, ?, ?, ?, ?, 1, 0, '', 0, '', 0, ?, ?)`),
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

// AddOutbox implements store.OutboxStore.
func (d *DB) AddOutbox(ctx context.Context, it *store.OutboxItem) (bool, error) {
	if it.Target == "" || it.Key == "" {
		return false, fmt.Errorf("adding outbox item %q/%q: %w", it.Target, it.Key, store.ErrInvalid)
	}
	if err := d.check(); err != nil {
		return false, err
	}
	now := d.stamp()
	res, err := d.w.ExecContext(ctx, d.q(`INSERT INTO outbox (`+outboxInsert+`) VALUES (?, ?, ?, ?, ?, 1, 0, '', 0, '', 0, ?, ?) ON CONFLICT (target, item_key) DO NOTHING`),
		it.Target, it.Key, it.Kind, it.Tenant, string(store.CompactJSON(it.Body)), Micros(now), Micros(now))
	if err != nil {
		return false, fmt.Errorf("adding outbox item %s/%s: %w", it.Target, it.Key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("adding outbox item %s/%s: %w", it.Target, it.Key, err)
	}
	return n == 1, nil
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

// ClaimOutbox implements store.OutboxStore. The rows are chosen and
// claimed in one UPDATE: on PostgreSQL the inner SELECT locks the rows it
// picks and skips rows another claimer has locked (FOR UPDATE SKIP
// LOCKED), so concurrent claimers get disjoint rows without waiting; on
// SQLite writes are serialised by the one writer connection.
func (d *DB) ClaimOutbox(ctx context.Context, target, owner string, now time.Time, lease time.Duration, limit int) ([]store.OutboxItem, error) {
	if owner == "" || lease <= 0 {
		return nil, fmt.Errorf("claiming outbox items of %s: owner and a positive lease required: %w", target, store.ErrInvalid)
	}
	if limit <= 0 {
		limit = 100
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	skip := ""
	if d.pg {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	at := Micros(now)
	rows, err := d.w.QueryContext(ctx, d.q(`UPDATE outbox SET claimed_by = ?, claimed_until = ?
		WHERE (target, item_key) IN (SELECT target, item_key FROM outbox
			WHERE target = ? AND sent < version AND next_at <= ? AND claimed_until <= ?
			ORDER BY updated, item_key LIMIT ?`+skip+`)
		RETURNING `+outboxCols), owner, Micros(now.Add(lease)), target, at, at, min(limit, 10000))
	if err != nil {
		return nil, fmt.Errorf("claiming outbox items of %s: %w", target, err)
	}
	defer rows.Close()
	out := []store.OutboxItem{}
	for rows.Next() {
		it, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("claiming outbox items of %s: %w", target, err)
		}
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claiming outbox items of %s: %w", target, err)
	}
	slices.SortFunc(out, func(a, b store.OutboxItem) int {
		return cmp.Or(a.Updated.Compare(b.Updated), strings.Compare(a.Key, b.Key))
	})
	return out, nil
}

// AckOutbox implements store.OutboxStore.
func (d *DB) AckOutbox(ctx context.Context, target, key string, version int64, remote string) error {
	now := d.stamp()
	res, err := d.w.ExecContext(ctx, d.q(`UPDATE outbox SET sent = CASE WHEN sent > ? THEN sent ELSE ? END, remote = CASE WHEN ? = '' THEN remote ELSE ? END,
		attempts = 0, last_error = '', next_at = 0, claimed_by = '', claimed_until = 0, updated = ? WHERE target = ? AND item_key = ?`), version, version, remote, remote, Micros(now), target, key)
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
	res, err := d.w.ExecContext(ctx, d.q(`UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_at = ?, claimed_by = '', claimed_until = 0 WHERE target = ? AND item_key = ?`),
		errText, Micros(next), target, key)
	if err != nil {
		return fmt.Errorf("recording outbox failure %s/%s: %w", target, key, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("recording outbox failure %s/%s: %w", target, key, store.ErrNotFound)
	}
	return nil
}

// PruneOutbox implements store.OutboxStore.
func (d *DB) PruneOutbox(ctx context.Context, prefix string, before time.Time) (int64, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	res, err := d.w.ExecContext(ctx, d.q(`DELETE FROM outbox WHERE substr(target, 1, ?) = ? AND sent >= version AND updated < ?`), len(prefix), prefix, Micros(before))
	if err != nil {
		return 0, fmt.Errorf("pruning outbox: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
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
