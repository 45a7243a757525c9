package server

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// oidcClient caches the provider's discovery document and keys.
type oidcClient struct {
	cfg  config.OIDCConfig
	http *http.Client

	mu      sync.Mutex
	disc    *oidcDiscovery
	keys    map[string]crypto.PublicKey
	fetched time.Time
}

type oidcDiscovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

func (c *oidcClient) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

func (c *oidcClient) discovery(ctx context.Context) (*oidcDiscovery, error) {
	c.mu.Lock()
	d := c.disc
	c.mu.Unlock()
	if d != nil {
		return d, nil
	}
	var nd oidcDiscovery
	if err := c.getJSON(ctx, strings.TrimRight(c.cfg.Issuer, "/")+"/.well-known/openid-configuration", &nd); err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	if nd.Issuer != c.cfg.Issuer || nd.AuthorizationEndpoint == "" || nd.TokenEndpoint == "" || nd.JWKSURI == "" {
		return nil, errors.New("oidc discovery: issuer mismatch or missing endpoints")
	}
	c.mu.Lock()
	c.disc = &nd
	c.mu.Unlock()
	return &nd, nil
}

// key returns the provider's signing key kid, refetching the key set at
// most once a minute when kid is unknown (key rotation).
func (c *oidcClient) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	c.mu.Lock()
	k, ok := c.keys[kid]
	stale := time.Since(c.fetched) > time.Minute
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	if !stale && c.keys != nil {
		return nil, fmt.Errorf("oidc: unknown key id %q", kid)
	}
	d, err := c.discovery(ctx)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct {
			Kty, Kid, Use, Alg, N, E, Crv, X, Y string
		} `json:"keys"`
	}
	if err := c.getJSON(ctx, d.JWKSURI, &set); err != nil {
		return nil, fmt.Errorf("oidc keys: %w", err)
	}
	keys := map[string]crypto.PublicKey{}
	b64 := base64.RawURLEncoding
	for _, jk := range set.Keys {
		if jk.Use != "" && jk.Use != "sig" {
			continue
		}
		switch jk.Kty {
		case "RSA":
			n, err1 := b64.DecodeString(jk.N)
			e, err2 := b64.DecodeString(jk.E)
			if err1 != nil || err2 != nil || len(e) > 4 {
				continue
			}
			keys[jk.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		case "EC":
			if jk.Crv != "P-256" {
				continue
			}
			x, err1 := b64.DecodeString(jk.X)
			y, err2 := b64.DecodeString(jk.Y)
			if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
				continue
			}
			// Parsing checks the point is on the curve.
			pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
			if err != nil {
				continue
			}
			keys[jk.Kid] = pk
		}
	}
	c.mu.Lock()
	c.keys, c.fetched = keys, time.Now()
	c.mu.Unlock()
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("oidc: unknown key id %q", kid)
}

