package graph

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Delegated is the GDAP access model (Microsoft's Secure Application
// Model): a partner admin signs in once with the device-code flow, and the
// refresh token obtained is exchanged, per customer tenant, for a delegated
// Graph token whose reach is bounded by the GDAP roles that customer
// granted the admin's access groups. The refresh token is kept encrypted
// (AES-256-GCM, store.SecretBox) in a file and replaced whenever Entra ID
// rotates it.
type Delegated struct {
	ClientID string
	Partner  string // the partner tenant id
	// ClientSecret, when set, makes token requests as a confidential
	// client; public clients (device-code sign-in) leave it empty.
	ClientSecret Secret
	Store        *RefreshStore

	c      *Client
	mu     sync.Mutex
	rt     Secret
	tokens map[string]*tenantToken
}

func (d *Delegated) bind(c *Client) {
	d.c = c
	d.tokens = map[string]*tenantToken{}
}

// RefreshStore keeps a refresh token in a file, encrypted with a key from
// the environment or a file (never stored beside it).
type RefreshStore struct {
	Path string
	box  *store.SecretBox
}

// NewRefreshStore opens the store at path with key material (at least 32
// bytes: a long random value; SHA-256 derives the AES key).
func NewRefreshStore(path string, key connector.Secret) (*RefreshStore, error) {
	if len(key) < 32 {
		return nil, errors.New("refresh token key: expected at least 32 bytes of random key material")
	}
	b, err := store.NewSecretBox([]byte(key))
	if err != nil {
		return nil, err
	}
	return &RefreshStore{Path: path, box: b}, nil
}

// Load reads the refresh token.
func (s *RefreshStore) Load() (Secret, error) {
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return "", fmt.Errorf("reading refresh token %s: %w (sign in with `firebreak collect graph signin`)", s.Path, err)
	}
	pt, err := s.box.Open(strings.TrimSpace(string(b)))
	if err != nil {
		return "", fmt.Errorf("refresh token %s: %w", s.Path, err)
	}
	return Secret(pt), nil
}

// Save writes the refresh token encrypted (mode 0600, atomically).
func (s *RefreshStore) Save(rt Secret) error {
	sealed, err := s.box.Seal([]byte(rt))
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(s.Path, 0o600, []byte(sealed+"\n"))
}

// refreshHints explain the AADSTS codes of a refresh token that no longer
// works: the admin must sign in again.
var refreshHints = map[string]string{
	"AADSTS70008":  "the refresh token expired",
	"AADSTS700082": "the refresh token expired after inactivity",
	"AADSTS50173":  "the refresh token was revoked (password change or session revocation)",
	"AADSTS70043":  "the refresh token expired under a Conditional Access sign-in frequency policy",
	"AADSTS50076":  "MFA is required again",
}

// ErrSignInAgain marks a refresh token that can no longer be used.
var ErrSignInAgain = errors.New("sign in again with `firebreak collect graph signin`")

func (d *Delegated) current() (Secret, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rt != "" {
		return d.rt, nil
	}
	if d.Store == nil {
		return "", errors.New("delegated graph access: no refresh token store configured")
	}
	rt, err := d.Store.Load()
	if err != nil {
		return "", err
	}
	d.rt = rt
	return rt, nil
}

