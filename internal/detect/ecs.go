package detect

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// Event is the sample as an event (for the ECS encoder).
func (s *Sample) Event() event.Event {
	e := event.Event{Timestamp: s.Time, Action: s.Action, Outcome: s.Outcome, Reason: s.Reason, UserName: s.User,
		HostName: s.Host, Tenant: s.Tenant, File: s.File, Line: s.Line}
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
// alert kind (new, escalated, recurred) or "".
func (inc *Incident) ECS(kind string, at time.Time) event.Alert {
	detail := map[string]any{"level": inc.Level, "samples": inc.Samples}
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
