package server

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
)

// Wrong passwords sent by anyone lock that sender's address out of the
// account, not the owner signing in from elsewhere, and never end the
// owner's sessions; only a guess spread over many addresses
// (auth.AccountLockFactor × max_failures) locks the account as a whole.
func TestOwnerNotLockedOutFromAnotherAddress(t *testing.T) {
	f := newFixture(t)
	f.srv.cfg.Auth.TrustProxyHeader = "X-Forwarded-For"
	ctx := context.Background()
	owner := f.client()
	owner.hdr = map[string]string{"X-Forwarded-For": "10.0.0.1"}
	owner.login("owner1")

	guess := func(ip string, n int) *http.Response {
		a := f.client()
		a.hdr = map[string]string{"X-Forwarded-For": ip}
		a.do("GET", "/login", nil, nil)
		for range n {
			f.clk.add(time.Second)
			a.form("/login", url.Values{"username": {"owner1"}, "password": {"wrong password"}})
		}
		resp, _ := a.form("/login", url.Values{"username": {"owner1"}, "password": {f.pw["owner1"]}})
		return resp
	}
	if resp := guess("203.0.113.9", 10); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the attacker's address signed in with the right password after 10 failures: %d", resp.StatusCode)
	}
	if resp, _ := owner.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("someone's wrong passwords ended the owner's session: %d", resp.StatusCode)
	}
	other := f.client()
	other.hdr = map[string]string{"X-Forwarded-For": "10.0.0.2"}
	other.do("GET", "/login", nil, nil)
	if resp, _ := other.form("/login", url.Values{"username": {"owner1"}, "password": {f.pw["owner1"]}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the owner from another address is locked out by someone's failures: %d", resp.StatusCode)
	}

	// A distributed guess is still bounded: the account locks as a whole.
	max := f.srv.cfg.Auth.MaxFailures
	for i := range auth.AccountLockFactor {
		f.clk.add(time.Minute) // past the per-minute limits
		guess(fmt.Sprintf("198.51.100.%d", i+1), max)
	}
	u, err := f.st.GetUser(ctx, "owner1")
	if err != nil || !u.Locked(f.clk.now()) {
		t.Fatalf("%d failures over %d addresses did not lock the account (%v)", max*auth.AccountLockFactor, auth.AccountLockFactor, err)
	}
	if resp, _ := owner.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the account lockout ended the owner's existing session: %d", resp.StatusCode)
	}
}

// A flood of sign-in attempts for the owner from several addresses (each
// within its own per-address budget) must not rate-limit the owner signing
// in from another address: the per-account limit used to be account-wide,
// so three addresses kept "admin" at 429 for as long as they liked (v10).
func TestLoginRateFloodNotAccountWide(t *testing.T) {
	f := newFixture(t)
	f.srv.cfg.Auth.TrustProxyHeader = "X-Forwarded-For"
	// Small limits keep the number of (slow, hashed) attempts down: 3 a
	// minute per address, 3 × 3 per account (as sessions.go sets them).
	const per = 3
	f.srv.sess.LoginIP = auth.NewLimiter(per, time.Minute, 1000)
	f.srv.sess.LoginUser = auth.NewLimiter(3*per, time.Minute, 1000)
	for i := range 4 { // 4 × per attempts within the minute: past the old account-wide 3 × per
		a := f.client()
		a.hdr = map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}
		a.do("GET", "/login", nil, nil)
		for range per {
			a.form("/login", url.Values{"username": {"owner1"}, "password": {"wrong password"}})
		}
	}
	other := f.client()
	other.hdr = map[string]string{"X-Forwarded-For": "10.0.0.2"}
	other.do("GET", "/login", nil, nil)
	if resp, _ := other.form("/login", url.Values{"username": {"owner1"}, "password": {f.pw["owner1"]}}); resp.StatusCode == http.StatusTooManyRequests {
		t.Errorf("the owner from another address is rate-limited by someone else's flood: %d", resp.StatusCode)
	}
}
