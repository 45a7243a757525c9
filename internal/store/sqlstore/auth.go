package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

const userCols = `username, email, role, tenant, password_hash, totp_secret, totp_enrolled, totp_last_step, failed_logins, locked_until, webauthn, disabled, created, updated, last_login, must_change_password, oidc_subject`

func (d *DB) scanUser(row interface{ Scan(...any) error }) (*store.User, error) {
	var u store.User
	var role, secret, webauthn string
	var enrolled, disabled, mustChange int
	var locked, created, updated, last int64
	if err := row.Scan(&u.Username, &u.Email, &role, &u.Tenant, &u.PasswordHash, &secret, &enrolled, &u.TOTPLastStep, &u.FailedLogins,
		&locked, &webauthn, &disabled, &created, &updated, &last, &mustChange, &u.OIDCSubject); err != nil {
		return nil, err
	}
	u.Role = store.Role(role)
	u.TOTPEnrolled, u.Disabled, u.MustChangePassword = enrolled != 0, disabled != 0, mustChange != 0
	u.LockedUntil, u.Created, u.Updated, u.LastLogin = FromMicros(locked), FromMicros(created), FromMicros(updated), FromMicros(last)
	if webauthn != "" {
		u.WebAuthn = json.RawMessage(webauthn)
	}
	if secret != "" {
		pt, err := d.cfg.Box.Open(secret)
		if err != nil {
			return nil, fmt.Errorf("user %s: totp secret: %w", u.Username, err)
		}
		u.TOTPSecret = store.Secret(pt)
	}
	return &u, nil
}

func checkUser(u *store.User) error {
	if u.Username == "" || !u.Role.Valid() || (u.Role.TenantBound() && u.Tenant == "") {
		return fmt.Errorf("user %q role %q tenant %q: %w", u.Username, u.Role, u.Tenant, store.ErrInvalid)
	}
	return nil
}

