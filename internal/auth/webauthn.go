package auth

import (
	"bytes"
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
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// Authenticator data flags (WebAuthn §6.1): user present, user verified,
// attested credential data included.
const (
	FlagUP = 0x01
	FlagUV = 0x04
	FlagAT = 0x40
)

// passkey is one registered credential, stored in the user's WebAuthn
// document.
type Passkey struct {
	ID        string    `json:"id"` // base64url credential id
	Name      string    `json:"name"`
	Alg       int64     `json:"alg"`        // COSE: -7 ES256, -257 RS256
	PublicKey []byte    `json:"public_key"` // PKIX DER
	SignCount uint32    `json:"sign_count"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used,omitzero"`
}

func LoadPasskeys(u *store.User) []Passkey {
	var ps []Passkey
	if len(u.WebAuthn) > 0 {
		_ = json.Unmarshal(u.WebAuthn, &ps)
	}
	return ps
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

func parseAuthData(b []byte, wantCred bool) (*authData, error) {
	if len(b) < 37 {
		return nil, errors.New("authenticator data: too short")
	}
	ad := &authData{RPIDHash: b[:32], Flags: b[32], SignCount: binary.BigEndian.Uint32(b[33:37])}
	if !wantCred {
		return ad, nil
	}
	rest := b[37:]
	if ad.Flags&FlagAT == 0 || len(rest) < 18 {
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

// RelyingParty returns the relying party id and the expected client origin.
type RelyingParty func() (id, origin string, err error)

// VerifyRegistration checks a navigator.credentials.create() response
// (base64url clientDataJSON and attestationObject; wantID the credential id
// the client claims, or empty).
func VerifyRegistration(clientDataJSON, attestationObject, wantID, challenge string, relyingParty RelyingParty) (*Passkey, error) {
	b64 := base64.RawURLEncoding
	cdj, err1 := b64.DecodeString(clientDataJSON)
	att, err2 := b64.DecodeString(attestationObject)
	if err1 != nil || err2 != nil {
		return nil, errors.New("registration: bad encoding")
	}
	rp, origin, err := relyingParty()
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
	if ad.Flags&FlagUP == 0 {
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
	if wantID != "" && wantID != id {
		return nil, errors.New("registration: credential id mismatch")
	}
	return &Passkey{ID: id, Alg: alg, PublicKey: der, SignCount: ad.SignCount}, nil
}

// VerifyAssertion checks a navigator.credentials.get() response (base64url
// clientDataJSON, authenticatorData and signature) against a stored passkey
// and returns the new signature counter.
func VerifyAssertion(clientDataJSON, authenticatorData, signature, challenge string, k Passkey, relyingParty RelyingParty) (uint32, error) {
	b64 := base64.RawURLEncoding
	cdj, err1 := b64.DecodeString(clientDataJSON)
	adRaw, err2 := b64.DecodeString(authenticatorData)
	sig, err3 := b64.DecodeString(signature)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, errors.New("assertion: bad encoding")
	}
	rp, origin, err := relyingParty()
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
	if ad.Flags&FlagUP == 0 {
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
