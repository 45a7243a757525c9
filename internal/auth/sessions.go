package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// ErrUnauthenticated is a request with bad credentials (a bearer token that
// is unknown, revoked or expired, or a malformed Authorization header).
var ErrUnauthenticated = errors.New("authentication required")

// SessionsOptions configure Sessions.
type SessionsOptions struct {
	Config  *config.AuthConfig // read at each use (not copied)
	TLS     bool               // reached over HTTPS: __Host- cookies
	Store   store.Store
	Logger  *slog.Logger
	Now     func() time.Time
	Metrics *metrics.Metrics
	// Shared counts the sign-in limits in the store (a deployment of
	// several processes) instead of in this process's memory.
	Shared bool
}

// Sessions resolves callers from bearer tokens and session cookies, creates
// sessions, and holds the sign-in rate limits and the per-process key for
// pre-login tokens.
type Sessions struct {
	cfg     *config.AuthConfig
	tls     bool
	st      store.Store
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics.Metrics
	key     []byte // HMAC key for pre-login CSRF tokens, passkey challenges, OIDC state (per process)

	// LoginIP limits sign-in attempts per client address; LoginUser per
	// account from each address (the HTTP front keys it by both, so a flood
	// for one account from other addresses does not rate-limit its owner).
	LoginIP, LoginUser RateLimiter
}

// NewSessions returns a Sessions with a fresh random key.
func NewSessions(o SessionsOptions) (*Sessions, error) {
	a := &Sessions{cfg: o.Config, tls: o.TLS, st: o.Store, log: o.Logger, now: o.Now, metrics: o.Metrics}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.metrics == nil {
		a.metrics = metrics.New()
	}
	a.key = make([]byte, 32)
	if _, err := rand.Read(a.key); err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	if o.Shared {
		// Several processes sign users in: the limits are counted in the
		// store, so an attacker gains nothing by spreading attempts.
		a.LoginIP = &SharedLimiter{Store: a.st, Prefix: "login-ip:", Limit: a.cfg.LoginRatePerMin, Window: time.Minute, Log: a.log}
		a.LoginUser = &SharedLimiter{Store: a.st, Prefix: "login-user:", Limit: a.cfg.LoginRatePerMin * 3, Window: time.Minute, Log: a.log}
	} else {
		a.LoginIP = NewLimiter(a.cfg.LoginRatePerMin, time.Minute, 100_000)
		a.LoginUser = NewLimiter(a.cfg.LoginRatePerMin*3, time.Minute, 100_000)
	}
	return a, nil
}

// MAC returns an HMAC-SHA256 keyed with the per-process key; callers
// prefix what they sign with its purpose.
func (a *Sessions) MAC() hash.Hash { return hmac.New(sha256.New, a.key) }

// CookieName is __Host-fb_session over TLS (bound to this exact origin),
// fb_session otherwise (loopback demo, tests).
func (a *Sessions) CookieName() string {
	if a.tls {
		return "__Host-fb_session"
	}
	return "fb_session"
}

// SetCookie sets (maxAge > 0), or clears (maxAge < 0), an HttpOnly, SameSite=Strict cookie.
func (a *Sessions) SetCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   a.tls || !a.cfg.InsecureCookies,
		SameSite: http.SameSiteStrictMode,
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge.Seconds())
	} else if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// ClientIP is the peer address, or, when the operator says a proxy sits in
// front, the last address of the configured header: the one the proxy
// appended. Earlier entries come from the client and are forged at will
// (a new one per request would dodge the sign-in limit and misstate the
// audit log). The listener must then be reachable only through the proxy.
func (a *Sessions) ClientIP(r *http.Request) string {
	if h := a.cfg.TrustProxyHeader; h != "" {
		if vs := r.Header.Values(h); len(vs) > 0 {
			v := vs[len(vs)-1]
			last := strings.TrimSpace(v[strings.LastIndexByte(v, ',')+1:])
			if a, err := netip.ParseAddr(last); err == nil {
				return a.Unmap().String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Authenticate resolves the caller from a bearer token or the session
// cookie. No credentials: (nil, nil). Bad bearer token: ErrUnauthenticated.
func (a *Sessions) Authenticate(w http.ResponseWriter, r *http.Request) (*Principal, error) {
	ctx := r.Context()
	now := a.now()
	ip := a.ClientIP(r)
	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || raw == "" {
			return nil, ErrUnauthenticated
		}
		tok, err := a.st.UseAPIToken(ctx, store.Secret(strings.TrimSpace(raw)), now)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrRevoked) || errors.Is(err, store.ErrExpired) {
				a.metrics.AuthFailures.WithLabelValues("token").Inc()
				return nil, ErrUnauthenticated
			}
			return nil, err
		}
		return &Principal{Token: tok, Scope: tok.Scope(), IP: ip}, nil
	}
	c, err := r.Cookie(a.CookieName())
	if err != nil || c.Value == "" {
		return nil, nil
	}
	raw := store.Secret(c.Value)
	sess, err := a.st.GetSession(ctx, raw, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
			a.SetCookie(w, a.CookieName(), "", -1)
			return nil, nil
		}
		return nil, err
	}
	if now.Sub(sess.LastSeen) > a.cfg.IdleTimeout {
		_ = a.st.DeleteSession(ctx, raw)
		a.SetCookie(w, a.CookieName(), "", -1)
		return nil, nil
	}
	u, err := a.st.GetUser(ctx, sess.Username)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			_ = a.st.DeleteSession(ctx, raw)
			return nil, nil
		}
		return nil, err
	}
	// A lockout stops new sign-ins only: failed attempts may be anyone's,
	// so they never end a session the owner already holds.
	if u.Disabled {
		_ = a.st.DeleteSession(ctx, raw)
		a.SetCookie(w, a.CookieName(), "", -1)
		return nil, nil
	}
	if now.Sub(sess.LastSeen) > time.Minute {
		sess.LastSeen = now
		if err := a.st.UpdateSession(ctx, raw, sess); err != nil {
			a.log.Warn("updating session", "err", err)
		}
	}
	return &Principal{User: u, Session: sess, Raw: raw, Scope: u.Scope(), IP: ip}, nil
}

// Create creates a session for u and sets the cookie.
func (a *Sessions) Create(ctx context.Context, w http.ResponseWriter, r *http.Request, u *store.User, mfa bool) (*store.Session, error) {
	tok, err := RandomToken(32)
	if err != nil {
		return nil, err
	}
	csrf, err := RandomToken(32)
	if err != nil {
		return nil, err
	}
	now := a.now()
	ttl := a.cfg.SessionTTL
	if !mfa {
		ttl = 10 * time.Minute // time to complete the second factor
	}
	sess := &store.Session{
		Username: u.Username, CSRF: store.Secret(csrf), MFA: mfa,
		Created: now, Expires: now.Add(ttl), LastSeen: now,
		IP: a.ClientIP(r), Agent: Truncate(r.UserAgent(), 200),
	}
	if err := a.st.CreateSession(ctx, store.Secret(tok), sess); err != nil {
		return nil, fmt.Errorf("creating session: %w", err)
	}
	a.SetCookie(w, a.CookieName(), tok, ttl)
	return sess, nil
}

// Truncate cuts s to at most n bytes (user agents, error texts).
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