// CreateUser implements store.UserStore.
func (d *DB) CreateUser(ctx context.Context, u *store.User) error {
	if err := checkUser(u); err != nil {
		return fmt.Errorf("creating user: %w", err)
	}
	secret, err := d.cfg.Box.Seal([]byte(u.TOTPSecret.Reveal()))
	if err != nil {
		return fmt.Errorf("creating user %s: %w", u.Username, err)
	}
	now := d.stamp()
	u.Created, u.Updated = now, now
	err = d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.q(`INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			u.Username, u.Email, string(u.Role), u.Tenant, u.PasswordHash, secret, b2i(u.TOTPEnrolled), u.TOTPLastStep, u.FailedLogins,
			Micros(u.LockedUntil), string(u.WebAuthn), b2i(u.Disabled), Micros(now), Micros(now), Micros(u.LastLogin), b2i(u.MustChangePassword), u.OIDCSubject)
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("creating user %s: %w", u.Username, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("creating user %s: %w", u.Username, err)
	}
	return nil
}

// GetUser implements store.UserStore.
func (d *DB) GetUser(ctx context.Context, username string) (*store.User, error) {
	u, err := d.scanUser(d.r.QueryRowContext(ctx, d.q(`SELECT `+userCols+` FROM users WHERE username = ?`), username))
	if err != nil {
		return nil, fmt.Errorf("reading user %s: %w", username, noRows(err))
	}
	return u, nil
}

// ListUsers implements store.UserStore.
func (d *DB) ListUsers(ctx context.Context, scope store.Scope) ([]store.User, error) {
	cond, args := scopeCond(scope, "tenant")
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+userCols+` FROM users WHERE `+cond+` ORDER BY username`), args...)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	out := []store.User{}
	for rows.Next() {
		u, err := d.scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		out = append(out, *u)
	}
	return out, rows.Err()
}

// execUser runs an UPDATE/DELETE on one user, ErrNotFound when absent.
func (d *DB) execUser(ctx context.Context, what, username, stmt string, args ...any) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(stmt), args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, username, err)
	}
	return nil
}

// UpdateUser implements store.UserStore.
func (d *DB) UpdateUser(ctx context.Context, u *store.User) error {
	if err := checkUser(u); err != nil {
		return fmt.Errorf("updating user: %w", err)
	}
	return d.execUser(ctx, "updating user", u.Username, `UPDATE users SET email = ?, role = ?, tenant = ?, disabled = ?, updated = ? WHERE username = ?`,
		u.Email, string(u.Role), u.Tenant, b2i(u.Disabled), Micros(d.stamp()), u.Username)
}

// DeleteUser implements store.UserStore. The user's sessions go with it.
func (d *DB) DeleteUser(ctx context.Context, username string) error {
	if err := d.DeleteUserSessions(ctx, username); err != nil {
		return err
	}
	return d.execUser(ctx, "deleting user", username, `DELETE FROM users WHERE username = ?`, username)
}

// SetOIDCSubject implements store.UserStore.
func (d *DB) SetOIDCSubject(ctx context.Context, username, subject string) error {
	return d.execUser(ctx, "linking single sign-on of", username, `UPDATE users SET oidc_subject = ?, updated = ? WHERE username = ?`,
		subject, Micros(d.stamp()), username)
}

// SetPassword implements store.UserStore.
func (d *DB) SetPassword(ctx context.Context, username, hash string, mustChange bool) error {
	return d.execUser(ctx, "setting password of", username, `UPDATE users SET password_hash = ?, must_change_password = ?, updated = ? WHERE username = ?`,
		hash, b2i(mustChange), Micros(d.stamp()), username)
}

// SetTOTP implements store.UserStore.
func (d *DB) SetTOTP(ctx context.Context, username string, secret store.Secret, enrolled bool) error {
	sealed, err := d.cfg.Box.Seal([]byte(secret.Reveal()))
	if err != nil {
		return fmt.Errorf("setting totp of %s: %w", username, err)
	}
	return d.execUser(ctx, "setting totp of", username, `UPDATE users SET totp_secret = ?, totp_enrolled = ?, totp_last_step = 0, updated = ? WHERE username = ?`,
		sealed, b2i(enrolled && secret != ""), Micros(d.stamp()), username)
}

// UseTOTPStep implements store.UserStore.
func (d *DB) UseTOTPStep(ctx context.Context, username string, step int64) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`UPDATE users SET totp_last_step = ? WHERE username = ? AND totp_last_step < ?`), step, username, step)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var x string
		if err := tx.QueryRowContext(ctx, d.q(`SELECT username FROM users WHERE username = ?`), username).Scan(&x); err != nil {
			return noRows(err)
		}
		return store.ErrReplay
	})
	if err != nil {
		return fmt.Errorf("using totp step of %s: %w", username, err)
	}
	return nil
}

// RecordLoginFailure implements store.UserStore.
func (d *DB) RecordLoginFailure(ctx context.Context, username string, at time.Time, maxFailures int, lockFor time.Duration) (*store.User, error) {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var failed int
		if err := tx.QueryRowContext(ctx, d.q(`SELECT failed_logins FROM users WHERE username = ?`+d.forUpdate()), username).Scan(&failed); err != nil {
			return noRows(err)
		}
		failed++
		var locked int64
		if maxFailures > 0 && failed >= maxFailures {
			locked = Micros(at.Add(lockFor).UTC().Truncate(time.Microsecond))
			failed = 0
			_, err := tx.ExecContext(ctx, d.q(`UPDATE users SET failed_logins = ?, locked_until = ? WHERE username = ?`), failed, locked, username)
			return err
		}
		_, err := tx.ExecContext(ctx, d.q(`UPDATE users SET failed_logins = ? WHERE username = ?`), failed, username)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("recording login failure of %s: %w", username, err)
	}
	return d.GetUser(ctx, username)
}

// RecordLoginSuccess implements store.UserStore.
func (d *DB) RecordLoginSuccess(ctx context.Context, username string, at time.Time) error {
	return d.execUser(ctx, "recording login of", username, `UPDATE users SET failed_logins = 0, locked_until = 0, last_login = ? WHERE username = ?`,
		Micros(at.UTC().Truncate(time.Microsecond)), username)
}

// SetWebAuthn implements store.UserStore.
func (d *DB) SetWebAuthn(ctx context.Context, username string, creds json.RawMessage) error {
	return d.execUser(ctx, "setting webauthn of", username, `UPDATE users SET webauthn = ?, updated = ? WHERE username = ?`,
		string(store.CompactJSON(creds)), Micros(d.stamp()), username)
}

// ---------------------------------------------------------------------------
// Sessions

const sessCols = `username, csrf, mfa, created, expires, last_seen, ip, agent`

// CreateSession implements store.SessionStore.
func (d *DB) CreateSession(ctx context.Context, token store.Secret, s *store.Session) error {
	if token == "" || s.Username == "" {
		return fmt.Errorf("creating session: %w", store.ErrInvalid)
	}
	if s.Created.IsZero() {
		s.Created = d.stamp()
	}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.q(`INSERT INTO sessions (id_hash, `+sessCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			store.HashToken(token), s.Username, s.CSRF.Reveal(), b2i(s.MFA), Micros(s.Created), Micros(s.Expires), Micros(s.LastSeen), s.IP, s.Agent)
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("creating session: %w", store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("creating session for %s: %w", s.Username, err)
	}
	return nil
}

// GetSession implements store.SessionStore.
func (d *DB) GetSession(ctx context.Context, token store.Secret, now time.Time) (*store.Session, error) {
	var s store.Session
	var csrf string
	var mfa int
	var created, expires, seen int64
	err := d.r.QueryRowContext(ctx, d.q(`SELECT `+sessCols+` FROM sessions WHERE id_hash = ?`), store.HashToken(token)).
		Scan(&s.Username, &csrf, &mfa, &created, &expires, &seen, &s.IP, &s.Agent)
	if err != nil {
		return nil, fmt.Errorf("reading session: %w", noRows(err))
	}
	s.CSRF, s.MFA = store.Secret(csrf), mfa != 0
	s.Created, s.Expires, s.LastSeen = FromMicros(created), FromMicros(expires), FromMicros(seen)
	if !now.Before(s.Expires) {
		return nil, fmt.Errorf("reading session: %w", store.ErrExpired)
	}
	return &s, nil
}

// UpdateSession implements store.SessionStore.
func (d *DB) UpdateSession(ctx context.Context, token store.Secret, s *store.Session) error {
	return d.execUser(ctx, "updating session of", s.Username, `UPDATE sessions SET mfa = ?, expires = ?, last_seen = ?, csrf = ? WHERE id_hash = ?`,
		b2i(s.MFA), Micros(s.Expires), Micros(s.LastSeen), s.CSRF.Reveal(), store.HashToken(token))
}

// DeleteSession implements store.SessionStore. Deleting an unknown session is not an error.
func (d *DB) DeleteSession(ctx context.Context, token store.Secret) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE id_hash = ?`), store.HashToken(token))
		return err
	})
}

