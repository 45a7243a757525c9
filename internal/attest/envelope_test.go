package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

var at = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func sample() *Statement {
	digest := strings.Repeat("ab", 32)
	return &Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: "tenant:brightwater-dental", Digest: map[string]string{"sha256": digest}}},
		PredicateType: PredicateType,
		Predicate: Posture{
			Version: 1, Tenant: TenantRef{ID: "brightwater-dental", Name: "Brightwater Dental"},
			Provider: "Harbourview IT", AssessedAt: at, IssuedAt: at.Add(time.Minute), ExpiresAt: at.Add(30 * 24 * time.Hour),
			Tool: ToolRef{Name: "firebreak", Version: "test"}, EstateDigest: digest,
			Summary:  Summary{Score: 72.5, Pass: 10, Fail: 2, NotEvaluable: 3},
			Controls: []Control{{ID: "FB-MFA-001", Title: "MFA on MSP accounts", Status: "fail", Severity: "critical", EvidenceDigest: strings.Repeat("0f", 32)}},
			Access:   []Access{{Principal: "tech-1", Kind: "identity", Tool: "rmm", Privilege: "full", Standing: true, MFA: "totp", Path: "tech-1 → rmm → brightwater-dental"}},
			Blast:    Blast{ReachedBy: []Reacher{{ID: "rmm", Kind: "tool", Tenants: 25, Path: "rmm → brightwater-dental"}}, Total: 1},
			Contract: &ContractFacts{ID: "c1", Present: []string{"patching"}, Missing: []string{"logging_retention"}},
		},
	}
}

