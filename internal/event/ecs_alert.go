package event

import (
	"encoding/json"
	"strconv"
	"time"
)

// Alert is an incident (or a finding) as it leaves firebreak, in the shape
// ECS gives alerts (event.kind "alert"). detect.Incident, store.Incident and
// assessment findings convert into it, so every output writes incidents with
// one encoder (AppendECS).
type Alert struct {
	ID         string // event.id: the incident or finding id
	Kind       string // firebreak.alert.kind: new, escalated, recurred, finding, …; "" for none
	Dataset    string // event.dataset: firebreak.incident or firebreak.finding
	Time       time.Time
	Start, End time.Time // event.start, event.end: first and last activity
	RuleID     string    // rule.id (Sigma rule id or control id)
	RuleName   string    // rule.name
	Title      string    // message and rule.description
	Severity   string    // event.severity is its rank (1 low … 4 critical); firebreak.severity keeps the word
	Tenant     string    // organization.id
	Tenants    []string  // firebreak.tenants: every tenant involved
	Count      int64     // firebreak.count: events attributed
	Techniques []string  // threat.technique.id (MITRE ATT&CK)
	Key        map[string]string
	Status     string      // firebreak.status: open, acknowledged, resolved, fail, pass, …
	Reference  string      // event.reference: a link to the incident in firebreak
	Assignee   string      // firebreak.assignee (incident workflow)
	Notes      []AlertNote // firebreak.notes (incident workflow)
	// Extra is written as firebreak.detail when not empty (already JSON).
	Extra json.RawMessage
}

