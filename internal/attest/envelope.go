package attest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

//go:embed posture-v1.schema.json
var schemaJSON []byte

// Schema returns the statement's JSON schema (posture-v1.schema.json).
func Schema() []byte { return bytes.Clone(schemaJSON) }

// MaxEnvelopeBytes bounds an envelope Verify reads: a tenant's attestation
// is tens of kilobytes.
const MaxEnvelopeBytes = 8 << 20

// Sign signs st with key and returns the DSSE envelope as indented JSON.
func Sign(ctx context.Context, key *Key, st *Statement) ([]byte, error) {
	if err := st.check(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	if err := validateSchema(body); err != nil {
		return nil, fmt.Errorf("statement does not match its schema: %w", err)
	}
	s, err := dsse.NewEnvelopeSigner(key)
	if err != nil {
		return nil, err
	}
	env, err := s.SignPayload(ctx, PayloadType, body)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(env, "", "  ")
}

// check holds the invariants Sign and Verify share beyond the schema.
func (st *Statement) check() error {
	p := &st.Predicate
	if len(st.Subject) != 1 || st.Subject[0].Name != "tenant:"+p.Tenant.ID {
		return fmt.Errorf("subject must be the one tenant %q", p.Tenant.ID)
	}
	if st.Subject[0].Digest["sha256"] != p.EstateDigest {
		return errors.New("subject digest and estate_digest differ")
	}
	if !p.ExpiresAt.After(p.IssuedAt) {
		return errors.New("expires_at is not after issued_at")
	}
	if p.AssessedAt.After(p.IssuedAt) {
		return errors.New("assessed_at is after issued_at")
	}
	return nil
}

// VerifyOptions says what a verifier requires beyond a good signature.
type VerifyOptions struct {
	// Keys are the trusted public keys (several during a key rotation).
	Keys []*Key
	// Now is the verifier's clock (the zero value means time.Now).
	Now time.Time
	// Tenant, when set, is the tenant the statement must be about.
	Tenant string
	// Skew is how far in the future issued_at may be (default 5 minutes).
	Skew time.Duration
}

// Verified is a statement that passed every check.
type Verified struct {
	Statement *Statement
	KeyID     string
}

// VerifyError says why an envelope was refused; Reason is a short stable
// word for scripts (signature, unknown-key, format, type, version, schema,
// expired, not-yet-valid, tenant).
type VerifyError struct {
	Reason string
	Err    error
}

func (e *VerifyError) Error() string { return e.Reason + ": " + e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

func refuse(reason string, format string, args ...any) error {
	return &VerifyError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// Verify reads a DSSE envelope from r and checks, in order: its shape, the
// signature against a trusted key (by key id), the payload and statement
// types, the predicate type and version, the schema, the subject, the
// validity window and the tenant.
func Verify(ctx context.Context, r io.Reader, opts VerifyOptions) (*Verified, error) {
	if len(opts.Keys) == 0 {
		return nil, errors.New("no trusted key given")
	}
	raw, err := io.ReadAll(io.LimitReader(r, MaxEnvelopeBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxEnvelopeBytes {
		return nil, refuse("format", "envelope larger than %d MiB", MaxEnvelopeBytes>>20)
	}
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, refuse("format", "not a DSSE envelope: %v", err)
	}
	if len(env.Signatures) == 0 {
		return nil, refuse("signature", "the envelope is not signed")
	}
	known := map[string]bool{}
	var verifiers []dsse.Verifier
	for _, k := range opts.Keys {
		known[k.id] = true
		verifiers = append(verifiers, k)
	}
	anyKnown := false
	for _, s := range env.Signatures {
		anyKnown = anyKnown || s.KeyID == "" || known[s.KeyID]
	}
	if !anyKnown {
		ids := make([]string, len(env.Signatures))
		for i, s := range env.Signatures {
			ids[i] = s.KeyID
		}
		return nil, refuse("unknown-key", "signed by key id %s, which is not among the trusted keys", strings.Join(ids, ", "))
	}
	ev, err := dsse.NewEnvelopeVerifier(verifiers...)
	if err != nil {
		return nil, err
	}
	accepted, err := ev.Verify(ctx, &env)
	if err != nil || len(accepted) == 0 {
		return nil, refuse("signature", "no signature verifies with a trusted key (the content or signature was changed)")
	}
	if env.PayloadType != PayloadType {
		return nil, refuse("type", "payload type %q, want %q", env.PayloadType, PayloadType)
	}
	body, err := env.DecodeB64Payload()
	if err != nil {
		return nil, refuse("format", "payload: %v", err)
	}
	var head struct {
		Type          string `json:"_type"`
		PredicateType string `json:"predicateType"`
		Predicate     struct {
			Version int `json:"version"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, refuse("format", "statement: %v", err)
	}
	if head.Type != StatementType {
		return nil, refuse("type", "statement type %q, want %q", head.Type, StatementType)
	}
	if head.PredicateType != PredicateType {
		if strings.HasPrefix(head.PredicateType, strings.TrimSuffix(PredicateType, "v1")) {
			return nil, refuse("version", "predicate type %s is newer than this firebreak reads (%s): upgrade to verify it", head.PredicateType, PredicateType)
		}
		return nil, refuse("type", "predicate type %q, want %q", head.PredicateType, PredicateType)
	}
	if head.Predicate.Version > PredicateVersion {
		return nil, refuse("version", "predicate version %d is newer than this firebreak reads (%d): upgrade to verify it", head.Predicate.Version, PredicateVersion)
	}
	if err := validateSchema(body); err != nil {
		return nil, refuse("schema", "%v", err)
	}
	var st Statement
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, refuse("format", "statement: %v", err)
	}
	if err := st.check(); err != nil {
		return nil, refuse("schema", "%v", err)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	skew := opts.Skew
	if skew == 0 {
		skew = 5 * time.Minute
	}
	p := &st.Predicate
	if p.IssuedAt.After(now.Add(skew)) {
		return nil, refuse("not-yet-valid", "issued %s, in the future of this clock (%s)", p.IssuedAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !now.Before(p.ExpiresAt) {
		return nil, refuse("expired", "expired %s (issued %s); ask the MSP for a current one", p.ExpiresAt.UTC().Format(time.RFC3339), p.IssuedAt.UTC().Format(time.RFC3339))
	}
	if opts.Tenant != "" && p.Tenant.ID != opts.Tenant {
		return nil, refuse("tenant", "the statement is about tenant %q, not %q", p.Tenant.ID, opts.Tenant)
	}
	return &Verified{Statement: &st, KeyID: accepted[0].KeyID}, nil
}
