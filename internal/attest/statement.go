package attest

import "time"

// The identifiers a verifier checks.
const (
	PayloadType   = "application/vnd.in-toto+json"
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType names firebreak's posture predicate, version 1. A
	// later version gets a new type (…/posture/v2); Version inside the
	// predicate counts compatible additions to v1.
	PredicateType = "https://github.com/firebreak-msp/firebreak/attestation/posture/v1"
	// PredicateVersion is the newest predicate version this build reads.
	PredicateVersion = 1
)

// Statement is an in-toto Statement v1 whose subject is one tenant's
// estate snapshot and whose predicate is that tenant's posture.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Posture   `json:"predicate"`
}

// Subject is an in-toto ResourceDescriptor: the tenant, named
// "tenant:<id>", with the digest of its estate snapshot.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Posture is what the MSP attests about one tenant at one time. It holds
// nothing of any other tenant: other tenants appear only as counts.
type Posture struct {
	Version    int       `json:"version"`
	Tenant     TenantRef `json:"tenant"`
	Provider   string    `json:"provider"`
	AssessedAt time.Time `json:"assessed_at"`
	IssuedAt   time.Time `json:"issued_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Tool       ToolRef   `json:"tool"`
	// EstateDigest is the SHA-256 (hex) of the tenant's estate snapshot,
	// the same digest as the subject's.
	EstateDigest string         `json:"estate_digest"`
	Summary      Summary        `json:"summary"`
	Controls     []Control      `json:"controls"`
	Access       []Access       `json:"access"`
	Blast        Blast          `json:"blast"`
	Contract     *ContractFacts `json:"contract,omitempty"`
}

// TenantRef names the tenant.
type TenantRef struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// ToolRef names the tool that assessed.
type ToolRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Summary counts the controls by status, with the tenant's score.
type Summary struct {
	Score         float64 `json:"score"`
	Pass          int     `json:"pass"`
	Fail          int     `json:"fail"`
	NotEvaluable  int     `json:"not_evaluable"`
	NotApplicable int     `json:"not_applicable"`
	Excepted      int     `json:"excepted"`
}

// Control is one control's result for the tenant.
type Control struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Heading  string `json:"heading,omitempty"`
	Party    string `json:"party,omitempty"`
	Severity string `json:"severity,omitempty"`
	Status   string `json:"status"`
	Message  string `json:"message,omitempty"`
	// EvidenceDigest is the SHA-256 (hex) of the result's evidence as
	// firebreak stored it, so a later dispute can show which evidence it was.
	EvidenceDigest string `json:"evidence_digest,omitempty"`
}

// Access is one way the MSP (its staff, tools, vendors) can act in the
// tenant.
type Access struct {
	Principal string `json:"principal"`
	Kind      string `json:"kind"`
	Tool      string `json:"tool,omitempty"`
	Privilege string `json:"privilege"`
	// Standing is false for just-in-time (eligible) access.
	Standing bool   `json:"standing"`
	MFA      string `json:"mfa,omitempty"`
	Path     string `json:"path,omitempty"`
}

// Blast says which compromises reach the tenant.
type Blast struct {
	// ReachedBy lists the MSP-side objects whose compromise reaches the
	// tenant at admin level, with a proof path each (capped; see Total).
	ReachedBy []Reacher `json:"reached_by"`
	// Total counts the distinct objects found (listed or not).
	Total int `json:"total"`
	// Truncated is true when a list the trust facts keep per tenant was
	// capped, so more objects may reach the tenant than Total says.
	Truncated bool `json:"truncated,omitempty"`
	// OtherTenants counts objects of other tenants that reach this one
	// (cross-customer paths); they are not named.
	OtherTenants int `json:"other_tenants,omitempty"`
}

// Reacher is one object whose compromise reaches the tenant.
type Reacher struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Tenants counts every tenant the object reaches at admin level (this
	// one included): its blast radius, without naming the others.
	Tenants int    `json:"tenants"`
	Path    string `json:"path,omitempty"`
}

// ContractFacts is the contract the tenant holds.
type ContractFacts struct {
	ID       string   `json:"id"`
	Present  []string `json:"clauses_present"`
	Missing  []string `json:"clauses_missing"`
	Reviewed string   `json:"reviewed,omitempty"`
}
