package detect

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// Event is the sample as an event (for the ECS encoder).
func (s *Sample) Event() event.Event {
	e := event.Event{Timestamp: s.Time, Action: s.Action, Outcome: s.Outcome, Reason: s.Reason, UserName: s.User,
		HostName: s.Host, Tenant: s.Tenant, File: s.File, Line: s.Line, Dataset: s.Dataset}
	e.SourceIP, _ = netip.ParseAddr(s.SourceIP)
	return e
}

// MarshalJSON writes the sample as an ECS event (event.AppendECS).
func (s Sample) MarshalJSON() ([]byte, error) {
	e := s.Event()
	return event.AppendECS(nil, &e), nil
}

// legacySample is the JSON samples had before they were written as ECS; it
// is still read from incidents stored by earlier versions.
type legacySample struct {
	Time     time.Time `json:"time"`
	Action   string    `json:"action"`
	Outcome  string    `json:"outcome"`
	Reason   string    `json:"reason"`
	User     string    `json:"user"`
	SourceIP string    `json:"source_ip"`
	Host     string    `json:"host"`
	Tenant   string    `json:"tenant"`
	File     string    `json:"file"`
	Line     int64     `json:"line"`
	Dataset  string    `json:"-"` // not in the old form
}

// UnmarshalJSON reads an ECS sample or the older snake_case form.
func (s *Sample) UnmarshalJSON(b []byte) error {
	var probe struct {
		TS *json.RawMessage `json:"@timestamp"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	if probe.TS == nil {
		var l legacySample
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		*s = Sample(l)
		return nil
	}
	var e event.Event
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	*s = sampleOf(&e)
	return nil
}

// ECS returns the incident as an ECS alert document's data; kind is the
// alert kind (new, escalated, recurred) or "". firebreak.detail carries,
// under the keys of the incident's own JSON (what the service stores and
// its API writes there), the description with the explanation of the
// pattern the incident followed, and the pattern a self_recovery rule
// judged (spray, brute force's "spray", self-recovering, pending).
func (inc *Incident) ECS(kind string, at time.Time) event.Alert {
	detail := map[string]any{"level": inc.Level, "samples": inc.Samples}
	if inc.Description != "" {
		detail["description"] = inc.Description
	}
	if inc.Pattern != "" {
		detail["pattern"] = inc.Pattern
	}
	if len(inc.Values) > 0 {
		detail["values"], detail["distinct"], detail["field"] = inc.Values, inc.Distinct, inc.Field
	}
	if len(inc.Escalations) > 0 {
		detail["escalations"] = inc.Escalations
	}
	if len(inc.Lists) > 0 {
		detail["lists"] = inc.Lists
	}
	extra, _ := json.Marshal(detail)
	return event.Alert{ID: inc.ID, Kind: kind, Dataset: "firebreak.incident", Time: at, Start: inc.First, End: inc.Last,
		RuleID: inc.Rule, RuleName: inc.RuleName, Title: inc.Title, Severity: inc.Severity, Tenant: inc.Tenant,
		Tenants: inc.Tenants, Count: inc.Count, Techniques: inc.Techniques, Key: inc.Key, Extra: extra}
}

// ECS returns the alert as an ECS alert document's data.
func (a *Alert) ECS() event.Alert { return a.Incident.ECS(a.Kind, a.Time) }

// caseExtra is what a case carries under firebreak.detail.
type caseExtra struct {
	Attacker    string   `json:"attacker"`
	Field       string   `json:"field"`
	Value       string   `json:"value"`
	Explanation string   `json:"explanation,omitempty"`
	Pattern     string   `json:"pattern,omitempty"`
	Rules       []string `json:"rules"`
	IncidentIDs []string `json:"incident_ids"`
}

// ECS returns the case as an ECS alert document's data: event.dataset
// firebreak.case, the attacker under its ECS field (source.ip, …) and in
// firebreak.key, the rules and incident ids in firebreak.detail.
func (c *Case) ECS() event.Alert {
	extra, _ := json.Marshal(caseExtra{Attacker: c.Attacker, Field: c.Field, Value: c.Value, Explanation: c.Explanation, Pattern: c.Pattern,
		Rules: c.Rules, IncidentIDs: c.IncidentIDs})
	a := event.Alert{ID: c.ID, Dataset: "firebreak.case", Time: c.Last, Start: c.First, End: c.Last, RuleName: strings.Join(c.Rules, ", "),
		Title: c.Title, Severity: c.Severity, Tenants: c.Tenants, Count: c.Events, Key: map[string]string{c.Field: c.Value}, Extra: extra}
	if len(c.Tenants) == 1 {
		a.Tenant = c.Tenants[0]
	}
	return a
}

// MarshalJSON writes the case as an ECS alert document.
func (c Case) MarshalJSON() ([]byte, error) {
	a := c.ECS()
	return a.AppendECS(nil), nil
}

// UnmarshalJSON reads a case written by MarshalJSON, or the snake_case
// form of earlier versions.
func (c *Case) UnmarshalJSON(b []byte) error {
	var probe struct {
		TS *json.RawMessage `json:"@timestamp"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	if probe.TS == nil {
		type legacy Case
		var l legacy
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
		*c = Case(l)
		return nil
	}
	var a event.Alert
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	var x caseExtra
	if len(a.Extra) > 0 {
		if err := json.Unmarshal(a.Extra, &x); err != nil {
			return fmt.Errorf("case detail: %w", err)
		}
	}
	*c = Case{ID: a.ID, Attacker: x.Attacker, Field: x.Field, Value: x.Value, Severity: a.Severity, Title: a.Title, Explanation: x.Explanation, Pattern: x.Pattern, Tenants: a.Tenants,
		First: a.Start, Last: a.End, Events: a.Count, Rules: x.Rules, IncidentIDs: x.IncidentIDs}
	return nil
}
