package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// ConnectorsConfig is the MSP's working tools, in and out
// (docs/connectors.md): sources (RMM, documentation platforms, identity
// platforms) that keep the estate fresh and feed detection, SIEM export,
// and PSA tickets.
type ConnectorsConfig struct {
	// Dir is the estate directory collected fragments are written to
	// (default: estate.paths[0] when it is a directory); they are merged
	// with the hand-written files there.
	Dir     string          `yaml:"dir" json:"dir,omitempty"`
	Sources []SourceConfig  `yaml:"sources" json:"sources,omitempty"`
	Export  []ExportConfig  `yaml:"export" json:"export,omitempty"`
	Tickets []TicketsConfig `yaml:"tickets" json:"tickets,omitempty"`
}

// SourceConfig is one inbound connector (ninjaone, datto, itglue, …).
type SourceConfig struct {
	Name     string        `yaml:"name" json:"name"` // default: type
	Type     string        `yaml:"type" json:"type"`
	Schedule time.Duration `yaml:"schedule" json:"schedule,omitempty"` // evidence collection; default: the connector's
	Poll     time.Duration `yaml:"poll" json:"poll,omitempty"`         // activity polling; default 1m
	// Settings is the connector's own section, decoded strictly by it.
	Settings yaml.Node `yaml:"settings" json:"-"`
}

// ExportConfig is one SIEM export (sentinel, splunk_hec).
type ExportConfig struct {
	Name          string    `yaml:"name" json:"name"`
	Type          string    `yaml:"type" json:"type"`
	SpoolDir      string    `yaml:"spool_dir" json:"spool_dir,omitempty"`             // default <data_dir>/spool/<name>
	SpoolMaxBytes int64     `yaml:"spool_max_bytes" json:"spool_max_bytes,omitempty"` // default 1 GiB
	Events        bool      `yaml:"events" json:"events,omitempty"`                   // also export normalized events (default: incidents and findings only)
	Settings      yaml.Node `yaml:"settings" json:"-"`
}

// TicketsConfig is one PSA (connectwise, halopsa).
type TicketsConfig struct {
	Name string `yaml:"name" json:"name"`
	Type string `yaml:"type" json:"type"`
	// Companies maps estate tenants to PSA companies ("*" for the rest).
	Companies   map[string]string `yaml:"companies" json:"companies,omitempty"`
	Kinds       []string          `yaml:"kinds" json:"kinds,omitempty"`               // finding, case, incident, remediation (default finding and case)
	MinSeverity string            `yaml:"min_severity" json:"min_severity,omitempty"` // default medium
	Interval    time.Duration     `yaml:"interval" json:"interval,omitempty"`         // delivery and retry cadence, default 1m
	Settings    yaml.Node         `yaml:"settings" json:"-"`
}

// validateConnectors checks what can be checked without the registry
// (the connector types and settings are checked when serve builds them).
func (c *Config) validateConnectors(bad func(field, format string, args ...any)) {
	names := map[string]string{}
	seen := func(field, name, typ string) {
		if typ == "" {
			bad(field+".type", "required")
		}
		if name == "" {
			name = typ
		}
		if prev, dup := names[name]; dup {
			bad(field+".name", "%q is also used by %s", name, prev)
		}
		names[name] = field
	}
	for i, s := range c.Connectors.Sources {
		f := fmt.Sprintf("connectors.sources[%d]", i)
		seen(f, s.Name, s.Type)
		if s.Schedule != 0 && s.Schedule < time.Minute {
			bad(f+".schedule", "%s: at least 1m", s.Schedule)
		}
		if s.Poll != 0 && s.Poll < 10*time.Second {
			bad(f+".poll", "%s: at least 10s", s.Poll)
		}
	}
	for i, e := range c.Connectors.Export {
		f := fmt.Sprintf("connectors.export[%d]", i)
		seen(f, e.Name, e.Type)
		if e.SpoolMaxBytes < 0 {
			bad(f+".spool_max_bytes", "must not be negative")
		}
	}
	for i, t := range c.Connectors.Tickets {
		f := fmt.Sprintf("connectors.tickets[%d]", i)
		seen(f, t.Name, t.Type)
		for _, k := range t.Kinds {
			if k != "finding" && k != "case" && k != "incident" && k != "remediation" {
				bad(f+".kinds", "%q: expected finding, case, incident or remediation", k)
			}
		}
		switch t.MinSeverity {
		case "", "low", "medium", "high", "critical":
		default:
			bad(f+".min_severity", "%q: expected low, medium, high or critical", t.MinSeverity)
		}
		if len(t.Companies) == 0 {
			bad(f+".companies", "map at least one tenant (or \"*\") to a PSA company")
		}
	}
}
