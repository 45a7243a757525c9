package graph

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// Secret is a credential that must never be printed or logged (the
// connector framework's type).
type Secret = connector.Secret

// Credentials identify the partner's multi-tenant app registration.
type Credentials struct {
	ClientID string
	// TenantID is the partner (home) tenant of the app registration.
	TenantID string
	// Secret is a client secret; or use a certificate.
	Secret Secret
	// CertPEM is the certificate (PEM); KeyPEM the RSA private key (PEM,
	// PKCS#1 or PKCS#8). KeyPEM may also hold both.
	CertPEM []byte
	KeyPEM  Secret
	// Alg signs the client assertion: PS256 (default, with the x5t#S256
	// SHA-256 thumbprint header) or RS256 (with the legacy SHA-1 x5t).
	Alg string
}

// LogValue never prints secrets.
func (c Credentials) LogValue() slog.Value {
	kind := "secret"
	if len(c.KeyPEM) > 0 {
		kind = "certificate"
	}
	return slog.GroupValue(slog.String("client_id", c.ClientID), slog.String("tenant_id", c.TenantID), slog.String("auth", kind))
}

// CredentialsFromEnv reads FIREBREAK_GRAPH_CLIENT_ID, _TENANT_ID,
// _CLIENT_SECRET, _CERT and _KEY (file paths) and _ALG.
func CredentialsFromEnv(getenv func(string) string) (Credentials, error) {
	c := Credentials{
		ClientID: getenv("FIREBREAK_GRAPH_CLIENT_ID"),
		TenantID: getenv("FIREBREAK_GRAPH_TENANT_ID"),
		Secret:   Secret(getenv("FIREBREAK_GRAPH_CLIENT_SECRET")),
		Alg:      getenv("FIREBREAK_GRAPH_ALG"),
	}
	if p := getenv("FIREBREAK_GRAPH_CERT"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return c, fmt.Errorf("reading FIREBREAK_GRAPH_CERT: %w", err)
		}
		c.CertPEM = b
	}
	if p := getenv("FIREBREAK_GRAPH_KEY"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return c, fmt.Errorf("reading FIREBREAK_GRAPH_KEY: %w", err)
		}
		c.KeyPEM = Secret(b)
	}
	return c, nil
}

// Validate checks that the credentials are complete.
func (c Credentials) Validate() error {
	var miss []string
	if c.ClientID == "" {
		miss = append(miss, "client id (FIREBREAK_GRAPH_CLIENT_ID)")
	}
	if c.TenantID == "" {
		miss = append(miss, "partner tenant id (FIREBREAK_GRAPH_TENANT_ID)")
	}
	if c.Secret == "" && len(c.KeyPEM) == 0 {
		miss = append(miss, "a client secret (FIREBREAK_GRAPH_CLIENT_SECRET) or a certificate and key (FIREBREAK_GRAPH_CERT, FIREBREAK_GRAPH_KEY)")
	}
	if len(c.KeyPEM) > 0 && len(c.CertPEM) == 0 && !strings.Contains(string(c.KeyPEM), "CERTIFICATE") {
		miss = append(miss, "the certificate for the key (FIREBREAK_GRAPH_CERT)")
	}
	if c.Alg != "" && c.Alg != "RS256" && c.Alg != "PS256" {
		return fmt.Errorf("graph credentials: alg %q: expected RS256 or PS256", c.Alg)
	}
	if len(miss) > 0 {
		return fmt.Errorf("graph credentials incomplete: missing %s", strings.Join(miss, ", "))
	}
	return nil
}

// assertionSigner builds JWT client assertions (RFC 7523) signed with the
// certificate's key, with the x5t (and x5t#S256) thumbprint headers Entra ID
// uses to pick the registered certificate.
type assertionSigner struct {
	key      *rsa.PrivateKey
	x5t      string
	x5tS256  string
	alg      string
	clientID string
}

