package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/password"
)

type accountPage struct {
	pageBase
	Error   string
	Changed bool
	// MustChange: the password is a one-time one and must be replaced
	// before anything else.
	MustChange bool
	Passkeys   []auth.Passkey
}

func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if p.User == nil {
		return errNotFound
	}
	return s.render(w, r, "account", &accountPage{pageBase: s.basePage(r.Context(), p, "Account", "account"), Changed: r.URL.Query().Get("changed") == "1", MustChange: p.User.MustChangePassword, Passkeys: auth.LoadPasskeys(p.User)})
}

// handleAccountPassword changes the signed-in user's password: the current
// one is required, the new one must pass password.Check (12 characters or
// more, not common, breached or easily guessed), and every
// other session of the user is signed out.
func (s *Server) handleAccountPassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	if p.User == nil {
		return errNotFound
	}
	pg := &accountPage{pageBase: s.basePage(ctx, p, "Account", "account"), MustChange: p.User.MustChangePassword, Passkeys: auth.LoadPasskeys(p.User)}
	cur, nw, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("again")
	fail := func(status int, msg string) error {
		pg.Error = msg
		s.renderStatus(w, r, status, "account", pg)
		return nil
	}
	if !s.sess.LoginIP.Allow(p.IP, s.now()) {
		return fail(http.StatusTooManyRequests, "Too many attempts. Wait a minute and try again.")
	}
	if ok, _ := auth.CheckPassword(p.User.PasswordHash, cur); !ok {
		s.loginFailure(ctx, r, p.User, "bad_password")
		return fail(http.StatusForbidden, "The current password is wrong.")
	}
	if nw != again {
		return fail(http.StatusBadRequest, "The two new passwords differ.")
	}
	if nw == cur {
		return fail(http.StatusBadRequest, "The new password must differ from the current one.")
	}
	var rej *password.RejectedError
	if err := password.Check(nw, p.User.Username, p.User.Email); errors.As(err, &rej) {
		return fail(http.StatusBadRequest, "That password cannot be used: "+rej.Reason+".")
	}
	hash, err := auth.HashPassword(nw)
	if err != nil {
		return err
	}
	if err := s.st.SetPassword(ctx, p.User.Username, hash, false); err != nil {
		return err
	}
	// Sign out everywhere, then give this browser a fresh session.
	if err := s.st.DeleteUserSessions(ctx, p.User.Username); err != nil {
		return err
	}
	if _, err := s.sess.Create(ctx, w, r, p.User, true); err != nil {
		return err
	}
	s.audit(ctx, p, "user.password_change", p.User.Username, p.User.Tenant, map[string]string{"at": s.now().UTC().Format(time.RFC3339)})
	http.Redirect(w, r, "/account?changed=1", http.StatusSeeOther)
	return nil
}
