package attest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
)

// Key is an Ed25519 signing or verifying key with its key id (the SHA-256
// fingerprint DSSE's reference implementation derives from the public key).
type Key struct {
	id   string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey // nil for a verifying key
}

var (
	_ dsse.Signer   = (*Key)(nil)
	_ dsse.Verifier = (*Key)(nil)
)

func newKey(pub ed25519.PublicKey, priv ed25519.PrivateKey) (*Key, error) {
	id, err := dsse.SHA256KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &Key{id: id, pub: pub, priv: priv}, nil
}

// KeyID implements dsse.Signer and dsse.Verifier.
func (k *Key) KeyID() (string, error) { return k.id, nil }

// ID returns the key id.
func (k *Key) ID() string { return k.id }

// Public implements dsse.Verifier.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Sign implements dsse.Signer.
func (k *Key) Sign(_ context.Context, data []byte) ([]byte, error) {
	if k.priv == nil {
		return nil, errors.New("a public key cannot sign")
	}
	return ed25519.Sign(k.priv, data), nil
}

// Verify implements dsse.Verifier.
func (k *Key) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(k.pub, data, sig) {
		return errors.New("signature does not verify")
	}
	return nil
}

// GenerateKey writes a new key pair as dir/name.key (PKCS#8 PEM, mode 0600)
// and dir/name.pub (PKIX PEM), refusing to overwrite either.
func GenerateKey(dir, name string) (*Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	k, err := newKey(pub, priv)
	if err != nil {
		return nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	keyPath, pubPath := filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub")
	for _, p := range []string{keyPath, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return nil, fmt.Errorf("%s exists: refusing to overwrite a key", p)
		}
	}
	if err := atomicfile.WriteBytes(keyPath, 0o600, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER})); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(pubPath, 0o644, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})); err != nil {
		return nil, err
	}
	return k, nil
}

// LoadKey reads a PEM file holding an Ed25519 private key (PKCS#8) or
// public key (PKIX).
func LoadKey(path string) (*Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: not a PEM file", path)
	}
	switch blk.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%s: a %T key; attestations are signed with Ed25519", path, k)
		}
		return newKey(priv.Public().(ed25519.PublicKey), priv)
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: a %T key; attestations are signed with Ed25519", path, k)
		}
		return newKey(pub, nil)
	default:
		return nil, fmt.Errorf("%s: PEM block %q, want PRIVATE KEY or PUBLIC KEY", path, blk.Type)
	}
}

// PublicPEM returns the key's public half as PKIX PEM.
func (k *Key) PublicPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(k.pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
