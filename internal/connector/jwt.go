package connector

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// ParseRSAKey reads an RSA private key from PEM (PKCS#1 or PKCS#8), as
// service-account and service-app keys are delivered. Google's JSON key
// files carry the same PEM in their private_key field.
func ParseRSAKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	rest := pemBytes
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no RSA PRIVATE KEY or PRIVATE KEY PEM block found")
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(b.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, errors.New("the private key is not an RSA key")
			}
			return rk, nil
		}
	}
}

// SignJWT signs a JWT (JWS compact form) with RS256 or PS256. header gets
// "alg" and "typ" filled in.
func SignJWT(key *rsa.PrivateKey, alg string, header map[string]string, claims map[string]any) (string, error) {
	h := map[string]string{"typ": "JWT"}
	for k, v := range header {
		h[k] = v
	}
	h["alg"] = alg
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	default:
		return "", fmt.Errorf("jwt: alg %q: expected RS256 or PS256", alg)
	}
	if err != nil {
		return "", fmt.Errorf("signing jwt: %w", err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// VerifyJWT checks a JWT's RS256/PS256 signature and returns its header
// and claims (for the fakes of vendor token endpoints).
func VerifyJWT(jwt string, pub *rsa.PublicKey) (map[string]string, map[string]any, error) {
	var parts [3]string
	n := 0
	start := 0
	for i := 0; i <= len(jwt); i++ {
		if i == len(jwt) || jwt[i] == '.' {
			if n == 3 {
				return nil, nil, errors.New("malformed jwt")
			}
			parts[n] = jwt[start:i]
			n++
			start = i + 1
		}
	}
	if n != 3 {
		return nil, nil, errors.New("malformed jwt")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return nil, nil, errors.New("malformed jwt encoding")
	}
	var hdr map[string]string
	var claims map[string]any
	if json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		return nil, nil, errors.New("malformed jwt json")
	}
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	var err error
	switch hdr["alg"] {
	case "RS256":
		err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
	case "PS256":
		err = rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	default:
		err = fmt.Errorf("alg %q", hdr["alg"])
	}
	return hdr, claims, err
}
