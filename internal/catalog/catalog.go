// Package catalog holds the AA22-131A control catalog: every recommendation
// under the advisory's twelve headings, for MSPs and for customers, as
// embedded YAML (controls/*.yaml). It is pure data with validation; the
// logic of automated controls is Rego in internal/assess/policies.
//
// Any package may import catalog. Adding a control means adding a YAML file
// (or an entry to one) under controls/; Load picks up every file there.
package catalog

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed controls/*.yaml
var embedded embed.FS

// Headings are the advisory's twelve recommendation headings, in order
// (index 0 is heading 1).
var headings = [12]string{
	"Prevent initial compromise",
	"Enable/improve monitoring and logging processes",
	"Enforce multifactor authentication (MFA)",
	"Manage internal architecture risks and segregate internal networks",
	"Apply the principle of least privilege",
	"Deprecate obsolete accounts and infrastructure",
	"Apply updates",
	"Backup systems and data",
	"Develop and exercise incident response and recovery plans",
	"Understand and proactively manage supply chain risk",
	"Promote transparency",
	"Manage account authentication and authorization",
}

// HeadingName returns the advisory's name for heading n (1..12), or "" when
// n is out of range.
func HeadingName(n int) string {
	if n < 1 || n > len(headings) {
		return ""
	}
	return headings[n-1]
}

// NumHeadings is the number of headings in AA22-131A.
const NumHeadings = len(headings)

// Party says whose obligation a control is.
type Party string

const (
	PartyMSP      Party = "msp"
	PartyCustomer Party = "customer"
	PartyBoth     Party = "both"
)

// Scope says which subjects a control is evaluated for: the MSP itself,
// every tenant, or both. It defaults from Party (msp→msp, customer→tenant,
// both→both); an MSP obligation judged per customer (MFA on every MSP
// identity that reaches a customer) has party msp and scope tenant.
type Scope string

const (
	ScopeMSP    Scope = "msp"
	ScopeTenant Scope = "tenant"
	ScopeBoth   Scope = "both"
)

// Kind says how a control is judged.
type Kind string

const (
	// KindAutomated controls are judged by Rego from estate evidence.
	KindAutomated Kind = "automated"
	// KindAttested controls are judged from a named person's attestation,
	// valid until it expires.
	KindAttested Kind = "attested"
)

// Severity of a failing control.
type Severity string

const (
	SevCritical Severity = "critical"
	SevHigh     Severity = "high"
	SevMedium   Severity = "medium"
	SevLow      Severity = "low"
	SevInfo     Severity = "info"
)

// Severities is the one severity scale, most severe first: reports list
// failing counts in this order.
var Severities = []Severity{SevCritical, SevHigh, SevMedium, SevLow, SevInfo}

// Rank orders severities: info 0 … critical 4; -1 when unknown.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if s == v {
			return len(Severities) - 1 - i
		}
	}
	return -1
}

// Weight is the severity's weight in scores (see docs/usage.md "Scoring").
func (s Severity) Weight() float64 {
	switch s {
	case SevCritical:
		return 10
	case SevHigh:
		return 5
	case SevMedium:
		return 3
	case SevLow:
		return 1
	}
	return 0
}

// ParseSeverity accepts critical, high, medium, low, info (any case).
func ParseSeverity(s string) (Severity, error) {
	v := SeverityOf(s)
	if v.Rank() < 0 {
		return "", fmt.Errorf("unknown severity %q: expected critical, high, medium, low or info", s)
	}
	return v, nil
}

// SeverityOf reads a severity written any way firebreak meets it: the
// catalog's words, Sigma's "informational" (detect's levels) and case
// variants. Unknown words give a Severity whose Rank is -1. It is the one
// severity scale for findings, incidents and notifications.
func SeverityOf(s string) Severity {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	switch v {
	case "informational", "information", "informative":
		return SevInfo
	case "crit":
		return SevCritical
	case "med", "moderate":
		return SevMedium
	}
	return v
}

// References tie a control to its sources.
type References struct {
	// Advisory cites the AA22-131A heading and paragraph, e.g.
	// "AA22-131A §3 (MSPs)".
	Advisory string `yaml:"advisory" json:"advisory"`
	// NISTCSF lists NIST CSF 2.0 subcategory ids where the mapping is clear.
	NISTCSF []string `yaml:"nist_csf,omitempty" json:"nist_csf,omitempty"`
	// Other free-form references (AA22-074A, CISA KEV, ...).
	Other []string `yaml:"other,omitempty" json:"other,omitempty"`
}

// Control is one catalog entry.
type Control struct {
	ID          string   `yaml:"id" json:"id"`
	Title       string   `yaml:"title" json:"title"`
	Heading     int      `yaml:"heading" json:"heading"`
	HeadingName string   `yaml:"-" json:"heading_name"`
	Party       Party    `yaml:"party" json:"party"`
	Scope       Scope    `yaml:"scope,omitempty" json:"scope"`
	Severity    Severity `yaml:"severity" json:"severity"`
	Kind        Kind     `yaml:"kind" json:"kind"`
	// ValidityDays is how long an attestation of this control stays valid
	// when the attestation itself names no expiry (attested controls; 365
	// when unset).
	ValidityDays int        `yaml:"validity_days,omitempty" json:"validity_days,omitempty"`
	Rationale    string     `yaml:"rationale" json:"rationale"`
	Remediation  string     `yaml:"remediation" json:"remediation"`
	References   References `yaml:"references" json:"references"`
	// Rego is the package implementing an automated control, e.g.
	// "firebreak.checks.mfa"; its results set carries this control's id.
	Rego string `yaml:"rego,omitempty" json:"rego,omitempty"`
	// Evidence names the estate evidence the control needs, in the
	// vocabulary collectors use for collection gaps (e.g. "identities.mfa").
	Evidence []string `yaml:"evidence,omitempty" json:"evidence,omitempty"`
	// File is the catalog file the control was read from.
	File string `yaml:"-" json:"-"`
	Line int    `yaml:"-" json:"-"`
}

// AppliesToMSP reports whether the control is evaluated for the MSP subject.
func (c *Control) AppliesToMSP() bool { return c.Scope == ScopeMSP || c.Scope == ScopeBoth }

// AppliesToTenants reports whether the control is evaluated per tenant.
func (c *Control) AppliesToTenants() bool { return c.Scope == ScopeTenant || c.Scope == ScopeBoth }

// Catalog is the loaded, validated set of controls.
type Catalog struct {
	controls []*Control
	byID     map[string]*Control
}

// Controls returns every control ordered by heading, then id.
func (c *Catalog) Controls() []*Control { return c.controls }

// Control returns the control with the given id.
func (c *Catalog) Control(id string) (*Control, bool) {
	x, ok := c.byID[id]
	return x, ok
}

// Len is the number of controls.
func (c *Catalog) Len() int { return len(c.controls) }

// Load reads and validates the embedded catalog.
func Load() (*Catalog, error) {
	sub, err := fs.Sub(embedded, "controls")
	if err != nil {
		return nil, err
	}
	return LoadFS(sub, "internal/catalog/controls")
}

// ValidationError lists every problem found in catalog files.
type ValidationError struct{ Problems []string }

func (e *ValidationError) Error() string {
	return fmt.Sprintf("invalid control catalog (%d problems):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

var idPattern = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$`)

// LoadFS reads every *.yaml file at the root of fsys; prefix is prepended
// to file names in errors.
func LoadFS(fsys fs.FS, prefix string) (*Catalog, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var all []*Control
	var problems []string
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		name := path.Join(prefix, n)
		cs, err := Parse(bytes.NewReader(b), name)
		if err != nil {
			var ve *ValidationError
			if errors.As(err, &ve) {
				problems = append(problems, ve.Problems...)
				continue
			}
			return nil, err
		}
		all = append(all, cs...)
	}
	cat := &Catalog{byID: make(map[string]*Control, len(all))}
	for _, c := range all {
		if prev, dup := cat.byID[c.ID]; dup {
			problems = append(problems, fmt.Sprintf("%s:%d: duplicate control id %s (first at %s:%d)", c.File, c.Line, c.ID, prev.File, prev.Line))
			continue
		}
		cat.byID[c.ID] = c
		cat.controls = append(cat.controls, c)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	slices.SortFunc(cat.controls, func(a, b *Control) int {
		if a.Heading != b.Heading {
			return a.Heading - b.Heading
		}
		return strings.Compare(a.ID, b.ID)
	})
	return cat, nil
}

type file struct {
	Controls []yaml.Node `yaml:"controls"`
}

// Parse decodes one catalog file strictly (unknown keys are errors) and
// validates each control. Problems are reported together as a
// *ValidationError with file:line.
func Parse(r io.Reader, name string) ([]*Control, error) {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, &ValidationError{Problems: []string{fmt.Sprintf("%s: %v", name, err)}}
	}
	var out []*Control
	var problems []string
	for i := range f.Controls {
		n := &f.Controls[i]
		var c Control
		if err := decodeStrict(n, &c); err != nil {
			problems = append(problems, fmt.Sprintf("%s:%d: controls[%d]: %v", name, n.Line, i, err))
			continue
		}
		c.File, c.Line = name, n.Line
		for _, p := range c.validate() {
			problems = append(problems, fmt.Sprintf("%s:%d: %s: %s", name, n.Line, c.ID, p))
		}
		out = append(out, &c)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return out, nil
}

// decodeStrict decodes a node rejecting unknown keys (yaml.v3's
// Node.Decode ignores KnownFields, so re-encode through a strict decoder).
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		// Line numbers inside the re-encoded node are relative; strip them.
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return nil
}

func (c *Control) validate() []string {
	var p []string
	if !idPattern.MatchString(c.ID) {
		p = append(p, fmt.Sprintf("id %q: expected upper-case words joined by '-', e.g. FB-MFA-001", c.ID))
	}
	if strings.TrimSpace(c.Title) == "" {
		p = append(p, "title is empty")
	}
	if c.Heading < 1 || c.Heading > NumHeadings {
		p = append(p, fmt.Sprintf("heading %d: expected 1..%d", c.Heading, NumHeadings))
	} else {
		c.HeadingName = HeadingName(c.Heading)
	}
	switch c.Party {
	case PartyMSP, PartyCustomer, PartyBoth:
	default:
		p = append(p, fmt.Sprintf("party %q: expected msp, customer or both", c.Party))
	}
	if c.Scope == "" {
		switch c.Party {
		case PartyMSP:
			c.Scope = ScopeMSP
		case PartyCustomer:
			c.Scope = ScopeTenant
		default:
			c.Scope = ScopeBoth
		}
	}
	switch c.Scope {
	case ScopeMSP, ScopeTenant, ScopeBoth:
	default:
		p = append(p, fmt.Sprintf("scope %q: expected msp, tenant or both", c.Scope))
	}
	if c.Severity.Rank() < 0 {
		p = append(p, fmt.Sprintf("severity %q: expected critical, high, medium, low or info", c.Severity))
	}
	switch c.Kind {
	case KindAutomated:
		if c.Rego == "" {
			p = append(p, "automated control needs rego (the package implementing it)")
		}
		if len(c.Evidence) == 0 {
			p = append(p, "automated control needs evidence (what it reads)")
		}
		if c.ValidityDays != 0 {
			p = append(p, "validity_days applies to attested controls only")
		}
	case KindAttested:
		if c.Rego != "" {
			p = append(p, "attested control must not name rego")
		}
		if c.ValidityDays == 0 {
			c.ValidityDays = 365
		}
		if c.ValidityDays < 0 {
			p = append(p, "validity_days must be positive")
		}
	default:
		p = append(p, fmt.Sprintf("kind %q: expected automated or attested", c.Kind))
	}
	if strings.TrimSpace(c.Rationale) == "" {
		p = append(p, "rationale is empty")
	}
	if strings.TrimSpace(c.Remediation) == "" {
		p = append(p, "remediation is empty")
	}
	if !strings.HasPrefix(c.References.Advisory, "AA22-131A") {
		p = append(p, "references.advisory must cite AA22-131A and the heading")
	}
	return p
}
