package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Passkeys (WebAuthn level 2, attestation "none"): a signed-in user
// registers one on /account, and can then use it instead of the TOTP code
// as the second factor. Signatures are ES256 or RS256; counters that do not
// increase are refused (cloned authenticators).

// passkey is one registered credential, stored in the user's WebAuthn
// document.
type passkey struct {
	ID        string    `json:"id"` // base64url credential id
	Name      string    `json:"name"`
	Alg       int64     `json:"alg"`        // COSE: -7 ES256, -257 RS256
	PublicKey []byte    `json:"public_key"` // PKIX DER
	SignCount uint32    `json:"sign_count"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used,omitzero"`
}

func loadPasskeys(u *store.User) []passkey {
	var ps []passkey
	if len(u.WebAuthn) > 0 {
		_ = json.Unmarshal(u.WebAuthn, &ps)
	}
	return ps
}

// rpID is the relying party id and the expected client origin: from
// base_url when configured. Without base_url only a localhost request may
// use passkeys: deriving the origin from any other Host header would let a
// phishing proxy that rewrites Host relay a passkey signed for its own
// domain.
func (s *Server) rpID(r *http.Request) (id, origin string, err error) {
	if s.cfg.BaseURL != "" {
		if u, err := url.Parse(s.cfg.BaseURL); err == nil && u.Host != "" {
			return u.Hostname(), u.Scheme + "://" + u.Host, nil
		}
	}
	h, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		h = r.Host
	}
	if h != "localhost" {
		return "", "", errStatus(http.StatusNotFound, "passkeys need base_url in the configuration")
	}
	scheme := "https"
	if !s.tls {
		scheme = "http"
	}
	return h, scheme + "://" + r.Host, nil
}

// waChallenge is kept in a signed cookie between options and response.
type waChallenge struct {
	Challenge string `json:"c"`
	User      string `json:"u"`
	Kind      string `json:"k"` // create or get
	Exp       int64  `json:"e"`
}

const waCookie = "fb_webauthn"

func (s *Server) issueChallenge(w http.ResponseWriter, user, kind string) (string, error) {
	ch, err := RandomToken(32)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(waChallenge{Challenge: ch, User: user, Kind: kind, Exp: s.now().Add(5 * time.Minute).Unix()})
	p := base64.RawURLEncoding.EncodeToString(b)
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("webauthn:" + p))
	s.setCookie(w, waCookie, p+"."+base64.RawURLEncoding.EncodeToString(m.Sum(nil)), 5*time.Minute)
	return ch, nil
}

func (s *Server) takeChallenge(w http.ResponseWriter, r *http.Request, user, kind string) (string, error) {
	c, err := r.Cookie(waCookie)
	if err != nil {
		return "", errBadRequest("no passkey challenge; start again")
	}
	s.setCookie(w, waCookie, "", -1) // one use
	p, sig, ok := strings.Cut(c.Value, ".")
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("webauthn:" + p))
	if !ok || !hmac.Equal([]byte(sig), []byte(base64.RawURLEncoding.EncodeToString(m.Sum(nil)))) {
		return "", errBadRequest("invalid passkey challenge")
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	var wc waChallenge
	if err != nil || json.Unmarshal(b, &wc) != nil || wc.User != user || wc.Kind != kind || s.now().Unix() > wc.Exp {
		return "", errBadRequest("invalid or expired passkey challenge")
	}
	return wc.Challenge, nil
}

// clientData checks clientDataJSON: type, challenge and origin.
func checkClientData(raw []byte, typ, challenge, origin string) error {
	var cd struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		Origin    string `json:"origin"`
	}
	if err := json.Unmarshal(raw, &cd); err != nil {
		return errors.New("client data: malformed")
	}
	switch {
	case cd.Type != typ:
		return errors.New("client data: wrong type")
	case !hmac.Equal([]byte(cd.Challenge), []byte(challenge)):
		return errors.New("client data: challenge mismatch")
	case cd.Origin != origin:
		return errors.New("client data: wrong origin")
	}
	return nil
}

