package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

// softKey is a software authenticator holding one P-256 credential.
type softKey struct {
	key   *ecdsa.PrivateKey
	id    []byte
	count uint32
}

func newSoftKey(t *testing.T) *softKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &softKey{key: k, id: id}
}

func (k *softKey) register(rpID, origin, challenge string) map[string]string {
	raw, _ := k.key.PublicKey.Bytes()
	cose, _ := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve: 1, XCoord: raw[1:33], YCoord: raw[33:]})
	rp := sha256.Sum256([]byte(rpID))
	var ad bytes.Buffer
	ad.Write(rp[:])
	ad.WriteByte(flagUP | flagUV | flagAT)
	binary.Write(&ad, binary.BigEndian, k.count)
	ad.Write(make([]byte, 16))
	binary.Write(&ad, binary.BigEndian, uint16(len(k.id)))
	ad.Write(k.id)
	ad.Write(cose)
	att, _ := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad.Bytes()})
	cd, _ := json.Marshal(map[string]string{"type": "webauthn.create", "challenge": challenge, "origin": origin})
	b64 := base64.RawURLEncoding
	return map[string]string{"name": "soft key", "id": b64.EncodeToString(k.id), "clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(att)}
}

func (k *softKey) assert(t *testing.T, rpID, origin, challenge string) map[string]string {
	k.count++
	rp := sha256.Sum256([]byte(rpID))
	var ad bytes.Buffer
	ad.Write(rp[:])
	ad.WriteByte(flagUP | flagUV)
	binary.Write(&ad, binary.BigEndian, k.count)
	cd, _ := json.Marshal(map[string]string{"type": "webauthn.get", "challenge": challenge, "origin": origin})
	cdHash := sha256.Sum256(cd)
	sum := sha256.Sum256(append(append([]byte(nil), ad.Bytes()...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.key, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	return map[string]string{"id": b64.EncodeToString(k.id), "clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad.Bytes()), "signature": b64.EncodeToString(sig)}
}

func TestPasskeys(t *testing.T) {
	f := newFixture(t)
	// A relying party id is a domain name, never an IP address.
	u, _ := url.Parse(f.ts.URL)
	origin := "http://localhost:" + u.Port()
	rpID := "localhost"
	f.srv.cfg.BaseURL = origin
	postJSON := func(c *client, path string, body any) (*http.Response, map[string]any) {
		b, _ := json.Marshal(body)
		resp, got := c.do("POST", path, bytes.NewReader(b), map[string]string{"X-CSRF-Token": c.csrf, "Content-Type": "application/json"})
		var m map[string]any
		_ = json.Unmarshal([]byte(got), &m)
		return resp, m
	}
	c := f.client()
	c.login("analyst1")
	sk := newSoftKey(t)
	resp, opts := postJSON(c, "/account/passkeys/options", nil)
	if resp.StatusCode != 200 || opts["rpId"] != rpID {
		t.Fatalf("create options: %d %v", resp.StatusCode, opts)
	}
	// A registration for another origin is refused.
	resp, _ = postJSON(c, "/account/passkeys", sk.register(rpID, "https://evil.example", opts["challenge"].(string)))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("foreign origin registration: %d", resp.StatusCode)
	}
	_, opts = postJSON(c, "/account/passkeys/options", nil)
	resp, _ = postJSON(c, "/account/passkeys", sk.register(rpID, origin, opts["challenge"].(string)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	if _, page := c.do("GET", "/account", nil, nil); !strings.Contains(page, "soft key") {
		t.Error("passkey not listed on /account")
	}
	// Without base_url, a request whose Host is not localhost gets no passkey
	// ceremony (the origin would come from a header a proxy controls).
	f.srv.cfg.BaseURL = ""
	if resp, _ := postJSON(c, "/account/passkeys/options", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("options without base_url: %d", resp.StatusCode)
	}
	f.srv.cfg.BaseURL = origin

	// Sign in with the password, then the passkey instead of the code.
	start := func() *client {
		c2 := f.client()
		c2.do("GET", "/login", nil, nil)
		c2.form("/login", url.Values{"username": {"analyst1"}, "password": {f.pw["analyst1"]}})
		if _, page := c2.do("GET", "/login/totp", nil, nil); !strings.Contains(page, "passkey-login") {
			t.Fatal("TOTP page does not offer the passkey")
		}
		return c2
	}
	c2 := start()
	_, gopts := postJSON(c2, "/login/passkey/options", nil)
	resp, _ = postJSON(c2, "/login/passkey", sk.assert(t, rpID, origin, gopts["challenge"].(string)))
	if resp.StatusCode != 200 {
		t.Fatalf("passkey sign-in: %d", resp.StatusCode)
	}
	if resp, _ := c2.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != 200 {
		t.Errorf("after passkey sign-in: %d", resp.StatusCode)
	}

	// A cloned authenticator (counter not increasing), a wrong origin and a
	// replayed challenge are refused.
	c3 := start()
	_, gopts = postJSON(c3, "/login/passkey/options", nil)
	sk.count = 0
	resp, _ = postJSON(c3, "/login/passkey", sk.assert(t, rpID, origin, gopts["challenge"].(string)))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("non-increasing counter: %d", resp.StatusCode)
	}
	sk.count = 10
	_, gopts = postJSON(c3, "/login/passkey/options", nil)
	resp, _ = postJSON(c3, "/login/passkey", sk.assert(t, rpID, "https://evil.example", gopts["challenge"].(string)))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong origin: %d", resp.StatusCode)
	}
	resp, _ = postJSON(c3, "/login/passkey", sk.assert(t, rpID, origin, gopts["challenge"].(string)))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed challenge: %d", resp.StatusCode)
	}
	if resp, _ := c3.do("GET", "/api/v1/me", nil, nil); resp.StatusCode == 200 {
		t.Error("signed in after refused passkeys")
	}

	// An address locked out of the account after the password step (here
	// by failures recorded from it meanwhile) cannot finish with a passkey:
	// the password step would now refuse it.
	c4 := start()
	_, gopts = postJSON(c4, "/login/passkey/options", nil)
	for range f.srv.cfg.Auth.MaxFailures {
		if _, _, err := f.srv.sess.RecordFailure(context.Background(), "analyst1", "127.0.0.1", f.clk.now()); err != nil {
			t.Fatal(err)
		}
	}
	sk.count += 10
	resp, _ = postJSON(c4, "/login/passkey", sk.assert(t, rpID, origin, gopts["challenge"].(string)))
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("passkey from a locked-out address: %d", resp.StatusCode)
	}
	if resp, _ := c4.do("GET", "/api/v1/me", nil, nil); resp.StatusCode == 200 {
		t.Error("a locked-out address signed in with a passkey")
	}
}
