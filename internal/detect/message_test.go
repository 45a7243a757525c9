package detect

import (
	"bytes"
	"encoding/json"
	"os"
	"path"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
)

// TestReadsMessage: the built-in pack reads no message; a keyword search,
// a "message" field, a filter on it, a group-by, a value_count field or a
// list of it does.
func TestReadsMessage(t *testing.T) {
	builtin, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	const base = "title: f\nname: f\nlogsource: {product: linux, service: sshd}\ndetection: {s: {event.outcome: failure}, condition: s}\n"
	for _, c := range []struct {
		name, src string
		want      bool
	}{
		{"builtin", "", false},
		{"keywords", "---\ntitle: k\nname: k\nlogsource: {product: linux, service: sshd}\ndetection: {kw: ['Failed password'], condition: kw}\n", true},
		{"field", "---\ntitle: m\nname: m\nlogsource: {category: authentication}\ndetection: {s: {message|contains: root}, condition: s}\n", true},
		{"filter", "---\ntitle: nf\nname: nf\nlogsource: {product: linux, service: sshd}\nfilter: {rules: [f], s: {message|contains: kiosk}, condition: not s}\n", true},
		{"group-by", "---\ntitle: g\nname: g\ncorrelation: {type: event_count, rules: [f], group-by: [message], timespan: 1m, condition: {gte: 2}}\n", true},
		{"value-count", "---\ntitle: v\nname: v\ncorrelation: {type: value_count, rules: [f], group-by: [source.ip], timespan: 1m, condition: {field: message, gte: 2}}\n", true},
		{"list", "---\ntitle: l\nname: l\ncorrelation: {type: event_count, rules: [f], group-by: [source.ip], timespan: 1m, condition: {gte: 2}}\nfirebreak: {list: [message]}\n", true},
		{"other-fields", "---\ntitle: o\nname: o\ncorrelation: {type: value_count, rules: [f], group-by: [source.ip], timespan: 1m, condition: {field: user.name, gte: 2}}\nfirebreak: {list: [host.name]}\n", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rules := builtin
			if c.src != "" {
				rs, err := ParseRules("t.yml", []byte(base+c.src))
				if err != nil {
					t.Fatal(err)
				}
				rules = append(append([]*Rule(nil), builtin...), rs...)
			}
			e, err := NewEngine(rules, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := e.ReadsMessage(); got != c.want {
				t.Errorf("ReadsMessage() = %v, want %v", got, c.want)
			}
		})
	}
}

// TestNoMessageSameIncidents: a reader that leaves messages out
// (ingest.Options.NoMessage, which detect sets when ReadsMessage is false)
// gives the built-in pack the same incidents, alerts and counters as one
// that copies every message, on a generated sshd day and the journald and
// syslog samples.
func TestNoMessageSameIncidents(t *testing.T) {
	builtin, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var day bytes.Buffer
	if _, err := loggen.Generate(&day, loggen.Options{Format: loggen.FormatSSHD, Lines: 60_000, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	tm := &ingest.TenantMap{Domains: map[string]string{}, EntraIDs: map[string]string{}}
	for _, tn := range loggen.DefaultTenants() {
		tm.Domains[tn.Domain] = tn.ID
	}
	inputs := map[string][]byte{"sshd-day": day.Bytes()}
	for _, f := range []string{"testdata/sources/auth.log", "../ingest/testdata/journald.ndjson", "../ingest/testdata/journal.export", "../ingest/testdata/legacy_pam.log"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[path.Base(f)] = b
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			run := func(noMessage bool) (string, int) {
				r, err := ingest.NewReader(name, bytes.NewReader(data), ingest.Options{Year: 2026, TenantMap: tm, NoMessage: noMessage})
				if err != nil {
					t.Fatal(err)
				}
				evs := drain(t, r)
				e, err := NewEngine(builtin, Options{})
				if err != nil {
					t.Fatal(err)
				}
				var alerts []string
				withMessage := 0
				for i := range evs {
					if evs[i].Message != "" {
						withMessage++
					}
					for _, a := range e.Process(&evs[i]) {
						alerts = append(alerts, a.Kind+" "+a.Incident.ID+" "+a.Incident.Severity)
					}
				}
				for _, a := range e.Flush() {
					alerts = append(alerts, a.Kind+" "+a.Incident.ID+" "+a.Incident.Severity)
				}
				b, err := json.Marshal(struct {
					A []string
					I []*Incident
					S Stats
					R ingest.Stats
				}{alerts, e.Incidents(), e.Stats(), r.Stats()})
				if err != nil {
					t.Fatal(err)
				}
				return string(b), withMessage
			}
			with, n := run(false)
			without, m := run(true)
			if n == 0 || m != 0 {
				t.Fatalf("events with a message: %d copying, %d with NoMessage; want some, then none", n, m)
			}
			if d := cmp.Diff(with, without); d != "" {
				t.Errorf("incidents, alerts or counters differ (-messages +none):\n%s", d)
			}
		})
	}
}