// idClaims are the ID token claims firebreak uses.
type idClaims struct {
	Iss           string   `json:"iss"`
	Sub           string   `json:"sub"`
	Aud           audience `json:"aud"`
	Exp           int64    `json:"exp"`
	Iat           int64    `json:"iat"`
	Nonce         string   `json:"nonce"`
	Email         string   `json:"email"`
	EmailVerified *bool    `json:"email_verified"`
	AMR           []string `json:"amr"`
}

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// verifyIDToken checks the signature (RS256 or ES256), issuer, audience,
// expiry and nonce of a compact JWS ID token.
func (c *oidcClient) verifyIDToken(ctx context.Context, tok, nonce string, now time.Time) (*idClaims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errors.New("id token: not a JWS")
	}
	b64 := base64.RawURLEncoding
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("id token: bad header")
	}
	var hdr struct{ Alg, Kid string }
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, errors.New("id token: bad header")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, errors.New("id token: bad signature encoding")
	}
	key, err := c.key(ctx, hdr.Kid)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch k := key.(type) {
	case *rsa.PublicKey:
		if hdr.Alg != "RS256" || rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig) != nil {
			return nil, errors.New("id token: signature does not verify")
		}
	case *ecdsa.PublicKey:
		if hdr.Alg != "ES256" || len(sig) != 64 {
			return nil, errors.New("id token: signature does not verify")
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k, sum[:], r, s) {
			return nil, errors.New("id token: signature does not verify")
		}
	default:
		return nil, errors.New("id token: unsupported key")
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("id token: bad payload")
	}
	var cl idClaims
	if err := json.Unmarshal(pb, &cl); err != nil {
		return nil, errors.New("id token: bad claims")
	}
	const skew = 2 * time.Minute
	switch {
	case cl.Iss != c.cfg.Issuer:
		return nil, errors.New("id token: wrong issuer")
	case !slices.Contains(cl.Aud, c.cfg.ClientID):
		return nil, errors.New("id token: wrong audience")
	case now.After(time.Unix(cl.Exp, 0).Add(skew)):
		return nil, errors.New("id token: expired")
	case cl.Iat != 0 && time.Unix(cl.Iat, 0).After(now.Add(skew)):
		return nil, errors.New("id token: issued in the future")
	case nonce == "" || !hmac.Equal([]byte(cl.Nonce), []byte(nonce)):
		return nil, errors.New("id token: nonce mismatch")
	case cl.Email == "" || (cl.EmailVerified != nil && !*cl.EmailVerified):
		return nil, errors.New("id token: no verified email")
	}
	return &cl, nil
}

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
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("oidc-state:" + p))
	return p + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Server) readState(v string) (*oidcState, bool) {
	p, sig, ok := strings.Cut(v, ".")
	if !ok {
		return nil, false
	}
	m := hmac.New(sha256.New, s.key)
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
func (s *Server) handleOIDCStart(w http.ResponseWriter, r *http.Request, _ *principal) error {
	if s.oidc == nil {
		return errNotFound
	}
	d, err := s.oidc.discovery(r.Context())
	if err != nil {
		return &httpError{Status: http.StatusBadGateway, Public: "single sign-on provider unavailable", Err: err}
	}
	var st oidcState
	for _, p := range []*string{&st.State, &st.Nonce, &st.Verifier} {
		if *p, err = RandomToken(32); err != nil {
			return err
		}
	}
	st.Exp = s.now().Add(10 * time.Minute).Unix()
	// Lax, not Strict: the provider's redirect back is a cross-site navigation.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: s.signState(st), Path: "/login/oidc", MaxAge: 600, HttpOnly: true,
		Secure: s.tls || !s.cfg.Auth.InsecureCookies, SameSite: http.SameSiteLaxMode})
	ch := sha256.Sum256([]byte(st.Verifier))
	scopes := s.oidc.cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{"openid", "email", "profile"}
	}
	q := url.Values{
		"response_type": {"code"}, "client_id": {s.oidc.cfg.ClientID}, "redirect_uri": {s.oidc.cfg.RedirectURL},
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
func (s *Server) handleOIDCCallback(w http.ResponseWriter, r *http.Request, _ *principal) error {
	ctx := r.Context()
	if s.oidc == nil {
		return errNotFound
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: "/login/oidc", MaxAge: -1, HttpOnly: true, Secure: s.tls || !s.cfg.Auth.InsecureCookies, SameSite: http.SameSiteLaxMode})
	refuse := func(reason string, err error) error {
		s.metrics.AuthFailures.WithLabelValues("oidc_" + reason).Inc()
		s.authEvent(ctx, r, "", event.OutcomeFailure, "oidc_"+reason)
		s.audit(ctx, &principal{IP: s.clientIP(r)}, "login.failure", "", "", map[string]string{"reason": "oidc_" + reason})
		if err != nil {
			s.log.Info("single sign-on refused", "reason", reason, "err", err)
		}
		return s.renderLogin(w, r, http.StatusUnauthorized, "Single sign-on failed. Ask an owner to check that your account's email matches your identity provider.", "")
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
	d, err := s.oidc.discovery(ctx)
	if err != nil {
		return refuse("discovery", err)
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {s.oidc.cfg.RedirectURL}, "code_verifier": {st.Verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(s.oidc.cfg.ClientID), url.QueryEscape(s.oidc.cfg.ClientSecret))
	resp, err := s.oidc.http.Do(req)
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
	cl, err := s.oidc.verifyIDToken(ctx, tr.IDToken, st.Nonce, s.now())
	if err != nil {
		return refuse("bad_id_token", err)
	}
	u, err := s.userByEmail(ctx, cl.Email)
	if err != nil {
		return err
	}
	if u == nil || u.Disabled || u.Locked(s.now()) || (u.Role != store.RoleOwner && u.Role != store.RoleAnalyst) {
		return refuse("no_matching_user", nil)
	}
	mfa := s.oidc.cfg.TrustIdPMFA && slices.ContainsFunc(cl.AMR, func(m string) bool {
		return slices.Contains([]string{"mfa", "otp", "hwk", "swk", "fido", "sc", "rba"}, m)
	})
	if _, err := s.newSession(ctx, w, r, u, mfa); err != nil {
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
	s.audit(ctx, &principal{User: u, IP: s.clientIP(r)}, "login.oidc", u.Username, "", map[string]any{"amr": cl.AMR})
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// userByEmail finds the local account with this email (case-insensitive).
func (s *Server) userByEmail(ctx context.Context, email string) (*store.User, error) {
	us, err := s.st.ListUsers(ctx, store.AllTenants())
	if err != nil {
		return nil, err
	}
	for i := range us {
		if us[i].Email != "" && strings.EqualFold(us[i].Email, email) {
			return s.st.GetUser(ctx, us[i].Username)
		}
	}
	return nil, nil
}
