package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// Credentials are a freshly created account's one-time secrets.
type Credentials struct {
	Username   string
	Password   store.Secret
	TOTPSecret store.Secret // empty when enrolment happens at first sign-in
	TOTPURI    store.Secret
}

// LogValue keeps the secrets out of logs.
func (c Credentials) LogValue() slog.Value { return slog.StringValue("user " + c.Username) }

// BootstrapOwner creates an owner account when the store has no users yet
// and returns its credentials; nil when users already exist. With enrolTOTP
// the TOTP secret is created and marked enrolled now (the demo prints it);
// otherwise the owner enrols at first sign-in. Either way the printed
// password is one-time: the owner replaces it before anything else
// (MustChangePassword), so a password that went through a terminal, a log
// collector or a screenshot never stays valid.
func BootstrapOwner(ctx context.Context, st store.Store, username string, enrolTOTP bool) (*Credentials, error) {
	users, err := st.ListUsers(ctx, store.AllTenants())
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	if len(users) > 0 {
		return nil, nil
	}
	pw, err := RandomPassword(20)
	if err != nil {
		return nil, err
	}
	hash, err := HashPassword(pw)
	if err != nil {
		return nil, err
	}
	u := &store.User{Username: username, Role: store.RoleOwner, PasswordHash: hash, MustChangePassword: true}
	if err := st.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Another replica starting at the same time created it first.
			return nil, nil
		}
		return nil, fmt.Errorf("creating owner: %w", err)
	}
	c := &Credentials{Username: username, Password: store.Secret(pw)}
	if enrolTOTP {
		sec, err := NewTOTPSecret()
		if err != nil {
			return nil, err
		}
		if err := st.SetTOTP(ctx, username, store.Secret(sec), true); err != nil {
			return nil, fmt.Errorf("setting TOTP: %w", err)
		}
		c.TOTPSecret = store.Secret(sec)
		c.TOTPURI = store.Secret(TOTPURI(TOTPIssuer, username, sec))
	}
	e := &store.AuditEntry{Actor: "system", Action: "user.bootstrap", Target: username}
	e.Detail, _ = json.Marshal(map[string]any{"role": "owner", "totp_enrolled": enrolTOTP})
	if err := st.AppendAudit(ctx, e); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return c, nil
}
