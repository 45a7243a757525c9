// Package attest signs and verifies posture attestations: what an MSP holds
// in one customer tenant and which controls passed on which date, as an
// in-toto Statement (predicate type PredicateType, schema in
// posture-v1.schema.json) carried in a DSSE envelope signed with the MSP's
// Ed25519 key. A customer verifies one offline with the public key alone.
//
// The envelope and its pre-authentication encoding are the DSSE reference
// implementation's (secure-systems-lab/go-securesystemslib/dsse); this
// package adds the keys, the statement, and the checks a verifier needs
// beyond the signature: payload type, statement and predicate types and
// version, the JSON schema, freshness and the tenant.
package attest
