package assess

import (
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Status is the outcome of one control for one subject.
type Status string

const (
	StatusPass          Status = "pass"
	StatusFail          Status = "fail"
	StatusNotEvaluable  Status = "not_evaluable"
	StatusNotApplicable Status = "not_applicable"
	StatusAttested      Status = "attested"
	StatusExcepted      Status = "excepted"
)

// Rank orders statuses for one cell of a matrix, the worst highest: fail 6,
// excepted 5 (a failure accepted), not_evaluable 4 (maybe failing),
// attested 3, pass 2, not_applicable 1, anything else 0. It is the one
// order the report, the dashboard and the store use.
func (s Status) Rank() int {
	switch s {
	case StatusFail:
		return 6
	case StatusExcepted:
		return 5
	case StatusNotEvaluable:
		return 4
	case StatusAttested:
		return 3
	case StatusPass:
		return 2
	case StatusNotApplicable:
		return 1
	}
	return 0
}

// Evidence is one estate object (or collected fact) a result rests on.
type Evidence struct {
	Kind   string     `json:"kind"`             // tenant, identity, tool, grant, asset, backup, ir_plan, contract, vendor, domain, exposure, kev
	ID     string     `json:"id"`               // object id
	Detail string     `json:"detail,omitempty"` // human-readable fact, e.g. "mfa.enforced=false"
	Pos    estate.Pos `json:"pos"`              // file:line the object was read from
}

// Result is the verdict of one control on one subject. Subject is "msp" or a
// tenant id; Object optionally names the specific failing object (an
// identity, a tool...) when a control yields one result per object.
type Result struct {
	Control     string              `json:"control"`
	Title       string              `json:"title"`
	Heading     int                 `json:"heading"`  // advisory heading 1..12
	Severity    string              `json:"severity"` // critical, high, medium, low, info
	Subject     string              `json:"subject"`
	Object      string              `json:"object,omitempty"`
	Status      Status              `json:"status"`
	Message     string              `json:"message"`
	Missing     []string            `json:"missing,omitempty"` // evidence that would be needed (not_evaluable)
	Evidence    []Evidence          `json:"evidence,omitempty"`
	Remediation string              `json:"remediation,omitempty"`
	Attestation *estate.Attestation `json:"attestation,omitempty"`
	Exception   *estate.Exception   `json:"exception,omitempty"`

	Party string `json:"party,omitempty"` // msp, customer, both (whose obligation)
	Kind  string `json:"kind,omitempty"`  // automated, attested
}

// Score summarises one subject (a tenant or the MSP).
type Score struct {
	Subject string  `json:"subject"`
	Name    string  `json:"name"`
	Score   float64 `json:"score"` // 0..100, severity weighted
	Pass    int     `json:"pass"`
	Fail    int     `json:"fail"`
	Other   int     `json:"other"` // not evaluable, not applicable, attested, excepted

	NotEvaluable  int `json:"not_evaluable"`
	NotApplicable int `json:"not_applicable"`
	Attested      int `json:"attested"`
	Excepted      int `json:"excepted"`
}

// Report is a whole assessment run.
type Report struct {
	Version  string    `json:"version"` // JSON schema version of this document, "1"
	At       time.Time `json:"at"`      // evaluation time (the injected clock)
	Provider string    `json:"provider"`
	Sources  []string  `json:"sources,omitempty"`
	Results  []Result  `json:"results"`
	Scores   []Score   `json:"scores"` // MSP first, then tenants worst first

	KEV      string   `json:"kev,omitempty"`      // KEV catalog version used, empty when none
	Policies []string `json:"policies,omitempty"` // Rego files evaluated
	// Timing of the run's phases; not part of the JSON document (it
	// varies run to run).
	Timing *Timing `json:"-"`
}