func keys(t *testing.T) (signer, pub *Key) {
	t.Helper()
	dir := t.TempDir()
	if _, err := GenerateKey(dir, "msp"); err != nil {
		t.Fatal(err)
	}
	signer, err := LoadKey(filepath.Join(dir, "msp.key"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err = LoadKey(filepath.Join(dir, "msp.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if signer.ID() != pub.ID() {
		t.Fatalf("key ids differ: %s %s", signer.ID(), pub.ID())
	}
	if fi, _ := os.Stat(filepath.Join(dir, "msp.key")); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v", fi.Mode().Perm())
	}
	if _, err := GenerateKey(dir, "msp"); err == nil {
		t.Error("GenerateKey overwrote a key")
	}
	return signer, pub
}

func verify(env []byte, pub ...*Key) (*Verified, error) {
	return Verify(context.Background(), bytes.NewReader(env), VerifyOptions{Keys: pub, Now: at.Add(time.Hour)})
}

func reason(err error) string {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	if err == nil {
		return "ok"
	}
	return "other: " + err.Error()
}

func TestRoundTrip(t *testing.T) {
	signer, pub := keys(t)
	env, err := Sign(context.Background(), signer, sample())
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify(env, pub)
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyID != pub.ID() {
		t.Errorf("key id %s", v.KeyID)
	}
	want, _ := json.Marshal(sample())
	got, _ := json.Marshal(v.Statement)
	if !bytes.Equal(want, got) {
		t.Errorf("statement changed:\n%s\n%s", want, got)
	}
	// Rotation: the old and the new key are both trusted; either verifies.
	s2, p2 := keys(t)
	env2, _ := Sign(context.Background(), s2, sample())
	for _, e := range [][]byte{env, env2} {
		if _, err := verify(e, pub, p2); err != nil {
			t.Errorf("rotation: %v", err)
		}
	}
}

// Every byte of the payload and signature is covered: change any field
// and verification fails.
func TestTamper(t *testing.T) {
	signer, pub := keys(t)
	envJSON, err := Sign(context.Background(), signer, sample())
	if err != nil {
		t.Fatal(err)
	}
	var env dsse.Envelope
	json.Unmarshal(envJSON, &env)
	body, _ := base64.StdEncoding.DecodeString(env.Payload)
	reenc := func(e dsse.Envelope) []byte { b, _ := json.Marshal(e); return b }
	withPayload := func(b []byte) []byte {
		e := env
		e.Payload = base64.StdEncoding.EncodeToString(b)
		return reenc(e)
	}
	cases := map[string]struct {
		env  []byte
		want string
	}{
		"payload type": {func() []byte { e := env; e.PayloadType = "application/json"; return reenc(e) }(), "signature"},
		"signature": {func() []byte {
			e := env
			e.Signatures = []dsse.Signature{{KeyID: env.Signatures[0].KeyID, Sig: base64.StdEncoding.EncodeToString(make([]byte, 64))}}
			return reenc(e)
		}(), "signature"},
		"no signature": {func() []byte { e := env; e.Signatures = nil; return reenc(e) }(), "signature"},
		"key id": {func() []byte {
			e := env
			e.Signatures = []dsse.Signature{{KeyID: "SHA256:other", Sig: env.Signatures[0].Sig}}
			return reenc(e)
		}(), "unknown-key"},
		"truncated":   {envJSON[:len(envJSON)/2], "format"},
		"not json":    {[]byte("hello"), "format"},
		"extra field": {[]byte(strings.Replace(string(envJSON), `"payloadType"`, `"x": 1, "payloadType"`, 1)), "format"},
	}
	// One changed byte at a time across the whole payload.
	for _, field := range []string{`"score":72.5`, `"status":"fail"`, `"privilege":"full"`, `"tenants":25`, `"id":"brightwater-dental"`, `"expires_at"`, `"tenant:brightwater-dental"`} {
		i := bytes.Index(body, []byte(field))
		if i < 0 {
			t.Fatalf("field %s not in payload", field)
		}
		b := bytes.Clone(body)
		b[i+len(field)-2] ^= 1
		cases["payload "+field] = struct {
			env  []byte
			want string
		}{withPayload(b), "signature"}
	}
	for name, c := range cases {
		if _, err := verify(c.env, pub); reason(err) != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
	// Every byte of the payload, flipped in turn, breaks the signature.
	for i := 0; i < len(body); i += 7 {
		b := bytes.Clone(body)
		b[i] ^= 0x20
		if _, err := verify(withPayload(b), pub); reason(err) != "signature" {
			t.Fatalf("byte %d flipped: %v", i, err)
		}
	}
}

// A statement re-signed by someone else's key is refused, as is one
// whose content is valid but untrusted.
func TestResigned(t *testing.T) {
	signer, pub := keys(t)
	other, _ := keys(t)
	env, _ := Sign(context.Background(), other, sample())
	if _, err := verify(env, pub); reason(err) != "unknown-key" {
		t.Errorf("re-signed: %v", err)
	}
	// An attacker who strips key ids cannot get past the signature.
	var e dsse.Envelope
	json.Unmarshal(env, &e)
	e.Signatures[0].KeyID = ""
	b, _ := json.Marshal(e)
	if _, err := verify(b, pub); reason(err) != "signature" {
		t.Errorf("re-signed without key id: %v", err)
	}
	_ = signer
}

func TestValidity(t *testing.T) {
	signer, pub := keys(t)
	env, _ := Sign(context.Background(), signer, sample())
	check := func(opts VerifyOptions, want string) {
		t.Helper()
		opts.Keys = []*Key{pub}
		if _, err := Verify(context.Background(), bytes.NewReader(env), opts); reason(err) != want {
			t.Errorf("%+v: %v, want %s", opts.Now, err, want)
		}
	}
	check(VerifyOptions{Now: at.Add(31 * 24 * time.Hour)}, "expired")
	check(VerifyOptions{Now: at.Add(-time.Hour)}, "not-yet-valid")
	check(VerifyOptions{Now: at.Add(time.Hour), Tenant: "other-tenant"}, "tenant")
	check(VerifyOptions{Now: at.Add(time.Hour), Tenant: "brightwater-dental"}, "ok")
}

// Statements of a newer predicate, another type, or that break the schema
// are refused even when correctly signed.
func TestContentChecks(t *testing.T) {
	signer, pub := keys(t)
	signRaw := func(mutate func(m map[string]any)) []byte {
		b, _ := json.Marshal(sample())
		var m map[string]any
		json.Unmarshal(b, &m)
		mutate(m)
		body, _ := json.Marshal(m)
		es, _ := dsse.NewEnvelopeSigner(signer)
		e, err := es.SignPayload(context.Background(), PayloadType, body)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(e)
		return out
	}
	pred := func(m map[string]any) map[string]any { return m["predicate"].(map[string]any) }
	cases := map[string]struct {
		mutate func(map[string]any)
		want   string
	}{
		"newer version":   {func(m map[string]any) { pred(m)["version"] = 2 }, "version"},
		"newer type":      {func(m map[string]any) { m["predicateType"] = strings.TrimSuffix(PredicateType, "v1") + "v2" }, "version"},
		"other predicate": {func(m map[string]any) { m["predicateType"] = "https://slsa.dev/provenance/v1" }, "type"},
		"statement type":  {func(m map[string]any) { m["_type"] = "https://in-toto.io/Statement/v0.1" }, "type"},
		"bad status":      {func(m map[string]any) { pred(m)["controls"].([]any)[0].(map[string]any)["status"] = "great" }, "schema"},
		"unknown field":   {func(m map[string]any) { pred(m)["other_tenants"] = []string{"x"} }, "schema"},
		"subject mismatch": {func(m map[string]any) {
			m["subject"].([]any)[0].(map[string]any)["name"] = "tenant:other"
		}, "schema"},
	}
	for name, c := range cases {
		if _, err := verify(signRaw(c.mutate), pub); reason(err) != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
}

// Sign refuses a statement that would not verify.
func TestSignChecks(t *testing.T) {
	signer, pub := keys(t)
	st := sample()
	st.Predicate.ExpiresAt = st.Predicate.IssuedAt
	if _, err := Sign(context.Background(), signer, st); err == nil {
		t.Error("signed a statement that expires when issued")
	}
	st = sample()
	st.Predicate.Controls[0].Status = "great"
	if _, err := Sign(context.Background(), signer, st); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Errorf("schema: %v", err)
	}
	if _, err := Sign(context.Background(), pub, sample()); err == nil {
		t.Error("a public key signed")
	}
}

func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	GenerateKey(dir, "k")
	signer, _ := LoadKey(filepath.Join(dir, "k.key"))
	pub, _ := LoadKey(filepath.Join(dir, "k.pub"))
	env, _ := Sign(context.Background(), signer, sample())
	f.Add(env)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Verify(context.Background(), bytes.NewReader(b), VerifyOptions{Keys: []*Key{pub}, Now: at.Add(time.Hour)})
		if err == nil && v.Statement.Predicate.Tenant.ID != "brightwater-dental" {
			t.Fatalf("verified a statement nobody signed: %+v", v.Statement.Predicate.Tenant)
		}
	})
}

// BenchmarkVerify: one envelope, signature to freshness (target ≤ 50 ms).
func BenchmarkVerify(b *testing.B) {
	dir := b.TempDir()
	if _, err := GenerateKey(dir, "msp"); err != nil {
		b.Fatal(err)
	}
	signer, err := LoadKey(filepath.Join(dir, "msp.key"))
	if err != nil {
		b.Fatal(err)
	}
	pub, err := LoadKey(filepath.Join(dir, "msp.pub"))
	if err != nil {
		b.Fatal(err)
	}
	env, err := Sign(context.Background(), signer, sample())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(env)))
	for b.Loop() {
		if _, err := verify(env, pub); err != nil {
			b.Fatal(err)
		}
	}
}
