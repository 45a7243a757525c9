package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// Passkeys are verified by github.com/go-webauthn/webauthn: attestation
// and assertion parsing, CBOR and COSE decoding, every COSE algorithm it
// verifies, the backup flags (BE must not change, BS never without BE) and
// the signature counter. This file only adapts it to firebreak's user
// record and wire format.

// Passkey is one registered credential, stored in the user's WebAuthn
// document (a JSON array).
type Passkey struct {
	ID       string    `json:"id"` // base64url credential id
	Name     string    `json:"name"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
	// Credential is the library's credential record (public key as a COSE
	// key, counter, flags, attestation).
	Credential webauthn.Credential `json:"credential"`
	// FlagsUnknown marks a record written before the library was used: its
	// backup-eligible flag was never stored, so the first successful
	// assertion records it; from then on a change is refused.
	FlagsUnknown bool `json:"flags_unknown,omitempty"`
}

// legacyPasskey is the record the hand-written verifier stored: a PKIX
// public key and its COSE algorithm (-7 ES256 or -257 RS256).
type legacyPasskey struct {
	Alg       int64  `json:"alg"`
	PublicKey []byte `json:"public_key"`
	SignCount uint32 `json:"sign_count"`
}

// LoadPasskeys reads the user's passkeys, converting records in the old
// format (PKIX key) to credential records; an unreadable record is left
// out (it could not verify anything).
func LoadPasskeys(u *store.User) []Passkey {
	if len(u.WebAuthn) == 0 {
		return nil
	}
	var raws []json.RawMessage
	if json.Unmarshal(u.WebAuthn, &raws) != nil {
		return nil
	}
	ps := make([]Passkey, 0, len(raws))
	for _, raw := range raws {
		var p Passkey
		if json.Unmarshal(raw, &p) != nil {
			continue
		}
		if len(p.Credential.PublicKey) == 0 {
			var old legacyPasskey
			if json.Unmarshal(raw, &old) != nil {
				continue
			}
			c, err := legacyCredential(p.ID, old)
			if err != nil {
				continue
			}
			p.Credential, p.FlagsUnknown = c, true
		}
		ps = append(ps, p)
	}
	return ps
}

// legacyCredential converts an old record to a credential record: the
// PKIX key becomes the COSE key the authenticator sent at registration.
func legacyCredential(id string, old legacyPasskey) (webauthn.Credential, error) {
	rawID, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkey id: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(old.PublicKey)
	if err != nil {
		return webauthn.Credential{}, fmt.Errorf("passkey key: %w", err)
	}
	cose, err := coseFromPublicKey(pub, old.Alg)
	if err != nil {
		return webauthn.Credential{}, err
	}
	return webauthn.Credential{ID: rawID, PublicKey: cose, AttestationFormat: "none",
		Authenticator: webauthn.Authenticator{SignCount: old.SignCount}}, nil
}

// coseFromPublicKey encodes a public key as a COSE_Key (RFC 9053) for the
// algorithm it was registered with.
func coseFromPublicKey(pub any, alg int64) ([]byte, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		crv := map[elliptic.Curve]int64{elliptic.P256(): 1, elliptic.P384(): 2, elliptic.P521(): 3}[k.Curve]
		if crv == 0 {
			return nil, errors.New("passkey key: unsupported curve")
		}
		raw, err := k.Bytes() // 0x04 || X || Y
		if err != nil {
			return nil, fmt.Errorf("passkey key: %w", err)
		}
		size := (len(raw) - 1) / 2
		return webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: alg},
			Curve:         crv, XCoord: raw[1 : 1+size], YCoord: raw[1+size:]})
	case *rsa.PublicKey:
		return webauthncbor.Marshal(webauthncose.RSAPublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.RSAKey), Algorithm: alg},
			Modulus:       k.N.Bytes(), Exponent: big.NewInt(int64(k.E)).Bytes()})
	case ed25519.PublicKey:
		return webauthncbor.Marshal(webauthncose.OKPPublicKeyData{
			PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.OctetKey), Algorithm: alg},
			Curve:         int64(webauthncose.Ed25519), XCoord: k})
	}
	return nil, fmt.Errorf("passkey key: unsupported type %T", pub)
}

// RelyingParty is the relying party id (a host name) and the one origin
// clients must report.
type RelyingParty struct {
	ID, Origin string
}

func (rp RelyingParty) webauthn() (*webauthn.WebAuthn, error) {
	return webauthn.New(&webauthn.Config{RPID: rp.ID, RPDisplayName: "firebreak", RPOrigins: []string{rp.Origin}})
}

// PasskeyAlgorithms are the COSE algorithms offered at registration, in
// order of preference: every algorithm the library verifies on this Go
// version (EdDSA, ES256/384/512, RS256/384/512, PS256/384/512, ES256K).
func PasskeyAlgorithms() []int64 {
	var algs []int64
	for _, p := range credentialParameters() {
		algs = append(algs, int64(p.Algorithm))
	}
	return algs
}

func credentialParameters() []protocol.CredentialParameter {
	return append(webauthn.CredentialParametersExtendedL3(),
		protocol.CredentialParameter{Type: protocol.PublicKeyCredentialType, Algorithm: webauthncose.AlgES256K})
}

// passkeyUser is a firebreak user as the library sees it.
type passkeyUser struct {
	name  string
	creds []webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte                         { return UserHandle(u.name) }
func (u passkeyUser) WebAuthnName() string                       { return u.name }
func (u passkeyUser) WebAuthnDisplayName() string                { return u.name }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// UserHandle is the WebAuthn user id of a user: 16 bytes derived from the
// user name (no personal data on the authenticator).
func UserHandle(username string) []byte {
	h := sha256.Sum256([]byte("firebreak-user:" + username))
	return h[:16]
}

// RegistrationResponse is a navigator.credentials.create() result as the
// dashboard posts it (base64url fields).
type RegistrationResponse struct {
	ID                string `json:"id"`
	ClientDataJSON    string `json:"clientDataJSON"`
	AttestationObject string `json:"attestationObject"`
}

// AssertionResponse is a navigator.credentials.get() result as the
// dashboard posts it (base64url fields).
type AssertionResponse struct {
	ID                string `json:"id"`
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle,omitempty"`
}

