package assess

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// AuthMonitoring is the evidence for FB-AUTH-004 ("unexplained failed
// authentication is monitored"): which log sources feed live
// failed-authentication detection, per tenant. serve builds it from the
// stored authentication events (worker.AuthMonitoring); the CLI reads it
// from the summary file `firebreak detect --summary-file` writes (assess
// --detect-summary). Both fill it through AuthMonitor.
type AuthMonitoring struct {
	// Rules are the loaded detection rules that act on failed
	// authentication (brute force, spraying, stuffing, lockouts).
	Rules []string `json:"rules"`
	// Sources are the log sources seen, one per tenant, dataset and host.
	Sources []AuthSource `json:"sources"`
	// AsOf is the clock the summary was judged at (detect --now, else the
	// wall clock; see At). assess judges recency at its own --now.
	AsOf time.Time `json:"as_of,omitzero"`
}

// AuthSource is one log source's authentication events.
type AuthSource struct {
	Tenant  string    `json:"tenant"`                // organization.id; "" when unassigned (counted for the MSP)
	Dataset string    `json:"dataset"`               // sshd, windows.security, entra.signin, okta.system, …
	Host    string    `json:"host,omitempty"`        // host.name, when the dataset has hosts
	Events  int64     `json:"events"`                // authentication events
	Failed  int64     `json:"failed"`                // of which failures
	Last    time.Time `json:"last"`                  // time of the last authentication event
	LastErr time.Time `json:"last_failure,omitzero"` // time of the last failure
	// DaysSinceLast is the age of Last at AuthMonitoring.AsOf (DaysSince;
	// -1 for none), set by At.
	DaysSinceLast *int `json:"days_since_last,omitempty"`
}

// DaysSince is the whole days from t to now (0 when t is after now, -1
// when t is zero): the one measure of a log source's age, for FB-AUTH-004
// (input.auth_monitoring) and detect's summary.
func DaysSince(now, t time.Time) int {
	if t.IsZero() {
		return -1
	}
	return max(int(now.Sub(t).Hours()/24), 0)
}

// At judges the summary as of now: it records now and each source's age
// (DaysSince), as FB-AUTH-004 would judge them at that clock.
func (m *AuthMonitoring) At(now time.Time) *AuthMonitoring {
	m.AsOf = now.UTC()
	for i := range m.Sources {
		d := DaysSince(now, m.Sources[i].Last)
		m.Sources[i].DaysSinceLast = &d
	}
	return m
}

// Name is how the source is named in evidence: dataset@host.
func (s *AuthSource) Name() string {
	if s.Host == "" {
		return s.Dataset
	}
	return s.Dataset + "@" + s.Host
}

// authMonitoringTerm is input.auth_monitoring for one subject: null when
// no evidence was given; otherwise the failed-auth rules loaded and the
// subject's sources with the days since their last event.
func (x *index) authMonitoringTerm(subject string) *ast.Term {
	m := x.authMon
	if m == nil {
		return null()
	}
	var srcs []*ast.Term
	for i := range m.Sources {
		s := &m.Sources[i]
		owner := s.Tenant
		if owner == "" {
			owner = estate.MSP
		}
		if owner != subject {
			continue
		}
		days := DaysSince(x.now, s.Last)
		srcs = append(srcs, obj(f("name", str(s.Name())), f("events", num(int(s.Events))), f("failed", num(int(s.Failed))), f("days_since_last", num(days))))
	}
	rules := slices.Clone(m.Rules)
	slices.Sort(rules)
	return obj(f("rules", strs(rules)), f("sources", ast.ArrayTerm(srcs...)), f("rule_list", str(strings.Join(rules, ", "))))
}

// AuthRecentWindow is how far back serve reads authentication events for
// FB-AUTH-004: every source the policy counts as recent (at most 7 whole
// days since its last event) falls inside it.
const AuthRecentWindow = 8 * 24 * time.Hour

// AuthMonitor accumulates AuthMonitoring from a stream of authentication
// events (detect's and serve's pipeline). It is not safe for concurrent
// use.
type AuthMonitor struct {
	rules   []string
	sources map[[3]string]*AuthSource
	order   [][3]string
}

// NewAuthMonitor starts a monitor for the named failed-authentication rules.
func NewAuthMonitor(rules []string) *AuthMonitor {
	return &AuthMonitor{rules: rules, sources: map[[3]string]*AuthSource{}}
}

// FailedAuthRule reports whether a rule with these ATT&CK techniques acts
// on failed authentication (T1110 brute force and its sub-techniques:
// guessing, cracking, spraying, stuffing).
func FailedAuthRule(techniques []string) bool {
	return slices.ContainsFunc(techniques, func(t string) bool { return t == "T1110" || strings.HasPrefix(t, "T1110.") })
}

// Observe counts one authentication event (n occurrences) of a source.
func (m *AuthMonitor) Observe(tenant, dataset, host string, failed bool, n int, at time.Time) {
	k := [3]string{tenant, dataset, host}
	s := m.sources[k]
	if s == nil {
		s = &AuthSource{Tenant: tenant, Dataset: dataset, Host: host}
		m.sources[k] = s
		m.order = append(m.order, k)
	}
	s.Events += int64(n)
	if at.After(s.Last) {
		s.Last = at
	}
	if failed {
		s.Failed += int64(n)
		if at.After(s.LastErr) {
			s.LastErr = at
		}
	}
}

// Snapshot returns what was seen so far, sources in first-seen order.
func (m *AuthMonitor) Snapshot() *AuthMonitoring {
	out := &AuthMonitoring{Rules: slices.Clone(m.rules), Sources: make([]AuthSource, 0, len(m.order))}
	for _, k := range m.order {
		out.Sources = append(out.Sources, *m.sources[k])
	}
	return out
}

// LoadAuthMonitoring reads a detection summary file (detect --summary-file).
func LoadAuthMonitoring(r io.Reader, name string) (*AuthMonitoring, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var m AuthMonitoring
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("reading detection summary %s: %w (expected the JSON firebreak detect --summary-file writes)", name, err)
	}
	return &m, nil
}
