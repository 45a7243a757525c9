package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// ---------------------------------------------------------------------------
// Notification targets

const targetCols = `id, name, kind, tenant, min_severity, enabled, config, created, updated, sent, failed, last_error, last_at`

func (d *DB) scanTarget(row interface{ Scan(...any) error }) (*store.NotifyTarget, error) {
	var t store.NotifyTarget
	var enabled int
	var config string
	var created, updated, last int64
	if err := row.Scan(&t.ID, &t.Name, &t.Kind, &t.Tenant, &t.MinSeverity, &enabled, &config, &created, &updated, &t.Sent, &t.Failed, &t.LastError, &last); err != nil {
		return nil, err
	}
	t.Enabled = enabled != 0
	t.Created, t.Updated, t.LastAt = FromMicros(created), FromMicros(updated), FromMicros(last)
	pt, err := d.cfg.Box.Open(config)
	if err != nil {
		return nil, fmt.Errorf("notification target %s: config: %w", t.ID, err)
	}
	if len(pt) > 0 {
		t.Config = json.RawMessage(pt)
	}
	return &t, nil
}

// targetScope: MSP-wide targets (tenant "") only for AllTenants.
func targetScope(s store.Scope) (string, []any) { return scopeCond(s, "tenant") }

func validKind(k string) bool {
	switch k {
	case store.TargetWebhook, store.TargetSlack, store.TargetTeams, store.TargetSyslog, store.TargetSMTP:
		return true
	}
	return false
}

