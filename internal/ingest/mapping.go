package ingest

import (
	"bytes"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// Mapping tells the generic JSON-lines parser which JSON paths (dotted, e.g.
// "actor.login") hold which event fields. Only Timestamp is required.
//
//	dataset: rmm.audit
//	category: process              # a constant, or
//	category_field: kind           # a JSON path giving event.category
//	action_categories: {login: authentication}  # per action value
//	timestamp: ts
//	timestamp_layout: rfc3339      # rfc3339 (default), unix, unix_ms, or a Go layout
//	user: operator
//	source_ip: ip
//	action: action
//	outcome: result
//	success_values: [ok, success]  # outcome values meaning success (default: success, ok, true, succeeded)
//	failure_values: [failed, error]
//	reason: reason
//	tenant: customer
//	host: agent
//	fields: [console_id, script]   # extra fields kept for rules
type Mapping struct {
	Dataset       string `yaml:"dataset"`
	Category      string `yaml:"category"`
	CategoryField string `yaml:"category_field"`
	// ActionCategories overrides the category for some action values,
	// e.g. {login: authentication} in an audit log that is mostly "process".
	ActionCategories map[string]string `yaml:"action_categories"`
	Timestamp        string            `yaml:"timestamp"`
	TimestampLayout  string            `yaml:"timestamp_layout"`
	User             string            `yaml:"user"`
	UserDomain       string            `yaml:"user_domain"`
	SourceIP         string            `yaml:"source_ip"`
	SourcePort       string            `yaml:"source_port"`
	Action           string            `yaml:"action"`
	Outcome          string            `yaml:"outcome"`
	SuccessValues    []string          `yaml:"success_values"`
	FailureValues    []string          `yaml:"failure_values"`
	Reason           string            `yaml:"reason"`
	Code             string            `yaml:"code"`
	Tenant           string            `yaml:"tenant"`
	Host             string            `yaml:"host"`
	Fields           []string          `yaml:"fields"`

	pos string // file for error messages
}

// LoadMapping reads a Mapping from YAML, strictly (unknown keys are errors).
func LoadMapping(path string) (*Mapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading mapping: %w", err)
	}
	return ParseMapping(path, b)
}

// ParseMapping parses a Mapping from YAML bytes; name is used in errors.
func ParseMapping(name string, b []byte) (*Mapping, error) {
	var m Mapping
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	m.pos = name
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the mapping.
func (m *Mapping) Validate() error {
	if m.Timestamp == "" {
		return fmt.Errorf("%s: mapping: timestamp: a JSON path is required", m.pos)
	}
	return nil
}
