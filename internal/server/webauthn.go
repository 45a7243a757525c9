package server

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// rpID is the relying party id and the expected client origin: from
// base_url when configured. Without base_url only a localhost request may
// use passkeys: deriving the origin from any other Host header would let a
// phishing proxy that rewrites Host relay a passkey signed for its own
// domain.
func (s *Server) rpID(r *http.Request) (auth.RelyingParty, error) {
	if s.cfg.BaseURL != "" {
		if u, err := url.Parse(s.cfg.BaseURL); err == nil && u.Host != "" {
			return auth.RelyingParty{ID: u.Hostname(), Origin: u.Scheme + "://" + u.Host}, nil
		}
	}
	h, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		h = r.Host
	}
	if h != "localhost" {
		return auth.RelyingParty{}, errStatus(http.StatusNotFound, "passkeys need base_url in the configuration")
	}
	scheme := "https"
	if !s.tls {
		scheme = "http"
	}
	return auth.RelyingParty{ID: h, Origin: scheme + "://" + r.Host}, nil
}

// waChallenge is kept in a signed cookie between options and response.
type waChallenge struct {
	Challenge string `json:"c"`
	User      string `json:"u"`
	Kind      string `json:"k"` // create or get
	Exp       int64  `json:"e"`
}

const waCookie = "fb_webauthn"

func (s *Server) issueChallenge(w http.ResponseWriter, user, kind string) (string, error) {
	ch, err := auth.RandomToken(32)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(waChallenge{Challenge: ch, User: user, Kind: kind, Exp: s.now().Add(5 * time.Minute).Unix()})
	p := base64.RawURLEncoding.EncodeToString(b)
	m := s.sess.MAC()
	m.Write([]byte("webauthn:" + p))
	s.sess.SetCookie(w, waCookie, p+"."+base64.RawURLEncoding.EncodeToString(m.Sum(nil)), 5*time.Minute)
	return ch, nil
}