// PutNotifyTarget implements store.NotifyTargetStore.
func (d *DB) PutNotifyTarget(ctx context.Context, scope store.Scope, t *store.NotifyTarget) error {
	if t.ID == "" || !validKind(t.Kind) {
		return fmt.Errorf("storing notification target %q kind %q: %w", t.ID, t.Kind, store.ErrInvalid)
	}
	if !scope.AllTenants && (t.Tenant == "" || t.Tenant != scope.Tenant) {
		return fmt.Errorf("storing notification target %s: %w", t.ID, store.ErrForbidden)
	}
	config, err := d.cfg.Box.Seal(store.CompactJSON(t.Config))
	if err != nil {
		return fmt.Errorf("storing notification target %s: %w", t.ID, err)
	}
	now := d.stamp()
	cond, args := targetScope(scope)
	err = d.tx(ctx, func(tx *sql.Tx) error {
		var owner string
		var created int64
		err := tx.QueryRowContext(ctx, d.q(`SELECT tenant, created FROM notify_targets WHERE id = ?`+d.forUpdate()), t.ID).Scan(&owner, &created)
		switch {
		case err == sql.ErrNoRows:
			t.Created, t.Updated = now, now
			_, err := tx.ExecContext(ctx, d.q(`INSERT INTO notify_targets (`+targetCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, '', 0)`),
				t.ID, t.Name, t.Kind, t.Tenant, t.MinSeverity, b2i(t.Enabled), config, Micros(now), Micros(now))
			return err
		case err != nil:
			return err
		}
		if !scope.AllTenants && owner != scope.Tenant {
			return store.ErrForbidden
		}
		t.Created, t.Updated = FromMicros(created), now
		_, err = tx.ExecContext(ctx, d.q(`UPDATE notify_targets SET name = ?, kind = ?, tenant = ?, min_severity = ?, enabled = ?, config = ?, updated = ? WHERE id = ? AND `+cond),
			append([]any{t.Name, t.Kind, t.Tenant, t.MinSeverity, b2i(t.Enabled), config, Micros(now), t.ID}, args...)...)
		return err
	})
	if err != nil {
		return fmt.Errorf("storing notification target %s: %w", t.ID, err)
	}
	return nil
}

// GetNotifyTarget implements store.NotifyTargetStore.
func (d *DB) GetNotifyTarget(ctx context.Context, scope store.Scope, id string) (*store.NotifyTarget, error) {
	cond, args := targetScope(scope)
	t, err := d.scanTarget(d.r.QueryRowContext(ctx, d.q(`SELECT `+targetCols+` FROM notify_targets WHERE id = ? AND `+cond), append([]any{id}, args...)...))
	if err != nil {
		return nil, fmt.Errorf("reading notification target %s: %w", id, noRows(err))
	}
	return t, nil
}

// ListNotifyTargets implements store.NotifyTargetStore.
func (d *DB) ListNotifyTargets(ctx context.Context, scope store.Scope) ([]store.NotifyTarget, error) {
	cond, args := targetScope(scope)
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+targetCols+` FROM notify_targets WHERE `+cond+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("listing notification targets: %w", err)
	}
	defer rows.Close()
	out := []store.NotifyTarget{}
	for rows.Next() {
		t, err := d.scanTarget(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// DeleteNotifyTarget implements store.NotifyTargetStore.
func (d *DB) DeleteNotifyTarget(ctx context.Context, scope store.Scope, id string) error {
	cond, args := targetScope(scope)
	return d.execUser(ctx, "deleting notification target", id, `DELETE FROM notify_targets WHERE id = ? AND `+cond, append([]any{id}, args...)...)
}

// RecordDelivery implements store.NotifyTargetStore.
func (d *DB) RecordDelivery(ctx context.Context, id string, at time.Time, errText string) error {
	set := `sent = sent + 1, last_error = ?, last_at = ?`
	if errText != "" {
		set = `failed = failed + 1, last_error = ?, last_at = ?`
	}
	return d.execUser(ctx, "recording delivery to", id, `UPDATE notify_targets SET `+set+` WHERE id = ?`, errText, Micros(at.UTC().Truncate(time.Microsecond)), id)
}

// ---------------------------------------------------------------------------
// Audit log

const auditCols = `seq, at, actor, action, target, tenant, ip, detail, prev_hash, hash`

func scanAudit(row interface{ Scan(...any) error }) (*store.AuditEntry, error) {
	var e store.AuditEntry
	var at int64
	var detail string
	if err := row.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Tenant, &e.IP, &detail, &e.PrevHash, &e.Hash); err != nil {
		return nil, err
	}
	e.At = FromMicros(at)
	if detail != "" {
		e.Detail = json.RawMessage(detail)
	}
	return &e, nil
}

// AppendAudit implements store.AuditStore. Appends are serialised (one
// SQLite writer; a PostgreSQL advisory lock), so the chain never forks.
func (d *DB) AppendAudit(ctx context.Context, e *store.AuditEntry) error {
	if e.Action == "" {
		return fmt.Errorf("appending audit entry: empty action: %w", store.ErrInvalid)
	}
	if e.At.IsZero() {
		e.At = d.stamp()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Detail = store.CompactJSON(e.Detail)
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if d.cfg.Lock != "" {
			if _, err := tx.ExecContext(ctx, d.cfg.Lock); err != nil {
				return err
			}
		}
		var seq int64
		prev := store.GenesisHash
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		e.Seq = seq + 1
		e.PrevHash = prev
		e.Hash = store.ChainHash(prev, e)
		_, err = tx.ExecContext(ctx, d.q(`INSERT INTO audit (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			e.Seq, Micros(e.At), e.Actor, e.Action, e.Target, e.Tenant, e.IP, string(e.Detail), e.PrevHash, e.Hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("appending audit entry %s: %w", e.Action, err)
	}
	return nil
}

// ListAudit implements store.AuditStore.
func (d *DB) ListAudit(ctx context.Context, scope store.Scope, f store.AuditFilter) ([]store.AuditEntry, error) {
	cond, args := scopeCond(scope, "tenant")
	where := []string{cond}
	if f.Actor != "" {
		where = append(where, "actor = ?")
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			where = append(where, "SUBSTR(action, 1, ?) = ?")
			args = append(args, len(f.Action), f.Action)
		} else {
			where = append(where, "action = ?")
			args = append(args, f.Action)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, Micros(f.Since))
	}
	if f.BeforeSeq > 0 {
		where = append(where, "seq < ?")
		args = append(args, f.BeforeSeq)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+auditCols+` FROM audit WHERE `+strings.Join(where, " AND ")+` ORDER BY seq DESC LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("listing audit log: %w", err)
	}
	defer rows.Close()
	out := []store.AuditEntry{}
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// VerifyAudit implements store.AuditStore.
func (d *DB) VerifyAudit(ctx context.Context) (int64, string, error) {
	rows, err := d.r.QueryContext(ctx, `SELECT `+auditCols+` FROM audit ORDER BY seq`)
	if err != nil {
		return 0, "", fmt.Errorf("verifying audit log: %w", err)
	}
	defer rows.Close()
	prev := store.GenesisHash
	var n int64
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return n, prev, fmt.Errorf("verifying audit log: %w", err)
		}
		want := n + 1
		switch {
		case e.Seq != want:
			return n, prev, &store.AuditError{Seq: want, Reason: fmt.Sprintf("entry missing (next stored entry is %d)", e.Seq)}
		case e.PrevHash != prev:
			return n, prev, &store.AuditError{Seq: e.Seq, Reason: "prev_hash does not match the hash of the entry before it (entry removed or reordered)"}
		case store.ChainHash(prev, e) != e.Hash:
			return n, prev, &store.AuditError{Seq: e.Seq, Reason: "hash does not match the entry's content (entry altered)"}
		}
		prev = e.Hash
		n++
	}
	if err := rows.Err(); err != nil {
		return n, prev, fmt.Errorf("verifying audit log: %w", err)
	}
	return n, prev, nil
}