// DeleteUserSessions implements store.SessionStore.
func (d *DB) DeleteUserSessions(ctx context.Context, username string) error {
	return d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE username = ?`), username)
		return err
	})
}

// PurgeSessions implements store.SessionStore.
func (d *DB) PurgeSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := d.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, d.q(`DELETE FROM sessions WHERE expires <= ?`), Micros(now))
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return n, err
}

// ---------------------------------------------------------------------------
// API tokens

const tokCols = `id, name, prefix, tenant, source, permissions, created_by, created, expires, last_used, revoked`

func scanToken(row interface{ Scan(...any) error }) (*store.APIToken, error) {
	var t store.APIToken
	var perms string
	var created, expires, used, revoked int64
	if err := row.Scan(&t.ID, &t.Name, &t.Prefix, &t.Tenant, &t.Source, &perms, &t.CreatedBy, &created, &expires, &used, &revoked); err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(perms), &t.Permissions)
	t.Created, t.Expires, t.LastUsed, t.Revoked = FromMicros(created), FromMicros(expires), FromMicros(used), FromMicros(revoked)
	return &t, nil
}

// CreateAPIToken implements store.TokenStore.
func (d *DB) CreateAPIToken(ctx context.Context, raw store.Secret, t *store.APIToken) error {
	if raw == "" || t.ID == "" {
		return fmt.Errorf("creating api token: %w", store.ErrInvalid)
	}
	t.Created = d.stamp()
	if t.Permissions == nil {
		t.Permissions = []string{}
	}
	err := d.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, d.q(`INSERT INTO api_tokens (hash, `+tokCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			store.HashToken(raw), t.ID, t.Name, t.Prefix, t.Tenant, t.Source, jsonText(t.Permissions), t.CreatedBy, Micros(t.Created),
			Micros(t.Expires.UTC().Truncate(time.Microsecond)), 0, 0)
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("creating api token %s: %w", t.ID, store.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("creating api token %s: %w", t.ID, err)
	}
	return nil
}

// UseAPIToken implements store.TokenStore.
func (d *DB) UseAPIToken(ctx context.Context, raw store.Secret, at time.Time) (*store.APIToken, error) {
	t, err := scanToken(d.r.QueryRowContext(ctx, d.q(`SELECT `+tokCols+` FROM api_tokens WHERE hash = ?`), store.HashToken(raw)))
	if err != nil {
		return nil, fmt.Errorf("api token: %w", noRows(err))
	}
	if !t.Revoked.IsZero() {
		return nil, fmt.Errorf("api token %s: %w", t.ID, store.ErrRevoked)
	}
	if !t.Expires.IsZero() && !at.Before(t.Expires) {
		return nil, fmt.Errorf("api token %s: %w", t.ID, store.ErrExpired)
	}
	if at.Sub(t.LastUsed) >= time.Minute {
		t.LastUsed = at.UTC().Truncate(time.Microsecond)
		if err := d.tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, d.q(`UPDATE api_tokens SET last_used = ? WHERE id = ?`), Micros(t.LastUsed), t.ID)
			return err
		}); err != nil {
			return nil, fmt.Errorf("api token %s: recording use: %w", t.ID, err)
		}
	}
	return t, nil
}

// ListAPITokens implements store.TokenStore.
func (d *DB) ListAPITokens(ctx context.Context, scope store.Scope) ([]store.APIToken, error) {
	cond, args := scopeCond(scope, "tenant")
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+tokCols+` FROM api_tokens WHERE `+cond+` ORDER BY created, id`), args...)
	if err != nil {
		return nil, fmt.Errorf("listing api tokens: %w", err)
	}
	defer rows.Close()
	out := []store.APIToken{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// RevokeAPIToken implements store.TokenStore. Revoking twice keeps the first time.
func (d *DB) RevokeAPIToken(ctx context.Context, scope store.Scope, id string, at time.Time) error {
	cond, args := scopeCond(scope, "tenant")
	err := d.tx(ctx, func(tx *sql.Tx) error {
		var revoked int64
		if err := tx.QueryRowContext(ctx, d.q(`SELECT revoked FROM api_tokens WHERE id = ? AND `+cond), append([]any{id}, args...)...).Scan(&revoked); err != nil {
			return noRows(err)
		}
		if revoked != 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, d.q(`UPDATE api_tokens SET revoked = ? WHERE id = ?`), Micros(at.UTC().Truncate(time.Microsecond)), id)
		return err
	})
	if err != nil {
		return fmt.Errorf("revoking api token %s: %w", id, err)
	}
	return nil
}
