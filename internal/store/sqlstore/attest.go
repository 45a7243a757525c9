package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// SavePosture implements store.AttestStore.
func (d *DB) SavePosture(ctx context.Context, p *store.Posture) error {
	if p.Tenant == "" || len(p.Envelope) == 0 {
		return fmt.Errorf("storing posture: tenant and envelope are required: %w", store.ErrInvalid)
	}
	now := d.stamp()
	err := d.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, d.q(`INSERT INTO postures (tenant, run_id, key_id, issued, expires, created, envelope) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			p.Tenant, p.RunID, p.KeyID, Micros(p.Issued), Micros(p.Expires), Micros(now), string(p.Envelope)).Scan(&p.ID)
	})
	if err != nil {
		return fmt.Errorf("storing posture for %s: %w", p.Tenant, err)
	}
	p.Created = now
	return nil
}

const postureCols = `id, tenant, run_id, key_id, issued, expires, created`

func scanPosture(row interface{ Scan(...any) error }, extra ...any) (store.Posture, error) {
	var p store.Posture
	var issued, expires, created int64
	if err := row.Scan(append([]any{&p.ID, &p.Tenant, &p.RunID, &p.KeyID, &issued, &expires, &created}, extra...)...); err != nil {
		return p, err
	}
	p.Issued, p.Expires, p.Created = FromMicros(issued), FromMicros(expires), FromMicros(created)
	return p, nil
}

// ListPostures implements store.AttestStore.
func (d *DB) ListPostures(ctx context.Context, scope store.Scope, tenant string, limit int) ([]store.Posture, error) {
	if !scope.Allows(tenant) {
		return []store.Posture{}, nil
	}
	if limit <= 0 {
		limit = 100
	}
	return queryAll(ctx, d, "listing postures", `SELECT `+postureCols+` FROM postures WHERE tenant = ? ORDER BY id DESC LIMIT ?`,
		[]any{tenant, min(limit, 10000)}, func(row interface{ Scan(...any) error }) (store.Posture, error) { return scanPosture(row) })
}

// GetPosture implements store.AttestStore.
func (d *DB) GetPosture(ctx context.Context, scope store.Scope, id int64) (*store.Posture, error) {
	var env string
	p, err := scanPosture(d.r.QueryRowContext(ctx, d.q(`SELECT `+postureCols+`, envelope FROM postures WHERE id = ?`), id), &env)
	if err == sql.ErrNoRows || (err == nil && !scope.Allows(p.Tenant)) {
		return nil, fmt.Errorf("posture %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading posture %d: %w", id, err)
	}
	p.Envelope = []byte(env)
	return &p, nil
}

var claimKinds = map[string]bool{store.ClaimAttestation: true, store.ClaimException: true, store.ClaimContract: true}

// PutClaim implements store.AttestStore.
func (d *DB) PutClaim(ctx context.Context, c *store.Claim) error {
	if !claimKinds[c.Kind] || c.Tenant == "" || c.By == "" {
		return fmt.Errorf("storing claim: kind, tenant and by are required: %w", store.ErrInvalid)
	}
	now := d.stamp()
	var exp int64
	if !c.Expires.IsZero() {
		exp = Micros(c.Expires)
	}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, d.q(`INSERT INTO claims (kind, tenant, control, body, by_user, owner, created, expires, evidence_name, evidence_sha256, evidence)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
			c.Kind, c.Tenant, c.Control, c.Body, c.By, c.Owner, Micros(now), exp, c.EvidenceName, c.EvidenceSHA256, c.Evidence).Scan(&c.ID)
	})
	if err != nil {
		return fmt.Errorf("storing claim: %w", err)
	}
	c.Created = now
	return nil
}

const claimCols = `id, kind, tenant, control, body, by_user, owner, created, expires, evidence_name, evidence_sha256, revoked, revoked_by`

func scanClaim(row interface{ Scan(...any) error }, extra ...any) (store.Claim, error) {
	var c store.Claim
	var created, expires, revoked int64
	err := row.Scan(append([]any{&c.ID, &c.Kind, &c.Tenant, &c.Control, &c.Body, &c.By, &c.Owner, &created, &expires,
		&c.EvidenceName, &c.EvidenceSHA256, &revoked, &c.RevokedBy}, extra...)...)
	if err != nil {
		return c, err
	}
	c.Created = FromMicros(created)
	if expires != 0 {
		c.Expires = FromMicros(expires)
	}
	if revoked != 0 {
		c.Revoked = FromMicros(revoked)
	}
	return c, nil
}

// ListClaims implements store.AttestStore.
func (d *DB) ListClaims(ctx context.Context, scope store.Scope, f store.ClaimFilter) ([]store.Claim, error) {
	cond, args := scopeCond(scope, "tenant")
	w := []string{cond}
	if f.Tenant != "" {
		w, args = append(w, "tenant = ?"), append(args, f.Tenant)
	}
	if f.Kind != "" {
		w, args = append(w, "kind = ?"), append(args, f.Kind)
	}
	if !f.ActiveAt.IsZero() {
		w, args = append(w, "revoked = 0 AND (expires = 0 OR expires > ?)"), append(args, Micros(f.ActiveAt))
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	return queryAll(ctx, d, "listing claims", `SELECT `+claimCols+` FROM claims WHERE `+strings.Join(w, " AND ")+` ORDER BY id DESC LIMIT ?`,
		append(args, min(limit, 100000)), func(row interface{ Scan(...any) error }) (store.Claim, error) { return scanClaim(row) })
}

// GetClaim implements store.AttestStore.
func (d *DB) GetClaim(ctx context.Context, scope store.Scope, id int64) (*store.Claim, error) {
	var ev []byte
	c, err := scanClaim(d.r.QueryRowContext(ctx, d.q(`SELECT `+claimCols+`, evidence FROM claims WHERE id = ?`), id), &ev)
	if err == sql.ErrNoRows || (err == nil && !scope.Allows(c.Tenant)) {
		return nil, fmt.Errorf("claim %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading claim %d: %w", id, err)
	}
	c.Evidence = ev
	return &c, nil
}

// RevokeClaim implements store.AttestStore.
func (d *DB) RevokeClaim(ctx context.Context, scope store.Scope, id int64, by string, at time.Time) error {
	cond, args := scopeCond(scope, "tenant")
	res, err := d.w.ExecContext(ctx, d.q(`UPDATE claims SET revoked = ?, revoked_by = ? WHERE id = ? AND revoked = 0 AND `+cond),
		append([]any{Micros(at), by, id}, args...)...)
	if err != nil {
		return fmt.Errorf("revoking claim %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoking claim %d: %w", id, store.ErrNotFound)
	}
	return nil
}
