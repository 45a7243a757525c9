package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
)

func TestOIDCES256(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := key.PublicKey.Bytes() // 0x04 || X || Y
	b64 := base64.RawURLEncoding
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "EC", "crv": "P-256", "kid": "e1",
			"x": b64.EncodeToString(raw[1:33]), "y": b64.EncodeToString(raw[33:])}}})
	}))
	defer jwks.Close()
	c := &OIDCClient{Cfg: config.OIDCConfig{Issuer: "https://idp.example", ClientID: "fb"}, HTTP: jwks.Client(),
		disc: &OIDCDiscovery{Issuer: "https://idp.example", JWKSURI: jwks.URL}}
	now := time.Now()
	mk := func(claims map[string]any) string {
		h, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": "e1"})
		p, _ := json.Marshal(claims)
		in := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
		sum := sha256.Sum256([]byte(in))
		r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return in + "." + b64.EncodeToString(sig)
	}
	claims := map[string]any{"iss": "https://idp.example", "sub": "u-1", "aud": []string{"fb", "other"}, "exp": now.Add(time.Minute).Unix(), "nonce": "n1", "email": "a@b.example"}
	if _, err := c.VerifyIDToken(context.Background(), mk(claims), "n1", now); err != nil {
		t.Fatalf("valid ES256 token: %v", err)
	}
	tok := mk(claims)
	parts := strings.Split(tok, ".")
	claims["email"] = "admin@b.example"
	forged := strings.Split(mk(claims), ".")[1]
	if _, err := c.VerifyIDToken(context.Background(), parts[0]+"."+forged+"."+parts[2], "n1", now); err == nil {
		t.Error("token with swapped payload verified")
	}
}

// Accounts are keyed on issuer and subject, or Entra's tenant and object
// id; an email counts only when the provider vouches for it.
func TestIDClaimsSubjectAndEmail(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name        string
		cl          IDClaims
		subject, em string
	}{
		{"verified", IDClaims{Iss: "https://idp", Sub: "s", Email: "a@x", EmailVerified: &yes}, "https://idp#s", "a@x"},
		{"unverified", IDClaims{Iss: "https://idp", Sub: "s", Email: "a@x", EmailVerified: &no}, "https://idp#s", ""},
		{"missing-claim", IDClaims{Iss: "https://idp", Sub: "s", Email: "a@x"}, "https://idp#s", ""},
		{"entra-plain", IDClaims{Iss: "https://login.microsoftonline.com/t/v2.0", Sub: "pairwise", Tid: "t", Oid: "o", Email: "a@x"}, "entra:t:o", ""},
		{"entra-edov", IDClaims{Iss: "https://login.microsoftonline.com/t/v2.0", Sub: "pairwise", Tid: "t", Oid: "o", Email: "a@x", XmsEdov: true}, "entra:t:o", "a@x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cl.Subject(); got != tc.subject {
				t.Errorf("Subject = %q, want %q", got, tc.subject)
			}
			if got := tc.cl.VerifiedEmail(); got != tc.em {
				t.Errorf("VerifiedEmail = %q, want %q", got, tc.em)
			}
		})
	}
}
