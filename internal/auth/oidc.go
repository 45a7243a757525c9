package auth

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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
)

// OIDCClient caches the provider's discovery document and keys.
type OIDCClient struct {
	Cfg  config.OIDCConfig
	HTTP *http.Client

	mu      sync.Mutex
	disc    *OIDCDiscovery
	keys    map[string]crypto.PublicKey
	fetched time.Time
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

// key returns the provider's signing key kid, refetching the key set at
// most once a minute when kid is unknown (key rotation).
func (c *OIDCClient) key(ctx context.Context, kid string) (crypto.PublicKey, error) {
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
	d, err := c.Discovery(ctx)
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
func (c *OIDCClient) VerifyIDToken(ctx context.Context, tok, nonce string, now time.Time) (*IDClaims, error) {
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
	var cl IDClaims
	if err := json.Unmarshal(pb, &cl); err != nil {
		return nil, errors.New("id token: bad claims")
	}
	const skew = 2 * time.Minute
	switch {
	case cl.Iss != c.Cfg.Issuer:
		return nil, errors.New("id token: wrong issuer")
	case !slices.Contains(cl.Aud, c.Cfg.ClientID):
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
