package auth

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/firebreak-msp/firebreak/internal/config"
)

// OIDCClient caches the provider's discovery document and keys.
type OIDCClient struct {
	Cfg  config.OIDCConfig
	HTTP *http.Client

	mu   sync.Mutex
	disc *OIDCDiscovery
	keys oidc.KeySet
}

type OIDCDiscovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

func (c *OIDCClient) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

func (c *OIDCClient) Discovery(ctx context.Context) (*OIDCDiscovery, error) {
	c.mu.Lock()
	d := c.disc
	c.mu.Unlock()
	if d != nil {
		return d, nil
	}
	var nd OIDCDiscovery
	if err := c.getJSON(ctx, strings.TrimRight(c.Cfg.Issuer, "/")+"/.well-known/openid-configuration", &nd); err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	if nd.Issuer != c.Cfg.Issuer || nd.AuthorizationEndpoint == "" || nd.TokenEndpoint == "" || nd.JWKSURI == "" {
		return nil, errors.New("oidc discovery: issuer mismatch or missing endpoints")
	}
	c.mu.Lock()
	c.disc = &nd
	c.mu.Unlock()
	return &nd, nil
}

// IDClaims are the ID token claims firebreak uses.
type IDClaims struct {
	Iss           string   `json:"iss"`
	Sub           string   `json:"sub"`
	Aud           audience `json:"aud"`
	Exp           int64    `json:"exp"`
	Iat           int64    `json:"iat"`
	Nonce         string   `json:"nonce"`
	Email         string   `json:"email"`
	EmailVerified *bool    `json:"email_verified"`
	AMR           []string `json:"amr"`
	// Entra ID: the tenant and the object id, immutable; xms_edov says the
	// email's domain is verified by the tenant that owns it.
	Tid     string `json:"tid"`
	Oid     string `json:"oid"`
	XmsEdov any    `json:"xms_edov"`
}

// Subject is the stable key of the person the token names: Entra's
// tenant and object id when present (never its mutable email or
// preferred_username), else issuer and subject. Accounts are matched on
// it, never on email.
func (c *IDClaims) Subject() string {
	if c.Tid != "" && c.Oid != "" {
		return "entra:" + c.Tid + ":" + c.Oid
	}
	return c.Iss + "#" + c.Sub
}

// VerifiedEmail is the token's email when the provider vouches for it:
// email_verified true (a missing claim is not), or for Entra xms_edov true
// (Entra's email claim is otherwise whatever the user's tenant says, the
// "nOAuth" pattern). "" otherwise.
func (c *IDClaims) VerifiedEmail() string {
	if c.Email == "" {
		return ""
	}
	if c.EmailVerified != nil && *c.EmailVerified {
		return c.Email
	}
	if c.Tid != "" && (c.XmsEdov == true || c.XmsEdov == "1" || c.XmsEdov == "true") {
		return c.Email
	}
	return ""
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

// VerifyIDToken checks an ID token with github.com/coreos/go-oidc: the
// signature against the provider's published keys (RS256/384/512,
// PS256/384/512, ES256/384/512, EdDSA; refetched on rotation), issuer,
// audience and expiry at now, then the nonce. Which account it is, is the
// caller's: match on Subject.
func (c *OIDCClient) VerifyIDToken(ctx context.Context, tok, nonce string, now time.Time) (*IDClaims, error) {
	ks, err := c.keySet(ctx)
	if err != nil {
		return nil, err
	}
	v := oidc.NewVerifier(c.Cfg.Issuer, ks, &oidc.Config{ClientID: c.Cfg.ClientID, Now: func() time.Time { return now },
		SupportedSigningAlgs: []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.EdDSA}})
	idt, err := v.Verify(ctx, tok)
	if err != nil {
		return nil, fmt.Errorf("id token: %w", err)
	}
	if nonce == "" || !hmac.Equal([]byte(idt.Nonce), []byte(nonce)) {
		return nil, errors.New("id token: nonce mismatch")
	}
	var cl IDClaims
	if err := idt.Claims(&cl); err != nil {
		return nil, errors.New("id token: bad claims")
	}
	if cl.Sub == "" {
		return nil, errors.New("id token: no subject")
	}
	return &cl, nil
}

// keySet is the provider's remote key set, made once from discovery.
func (c *OIDCClient) keySet(ctx context.Context) (oidc.KeySet, error) {
	c.mu.Lock()
	ks := c.keys
	c.mu.Unlock()
	if ks != nil {
		return ks, nil
	}
	d, err := c.Discovery(ctx)
	if err != nil {
		return nil, err
	}
	// The key set fetches in the background of later calls: its context
	// carries only the HTTP client, never a request's deadline.
	ks = oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), c.HTTP), d.JWKSURI)
	c.mu.Lock()
	c.keys = ks
	c.mu.Unlock()
	return ks, nil
}
