// Package event defines the normalized authentication/activity event that every
// log parser (internal/ingest) produces and every detector (internal/detect)
// consumes. Field names follow the Elastic Common Schema (ECS).
//
// Importable by anything; imports nothing of firebreak's.
package event

import (
	"net/netip"
	"time"
)

// Outcome values (ECS event.outcome).
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeUnknown = "unknown"
)

// Event is one normalized event. Hot fields are struct fields; everything
// else a source provides is kept in Fields under its own (source) name, or an
// ECS dotted name, for Sigma matching.
type Event struct {
	Timestamp time.Time // @timestamp
	Category  string    // event.category: authentication, process, iam, ...
	Action    string    // event.action: e.g. ssh_failed_password, logon-failed, user.session.start
	Outcome   string    // event.outcome: success, failure, unknown
	Reason    string    // event.reason: bad_password, unknown_user, locked, mfa_denied, ...
	Code      string    // event.code: 4625, 50126, ...
	Count     int       // how many identical occurrences this event stands for (sshd "message repeated N times"); 0 means 1

	UserName   string     // user.name
	UserDomain string     // user.domain
	SourceIP   netip.Addr // source.ip (zero when absent)
	SourcePort int        // source.port
	HostName   string     // host.name
	Tenant     string     // organization.id
	Dataset    string     // event.dataset / log source: sshd, windows.security, entra.signin, okta.system, generic

	// Message is the record's original text (ECS message): the syslog
	// message after the tag, the journald MESSAGE, the rendered Windows
	// message (or, for a binary .evtx record, its EventData as Name=Value
	// pairs), the raw JSON line otherwise. Sigma keyword rules match it.
	Message string

	// Fields holds the source's own fields (e.g. "EventID", "LogonType",
	// "errorCode", "winlog.event_data.SubStatus") for Sigma matching.
	Fields map[string]string

	// Where the raw record came from.
	File   string
	Offset int64
	Line   int64
}

// N returns the occurrence count (at least 1).
func (e *Event) N() int {
	if e.Count <= 0 {
		return 1
	}
	return e.Count
}

// Get returns a field by ECS name or source name, and whether it is present.
// ECS names of struct fields are resolved first.
func (e *Event) Get(name string) (string, bool) {
	switch name {
	case "@timestamp":
		if e.Timestamp.IsZero() {
			return "", false
		}
		return e.Timestamp.UTC().Format(time.RFC3339Nano), true
	case "event.category":
		return e.Category, e.Category != ""
	case "event.action":
		return e.Action, e.Action != ""
	case "event.outcome":
		return e.Outcome, e.Outcome != ""
	case "event.reason":
		return e.Reason, e.Reason != ""
	case "event.code":
		return e.Code, e.Code != ""
	case "event.dataset":
		return e.Dataset, e.Dataset != ""
	case "user.name":
		return e.UserName, e.UserName != ""
	case "user.domain":
		return e.UserDomain, e.UserDomain != ""
	case "source.ip":
		if !e.SourceIP.IsValid() {
			return "", false
		}
		return e.SourceIP.String(), true
	case "host.name":
		return e.HostName, e.HostName != ""
	case "organization.id":
		return e.Tenant, e.Tenant != ""
	case "message":
		if e.Message != "" {
			return e.Message, true
		}
	}
	v, ok := e.Fields[name]
	return v, ok
}

// Reset clears e for reuse, keeping the Fields map's storage.
func (e *Event) Reset() {
	f := e.Fields
	clear(f)
	*e = Event{Fields: f}
}

// SetField sets a source field, allocating Fields on first use.
func (e *Event) SetField(name, value string) {
	if e.Fields == nil {
		e.Fields = make(map[string]string, 8)
	}
	e.Fields[name] = value
}