// AlertNote is an analyst's note on an incident.
type AlertNote struct {
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

// SeverityRank is the numeric event.severity of a severity word: 1 low,
// 2 medium, 3 high, 4 critical, 0 informational or unknown.
func SeverityRank(s string) int {
	switch s {
	case "low":
		return 1
	case "medium":
		return 2
	case "high":
		return 3
	case "critical":
		return 4
	}
	return 0
}

// AppendECS appends a as one ECS JSON document. Key fields with ECS names
// (user.name, source.ip, host.name) are also written at their ECS place so
// a SIEM can join the alert to its events.
func (a *Alert) AppendECS(dst []byte) []byte {
	t := a.Time
	if t.IsZero() {
		t = a.End
	}
	dst = append(dst, `{"@timestamp":`...)
	dst = appendTime(dst, t)
	dst = append(dst, `,"ecs":{"version":"`+ECSVersion+`"}`...)
	if a.Title != "" {
		dst = append(dst, `,"message":`...)
		dst = AppendString(dst, a.Title)
	}
	ds := a.Dataset
	if ds == "" {
		ds = "firebreak.incident"
	}
	dst = append(dst, `,"event":{"kind":"alert","module":"firebreak","dataset":`...)
	dst = AppendString(dst, ds)
	dst = field(dst, "id", a.ID)
	dst = append(dst, `,"severity":`...)
	dst = strconv.AppendInt(dst, int64(SeverityRank(a.Severity)), 10)
	if !a.Start.IsZero() {
		dst = append(dst, `,"start":`...)
		dst = appendTime(dst, a.Start)
	}
	if !a.End.IsZero() {
		dst = append(dst, `,"end":`...)
		dst = appendTime(dst, a.End)
	}
	dst = field(dst, "reference", a.Reference)
	dst = append(dst, '}')
	if a.RuleID != "" || a.RuleName != "" {
		dst = append(dst, `,"rule":{`...)
		dst = fields(dst, "id", a.RuleID, "name", a.RuleName, "description", a.Title)
		dst = append(dst, '}')
	}
	if a.Tenant != "" {
		dst = append(dst, `,"organization":{"id":`...)
		dst = AppendString(dst, a.Tenant)
		dst = append(dst, '}')
	}
	if len(a.Techniques) > 0 {
		dst = append(dst, `,"threat":{"framework":"MITRE ATT&CK","technique":{"id":`...)
		dst = appendStrings(dst, a.Techniques)
		dst = append(dst, `}}`...)
	}
	if v := a.Key["user.name"]; v != "" {
		dst = append(dst, `,"user":{"name":`...)
		dst = AppendString(dst, v)
		dst = append(dst, '}')
	}
	if v := a.Key["source.ip"]; v != "" {
		dst = append(dst, `,"source":{"ip":`...)
		dst = AppendString(dst, v)
		dst = append(dst, '}')
	}
	if v := a.Key["host.name"]; v != "" {
		dst = append(dst, `,"host":{"name":`...)
		dst = AppendString(dst, v)
		dst = append(dst, '}')
	}
	dst = append(dst, `,"firebreak":{"severity":`...)
	dst = AppendString(dst, a.Severity)
	dst = field(dst, "status", a.Status)
	if a.Kind != "" {
		dst = append(dst, `,"alert":{"kind":`...)
		dst = AppendString(dst, a.Kind)
		dst = append(dst, '}')
	}
	if a.Count != 0 {
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendInt(dst, a.Count, 10)
	}
	if len(a.Tenants) > 0 {
		dst = append(dst, `,"tenants":`...)
		dst = appendStrings(dst, a.Tenants)
	}
	if len(a.Key) > 0 {
		dst = append(dst, `,"key":`...)
		dst = appendStringMap(dst, a.Key)
	}
	dst = field(dst, "assignee", a.Assignee)
	if len(a.Notes) > 0 {
		dst = append(dst, `,"notes":[`...)
		for i, n := range a.Notes {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"at":`...)
			dst = appendTime(dst, n.At)
			dst = append(dst, `,"author":`...)
			dst = AppendString(dst, n.Author)
			dst = append(dst, `,"text":`...)
			dst = AppendString(dst, n.Text)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	if len(a.Extra) > 0 && json.Valid(a.Extra) {
		dst = append(dst, `,"detail":`...)
		dst = append(dst, a.Extra...)
	}
	return append(dst, `}}`...)
}

// MarshalJSON writes the alert as ECS.
func (a Alert) MarshalJSON() ([]byte, error) { return a.AppendECS(nil), nil }

func appendStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, s)
	}
	return append(dst, ']')
}

// alertWire is the ECS alert document AppendECS writes, for UnmarshalJSON.
type alertWire struct {
	Timestamp time.Time `json:"@timestamp"`
	Event     struct {
		ID        string    `json:"id"`
		Dataset   string    `json:"dataset"`
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
		Reference string    `json:"reference"`
	} `json:"event"`
	Rule struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"rule"`
	Message      string `json:"message"`
	Organization struct {
		ID string `json:"id"`
	} `json:"organization"`
	Threat struct {
		Technique struct {
			ID []string `json:"id"`
		} `json:"technique"`
	} `json:"threat"`
	Firebreak struct {
		Severity string `json:"severity"`
		Status   string `json:"status"`
		Alert    struct {
			Kind string `json:"kind"`
		} `json:"alert"`
		Count    int64             `json:"count"`
		Tenants  []string          `json:"tenants"`
		Key      map[string]string `json:"key"`
		Detail   json.RawMessage   `json:"detail"`
		Assignee string            `json:"assignee"`
		Notes    []AlertNote       `json:"notes"`
	} `json:"firebreak"`
}

// UnmarshalJSON reads an ECS alert document written by AppendECS.
func (a *Alert) UnmarshalJSON(b []byte) error {
	var w alertWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*a = Alert{ID: w.Event.ID, Kind: w.Firebreak.Alert.Kind, Dataset: w.Event.Dataset, Time: w.Timestamp,
		Start: w.Event.Start, End: w.Event.End, RuleID: w.Rule.ID, RuleName: w.Rule.Name, Title: w.Message,
		Severity: w.Firebreak.Severity, Tenant: w.Organization.ID, Tenants: w.Firebreak.Tenants, Count: w.Firebreak.Count,
		Techniques: w.Threat.Technique.ID, Key: w.Firebreak.Key, Status: w.Firebreak.Status, Reference: w.Event.Reference,
		Extra: w.Firebreak.Detail, Assignee: w.Firebreak.Assignee, Notes: w.Firebreak.Notes}
	return nil
}
