package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// A new install, before any estate or log: every page says what to do
// next (issue 15, "empty states that say what to do"), not just "none".
func TestEmptyStatesSayWhatToDo(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	s, err := newServer(Options{Config: cfg, Store: st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.BootstrapOwner(ctx, st, "admin", true); err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUser(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPassword(ctx, "admin", u.PasswordHash, false); err != nil {
		t.Fatal(err)
	}
	tok := store.Secret("empty-states-session-token-0123456789abc")
	at := time.Now()
	if err := st.CreateSession(ctx, tok, &store.Session{Username: "admin", MFA: true, CSRF: "csrf", Created: at, LastSeen: at, Expires: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for path, want := range map[string][]string{
		"/":                     {"No tenants yet. Point <code>estate.paths</code>", "No open cases. Send logs to", "No blast-radius result yet: it is computed with each assessment"},
		"/tenants":              {"No tenants yet. Point <code>estate.paths</code>"},
		"/incidents":            {"No open cases: nothing needs attention now"},
		"/incidents?status=all": {"No incidents yet. Send logs to"},
		"/incidents/rows?status=open&severity=&tenant=": {"No open cases: nothing needs attention now"}, // the live refresh says the same
		"/events":     {"No events match. Widen the time range or clear a filter; events arrive through"},
		"/matrix":     {"No assessment yet. Point <code>estate.paths</code>"},
		"/blast":      {"No blast-radius result yet: it is computed with each assessment"},
		"/collectors": {"No collectors have run. Configure them under"},
	} {
		req := httptest.NewRequest("GET", path, nil)
		req.AddCookie(&http.Cookie{Name: "fb_session", Value: tok.Reveal()})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s on a new install: %d", path, rec.Code)
			continue
		}
		for _, w := range want {
			if !strings.Contains(rec.Body.String(), w) {
				t.Errorf("GET %s on a new install lacks %q", path, w)
			}
		}
	}
}
