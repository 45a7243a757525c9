package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretBox encrypts secrets at rest with AES-256-GCM. A nil *SecretBox
// stores values in the clear (marked "plain:"), for PostgreSQL deployments
// that configured no key.
type SecretBox struct{ aead cipher.AEAD }

// NewSecretBox derives an AES-256 key from key material (SHA-256 of it).
func NewSecretBox(key []byte) (*SecretBox, error) {
	if len(key) == 0 {
		return nil, errors.New("empty secret key")
	}
	k := sha256.Sum256(key)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &SecretBox{aead: aead}, nil
}

// Seal encrypts plaintext; "" stays "".
func (b *SecretBox) Seal(plaintext []byte) (string, error) {
	if len(plaintext) == 0 {
		return "", nil
	}
	if b == nil {
		return "plain:" + base64.StdEncoding.EncodeToString(plaintext), nil
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	ct := b.aead.Seal(nonce, nonce, plaintext, []byte("firebreak-secret-v1"))
	return "v1:" + base64.StdEncoding.EncodeToString(ct), nil
}

// Open decrypts a value made by Seal.
func (b *SecretBox) Open(sealed string) ([]byte, error) {
	switch {
	case sealed == "":
		return nil, nil
	case strings.HasPrefix(sealed, "plain:"):
		return base64.StdEncoding.DecodeString(sealed[len("plain:"):])
	case strings.HasPrefix(sealed, "v1:"):
		if b == nil {
			return nil, errors.New("secret is encrypted but no secret key is configured")
		}
		raw, err := base64.StdEncoding.DecodeString(sealed[3:])
		if err != nil {
			return nil, fmt.Errorf("decoding secret: %w", err)
		}
		n := b.aead.NonceSize()
		if len(raw) < n {
			return nil, errors.New("secret too short")
		}
		pt, err := b.aead.Open(nil, raw[:n], raw[n:], []byte("firebreak-secret-v1"))
		if err != nil {
			return nil, errors.New("decrypting secret: wrong secret key or corrupted value")
		}
		return pt, nil
	}
	return nil, errors.New("unknown secret encoding")
}