// rotate keeps a new refresh token (Entra ID returns one with each use).
func (d *Delegated) rotate(old, rt Secret) error {
	if rt == "" || rt == old {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rt = rt
	if d.Store != nil {
		return d.Store.Save(rt)
	}
	return nil
}

func (d *Delegated) get(ctx context.Context, tenant string, stale Secret) (Secret, error) {
	return d.scoped(ctx, tenant, d.c.graph+"/.default", stale)
}

// scoped exchanges the refresh token for an access token to another
// resource (scope, e.g. Partner Center's user_impersonation): Entra ID
// refresh tokens are multi-resource, so one sign-in serves Graph and
// Partner Center alike.
func (d *Delegated) scoped(ctx context.Context, tenant, scope string, stale Secret) (Secret, error) {
	e := d.entry(tenant + " " + scope)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := d.c.cfg.Now()
	if e.tok.value != "" && e.tok.value != stale && now.Add(clockSkew).Before(e.tok.expires) {
		return e.tok.value, nil
	}
	rt, err := d.current()
	if err != nil {
		return "", err
	}
	endpoint := strings.TrimRight(d.c.cfg.Authority, "/") + "/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
	form := url.Values{"client_id": {d.ClientID}, "grant_type": {"refresh_token"}, "refresh_token": {string(rt)},
		"scope": {scope + " offline_access"}}
	if d.ClientSecret != "" {
		form.Set("client_secret", string(d.ClientSecret))
	}
	var t token
	err = d.c.retry.Do(ctx, func(int) error {
		var err error
		t, err = postToken(ctx, d.c.doToken, endpoint, tenant, form, d.c.cfg.Now)
		return err
	})
	var ex *connector.ExhaustedError
	if errors.As(err, &ex) {
		err = ex.Err
	}
	var te *TokenError
	if errors.As(err, &te) && te.Code == "invalid_grant" {
		for code, why := range refreshHints {
			if strings.HasPrefix(te.Description, code) {
				return "", fmt.Errorf("%w (%s: %s)", ErrSignInAgain, code, why)
			}
		}
	}
	if err != nil {
		return "", err
	}
	if err := d.rotate(rt, t.refresh); err != nil {
		return "", fmt.Errorf("saving the rotated refresh token: %w", err)
	}
	e.tok = t
	return t.value, nil
}

func (d *Delegated) entry(tenant string) *tenantToken {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.tokens[tenant]
	if e == nil {
		e = &tenantToken{}
		d.tokens[tenant] = e
	}
	return e
}

// DeviceCode is the prompt of a device-code sign-in.
type DeviceCode struct {
	UserCode        string
	VerificationURI string
	Message         string
}

// DeviceSignIn signs a partner admin in with the OAuth 2.0 device
// authorization grant (RFC 8628) against the partner tenant, shows the
// code through prompt, polls until the admin has signed in, and saves the
// refresh token encrypted in st. Only the partner admin's own consent is
// needed; customer reach comes from GDAP.
func DeviceSignIn(ctx context.Context, cfg Config, clientID string, st *RefreshStore, prompt func(DeviceCode)) error {
	if cfg.Authority == "" {
		cfg.Authority = DefaultAuthority
	}
	if cfg.GraphURL == "" {
		cfg.GraphURL = DefaultGraphURL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	sleep := cfg.Sleep
	if sleep == nil {
		sleep = connector.SleepContext
	}
	hc := connector.NewClient("graph", connector.Env{HTTP: cfg.HTTP, Now: cfg.Now, Concurrency: 1})
	base := strings.TrimRight(cfg.Authority, "/") + "/" + url.PathEscape(cfg.Credentials.TenantID) + "/oauth2/v2.0/"
	scope := strings.TrimRight(cfg.GraphURL, "/") + "/.default offline_access"
	dc, err := postTokenRaw(ctx, hc.Do, base+"devicecode", cfg.Credentials.TenantID, url.Values{"client_id": {clientID}, "scope": {scope}}, cfg.Now)
	if err != nil {
		return fmt.Errorf("device code: %w", unwrapPermanent(err))
	}
	prompt(DeviceCode{UserCode: dc.UserCode, VerificationURI: dc.VerificationURI, Message: dc.Message})
	interval, _ := strconv.Atoi(dc.Interval.String())
	if interval <= 0 {
		interval = 5
	}
	form := url.Values{"client_id": {clientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {dc.DeviceCode}}
	for {
		if err := sleep(ctx, time.Duration(interval)*time.Second); err != nil {
			return err
		}
		ta, err := postTokenRaw(ctx, hc.Do, base+"token", cfg.Credentials.TenantID, form, cfg.Now)
		var te *TokenError
		switch {
		case err == nil:
			if ta.RefreshToken == "" {
				return errors.New("device sign-in: no refresh token returned (the scope must include offline_access)")
			}
			return st.Save(Secret(ta.RefreshToken))
		case errors.As(err, &te) && te.Code == "authorization_pending":
		case errors.As(err, &te) && te.Code == "slow_down":
			interval += 5
		default:
			return fmt.Errorf("device sign-in: %w", unwrapPermanent(err))
		}
	}
}

func unwrapPermanent(err error) error {
	var p *connector.PermanentError
	if errors.As(err, &p) {
		return p.Err
	}
	return err
}