func newAssertionSigner(c Credentials) (*assertionSigner, error) {
	var certDER []byte
	for rest := c.CertPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			certDER = b.Bytes
			break
		}
	}
	// The key may sit in the certificate file or in a file of its own.
	key, err := connector.ParseRSAKey(slices.Concat(c.CertPEM, []byte("\n"), []byte(c.KeyPEM)))
	if err != nil {
		return nil, fmt.Errorf("graph certificate key (Entra ID client assertions take RSA keys): %w", err)
	}
	if certDER == nil {
		return nil, errors.New("graph certificate: no CERTIFICATE PEM block found")
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("graph certificate: %w", err)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("graph certificate: the private key does not belong to the certificate")
	}
	s1 := sha1.Sum(certDER)
	s256 := sha256.Sum256(certDER)
	alg := c.Alg
	if alg == "" {
		alg = "PS256"
	}
	return &assertionSigner{key: key, alg: alg, clientID: c.ClientID,
		x5t:     base64.RawURLEncoding.EncodeToString(s1[:]),
		x5tS256: base64.RawURLEncoding.EncodeToString(s256[:])}, nil
}

func (s *assertionSigner) sign(aud string, now time.Time) (string, error) {
	// PS256 assertions carry the SHA-256 thumbprint (x5t#S256), as Entra
	// ID requires for them; RS256 ones the legacy SHA-1 x5t.
	hdr := map[string]string{}
	if s.alg == "PS256" {
		hdr["x5t#S256"] = s.x5tS256
	} else {
		hdr["x5t"] = s.x5t
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := map[string]any{
		"aud": aud, "iss": s.clientID, "sub": s.clientID, "jti": hex.EncodeToString(jti),
		// nbf is backdated so a local clock a few minutes ahead of
		// Entra ID's (AADSTS700024) does not void the assertion.
		"iat": now.Unix(), "nbf": now.Add(-clockSkew).Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
	jwt, err := connector.SignJWT(s.key, s.alg, hdr, claims)
	if err != nil {
		return "", fmt.Errorf("signing client assertion: %w", err)
	}
	return jwt, nil
}

// TokenError is an error answer from the token endpoint (AADSTS codes).
type TokenError struct {
	Tenant      string
	Status      int
	Code        string // e.g. invalid_client, unauthorized_client
	Description string // e.g. "AADSTS7000215: Invalid client secret provided. …"
}

func (e *TokenError) Error() string {
	d := e.Description
	if i := strings.Index(d, "\r\n"); i > 0 {
		d = d[:i]
	}
	s := fmt.Sprintf("token for tenant %s: HTTP %d %s: %s", e.Tenant, e.Status, e.Code, d)
	if h := e.Hint(); h != "" {
		s += " (" + h + ")"
	}
	return s
}

// tokenHints explains the AADSTS codes an MSP meets most.
var tokenHints = map[string]string{
	"AADSTS700016":  "the app is not consented in this tenant: grant admin consent there",
	"AADSTS7000229": "the app has no service principal in this tenant: grant admin consent there",
	"AADSTS7000215": "wrong client secret",
	"AADSTS7000222": "the client secret has expired: create a new one",
	"AADSTS700027":  "the certificate is not registered on the app (or the key does not match)",
	"AADSTS700024":  "the client assertion is outside its validity window: check the clock",
	"AADSTS90002":   "no such tenant",
	"AADSTS90023":   "the token request is malformed",
	"AADSTS53003":   "blocked by Conditional Access for workload identities",
}

// Hint suggests a fix for well-known AADSTS codes; "" otherwise.
func (e *TokenError) Hint() string {
	for code, h := range tokenHints {
		if strings.Contains(e.Description, code+":") || strings.HasPrefix(e.Description, code) {
			return h
		}
	}
	return ""
}

// clockSkew is the tolerance for a local clock that differs from the
// identity provider's: assertions are valid from clockSkew before now, and
// tokens are renewed clockSkew before they expire.
const clockSkew = 5 * time.Minute

type token struct {
	value   Secret
	refresh Secret // delegated flows only
	expires time.Time
}

// tokenSource fetches and caches one app-only token per tenant.
type tokenSource struct {
	creds     Credentials
	authority string
	scope     string
	do        func(*http.Request) (int, http.Header, []byte, error)
	now       func() time.Time
	signer    *assertionSigner
	retry     connector.Retry

	mu     sync.Mutex
	tokens map[string]*tenantToken
}

type tenantToken struct {
	mu  sync.Mutex
	tok token
}

func (ts *tokenSource) entry(tenant string) *tenantToken {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	e := ts.tokens[tenant]
	if e == nil {
		e = &tenantToken{}
		ts.tokens[tenant] = e
	}
	return e
}

// get returns a valid token for tenant, fetching one when missing, expiring
// within clockSkew, or equal to stale (after a 401).
func (ts *tokenSource) get(ctx context.Context, tenant string, stale Secret) (Secret, error) {
	e := ts.entry(tenant)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tok.value != "" && e.tok.value != stale && ts.now().Add(clockSkew).Before(e.tok.expires) {
		return e.tok.value, nil
	}
	t, err := ts.fetch(ctx, tenant)
	if err != nil {
		return "", err
	}
	e.tok = t
	return t.value, nil
}

// fetch asks the token endpoint, retrying throttling and transient
// errors with the shared retry policy.
func (ts *tokenSource) fetch(ctx context.Context, tenant string) (token, error) {
	endpoint := strings.TrimRight(ts.authority, "/") + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
	form := url.Values{
		"client_id":  {ts.creds.ClientID},
		"scope":      {ts.scope},
		"grant_type": {"client_credentials"},
	}
	var t token
	err := ts.retry.Do(ctx, func(int) error {
		if ts.signer != nil {
			a, err := ts.signer.sign(endpoint, ts.now())
			if err != nil {
				return connector.Permanent(err)
			}
			form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			form.Set("client_assertion", a)
		} else {
			form.Set("client_secret", string(ts.creds.Secret))
		}
		var err error
		t, err = postToken(ctx, ts.do, endpoint, tenant, form, ts.now)
		return err
	})
	var ex *connector.ExhaustedError
	if errors.As(err, &ex) {
		err = ex.Err
	}
	return t, err
}

// tokenAnswer is the token endpoint's JSON (success or error).
type tokenAnswer struct {
	AccessToken  string          `json:"access_token"`
	RefreshToken string          `json:"refresh_token"`
	ExpiresIn    json.Number     `json:"expires_in"`
	TokenType    string          `json:"token_type"`
	Scope        string          `json:"scope"`
	Error        string          `json:"error"`
	Description  string          `json:"error_description"`
	Codes        json.RawMessage `json:"error_codes"`
	// device code flow
	DeviceCode      string      `json:"device_code"`
	UserCode        string      `json:"user_code"`
	VerificationURI string      `json:"verification_uri"`
	Interval        json.Number `json:"interval"`
	Message         string      `json:"message"`
}

// postToken makes one token request and classifies the answer: a
// *TokenError, wrapped for the retry policy (Retry-After honoured on
// throttling and 5xx, permanent otherwise).
func postToken(ctx context.Context, do func(*http.Request) (int, http.Header, []byte, error), endpoint, tenant string, form url.Values, now func() time.Time) (token, error) {
	ta, err := postTokenRaw(ctx, do, endpoint, tenant, form, now)
	if err != nil {
		return token{}, err
	}
	secs, _ := ta.ExpiresIn.Int64()
	if secs <= 0 {
		secs = 3599
	}
	return token{value: Secret(ta.AccessToken), refresh: Secret(ta.RefreshToken), expires: now().Add(time.Duration(secs) * time.Second)}, nil
}

func postTokenRaw(ctx context.Context, do func(*http.Request) (int, http.Header, []byte, error), endpoint, tenant string, form url.Values, now func() time.Time) (tokenAnswer, error) {
	var ta tokenAnswer
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return ta, connector.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	status, hdr, body, err := do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ta, connector.Permanent(ctx.Err())
		}
		return ta, fmt.Errorf("token for tenant %s: %w", tenant, err)
	}
	wrap := func(e error) error {
		if !connector.Transient(status) {
			return connector.Permanent(e)
		}
		if d, ok := connector.ParseRetryAfter(hdr.Get("Retry-After"), now()); ok {
			return connector.After(e, d)
		}
		return e
	}
	if jerr := json.Unmarshal(body, &ta); jerr != nil {
		return ta, wrap(&TokenError{Tenant: tenant, Status: status, Code: "non_json_response", Description: connector.Snippet(body)})
	}
	if status != http.StatusOK || (ta.AccessToken == "" && ta.DeviceCode == "") {
		if ta.Error == "" {
			ta.Error = "no_access_token"
		}
		return ta, wrap(&TokenError{Tenant: tenant, Status: status, Code: ta.Error, Description: ta.Description})
	}
	return ta, nil
}