// authData is the parsed authenticator data.
type authData struct {
	RPIDHash  []byte
	Flags     byte
	SignCount uint32
	CredID    []byte
	CredKey   map[any]any // COSE key (registration only)
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

func parseAuthData(b []byte, wantCred bool) (*authData, error) {
	if len(b) < 37 {
		return nil, errors.New("authenticator data: too short")
	}
	ad := &authData{RPIDHash: b[:32], Flags: b[32], SignCount: binary.BigEndian.Uint32(b[33:37])}
	if !wantCred {
		return ad, nil
	}
	rest := b[37:]
	if ad.Flags&flagAT == 0 || len(rest) < 18 {
		return nil, errors.New("authenticator data: no attested credential")
	}
	n := int(binary.BigEndian.Uint16(rest[16:18]))
	rest = rest[18:]
	if n == 0 || n > 1023 || len(rest) < n {
		return nil, errors.New("authenticator data: bad credential id")
	}
	ad.CredID = append([]byte(nil), rest[:n]...)
	key, _, err := decodeCBOR(rest[n:])
	if err != nil {
		return nil, fmt.Errorf("authenticator data: credential key: %w", err)
	}
	m, ok := key.(map[any]any)
	if !ok {
		return nil, errors.New("authenticator data: credential key is not a map")
	}
	ad.CredKey = m
	return ad, nil
}

// coseKey converts a COSE_Key to a public key (ES256 on P-256, or RS256).
func coseKey(m map[any]any) (crypto.PublicKey, int64, error) {
	ktyV, _ := cborLookup(m, 1)
	algV, _ := cborLookup(m, 3)
	kty, _ := cborInt(ktyV)
	alg, _ := cborInt(algV)
	switch {
	case kty == 2 && alg == -7:
		crvV, _ := cborLookup(m, -1)
		xV, _ := cborLookup(m, -2)
		yV, _ := cborLookup(m, -3)
		crv, _ := cborInt(crvV)
		x, _ := xV.([]byte)
		y, _ := yV.([]byte)
		if crv != 1 || len(x) != 32 || len(y) != 32 {
			return nil, 0, errors.New("credential key: unsupported EC key")
		}
		pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, 0, errors.New("credential key: invalid EC point")
		}
		return pk, alg, nil
	case kty == 3 && alg == -257:
		nV, _ := cborLookup(m, -1)
		eV, _ := cborLookup(m, -2)
		n, _ := nV.([]byte)
		e, _ := eV.([]byte)
		if len(n) < 256 || len(e) == 0 || len(e) > 4 {
			return nil, 0, errors.New("credential key: unsupported RSA key")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, alg, nil
	}
	return nil, 0, errors.New("credential key: only ES256 and RS256 are supported")
}

type passkeyOptions struct {
	Challenge        string           `json:"challenge"`
	RPID             string           `json:"rpId"`
	RPName           string           `json:"rpName,omitempty"`
	UserID           string           `json:"userId,omitempty"`
	UserName         string           `json:"userName,omitempty"`
	Credentials      []string         `json:"credentials"` // exclude (create) or allow (get)
	Algorithms       []int64          `json:"algorithms,omitempty"`
	UserVerification string           `json:"userVerification"`
	Timeout          int              `json:"timeout"`
	Extra            *json.RawMessage `json:"extra,omitempty"`
}

func (s *Server) handlePasskeyCreateOptions(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.User == nil {
		return errNotFound
	}
	rp, _, err := s.rpID(r)
	if err != nil {
		return err
	}
	ch, err := s.issueChallenge(w, p.User.Username, "create")
	if err != nil {
		return err
	}
	uid := sha256.Sum256([]byte("firebreak-user:" + p.User.Username))
	o := passkeyOptions{Challenge: ch, RPID: rp, RPName: "firebreak", UserID: base64.RawURLEncoding.EncodeToString(uid[:16]),
		UserName: p.User.Username, Algorithms: []int64{-7, -257}, UserVerification: "preferred", Timeout: 60000, Credentials: []string{}}
	for _, k := range loadPasskeys(p.User) {
		o.Credentials = append(o.Credentials, k.ID)
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

type passkeyCreate struct {
	Name              string `json:"name"`
	ID                string `json:"id"`
	ClientDataJSON    string `json:"clientDataJSON"`
	AttestationObject string `json:"attestationObject"`
}

func (s *Server) handlePasskeyCreate(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	if p.User == nil {
		return errNotFound
	}
	var req passkeyCreate
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ch, err := s.takeChallenge(w, r, p.User.Username, "create")
	if err != nil {
		return err
	}
	pk, err := s.verifyRegistration(r, req, ch)
	if err != nil {
		return &httpError{Status: http.StatusBadRequest, Public: "passkey not accepted", Err: err}
	}
	u, err := s.st.GetUser(ctx, p.User.Username)
	if err != nil {
		return err
	}
	keys := loadPasskeys(u)
	if slices.ContainsFunc(keys, func(k passkey) bool { return k.ID == pk.ID }) {
		return errStatus(http.StatusConflict, "passkey already registered")
	}
	if len(keys) >= 10 {
		return errBadRequest("at most 10 passkeys per user")
	}
	pk.Name = strings.TrimSpace(req.Name)
	if pk.Name == "" || len(pk.Name) > 64 {
		pk.Name = "passkey"
	}
	pk.Created = s.now().UTC()
	keys = append(keys, *pk)
	if err := s.st.SetWebAuthn(ctx, u.Username, mustJSON(keys)); err != nil {
		return err
	}
	s.audit(ctx, p, "user.passkey_add", u.Username, u.Tenant, map[string]string{"name": pk.Name, "credential": pk.ID[:min(16, len(pk.ID))]})
	writeJSON(w, http.StatusCreated, map[string]any{"id": pk.ID, "name": pk.Name})
	return nil
}

// verifyRegistration checks a navigator.credentials.create() response.
func (s *Server) verifyRegistration(r *http.Request, req passkeyCreate, challenge string) (*passkey, error) {
	b64 := base64.RawURLEncoding
	cdj, err1 := b64.DecodeString(req.ClientDataJSON)
	att, err2 := b64.DecodeString(req.AttestationObject)
	if err1 != nil || err2 != nil {
		return nil, errors.New("registration: bad encoding")
	}
	rp, origin, err := s.rpID(r)
	if err != nil {
		return nil, err
	}
	if err := checkClientData(cdj, "webauthn.create", challenge, origin); err != nil {
		return nil, err
	}
	v, _, err := decodeCBOR(att)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, errors.New("registration: attestation is not a map")
	}
	raw, _ := m["authData"].([]byte)
	ad, err := parseAuthData(raw, true)
	if err != nil {
		return nil, err
	}
	rpHash := sha256.Sum256([]byte(rp))
	if !bytes.Equal(ad.RPIDHash, rpHash[:]) {
		return nil, errors.New("registration: wrong relying party")
	}
	if ad.Flags&flagUP == 0 {
		return nil, errors.New("registration: user not present")
	}
	key, alg, err := coseKey(ad.CredKey)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, err
	}
	id := b64.EncodeToString(ad.CredID)
	if req.ID != "" && req.ID != id {
		return nil, errors.New("registration: credential id mismatch")
	}
	return &passkey{ID: id, Alg: alg, PublicKey: der, SignCount: ad.SignCount}, nil
}

func (s *Server) handlePasskeyDelete(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	if p.User == nil {
		return errNotFound
	}
	u, err := s.st.GetUser(ctx, p.User.Username)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	keys := loadPasskeys(u)
	n := len(keys)
	keys = slices.DeleteFunc(keys, func(k passkey) bool { return k.ID == id })
	if len(keys) == n {
		return errNotFound
	}
	if err := s.st.SetWebAuthn(ctx, u.Username, mustJSON(keys)); err != nil {
		return err
	}
	s.audit(ctx, p, "user.passkey_remove", u.Username, u.Tenant, nil)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
	return nil
}

func (s *Server) handlePasskeyGetOptions(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.User == nil || p.Session == nil {
		return errNotFound
	}
	keys := loadPasskeys(p.User)
	if len(keys) == 0 {
		return errNotFound
	}
	rp, _, err := s.rpID(r)
	if err != nil {
		return err
	}
	ch, err := s.issueChallenge(w, p.User.Username, "get")
	if err != nil {
		return err
	}
	o := passkeyOptions{Challenge: ch, RPID: rp, UserVerification: "preferred", Timeout: 60000}
	for _, k := range keys {
		o.Credentials = append(o.Credentials, k.ID)
	}
	writeJSON(w, http.StatusOK, o)
	return nil
}

type passkeyAssertion struct {
	ID                string `json:"id"`
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
}

// handlePasskeyLogin completes the second factor with a passkey.
func (s *Server) handlePasskeyLogin(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	if p.User == nil || p.Session == nil {
		return errNotFound
	}
	if p.Session.MFA {
		writeJSON(w, http.StatusOK, map[string]string{"next": "/"})
		return nil
	}
	var req passkeyAssertion
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if !s.loginIP.allow(p.IP, s.now()) {
		return errStatus(http.StatusTooManyRequests, "too many attempts")
	}
	ch, err := s.takeChallenge(w, r, p.User.Username, "get")
	if err != nil {
		return err
	}
	u, err := s.st.GetUser(ctx, p.User.Username)
	if err != nil {
		return err
	}
	keys := loadPasskeys(u)
	i := slices.IndexFunc(keys, func(k passkey) bool { return k.ID == req.ID })
	if i < 0 {
		s.loginFailure(ctx, r, u, "bad_passkey")
		return errStatus(http.StatusUnauthorized, "passkey not recognised")
	}
	count, err := s.verifyAssertion(r, req, ch, keys[i])
	if err != nil {
		s.log.Info("passkey refused", "user", u.Username, "err", err)
		s.loginFailure(ctx, r, u, "bad_passkey")
		return errStatus(http.StatusUnauthorized, "passkey not accepted")
	}
	keys[i].SignCount = count
	keys[i].LastUsed = s.now().UTC()
	if err := s.st.SetWebAuthn(ctx, u.Username, mustJSON(keys)); err != nil {
		return err
	}
	if err := s.completeSecondFactor(ctx, w, r, p, u, "login.passkey"); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"next": "/"})
	return nil
}