// parseRegistration hands the response to the library's parser (CBOR
// attestation object, authenticator data, COSE key).
func parseRegistration(r RegistrationResponse) (*protocol.ParsedCredentialCreationData, error) {
	body, err := json.Marshal(map[string]any{"id": r.ID, "rawId": r.ID, "type": "public-key",
		"response": map[string]string{"clientDataJSON": r.ClientDataJSON, "attestationObject": r.AttestationObject}})
	if err != nil {
		return nil, err
	}
	return protocol.ParseCredentialCreationResponseBytes(body)
}

func parseAssertion(r AssertionResponse) (*protocol.ParsedCredentialAssertionData, error) {
	resp := map[string]string{"clientDataJSON": r.ClientDataJSON, "authenticatorData": r.AuthenticatorData, "signature": r.Signature}
	if r.UserHandle != "" {
		resp["userHandle"] = r.UserHandle
	}
	body, err := json.Marshal(map[string]any{"id": r.ID, "rawId": r.ID, "type": "public-key", "response": resp})
	if err != nil {
		return nil, err
	}
	return protocol.ParseCredentialRequestResponseBytes(body)
}

func credentials(keys []Passkey) []webauthn.Credential {
	cs := make([]webauthn.Credential, len(keys))
	for i, k := range keys {
		cs[i] = k.Credential
	}
	return cs
}

// VerifyRegistration checks a registration response against the challenge
// issued to username (the library checks type, challenge, origin, relying
// party, user presence, the backup flags, the algorithm against
// PasskeyAlgorithms and the attestation statement). existing are the
// user's passkeys: their ids must not be registered again.
func VerifyRegistration(rp RelyingParty, username string, existing []Passkey, challenge string, resp RegistrationResponse) (*Passkey, error) {
	w, err := rp.webauthn()
	if err != nil {
		return nil, err
	}
	parsed, err := parseRegistration(resp)
	if err != nil {
		return nil, fmt.Errorf("registration: %w", detail(err))
	}
	user := passkeyUser{name: username, creds: credentials(existing)}
	session := webauthn.SessionData{Challenge: challenge, RelyingPartyID: rp.ID, UserID: user.WebAuthnID(),
		UserVerification: protocol.VerificationPreferred, CredParams: credentialParameters()}
	c, err := w.CreateCredential(user, session, parsed)
	if err != nil {
		return nil, fmt.Errorf("registration: %w", detail(err))
	}
	return &Passkey{ID: base64.RawURLEncoding.EncodeToString(c.ID), Credential: *c}, nil
}

// ErrClonedAuthenticator is returned when an assertion's signature counter
// does not increase: two authenticators hold the same key.
var ErrClonedAuthenticator = errors.New("assertion: signature counter did not increase (cloned authenticator?)")

// VerifyAssertion checks an assertion against the user's passkeys and the
// challenge issued to username. It returns the index of the passkey used
// and its updated record (counter, flags).
func VerifyAssertion(rp RelyingParty, username string, keys []Passkey, challenge string, resp AssertionResponse) (int, Passkey, error) {
	w, err := rp.webauthn()
	if err != nil {
		return 0, Passkey{}, err
	}
	parsed, err := parseAssertion(resp)
	if err != nil {
		return 0, Passkey{}, fmt.Errorf("assertion: %w", detail(err))
	}
	i := -1
	for j, k := range keys {
		if k.ID == resp.ID {
			i = j
		}
	}
	if i < 0 {
		return 0, Passkey{}, errors.New("assertion: unknown credential")
	}
	k := keys[i]
	creds := credentials(keys)
	if k.FlagsUnknown {
		// First use since the upgrade: take the backup-eligible flag the
		// authenticator reports (the old verifier did not keep it).
		creds[i].Flags.BackupEligible = parsed.Response.AuthenticatorData.Flags.HasBackupEligible()
	}
	user := passkeyUser{name: username, creds: creds}
	session := webauthn.SessionData{Challenge: challenge, RelyingPartyID: rp.ID, UserID: user.WebAuthnID(),
		AllowedCredentialIDs: [][]byte{k.Credential.ID}, UserVerification: protocol.VerificationPreferred}
	c, err := w.ValidateLogin(user, session, parsed)
	if err != nil {
		return 0, Passkey{}, fmt.Errorf("assertion: %w", detail(err))
	}
	if c.Authenticator.CloneWarning {
		return 0, Passkey{}, ErrClonedAuthenticator
	}
	k.Credential, k.FlagsUnknown = *c, false
	return i, k, nil
}

// detail keeps the library's developer detail in the (logged, never shown)
// error text.
func detail(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w: %s", err, pe.DevInfo)
	}
	return err
}
