package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

func testUsers(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	owner := &store.User{Username: "alice", Email: "alice@msp.example", Role: store.RoleOwner, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$salt$hash",
		TOTPSecret: "JBSWY3DPEHPK3PXP"}
	must(t, s.CreateUser(ctx, owner))
	wantErr(t, s.CreateUser(ctx, &store.User{Username: "alice", Role: store.RoleAnalyst}), store.ErrConflict)
	wantErr(t, s.CreateUser(ctx, &store.User{Username: "x", Role: "root"}), store.ErrInvalid)
	wantErr(t, s.CreateUser(ctx, &store.User{Username: "x", Role: store.RoleTenantViewer}), store.ErrInvalid)
	must(t, s.CreateUser(ctx, &store.User{Username: "viewer-a", Role: store.RoleTenantViewer, Tenant: Alpha}))
	must(t, s.CreateUser(ctx, &store.User{Username: "viewer-b", Role: store.RoleTenantViewer, Tenant: Bravo}))

	u, err := s.GetUser(ctx, "alice")
	must(t, err)
	if u.TOTPSecret.Reveal() != "JBSWY3DPEHPK3PXP" || u.PasswordHash != owner.PasswordHash || u.Role != store.RoleOwner || u.Created.IsZero() {
		t.Fatalf("user round trip = %+v", u)
	}
	// Secrets never reach logs or JSON.
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("user", "user", u, "secret", u.TOTPSecret)
	js, _ := json.Marshal(u)
	for _, out := range []string{logBuf.String(), string(js), fmt.Sprintf("%v %+v %#v %s", u.TOTPSecret, u.TOTPSecret, u.TOTPSecret, u.TOTPSecret)} {
		if strings.Contains(out, "JBSWY3DP") || strings.Contains(out, "argon2id") {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if _, err := s.GetUser(ctx, "nobody"); !isNotFound(err) {
		t.Errorf("GetUser(nobody) = %v", err)
	}

	// TOTP replay refusal.
	must(t, s.UseTOTPStep(ctx, "alice", 100))
	wantErr(t, s.UseTOTPStep(ctx, "alice", 100), store.ErrReplay)
	wantErr(t, s.UseTOTPStep(ctx, "alice", 99), store.ErrReplay)
	must(t, s.UseTOTPStep(ctx, "alice", 101))
	wantErr(t, s.UseTOTPStep(ctx, "nobody", 1), store.ErrNotFound)
	must(t, s.SetTOTP(ctx, "alice", "NEWSECRET234567", true))
	u, _ = s.GetUser(ctx, "alice")
	if u.TOTPSecret != "NEWSECRET234567" || !u.TOTPEnrolled || u.TOTPLastStep != 0 {
		t.Errorf("after SetTOTP: %+v step %d", u, u.TOTPLastStep)
	}

	// Lockout after 3 failures, cleared by a success.
	for i := 1; i <= 2; i++ {
		u, err = s.RecordLoginFailure(ctx, "alice", T0, 3, 15*time.Minute)
		must(t, err)
		if u.FailedLogins != i || u.Locked(T0) {
			t.Fatalf("failure %d: %+v", i, u)
		}
	}
	u, err = s.RecordLoginFailure(ctx, "alice", T0, 3, 15*time.Minute)
	must(t, err)
	if !u.Locked(T0.Add(14*time.Minute)) || u.Locked(T0.Add(15*time.Minute)) {
		t.Fatalf("lock: %+v", u)
	}
	must(t, s.RecordLoginSuccess(ctx, "alice", T0.Add(time.Hour)))
	u, _ = s.GetUser(ctx, "alice")
	if u.FailedLogins != 0 || !u.LockedUntil.IsZero() || !u.LastLogin.Equal(T0.Add(time.Hour)) {
		t.Errorf("after success: %+v", u)
	}
	if _, err := s.RecordLoginFailure(ctx, "nobody", T0, 3, time.Minute); !isNotFound(err) {
		t.Errorf("failure of unknown user = %v", err)
	}

	must(t, s.SetPassword(ctx, "alice", "$argon2id$new", true))
	must(t, s.SetWebAuthn(ctx, "alice", []byte(`[ {"id": "cred1"} ]`)))
	u, _ = s.GetUser(ctx, "alice")
	if u.PasswordHash != "$argon2id$new" || !u.MustChangePassword || string(u.WebAuthn) != `[{"id":"cred1"}]` {
		t.Errorf("password/webauthn: %q one-time %v %s", u.PasswordHash, u.MustChangePassword, u.WebAuthn)
	}
	must(t, s.SetPassword(ctx, "alice", "$argon2id$new", false))
	must(t, s.SetOIDCSubject(ctx, "alice", "https://idp.example#u-1"))
	if u, _ = s.GetUser(ctx, "alice"); u.OIDCSubject != "https://idp.example#u-1" {
		t.Errorf("OIDC subject %q after linking", u.OIDCSubject)
	}
	wantErr(t, s.SetOIDCSubject(ctx, "nobody", "x"), store.ErrNotFound)
	if u, _ = s.GetUser(ctx, "alice"); u.MustChangePassword {
		t.Error("a password the user chose is still marked one-time")
	}
	u.Role, u.Email, u.Disabled = store.RoleAnalyst, "a@x", true
	must(t, s.UpdateUser(ctx, u))
	u, _ = s.GetUser(ctx, "alice")
	if u.Role != store.RoleAnalyst || !u.Disabled || u.PasswordHash != "$argon2id$new" {
		t.Errorf("UpdateUser: %+v", u)
	}
	wantErr(t, s.UpdateUser(ctx, &store.User{Username: "nobody", Role: store.RoleAnalyst}), store.ErrNotFound)

	users, err := s.ListUsers(ctx, store.AllTenants())
	must(t, err)
	if len(users) != 3 || users[0].Username != "alice" {
		t.Errorf("ListUsers = %+v", users)
	}
	users, err = s.ListUsers(ctx, store.TenantScope(Alpha))
	must(t, err)
	if len(users) != 1 || users[0].Username != "viewer-a" {
		t.Errorf("alpha ListUsers = %+v", users)
	}
	if sc := (&store.User{Role: store.RoleTenantViewer, Tenant: Alpha}).Scope(); sc != store.TenantScope(Alpha) {
		t.Errorf("viewer scope = %v", sc)
	}
	must(t, s.DeleteUser(ctx, "viewer-b"))
	wantErr(t, s.DeleteUser(ctx, "viewer-b"), store.ErrNotFound)
}

func testSessions(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	must(t, s.CreateUser(ctx, &store.User{Username: "alice", Role: store.RoleOwner}))
	tok := store.Secret("session-token-abc")
	sess := &store.Session{Username: "alice", CSRF: "csrf-1", Created: T0, Expires: T0.Add(time.Hour), LastSeen: T0, IP: "192.0.2.1", Agent: "test"}
	must(t, s.CreateSession(ctx, tok, sess))
	wantErr(t, s.CreateSession(ctx, tok, sess), store.ErrConflict)
	got, err := s.GetSession(ctx, tok, T0.Add(time.Minute))
	must(t, err)
	if got.Username != "alice" || got.CSRF != "csrf-1" || got.MFA || !got.Expires.Equal(T0.Add(time.Hour)) {
		t.Fatalf("session = %+v", got)
	}
	if _, err := s.GetSession(ctx, "other-token", T0); !isNotFound(err) {
		t.Errorf("unknown session = %v", err)
	}
	wantErr(t, func() error { _, err := s.GetSession(ctx, tok, T0.Add(time.Hour)); return err }(), store.ErrExpired)
	got.MFA, got.Expires, got.CSRF = true, T0.Add(2*time.Hour), "csrf-2"
	must(t, s.UpdateSession(ctx, tok, got))
	got, err = s.GetSession(ctx, tok, T0.Add(90*time.Minute))
	must(t, err)
	if !got.MFA || got.CSRF != "csrf-2" {
		t.Errorf("updated session = %+v", got)
	}
	must(t, s.CreateSession(ctx, "second", &store.Session{Username: "alice", Expires: T0.Add(time.Minute)}))
	must(t, s.CreateSession(ctx, "third", &store.Session{Username: "alice", Expires: T0.Add(3 * time.Hour)}))
	n, err := s.PurgeSessions(ctx, T0.Add(time.Hour))
	must(t, err)
	if n != 1 {
		t.Errorf("purged %d sessions, want 1", n)
	}
	must(t, s.DeleteSession(ctx, "third"))
	if _, err := s.GetSession(ctx, "third", T0); !isNotFound(err) {
		t.Errorf("deleted session = %v", err)
	}
	must(t, s.DeleteUserSessions(ctx, "alice"))
	if _, err := s.GetSession(ctx, tok, T0); !isNotFound(err) {
		t.Errorf("session after logout everywhere = %v", err)
	}
}

func testTokens(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	raw := store.Secret("fbk_alpha_0123456789abcdef")
	tok := &store.APIToken{ID: "tok-alpha", Name: "alpha syslog", Prefix: "fbk_alph", Tenant: Alpha, Source: "syslog", Permissions: []string{store.PermIngest}, CreatedBy: "alice"}
	must(t, s.CreateAPIToken(ctx, raw, tok))
	wantErr(t, s.CreateAPIToken(ctx, "different", &store.APIToken{ID: "tok-alpha"}), store.ErrConflict)
	wantErr(t, s.CreateAPIToken(ctx, raw, &store.APIToken{ID: "tok-dup-secret"}), store.ErrConflict)
	must(t, s.CreateAPIToken(ctx, "fbk_msp_reader", &store.APIToken{ID: "tok-msp", Permissions: []string{store.PermRead}, Expires: T0.Add(time.Hour)}))
	must(t, s.CreateAPIToken(ctx, "fbk_bravo", &store.APIToken{ID: "tok-bravo", Tenant: Bravo, Permissions: []string{store.PermIngest}}))

	got, err := s.UseAPIToken(ctx, raw, T0)
	must(t, err)
	if got.ID != "tok-alpha" || !got.Can(store.PermIngest) || got.Can(store.PermRead) || got.Scope() != store.TenantScope(Alpha) || !got.LastUsed.Equal(T0) {
		t.Fatalf("UseAPIToken = %+v", got)
	}
	got, err = s.UseAPIToken(ctx, raw, T0.Add(30*time.Second))
	must(t, err)
	if !got.LastUsed.Equal(T0) {
		t.Errorf("LastUsed rewritten within a minute: %v", got.LastUsed)
	}
	if _, err := s.UseAPIToken(ctx, "fbk_wrong", T0); !isNotFound(err) {
		t.Errorf("unknown token = %v", err)
	}
	if _, err := s.UseAPIToken(ctx, "fbk_msp_reader", T0.Add(time.Hour)); !errorsIs(err, store.ErrExpired) {
		t.Errorf("expired token = %v", err)
	}
	list, err := s.ListAPITokens(ctx, store.TenantScope(Alpha))
	must(t, err)
	if len(list) != 1 || list[0].ID != "tok-alpha" {
		t.Errorf("alpha tokens = %+v", list)
	}
	list, err = s.ListAPITokens(ctx, all)
	must(t, err)
	if len(list) != 3 {
		t.Errorf("all tokens = %+v", list)
	}
	js, _ := json.Marshal(list)
	if strings.Contains(string(js), "0123456789abcdef") {
		t.Errorf("raw token in listing: %s", js)
	}
	if err := s.RevokeAPIToken(ctx, store.TenantScope(Alpha), "tok-bravo", T0); !isNotFound(err) {
		t.Errorf("alpha revokes bravo's token: %v", err)
	}
	must(t, s.RevokeAPIToken(ctx, store.TenantScope(Alpha), "tok-alpha", T0))
	must(t, s.RevokeAPIToken(ctx, all, "tok-alpha", T0.Add(time.Hour)))
	if _, err := s.UseAPIToken(ctx, raw, T0); !errorsIs(err, store.ErrRevoked) {
		t.Errorf("revoked token = %v", err)
	}
	list, _ = s.ListAPITokens(ctx, store.TenantScope(Alpha))
	if !list[0].Revoked.Equal(T0) {
		t.Errorf("revoked at %v, want first revocation %v", list[0].Revoked, T0)
	}
}

func testTargets(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	all := store.AllTenants()
	cfg := []byte(`{"url":"https://hooks.example/x","secret":"hmac-key-123"}`)
	wh := &store.NotifyTarget{ID: "soc-webhook", Name: "SOC", Kind: store.TargetWebhook, MinSeverity: "high", Enabled: true, Config: cfg}
	must(t, s.PutNotifyTarget(ctx, all, wh))
	wantErr(t, s.PutNotifyTarget(ctx, all, &store.NotifyTarget{ID: "x", Kind: "pager"}), store.ErrInvalid)
	wantErr(t, s.PutNotifyTarget(ctx, store.TenantScope(Alpha), &store.NotifyTarget{ID: "soc-webhook", Kind: store.TargetSlack, Tenant: Alpha}), store.ErrForbidden)
	wantErr(t, s.PutNotifyTarget(ctx, store.TenantScope(Alpha), &store.NotifyTarget{ID: "a", Kind: store.TargetSlack, Tenant: Bravo}), store.ErrForbidden)
	must(t, s.PutNotifyTarget(ctx, store.TenantScope(Alpha), &store.NotifyTarget{ID: "alpha-mail", Kind: store.TargetSMTP, Tenant: Alpha, Enabled: true, Config: []byte(`{"password":"pw"}`)}))
	must(t, s.PutNotifyTarget(ctx, all, &store.NotifyTarget{ID: "bravo-teams", Kind: store.TargetTeams, Tenant: Bravo}))

	got, err := s.GetNotifyTarget(ctx, all, "soc-webhook")
	must(t, err)
	if string(got.Config) != string(cfg) || got.Kind != store.TargetWebhook || !got.Enabled || got.Created.IsZero() {
		t.Fatalf("target = %+v config %s", got, got.Config)
	}
	js, _ := json.Marshal(got)
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("t", "target", got)
	if strings.Contains(string(js)+logBuf.String(), "hmac-key-123") {
		t.Errorf("target secret leaked: %s %s", js, logBuf.String())
	}
	wh.Name = "SOC 2"
	must(t, s.PutNotifyTarget(ctx, all, wh))
	got, _ = s.GetNotifyTarget(ctx, all, "soc-webhook")
	if got.Name != "SOC 2" {
		t.Errorf("update: %+v", got)
	}
	list, err := s.ListNotifyTargets(ctx, store.TenantScope(Alpha))
	must(t, err)
	if len(list) != 1 || list[0].ID != "alpha-mail" {
		t.Errorf("alpha targets = %+v", list)
	}
	if _, err := s.GetNotifyTarget(ctx, store.TenantScope(Alpha), "soc-webhook"); !isNotFound(err) {
		t.Errorf("alpha reads MSP target: %v", err)
	}
	must(t, s.RecordDelivery(ctx, "soc-webhook", T0, ""))
	must(t, s.RecordDelivery(ctx, "soc-webhook", T0.Add(time.Minute), "503 after 5 attempts"))
	got, _ = s.GetNotifyTarget(ctx, all, "soc-webhook")
	if got.Sent != 1 || got.Failed != 1 || got.LastError != "503 after 5 attempts" || !got.LastAt.Equal(T0.Add(time.Minute)) {
		t.Errorf("delivery counters: %+v", got)
	}
	wantErr(t, s.DeleteNotifyTarget(ctx, store.TenantScope(Alpha), "bravo-teams"), store.ErrNotFound)
	must(t, s.DeleteNotifyTarget(ctx, all, "bravo-teams"))
	list, _ = s.ListNotifyTargets(ctx, all)
	if len(list) != 2 {
		t.Errorf("after delete: %+v", list)
	}
}
