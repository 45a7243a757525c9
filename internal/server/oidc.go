package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// oidcState travels in a signed, short-lived cookie between the redirect
// to the provider and the callback.
type oidcState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Exp      int64  `json:"e"`
}

const oidcCookie = "fb_oidc"

func (s *Server) signState(st oidcState) string {
	b, _ := json.Marshal(st)
	p := base64.RawURLEncoding.EncodeToString(b)
	m := s.sess.MAC()
	m.Write([]byte("oidc-state:" + p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) readState(v string) (*oidcState, bool) {
	p, sig, ok := strings.Cut(v, ".")
	if !ok {
		return nil, false
	}
	m := s.sess.MAC()
	m.Write([]byte("oidc-state:" + p))
	if !hmac.Equal([]byte(sig), []byte(base64.RawURLEncoding.EncodeToString(m.Sum(nil)))) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, false
	}
	var st oidcState
	if json.Unmarshal(b, &st) != nil || s.now().Unix() > st.Exp {
		return nil, false
	}
	return &st, true
}

// handleOIDCStart redirects to the provider.
func (s *Server) handleOIDCStart(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	if s.oidc == nil {
		return errNotFound
	}
	d, err := s.oidc.Discovery(r.Context())
	if err != nil {
		return &httpError{Status: http.StatusBadGateway, Public: "single sign-on provider unavailable", Err: err}
	}
	var st oidcState
	for _, p := range []*string{&st.State, &st.Nonce, &st.Verifier} {
		if *p, err = auth.RandomToken(32); err != nil {
			return err
		}
	}
	st.Exp = s.now().Add(10 * time.Minute).Unix()
	// Lax, not Strict: the provider's redirect back is a cross-site navigation.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: s.signState(st), Path: "/login/oidc", MaxAge: 600, HttpOnly: true,
		Secure: s.tls || !s.cfg.Auth.InsecureCookies, SameSite: http.SameSiteLaxMode})
	ch := sha256.Sum256([]byte(st.Verifier))
	scopes := s.oidc.Cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{"openid", "email", "profile"}
	}
	q := url.Values{
		"response_type": {"code"}, "client_id": {s.oidc.Cfg.ClientID}, "redirect_uri": {s.oidc.Cfg.RedirectURL},
		"scope": {strings.Join(scopes, " ")}, "state": {st.State}, "nonce": {st.Nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(ch[:])}, "code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(d.AuthorizationEndpoint, "?") {
		sep = "&"
	}
	http.Redirect(w, r, d.AuthorizationEndpoint+sep+q.Encode(), http.StatusSeeOther)
	return nil
}

// handleOIDCCallback finishes the sign-in: it checks the state, redeems the
// code (with the PKCE verifier), verifies the ID token and maps its
// verified email to a local owner or analyst.
func (s *Server) handleOIDCCallback(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx := r.Context()
	if s.oidc == nil {
		return errNotFound
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/login/oidc", MaxAge: -1, HttpOnly: true, Secure: s.tls || !s.cfg.Auth.InsecureCookies, SameSite: http.SameSiteLaxMode})
	refuse := func(reason string, err error) error {
		s.metrics.AuthFailures.WithLabelValues("oidc_" + reason).Inc()
		s.authEvent(ctx, r, "", event.OutcomeFailure, "oidc_"+reason)
		s.audit(ctx, &auth.Principal{IP: s.sess.ClientIP(r)}, "login.failure", "", "", map[string]string{"reason": "oidc_" + reason})
		if err != nil {
			s.log.Info("single sign-on refused", "reason", reason, "err", err)
		}
		return s.renderLogin(w, r, http.StatusUnauthorized, "Single sign-on failed. Ask an owner to check that your account's email matches your identity provider, which must mark it verified.", "")
	}
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		return refuse("no_state", nil)
	}
	st, ok := s.readState(c.Value)
	q := r.URL.Query()
	if !ok || !hmac.Equal([]byte(q.Get("state")), []byte(st.State)) {
		return refuse("bad_state", nil)
	}
	if q.Get("error") != "" || q.Get("code") == "" {
		return refuse("provider_error", nil)
	}
	d, err := s.oidc.Discovery(ctx)
	if err != nil {
		return refuse("discovery", err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {s.oidc.Cfg.RedirectURL}, "code_verifier": {st.Verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(s.oidc.Cfg.ClientID), url.QueryEscape(s.oidc.Cfg.ClientSecret))
	resp, err := s.oidc.HTTP.Do(req)
	if err != nil {
		return refuse("token_endpoint", err)
	}
	defer resp.Body.Close()
	var tr struct {
		IDToken string `json:"id_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr) != nil || tr.IDToken == "" {
		return refuse("token_endpoint", fmt.Errorf("status %d", resp.StatusCode))
	}
	cl, err := s.oidc.VerifyIDToken(ctx, tr.IDToken, st.Nonce, s.now())
	if err != nil {
		return refuse("bad_id_token", err)
	}
	u, err := s.userForOIDC(ctx, cl)
	if err != nil {
		return err
	}
	if u == nil || u.Disabled || u.Locked(s.now()) || (u.Role != store.RoleOwner && u.Role != store.RoleAnalyst) {
		return refuse("no_matching_user", nil)
	}
	mfa := s.oidc.Cfg.TrustIdPMFA && slices.ContainsFunc(cl.AMR, func(m string) bool {
		return slices.Contains([]string{"mfa", "otp", "hwk", "swk", "fido", "sc", "rba"}, m)
	})
	if _, err := s.sess.Create(ctx, w, r, u, mfa); err != nil {
		return err
	}
	if !mfa {
		http.Redirect(w, r, "/login/totp", http.StatusSeeOther) // firebreak's own second factor
		return nil
	}
	if err := s.st.RecordLoginSuccess(ctx, u.Username, s.now()); err != nil {
		s.log.Error("recording login success", "err", err)
	}
	s.authEvent(ctx, r, u.Username, event.OutcomeSuccess, "")
	s.audit(ctx, &auth.Principal{User: u, IP: s.sess.ClientIP(r)}, "login.oidc", u.Username, "", map[string]any{"amr": cl.AMR})
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// userForOIDC finds the account a verified ID token signs in to: the one
// linked to its Subject (issuer and subject, or Entra tenant and object
// id), never by email. An account not yet linked is linked once, at its
// first single sign-on, when the token's email is verified (VerifiedEmail)
// and matches the account's email; the link is audited. nil: no account.
func (s *Server) userForOIDC(ctx context.Context, cl *auth.IDClaims) (*store.User, error) {
	subject := cl.Subject()
	us, err := s.st.ListUsers(ctx, store.AllTenants())
	if err != nil {
		return nil, err
	}
	for i := range us {
		if us[i].OIDCSubject == subject {
			return s.st.GetUser(ctx, us[i].Username)
		}
	}
	email := cl.VerifiedEmail()
	if email == "" {
		return nil, nil
	}
	for i := range us {
		if us[i].OIDCSubject == "" && us[i].Email != "" && strings.EqualFold(us[i].Email, email) {
			if err := s.st.SetOIDCSubject(ctx, us[i].Username, subject); err != nil {
				return nil, err
			}
			s.audit(ctx, &auth.Principal{}, "user.oidc_linked", us[i].Username, us[i].Tenant, map[string]string{"subject": subject})
			return s.st.GetUser(ctx, us[i].Username)
		}
	}
	return nil, nil
}
