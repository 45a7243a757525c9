package server

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/notify"
	"github.com/firebreak-msp/firebreak/internal/store"
)

type settingsPage struct {
	pageBase
	Users      []store.User
	Tokens     []store.APIToken
	Targets    []store.NotifyTarget
	Tenants    []store.Tenant
	NewSecret  string // a one-time password or token, shown once
	NewWhat    string
	Error      string
	TargetKind []string
}

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$`)

func (s *Server) settingsData(ctx context.Context, p *auth.Principal) (*settingsPage, error) {
	pg := &settingsPage{pageBase: s.basePage(ctx, p, "Settings", "settings"),
		TargetKind: []string{store.TargetWebhook, store.TargetSlack, store.TargetTeams, store.TargetSyslog, store.TargetSMTP}}
	var err error
	if pg.Users, err = s.st.ListUsers(ctx, p.Scope); err != nil {
		return nil, err
	}
	if pg.Tokens, err = s.st.ListAPITokens(ctx, p.Scope); err != nil {
		return nil, err
	}
	if pg.Targets, err = s.st.ListNotifyTargets(ctx, p.Scope); err != nil {
		return nil, err
	}
	if pg.Tenants, err = s.st.ListTenants(ctx, p.Scope); err != nil {
		return nil, err
	}
	return pg, nil
}

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	pg, err := s.settingsData(r.Context(), p)
	if err != nil {
		return err
	}
	return s.render(w, r, "settings", pg)
}

// settingsResult re-renders settings with a one-time secret or an error.
func (s *Server) settingsResult(w http.ResponseWriter, r *http.Request, p *auth.Principal, what, secret string, opErr error) error {
	pg, err := s.settingsData(r.Context(), p)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if opErr != nil {
		status, pg.Error = classify(opErr)
		if status >= 500 {
			s.log.Error("settings change failed", "err", opErr)
		}
	} else {
		pg.NewWhat, pg.NewSecret = what, secret
		if secret == "" {
			pg.Flash = what
		}
	}
	s.renderStatus(w, r, status, "settings", pg)
	return nil
}

// userRequest creates or updates a user.
type userRequest struct {
	Username string     `json:"username"`
	Email    string     `json:"email,omitempty"`
	Role     store.Role `json:"role"`
	Tenant   string     `json:"tenant,omitempty"`
	Disabled bool       `json:"disabled,omitempty"`
}

func (s *Server) validateUser(ctx context.Context, u userRequest) error {
	if !usernameRE.MatchString(u.Username) {
		return errBadRequest("username: 2-64 characters of letters, digits, . _ @ -")
	}
	if !u.Role.Valid() {
		return errBadRequest("role: expected owner, analyst, tenant_viewer or tenant_attester")
	}
	if u.Role.TenantBound() {
		if u.Tenant == "" {
			return errBadRequest("tenant: required for %s", u.Role)
		}
		if known := s.work.KnownTenants(ctx); known != nil && !known[u.Tenant] {
			return errBadRequest("tenant: unknown tenant")
		}
	} else if u.Tenant != "" {
		return errBadRequest("tenant: only for tenant_viewer")
	}
	if len(u.Email) > 254 || strings.ContainsAny(u.Email, "\r\n<>") {
		return errBadRequest("email: invalid")
	}
	return nil
}

// createUser makes a user with a random one-time password; TOTP enrolment
// happens at first sign-in.
func (s *Server) createUser(ctx context.Context, p *auth.Principal, req userRequest) (*store.User, string, error) {
	if err := s.validateUser(ctx, req); err != nil {
		return nil, "", err
	}
	pw, err := auth.RandomPassword(20)
	if err != nil {
		return nil, "", err
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return nil, "", err
	}
	u := &store.User{Username: req.Username, Email: req.Email, Role: req.Role, Tenant: req.Tenant, PasswordHash: hash, MustChangePassword: true}
	if err := s.st.CreateUser(ctx, u); err != nil {
		return nil, "", err
	}
	s.audit(ctx, p, "user.create", u.Username, u.Tenant, map[string]string{"role": string(u.Role)})
	return u, pw, nil
}

func (s *Server) handleUserForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	req := userRequest{Username: strings.TrimSpace(r.PostFormValue("username")), Email: strings.TrimSpace(r.PostFormValue("email")),
		Role: store.Role(r.PostFormValue("role")), Tenant: r.PostFormValue("tenant")}
	if !req.Role.TenantBound() {
		req.Tenant = ""
	}
	u, pw, err := s.createUser(ctx, p, req)
	if err != nil {
		return s.settingsResult(w, r, p, "", "", err)
	}
	return s.settingsResult(w, r, p, "One-time password for "+u.Username+" (shown once; they set up TOTP at first sign-in)", pw, nil)
}

func (s *Server) deleteUser(ctx context.Context, p *auth.Principal, username string) error {
	if p.User != nil && username == p.User.Username {
		return errBadRequest("you cannot delete yourself")
	}
	u, err := s.st.GetUser(ctx, username)
	if err != nil {
		return err
	}
	if err := s.st.DeleteUser(ctx, username); err != nil {
		return err
	}
	_ = s.st.DeleteUserSessions(ctx, username)
	s.audit(ctx, p, "user.delete", username, u.Tenant, nil)
	return nil
}

func (s *Server) handleUserDeleteForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	err := s.deleteUser(r.Context(), p, r.PathValue("username"))
	return s.settingsResult(w, r, p, "User deleted.", "", err)
}

func (s *Server) resetUser(ctx context.Context, p *auth.Principal, username string) (string, error) {
	u, err := s.st.GetUser(ctx, username)
	if err != nil {
		return "", err
	}
	pw, err := auth.RandomPassword(20)
	if err != nil {
		return "", err
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return "", err
	}
	if err := s.st.SetPassword(ctx, username, hash, true); err != nil {
		return "", err
	}
	if err := s.st.SetTOTP(ctx, username, "", false); err != nil {
		return "", err
	}
	_ = s.st.DeleteUserSessions(ctx, username)
	s.audit(ctx, p, "user.reset", username, u.Tenant, nil)
	return pw, nil
}

func (s *Server) handleUserResetForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	name := r.PathValue("username")
	pw, err := s.resetUser(r.Context(), p, name)
	return s.settingsResult(w, r, p, "New one-time password for "+name+" (TOTP must be enrolled again)", pw, err)
}

// tokenRequest creates an API token.
type tokenRequest struct {
	Name        string   `json:"name"`
	Tenant      string   `json:"tenant,omitempty"`
	Source      string   `json:"source,omitempty"`
	Permissions []string `json:"permissions"`
	ExpiresDays int      `json:"expires_days,omitempty"`
}

type tokenCreated struct {
	Token string          `json:"token"` // shown once
	Info  *store.APIToken `json:"info"`
}

func (s *Server) createToken(ctx context.Context, p *auth.Principal, req tokenRequest) (*tokenCreated, error) {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		return nil, errBadRequest("name: 1 to 100 characters")
	}
	if len(req.Source) > 64 {
		return nil, errBadRequest("source: at most 64 characters")
	}
	if len(req.Permissions) == 0 {
		return nil, errBadRequest("permissions: at least one of read, events:write")
	}
	for _, x := range req.Permissions {
		if x != store.PermRead && x != store.PermIngest && x != store.PermReadHeavy {
			return nil, errBadRequest("permissions: expected read, read:heavy or events:write")
		}
	}
	if slices.Contains(req.Permissions, store.PermReadHeavy) && !slices.Contains(req.Permissions, store.PermRead) {
		return nil, errBadRequest("permissions: read:heavy needs read")
	}
	if req.Tenant != "" {
		if known := s.work.KnownTenants(ctx); known != nil && !known[req.Tenant] {
			return nil, errBadRequest("tenant: unknown tenant")
		}
	}
	if req.ExpiresDays < 0 || req.ExpiresDays > 3650 {
		return nil, errBadRequest("expires_days: 0 (never) to 3650")
	}
	raw, err := auth.RandomToken(32)
	if err != nil {
		return nil, err
	}
	raw = "fbk_" + raw
	id, err := auth.RandomToken(9)
	if err != nil {
		return nil, err
	}
	t := &store.APIToken{ID: "tok_" + id, Name: req.Name, Prefix: raw[:10], Tenant: req.Tenant, Source: req.Source,
		Permissions: slices.Compact(slices.Sorted(slices.Values(req.Permissions))), CreatedBy: p.Actor()}
	if req.ExpiresDays > 0 {
		t.Expires = s.now().Add(time.Duration(req.ExpiresDays) * 24 * time.Hour)
	}
	if err := s.st.CreateAPIToken(ctx, store.Secret(raw), t); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "token.create", t.ID, t.Tenant, map[string]any{"name": t.Name, "permissions": t.Permissions, "source": t.Source})
	return &tokenCreated{Token: raw, Info: t}, nil
}

func (s *Server) handleTokenForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	_ = r.ParseForm()
	days, _ := strconv.Atoi(r.PostFormValue("expires_days"))
	req := tokenRequest{Name: r.PostFormValue("name"), Tenant: r.PostFormValue("tenant"), Source: strings.TrimSpace(r.PostFormValue("source")),
		Permissions: r.PostForm["permissions"], ExpiresDays: days}
	tc, err := s.createToken(r.Context(), p, req)
	if err != nil {
		return s.settingsResult(w, r, p, "", "", err)
	}
	return s.settingsResult(w, r, p, "API token "+tc.Info.Name+" (shown once; firebreak keeps only its hash)", tc.Token, nil)
}

func (s *Server) revokeToken(ctx context.Context, p *auth.Principal, id string) error {
	if err := s.st.RevokeAPIToken(ctx, p.Scope, id, s.now()); err != nil {
		return err
	}
	s.audit(ctx, p, "token.revoke", id, "", nil)
	return nil
}

func (s *Server) handleTokenRevokeForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	err := s.revokeToken(r.Context(), p, r.PathValue("id"))
	return s.settingsResult(w, r, p, "Token revoked.", "", err)
}

// targetRequest creates a notification target.
type targetRequest struct {
	ID          string          `json:"id,omitempty"`
	Name        string          `json:"name"`
	Kind        string          `json:"kind"`
	Tenant      string          `json:"tenant,omitempty"`
	MinSeverity string          `json:"min_severity,omitempty"`
	Enabled     *bool           `json:"enabled,omitempty"`
	Config      json.RawMessage `json:"config"`
}

func (s *Server) putTarget(ctx context.Context, p *auth.Principal, req targetRequest) (*store.NotifyTarget, error) {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		return nil, errBadRequest("name: 1 to 100 characters")
	}
	switch req.Kind {
	case store.TargetWebhook, store.TargetSlack, store.TargetTeams, store.TargetSyslog, store.TargetSMTP:
	default:
		return nil, errBadRequest("kind: expected webhook, slack, teams, syslog or smtp")
	}
	switch req.MinSeverity {
	case "", "low", "medium", "high", "critical":
	default:
		return nil, errBadRequest("min_severity: expected low, medium, high or critical")
	}
	if req.Tenant != "" {
		if known := s.work.KnownTenants(ctx); known != nil && !known[req.Tenant] {
			return nil, errBadRequest("tenant: unknown tenant")
		}
	}
	var cfg map[string]any
	if len(req.Config) == 0 || json.Unmarshal(req.Config, &cfg) != nil {
		return nil, errBadRequest("config: expected a JSON object")
	}
	if err := validateTargetConfig(req.Kind, req.Config); err != nil {
		return nil, err
	}
	if err := s.work.Notifier().CheckTargetEgress(ctx, req.Kind, req.Config, true); err != nil {
		return nil, errBadRequest("config: %s", err)
	}
	if req.ID == "" {
		id, err := auth.RandomToken(9)
		if err != nil {
			return nil, err
		}
		req.ID = "nt_" + id
	}
	t := &store.NotifyTarget{ID: req.ID, Name: req.Name, Kind: req.Kind, Tenant: req.Tenant, MinSeverity: req.MinSeverity, Enabled: req.Enabled == nil || *req.Enabled, Config: req.Config}
	if err := s.st.PutNotifyTarget(ctx, p.Scope, t); err != nil {
		return nil, err
	}
	s.audit(ctx, p, "notify_target.put", t.ID, t.Tenant, map[string]string{"kind": t.Kind, "name": t.Name})
	return t, nil
}

func validateTargetConfig(kind string, raw json.RawMessage) error {
	if _, err := notify.New(kind, raw, notify.Options{}); err != nil {
		return errBadRequest("config: %s", sanitizeMsg(err.Error()))
	}
	return nil
}

// sanitizeMsg keeps a validation message short and free of secrets' values
// (notify's errors name fields, not their contents).
func sanitizeMsg(s string) string { return auth.Truncate(strings.ReplaceAll(s, "\n", " "), 200) }

func (s *Server) handleTargetForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	_ = r.ParseForm()
	kind := r.PostFormValue("kind")
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	cfg := map[string]any{}
	set := func(keys ...string) {
		for _, k := range keys {
			if x := v(k); x != "" {
				cfg[k] = x
			}
		}
	}
	switch kind {
	case store.TargetWebhook:
		set("url", "secret")
	case store.TargetSlack, store.TargetTeams:
		set("url")
	case store.TargetSyslog:
		set("address", "network")
	case store.TargetSMTP:
		set("address", "from", "username", "password", "starttls")
		var to []string
		for _, x := range strings.Split(v("to"), ",") {
			if x = strings.TrimSpace(x); x != "" {
				to = append(to, x)
			}
		}
		cfg["to"] = to
	}
	b, _ := json.Marshal(cfg)
	_, err := s.putTarget(r.Context(), p, targetRequest{Name: r.PostFormValue("name"), Kind: kind, Tenant: r.PostFormValue("tenant"), MinSeverity: r.PostFormValue("min_severity"), Config: b})
	return s.settingsResult(w, r, p, "Notification target saved.", "", err)
}

func (s *Server) deleteTarget(ctx context.Context, p *auth.Principal, id string) error {
	if err := s.st.DeleteNotifyTarget(ctx, p.Scope, id); err != nil {
		return err
	}
	s.audit(ctx, p, "notify_target.delete", id, "", nil)
	return nil
}

func (s *Server) handleTargetDeleteForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	err := s.deleteTarget(r.Context(), p, r.PathValue("id"))
	return s.settingsResult(w, r, p, "Notification target deleted.", "", err)
}
