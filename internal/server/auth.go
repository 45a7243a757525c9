package server

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"html/template"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

const (
	preLoginCookie = "fb_login"
	datasetAuth    = "firebreak.auth"
)

// loginPage is the sign-in form.
type loginPage struct {
	pageBase
	Error    string
	Username string
	SSO      bool // single sign-on configured
}

// totpPage is the second step (and enrolment).
type totpPage struct {
	pageBase
	Passkey bool // the user has passkeys: offer them instead of the code
	Enrol   bool
	Secret  string
	QR      template.HTML
	Error   string
}

func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if p != nil && p.Session != nil && p.Session.MFA {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	return s.renderLogin(w, r, http.StatusOK, "", "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg, username string) error {
	var pre string
	if c, err := r.Cookie(preLoginCookie); err == nil && len(c.Value) >= 32 {
		pre = c.Value
	} else {
		t, err := auth.RandomToken(32)
		if err != nil {
			return err
		}
		pre = t
		s.sess.SetCookie(w, preLoginCookie, pre, time.Hour)
	}
	pg := &loginPage{pageBase: pageBase{Title: "Sign in", CSRF: s.preLoginCSRF(pre)}, Error: msg, Username: username, SSO: s.oidc != nil}
	s.renderStatus(w, r, status, "login", pg)
	return nil
}

// authEvent feeds a login outcome to firebreak's own detection (dataset
// firebreak.auth), so brute force and spraying against the tool itself
// raise incidents like any other source.
func (s *Server) authEvent(ctx context.Context, r *http.Request, user, outcome, reason string) {
	ev := event.Event{
		Timestamp: s.now().UTC(),
		Category:  "authentication",
		Action:    "firebreak-login",
		Outcome:   outcome,
		Reason:    reason,
		UserName:  user,
		HostName:  "firebreak",
		Tenant:    "",
		Dataset:   datasetAuth,
		Fields:    map[string]string{"user_agent.original": auth.Truncate(r.UserAgent(), 200)},
	}
	if a, err := netip.ParseAddr(s.sess.ClientIP(r)); err == nil {
		ev.SourceIP = a.Unmap()
	}
	s.pipe.Submit(ctx, ev)
}

// unknownUsername is what a failed sign-in records for a username no
// account has: people type passwords into the username box, so the text
// is never stored; a keyed hash (per process) still lets detection count
// distinct names tried and tell repeats apart.
func (s *Server) unknownUsername(typed string) string {
	m := s.sess.MAC()
	m.Write([]byte("unknown-username:" + strings.ToLower(typed)))
	return "unknown-" + hex.EncodeToString(m.Sum(nil)[:8])
}

// recordedUsername is typed when an account has that name, else
// unknownUsername(typed).
func (s *Server) recordedUsername(ctx context.Context, typed string) string {
	if typed == "" {
		return ""
	}
	if u, err := s.st.GetUser(ctx, typed); err == nil {
		return u.Username
	}
	return s.unknownUsername(typed)
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	c, err := r.Cookie(preLoginCookie)
	if err != nil || !hmacEqual(r.PostFormValue("csrf"), s.preLoginCSRF(c.Value)) {
		return s.renderLogin(w, r, http.StatusForbidden, "Your sign-in form expired. Please try again.", "")
	}
	username := strings.TrimSpace(r.PostFormValue("username"))
	// Refusals are recorded (audit, detection) before the length check, and
	// rate-limited ones on every request: record at most 128 bytes.
	tooLong := len(username) > 128
	username = strings.ToValidUTF8(auth.Truncate(username, 128), "")
	password := r.PostFormValue("password")
	now := s.now()
	ip := s.sess.ClientIP(r)
	generic := "Wrong username or password, or the account is locked."
	// Per address, and per account from each address: a flood of guesses
	// for "admin" from other addresses must not keep its owner at 429 (the
	// account as a whole is bounded by the account-wide lock instead).
	if !s.sess.LoginIP.Allow(ip, now) || !s.sess.LoginUser.Allow(strings.ToLower(username)+"\x00"+ip, now) {
		s.metrics.AuthFailures.WithLabelValues("rate_limited").Inc()
		recorded := s.recordedUsername(ctx, username)
		s.authEvent(ctx, r, recorded, event.OutcomeFailure, "rate_limited")
		s.audit(ctx, &auth.Principal{IP: ip}, "login.rate_limited", recorded, "", nil)
		w.Header().Set("Retry-After", "60")
		return s.renderLogin(w, r, http.StatusTooManyRequests, "Too many sign-in attempts. Wait a minute and try again.", username)
	}
	if username == "" || password == "" || tooLong || len(password) > 1024 {
		return s.renderLogin(w, r, http.StatusUnauthorized, generic, "")
	}
	u, err := s.st.GetUser(ctx, username)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if u == nil {
		// Spend the same time as a real check, so timing does not reveal
		// which usernames exist.
		_, _ = auth.CheckPassword(auth.DummyHash(), password)
		s.metrics.AuthFailures.WithLabelValues("unknown_user").Inc()
		recorded := s.unknownUsername(username)
		s.authEvent(ctx, r, recorded, event.OutcomeFailure, "unknown_user")
		s.audit(ctx, &auth.Principal{IP: ip}, "login.failure", recorded, "", map[string]string{"reason": "unknown_user"})
		return s.renderLogin(w, r, http.StatusUnauthorized, generic, username)
	}
	if u.Disabled || u.Locked(now) || s.sess.PairLocked(ctx, u.Username, ip, now) {
		_, _ = auth.CheckPassword(auth.DummyHash(), password)
		s.metrics.AuthFailures.WithLabelValues("locked").Inc()
		s.authEvent(ctx, r, username, event.OutcomeFailure, "locked")
		s.audit(ctx, &auth.Principal{IP: ip}, "login.failure", username, u.Tenant, map[string]string{"reason": "locked"})
		return s.renderLogin(w, r, http.StatusUnauthorized, generic, username)
	}
	ok, err := auth.CheckPassword(u.PasswordHash, password)
	if err != nil {
		s.log.Error("stored password hash unreadable", "user", u.Username, "err", err)
	}
	if !ok {
		s.loginFailure(ctx, r, u, "bad_password")
		return s.renderLogin(w, r, http.StatusUnauthorized, generic, username)
	}
	if _, err := s.sess.Create(ctx, w, r, u, false); err != nil {
		return err
	}
	s.sess.SetCookie(w, preLoginCookie, "", -1)
	http.Redirect(w, r, "/login/totp", http.StatusSeeOther)
	return nil
}

// loginFailure counts a failed factor, locks the account at the threshold,
// and reports it to detection and the audit log.
func (s *Server) loginFailure(ctx context.Context, r *http.Request, u *store.User, reason string) (locked bool) {
	now := s.now()
	ip := s.sess.ClientIP(r)
	pairLocked, nu, err := s.sess.RecordFailure(ctx, u.Username, ip, now)
	if err != nil {
		s.log.Error("recording login failure", "err", err)
	}
	s.metrics.AuthFailures.WithLabelValues(reason).Inc()
	s.authEvent(ctx, r, u.Username, event.OutcomeFailure, reason)
	s.audit(ctx, &auth.Principal{IP: ip}, "login.failure", u.Username, u.Tenant, map[string]string{"reason": reason})
	if nu != nil && nu.Locked(now) {
		s.authEvent(ctx, r, u.Username, event.OutcomeFailure, "locked_out")
		s.audit(ctx, &auth.Principal{IP: ip}, "user.lockout", u.Username, u.Tenant, map[string]string{"until": nu.LockedUntil.UTC().Format(time.RFC3339)})
	} else if pairLocked {
		s.authEvent(ctx, r, u.Username, event.OutcomeFailure, "locked_out")
		s.audit(ctx, &auth.Principal{IP: ip}, "user.lockout", u.Username, u.Tenant, map[string]string{"address": ip})
	}
	return pairLocked || (nu != nil && nu.Locked(now))
}

// secondFactorLocked ends a password-step session whose account, or whose
// address for that account, was locked after the password step (by this
// session's own failures or by anyone's): no second factor completes a
// sign-in the password step would now refuse.
func (s *Server) secondFactorLocked(ctx context.Context, w http.ResponseWriter, r *http.Request, p *auth.Principal, now time.Time) bool {
	u := p.User
	if !u.Disabled && !u.Locked(now) && !s.sess.PairLocked(ctx, u.Username, p.IP, now) {
		return false
	}
	s.metrics.AuthFailures.WithLabelValues("locked").Inc()
	s.authEvent(ctx, r, u.Username, event.OutcomeFailure, "locked")
	s.audit(ctx, &auth.Principal{IP: p.IP}, "login.failure", u.Username, u.Tenant, map[string]string{"reason": "locked", "step": "second_factor"})
	s.endPasswordStep(ctx, w, p)
	return true
}

// endPasswordStep ends a password-step session: its row and its cookie.
func (s *Server) endPasswordStep(ctx context.Context, w http.ResponseWriter, p *auth.Principal) {
	_ = s.st.DeleteSession(ctx, p.Raw)
	s.sess.SetCookie(w, s.sess.CookieName(), "", -1)
}

func hmacEqual(a, b string) bool {
	return a != "" && hmac.Equal([]byte(a), []byte(b))
}

func (s *Server) handleTOTPForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if p.Session.MFA {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	return s.renderTOTP(w, r, p, http.StatusOK, "")
}

func (s *Server) renderTOTP(w http.ResponseWriter, r *http.Request, p *auth.Principal, status int, msg string) error {
	pg := &totpPage{pageBase: pageBase{Title: "Authenticator", CSRF: p.Session.CSRF.Reveal()}, Error: msg, Passkey: len(auth.LoadPasskeys(p.User)) > 0}
	u := p.User
	if !u.TOTPEnrolled {
		secret := u.TOTPSecret.Reveal()
		if secret == "" {
			var err error
			if secret, err = auth.NewTOTPSecret(); err != nil {
				return err
			}
			if err := s.st.SetTOTP(r.Context(), u.Username, store.Secret(secret), false); err != nil {
				return err
			}
		}
		pg.Enrol = true
		pg.Secret = secret
		qr, err := auth.QRSVG(auth.TOTPURI(auth.TOTPIssuer, u.Username, secret))
		if err != nil {
			return err
		}
		pg.QR = qr
	}
	w.Header().Set("Cache-Control", "no-store")
	s.renderStatus(w, r, status, "totp", pg)
	return nil
}

func (s *Server) handleTOTP(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	if p.Session.MFA {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil
	}
	now := s.now()
	if !s.sess.LoginIP.Allow(p.IP, now) {
		s.authEvent(ctx, r, p.User.Username, event.OutcomeFailure, "rate_limited")
		w.Header().Set("Retry-After", "60")
		return s.renderTOTP(w, r, p, http.StatusTooManyRequests, "Too many attempts. Wait a minute and try again.")
	}
	u := p.User
	if s.secondFactorLocked(ctx, w, r, p, now) {
		return s.renderLogin(w, r, http.StatusUnauthorized, "Wrong username or password, or the account is locked.", "")
	}
	secret := u.TOTPSecret.Reveal()
	if secret == "" {
		return s.renderTOTP(w, r, p, http.StatusBadRequest, "Scan the code first.")
	}
	step, ok := auth.VerifyTOTP(secret, r.PostFormValue("code"), now, u.TOTPLastStep)
	if ok && !u.TOTPEnrolled {
		if err := s.st.SetTOTP(ctx, u.Username, store.Secret(secret), true); err != nil {
			return err
		}
	}
	if ok {
		if err := s.st.UseTOTPStep(ctx, u.Username, step); err != nil {
			if !errors.Is(err, store.ErrReplay) {
				return err
			}
			ok = false
		}
	}
	if !ok {
		if s.loginFailure(ctx, r, u, "bad_totp") {
			s.sess.SetCookie(w, s.sess.CookieName(), "", -1)
			return s.renderLogin(w, r, http.StatusUnauthorized, "Wrong username or password, or the account is locked.", "")
		}
		p.User, _ = s.st.GetUser(ctx, u.Username)
		if p.User == nil {
			p.User = u
		}
		return s.renderTOTP(w, r, p, http.StatusUnauthorized, "That code is not valid (or was already used). Wait for the next code and try again.")
	}
	action := "login.success"
	if !u.TOTPEnrolled {
		action = "user.totp_enrolled"
	}
	if err := s.completeSecondFactor(ctx, w, r, p, u, action); err != nil {
		return err
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if p != nil && p.Session != nil {
		_ = s.st.DeleteSession(r.Context(), p.Raw)
		s.audit(r.Context(), p, "logout", p.User.Username, p.User.Tenant, nil)
	}
	s.sess.SetCookie(w, s.sess.CookieName(), "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
