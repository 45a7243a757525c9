package server

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// fakeIdP is a minimal OpenID provider: discovery, keys, and a token
// endpoint that checks the PKCE verifier and returns the ID token the test
// prepared.
type fakeIdP struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	mu     sync.Mutex
	claims map[string]any // claims of the next ID token
	chal   string         // code_challenge seen at /authorize
}

func newFakeIdP(t *testing.T) *fakeIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIdP{t: t, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/authorize",
			"token_endpoint": f.srv.URL + "/token", "jwks_uri": f.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64.EncodeToString(key.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(key.E)).Bytes())}}})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id, secret, _ := r.BasicAuth()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		f.mu.Lock()
		chal, claims := f.chal, f.claims
		f.mu.Unlock()
		if id != "firebreak" || secret != "client-secret" || base64.RawURLEncoding.EncodeToString(sum[:]) != chal || r.PostFormValue("code") != "the-code" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"id_token": f.sign(claims), "token_type": "Bearer"})
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) sign(claims map[string]any) string {
	b64 := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, f.key, crypto.SHA256, sum[:])
	if err != nil {
		f.t.Fatal(err)
	}
	return in + "." + b64.EncodeToString(sig)
}

func TestOIDCSignIn(t *testing.T) {
	idp := newFakeIdP(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateUser(ctx, &store.User{Username: "alice", Email: "Alice@Harbourview.example", Role: store.RoleAnalyst, PasswordHash: auth.DummyHash()}); err != nil {
		t.Fatal(err)
	}
	// bob has an account with that email, but his provider never says it
	// is verified: no link, no sign-in.
	if err := st.CreateUser(ctx, &store.User{Username: "bob", Email: "bob@harbourview.example", Role: store.RoleAnalyst, PasswordHash: auth.DummyHash()}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, &store.User{Username: "viewer", Email: "viewer@cust.example", Role: store.RoleTenantViewer, Tenant: "alpha-co", PasswordHash: auth.DummyHash()}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: idpNow()}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS()
	defer ts.Close()
	cfg.Auth.OIDC = &config.OIDCConfig{Issuer: idp.srv.URL, ClientID: "firebreak", ClientSecret: "client-secret", RedirectURL: ts.URL + "/login/oidc/callback", TrustIdPMFA: true}
	srv, err := newServer(Options{Config: cfg, Store: st, Now: clk.now, TLS: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	f := &fixture{t: t, srv: srv, ts: ts, st: st, clk: clk}

	signIn := func(claims func(nonce string) map[string]any, mutateState bool) (*http.Response, *client) {
		c := f.client()
		resp, _ := c.do("GET", "/login/oidc", nil, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("start: %d", resp.StatusCode)
		}
		loc, _ := url.Parse(resp.Header.Get("Location"))
		q := loc.Query()
		if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" {
			t.Fatalf("authorize request: %s", loc)
		}
		idp.mu.Lock()
		idp.chal = q.Get("code_challenge")
		idp.claims = claims(q.Get("nonce"))
		idp.mu.Unlock()
		state := q.Get("state")
		if mutateState {
			state += "x"
		}
		resp, _ = c.do("GET", "/login/oidc/callback?code=the-code&state="+url.QueryEscape(state), nil, nil)
		return resp, c
	}
	base := func(email string, amr ...string) func(string) map[string]any {
		return func(nonce string) map[string]any {
			return map[string]any{"iss": idp.srv.URL, "aud": "firebreak", "sub": "sub-" + email, "exp": clk.now().Add(5 * time.Minute).Unix(),
				"iat": clk.now().Unix(), "nonce": nonce, "email": email, "email_verified": true, "amr": amr}
		}
	}
	resp, c := signIn(base("alice@harbourview.example", "pwd", "mfa"), false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("SSO with IdP MFA: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := c.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != 200 || !strings.Contains(body, `"alice"`) {
		t.Errorf("after SSO: %d %s", resp.StatusCode, body)
	}
	// Without an MFA claim, firebreak's own TOTP step follows.
	resp, _ = signIn(base("alice@harbourview.example", "pwd"), false)
	if resp.Header.Get("Location") != "/login/totp" {
		t.Errorf("SSO without MFA: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for name, tc := range map[string]struct {
		claims func(string) map[string]any
		state  bool
	}{
		"tampered_state": {base("alice@harbourview.example", "mfa"), true},
		"unknown_email":  {base("mallory@evil.example", "mfa"), false},
		"tenant_viewer":  {base("viewer@cust.example", "mfa"), false},
		"wrong_nonce": {func(string) map[string]any {
			m := base("alice@harbourview.example", "mfa")("x")
			return m
		}, false},
		"wrong_audience": {func(n string) map[string]any {
			m := base("alice@harbourview.example", "mfa")(n)
			m["aud"] = "someone-else"
			return m
		}, false},
		"expired": {func(n string) map[string]any {
			m := base("alice@harbourview.example", "mfa")(n)
			m["exp"] = clk.now().Add(-time10m()).Unix()
			return m
		}, false},
		"unverified_email": {func(n string) map[string]any {
			m := base("bob@harbourview.example", "mfa")(n)
			m["email_verified"] = false
			return m
		}, false},
		"missing_email_verified": {func(n string) map[string]any {
			m := base("bob@harbourview.example", "mfa")(n)
			delete(m, "email_verified")
			return m
		}, false},
		// alice is linked to her own subject: another identity claiming
		// her (verified) email does not get in.
		"email_of_linked_account": {func(n string) map[string]any {
			m := base("alice@harbourview.example", "mfa")(n)
			m["sub"] = "someone-else"
			return m
		}, false},
	} {
		t.Run(name, func(t *testing.T) {
			resp, c := signIn(tc.claims, tc.state)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
			}
			if resp, _ := c.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("signed in anyway: %d", resp.StatusCode)
			}
		})
	}
	// The link holds when the provider's email changes: the subject decides.
	resp, _ = signIn(func(n string) map[string]any {
		m := base("alice@harbourview.example", "mfa")(n)
		m["email"] = "alice.renamed@harbourview.example"
		return m
	}, false)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("linked subject with a new email: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A forged token (signed by another key) is refused.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	good := idp.key
	idp.key = other
	resp, _ = signIn(base("alice@harbourview.example", "mfa"), false)
	idp.key = good
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged signature: %d", resp.StatusCode)
	}
}

func idpNow() time.Time      { return time.Now().UTC().Truncate(time.Second) }
func time10m() time.Duration { return 10 * time.Minute }
