package detect

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// Incident is one attacker key's activity for one rule, updated in place as
// more events arrive. Its ID is a stable hash of the rule id and the key, so
// replaying the same input yields the same ids.
type Incident struct {
	ID          string            `json:"id"`
	Rule        string            `json:"rule"`                // rule id (or name when it has no id)
	RuleName    string            `json:"rule_name,omitempty"` // rule name
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"` // the rule's description: what pattern it found
	Severity    string            `json:"severity"`              // current severity: the level, raised by escalations
	Level       string            `json:"level"`                 // the rule's level
	Tenant      string            `json:"tenant,omitempty"`
	Tenants     []string          `json:"tenants,omitempty"` // tenants involved (cross-tenant rules), sorted
	Key         map[string]string `json:"key"`               // group-by field -> value
	First       time.Time         `json:"first"`
	Last        time.Time         `json:"last"`
	Count       int64             `json:"count"`                     // events attributed to the incident
	Distinct    int64             `json:"distinct,omitempty"`        // distinct values of the value_count field
	DistinctCap bool              `json:"distinct_capped,omitempty"` // Distinct means "at least"
	Field       string            `json:"field,omitempty"`           // the value_count field
	Values      []string          `json:"values,omitempty"`          // the first distinct values (up to 20)
	Techniques  []string          `json:"techniques,omitempty"`
	Escalations []Escalation      `json:"escalations,omitempty"`
	Alerts      int               `json:"alerts"` // alerts raised for it (new, escalated, recurred)
	Samples     []Sample          `json:"samples,omitempty"`
	Lists       []ValueList       `json:"lists,omitempty"`  // the values of the rule's firebreak.list fields, with counts
	Single      bool              `json:"single,omitempty"` // from a single-event (detection) rule, not a correlation
	// Pattern is what a rule with firebreak.self_recovery judged the source
	// to be: "spray" (or "brute force"), "self-recovering" (users behind
	// one address each recovering from their own mistype; reported at the
	// option's level) or "pending" (not yet known: reported at the option's
	// level and not notified until the failing accounts' recovery window
	// has passed, or it escalates).
	Pattern string `json:"pattern,omitempty"`

	lists     []listState
	valueSet  map[string]struct{}
	tenantSet map[string]struct{}
	maxValues int
	dirty     bool
	judge     *judgement // firebreak.self_recovery: what it is judged on
}

// Pending reports whether the incident's firebreak.self_recovery judgement
// is still pending (stored, not notified at its rule's level).
func (inc *Incident) Pending() bool { return inc.Pattern == patternPending }

// Attack reports whether a firebreak.self_recovery judgement settled the
// incident as an attack (a spray or brute force: the rule's level).
func (inc *Incident) Attack() bool { return inc.Pattern == patternSpray }

// ValueList is one listed field of an incident (a distributed spray's
// sources and targeted users): how many distinct values, and the most
// frequent ones with their event counts.
type ValueList struct {
	Field    string        `json:"field"`
	Distinct int           `json:"distinct"`
	Capped   bool          `json:"capped,omitempty"` // more values were seen than kept: Distinct means "at least"
	Top      []ListedValue `json:"top"`
}

// ListedValue is a value and the events that carried it.
type ListedValue struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

const maxListed = 20 // values shown per list

type listState struct {
	field  string
	acc    accessor
	counts map[string]int64
	max    int
	capped bool
}

func (l *listState) add(v string, n int64) {
	if v == "" {
		return
	}
	if _, ok := l.counts[v]; !ok {
		if len(l.counts) >= l.max {
			l.capped = true
			return
		}
		v = strings.Clone(v)
	}
	l.counts[v] += n
}

// total is the events the list counts.
func (l *listState) total() int64 {
	var n int64
	for _, c := range l.counts {
		n += c
	}
	return n
}

func (l *listState) list() ValueList {
	vl := ValueList{Field: l.field, Distinct: len(l.counts), Capped: l.capped}
	for v, n := range l.counts {
		vl.Top = append(vl.Top, ListedValue{v, n})
	}
	slices.SortFunc(vl.Top, func(a, b ListedValue) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return strings.Compare(a.Value, b.Value)
	})
	if len(vl.Top) > maxListed {
		vl.Top = vl.Top[:maxListed]
	}
	return vl
}