func (s *Server) takeChallenge(w http.ResponseWriter, r *http.Request, user, kind string) (string, error) {
	c, err := r.Cookie(waCookie)
	if err != nil {
		return "", errBadRequest("no passkey challenge; start again")
	}
	s.sess.SetCookie(w, waCookie, "", -1) // one use
	p, sig, ok := strings.Cut(c.Value, ".")
	m := s.sess.MAC()
	m.Write([]byte("webauthn:" + p))
	if !ok || !hmac.Equal([]byte(sig), []byte(base64.RawURLEncoding.EncodeToString(m.Sum(nil)))) {
		return "", errBadRequest("invalid passkey challenge")
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	var wc waChallenge
	if err != nil || json.Unmarshal(b, &wc) != nil || wc.User != user || wc.Kind != kind || s.now().Unix() > wc.Exp {
		return "", errBadRequest("invalid or expired passkey challenge")
	}
	return wc.Challenge, nil
}

type passkeyOptions struct {
	Challenge        string           `json:"challenge"`
	RPID             string           `json:"rpId"`
	RPName           string           `json:"rpName,omitempty"`
	UserID           string           `json:"userId,omitempty"`
	UserName         string           `json:"userName,omitempty"`
	Credentials      []string         `json:"credentials"` // exclude (create) or allow (get)
	Algorithms       []int64          `json:"algorithms,omitempty"`
	UserVerification string           `json:"userVerification"`
	Timeout          int              `json:"timeout"`
	Extra            *json.RawMessage `json:"extra,omitempty"`
}

func (s *Server) handlePasskeyCreateOptions(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if p.User == nil {
		return errNotFound
	}
	rp, err := s.rpID(r)
	if err != nil {
		return err
	}
	ch, err := s.issueChallenge(w, p.User.Username, "create")
	if err != nil {
		return err
	}
	o := passkeyOptions{Challenge: ch, RPID: rp.ID, RPName: "firebreak", UserID: base64.RawURLEncoding.EncodeToString(auth.UserHandle(p.User.Username)),
		UserName: p.User.Username, Algorithms: auth.PasskeyAlgorithms(), UserVerification: "preferred", Timeout: 60000, Credentials: []string{}}
	for _, k := range auth.LoadPasskeys(p.User) {
		o.Credentials = append(o.Credentials, k.ID)
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

type passkeyCreate struct {
	Name string `json:"name"`
	auth.RegistrationResponse
}

func (s *Server) handlePasskeyCreate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	if p.User == nil {
		return errNotFound
	}
	var req passkeyCreate
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ch, err := s.takeChallenge(w, r, p.User.Username, "create")
	if err != nil {
		return err
	}
	u, err := s.st.GetUser(ctx, p.User.Username)
	if err != nil {
		return err
	}
	rp, err := s.rpID(r)
	if err != nil {
		return err
	}
	keys := auth.LoadPasskeys(u)
	pk, err := auth.VerifyRegistration(rp, u.Username, keys, ch, req.RegistrationResponse)
	if err != nil {
		return &httpError{Status: http.StatusBadRequest, Public: "passkey not accepted", Err: err}
	}
	if slices.ContainsFunc(keys, func(k auth.Passkey) bool { return k.ID == pk.ID }) {
		return errStatus(http.StatusConflict, "passkey already registered")
	}
	if len(keys) >= 10 {
		return errBadRequest("at most 10 passkeys per user")
	}
	pk.Name = strings.TrimSpace(req.Name)
	if pk.Name == "" || len(pk.Name) > 64 {
		pk.Name = "passkey"
	}
	pk.Created = s.now().UTC()
	keys = append(keys, *pk)
	if err := s.st.SetWebAuthn(ctx, u.Username, mustJSON(keys)); err != nil {
		return err
	}
	s.audit(ctx, p, "user.passkey_add", u.Username, u.Tenant, map[string]string{"name": pk.Name, "credential": pk.ID[:min(16, len(pk.ID))]})
	writeJSON(w, http.StatusCreated, map[string]any{"id": pk.ID, "name": pk.Name})
	return nil
}

func (s *Server) handlePasskeyDelete(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	if p.User == nil {
		return errNotFound
	}
	u, err := s.st.GetUser(ctx, p.User.Username)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	keys := auth.LoadPasskeys(u)
	n := len(keys)
	keys = slices.DeleteFunc(keys, func(k auth.Passkey) bool { return k.ID == id })
	if len(keys) == n {
		return errNotFound
	}
	if err := s.st.SetWebAuthn(ctx, u.Username, mustJSON(keys)); err != nil {
		return err
	}
	s.audit(ctx, p, "user.passkey_remove", u.Username, u.Tenant, nil)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}

func (s *Server) handlePasskeyGetOptions(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if p.User == nil || p.Session == nil {
		return errNotFound
	}
	keys := auth.LoadPasskeys(p.User)
	if len(keys) == 0 {
		return errNotFound
	}
	rp, err := s.rpID(r)
	if err != nil {
		return err
	}
	ch, err := s.issueChallenge(w, p.User.Username, "get")
	if err != nil {
		return err
	}
	o := passkeyOptions{Challenge: ch, RPID: rp.ID, UserVerification: "preferred", Timeout: 60000}
	for _, k := range keys {
		o.Credentials = append(o.Credentials, k.ID)
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

// handlePasskeyLogin completes the second factor with a passkey.
func (s *Server) handlePasskeyLogin(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	if p.User == nil || p.Session == nil {
		return errNotFound
	}
	if p.Session.MFA {
		writeJSON(w, http.StatusOK, map[string]string{"next": "/"})
		return nil
	}
	var req auth.AssertionResponse
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !s.sess.LoginIP.Allow(p.IP, s.now()) {
		return errStatus(http.StatusTooManyRequests, "too many attempts")
	}
	if s.secondFactorLocked(ctx, w, r, p, s.now()) {
		return errStatus(http.StatusUnauthorized, "the account is locked")
	}
	ch, err := s.takeChallenge(w, r, p.User.Username, "get")
	if err != nil {
		return err
	}
	u, err := s.st.GetUser(ctx, p.User.Username)
	if err != nil {
		return err
	}
	keys := auth.LoadPasskeys(u)
	if !slices.ContainsFunc(keys, func(k auth.Passkey) bool { return k.ID == req.ID }) {
		s.passkeyFailure(ctx, w, r, p, u)
		return errStatus(http.StatusUnauthorized, "passkey not recognised")
	}
	rp, err := s.rpID(r)
	if err != nil {
		return err
	}
	i, k, err := auth.VerifyAssertion(rp, u.Username, keys, ch, req)
	if err != nil {
		s.log.Info("passkey refused", "user", u.Username, "err", err)
		s.passkeyFailure(ctx, w, r, p, u)
		return errStatus(http.StatusUnauthorized, "passkey not accepted")
	}
	keys[i] = k
	keys[i].LastUsed = s.now().UTC()
	if err := s.st.SetWebAuthn(ctx, u.Username, mustJSON(keys)); err != nil {
		return err
	}
	if err := s.completeSecondFactor(ctx, w, r, p, u, "login.passkey"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"next": "/"})
	return nil
}

// passkeyFailure counts a refused passkey like a wrong code: at the lockout
// the password-step session ends, as it does for TOTP.
func (s *Server) passkeyFailure(ctx context.Context, w http.ResponseWriter, r *http.Request, p *auth.Principal, u *store.User) {
	if s.loginFailure(ctx, r, u, "bad_passkey") {
		s.endPasswordStep(ctx, w, p)
	}
}

// completeSecondFactor finishes a sign-in after a valid second factor:
// the pre-MFA session is replaced by a fresh one.
func (s *Server) completeSecondFactor(ctx context.Context, w http.ResponseWriter, r *http.Request, p *auth.Principal, u *store.User, action string) error {
	_ = s.st.DeleteSession(ctx, p.Raw)
	if _, err := s.sess.Create(ctx, w, r, u, true); err != nil {
		return err
	}
	if err := s.st.RecordLoginSuccess(ctx, u.Username, s.now()); err != nil {
		s.log.Error("recording login success", "err", err)
	}
	s.authEvent(ctx, r, u.Username, event.OutcomeSuccess, "")
	s.audit(ctx, p, action, u.Username, u.Tenant, nil)
	return nil
}