// verifyAssertion checks a navigator.credentials.get() response against a
// stored passkey and returns the new signature counter.
func (s *Server) verifyAssertion(r *http.Request, req passkeyAssertion, challenge string, k passkey) (uint32, error) {
	b64 := base64.RawURLEncoding
	cdj, err1 := b64.DecodeString(req.ClientDataJSON)
	adRaw, err2 := b64.DecodeString(req.AuthenticatorData)
	sig, err3 := b64.DecodeString(req.Signature)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, errors.New("assertion: bad encoding")
	}
	rp, origin, err := s.rpID(r)
	if err != nil {
		return 0, err
	}
	if err := checkClientData(cdj, "webauthn.get", challenge, origin); err != nil {
		return 0, err
	}
	ad, err := parseAuthData(adRaw, false)
	if err != nil {
		return 0, err
	}
	rpHash := sha256.Sum256([]byte(rp))
	if !bytes.Equal(ad.RPIDHash, rpHash[:]) {
		return 0, errors.New("assertion: wrong relying party")
	}
	if ad.Flags&flagUP == 0 {
		return 0, errors.New("assertion: user not present")
	}
	if (ad.SignCount != 0 || k.SignCount != 0) && ad.SignCount <= k.SignCount {
		return 0, errors.New("assertion: signature counter did not increase (cloned authenticator?)")
	}
	cdHash := sha256.Sum256(cdj)
	signed := sha256.Sum256(append(append([]byte(nil), adRaw...), cdHash[:]...))
	pub, err := x509.ParsePKIXPublicKey(k.PublicKey)
	if err != nil {
		return 0, err
	}
	switch key := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Alg != -7 || !ecdsa.VerifyASN1(key, signed[:], sig) {
			return 0, errors.New("assertion: signature does not verify")
		}
	case *rsa.PublicKey:
		if k.Alg != -257 || rsa.VerifyPKCS1v15(key, crypto.SHA256, signed[:], sig) != nil {
			return 0, errors.New("assertion: signature does not verify")
		}
	default:
		return 0, errors.New("assertion: unsupported key")
	}
	return ad.SignCount, nil
}

// completeSecondFactor finishes a sign-in after a valid second factor:
// the pre-MFA session is replaced by a fresh one.
func (s *Server) completeSecondFactor(ctx context.Context, w http.ResponseWriter, r *http.Request, p *principal, u *store.User, action string) error {
	_ = s.st.DeleteSession(ctx, p.raw)
	if _, err := s.newSession(ctx, w, r, u, true); err != nil {
		return err
	}
	if err := s.st.RecordLoginSuccess(ctx, u.Username, s.now()); err != nil {
		s.log.Error("recording login success", "err", err)
	}
	s.authEvent(ctx, r, u.Username, event.OutcomeSuccess, "")
	s.audit(ctx, p, action, u.Username, u.Tenant, nil)
	return nil
}