// Escalation records a later rule that raised the incident's severity.
type Escalation struct {
	Rule  string    `json:"rule"`
	Title string    `json:"title"`
	Level string    `json:"level"`
	Time  time.Time `json:"time"`
}

// Sample is a compact copy of an event that contributed to an incident.
type Sample struct {
	Time     time.Time `json:"time"`
	Action   string    `json:"action,omitempty"`
	Outcome  string    `json:"outcome,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	User     string    `json:"user,omitempty"`
	SourceIP string    `json:"source_ip,omitempty"`
	Host     string    `json:"host,omitempty"`
	Tenant   string    `json:"tenant,omitempty"`
	File     string    `json:"file,omitempty"`
	Line     int64     `json:"line,omitempty"`
	Dataset  string    `json:"dataset,omitempty"` // firebreak's dataset name (event.dataset is Elastic's where it has one)
}

// Alert kinds.
const (
	AlertNew       = "new"
	AlertEscalated = "escalated"
	AlertRecurred  = "recurred"
)

// Alert is raised when an incident opens, escalates, or recurs after being
// quiet for longer than its rule's suppress_for.
type Alert struct {
	Kind     string    `json:"kind"`
	Time     time.Time `json:"time"` // event time of the event that raised it
	Incident Incident  `json:"incident"`
}

const (
	maxSamples      = 5
	maxShownValues  = 20
	maxTenantsShown = 1000
)

func incidentID(rule string, key []byte) string {
	h := sha256.New()
	h.Write([]byte(rule))
	h.Write([]byte{0})
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func sampleOf(ev *event.Event) Sample {
	s := Sample{Time: ev.Timestamp.UTC(), Action: ev.Action, Outcome: ev.Outcome, Reason: ev.Reason,
		User: ev.UserName, Host: ev.HostName, Tenant: ev.Tenant, File: ev.File, Line: ev.Line, Dataset: ev.Dataset}
	if ev.SourceIP.IsValid() {
		s.SourceIP = ev.SourceIP.String()
	}
	return s
}

func (inc *Incident) addSample(ev *event.Event) {
	if len(inc.Samples) < maxSamples {
		inc.Samples = append(inc.Samples, sampleOf(ev))
	}
}

func (inc *Incident) addTenant(t string) {
	if t == "" || inc.tenantSet == nil {
		return
	}
	if _, ok := inc.tenantSet[t]; ok || len(inc.tenantSet) >= maxTenantsShown {
		return
	}
	inc.tenantSet[t] = struct{}{}
	i, _ := slices.BinarySearch(inc.Tenants, t)
	inc.Tenants = slices.Insert(inc.Tenants, i, t)
}

func (inc *Incident) addValue(v string) {
	if v == "" || inc.valueSet == nil {
		return
	}
	if _, ok := inc.valueSet[v]; ok {
		return
	}
	if len(inc.valueSet) >= inc.maxValues {
		inc.DistinctCap = true
		return
	}
	v = string([]byte(v))
	inc.valueSet[v] = struct{}{}
	if int64(len(inc.valueSet)) > inc.Distinct {
		inc.Distinct = int64(len(inc.valueSet))
	}
	if len(inc.Values) < maxShownValues {
		inc.Values = append(inc.Values, v)
	}
}

// snapshot copies the incident for an alert (slices cloned, sets dropped).
func (inc *Incident) snapshot() Incident {
	c := *inc
	c.Tenants = slices.Clone(inc.Tenants)
	c.Values = slices.Clone(inc.Values)
	c.Escalations = slices.Clone(inc.Escalations)
	c.Samples = slices.Clone(inc.Samples)
	c.Lists = nil
	for i := range inc.lists {
		c.Lists = append(c.Lists, inc.lists[i].list())
	}
	c.valueSet, c.tenantSet, c.dirty, c.lists, c.judge = nil, nil, false, nil, nil
	return c
}

// ipKey formats an address for a key without allocating beyond the buffer.
func appendAddr(b []byte, ip netip.Addr) []byte { return ip.AppendTo(b) }
