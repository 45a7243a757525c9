package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

func mustEngine(t *testing.T, src string) *Engine {
	t.Helper()
	rules, err := ParseRules("t.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var t0 = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

func fail(d time.Duration, ip, user string) *event.Event {
	return &event.Event{Timestamp: t0.Add(d), Outcome: "failure", Action: "fail", SourceIP: netip.MustParseAddr(ip), UserName: user, Tenant: "t"}
}

// TestSuppressAndRecur: one incident per key; a burst after more than
// suppress_for of quiet raises a "recurred" alert on the same incident.
func TestSuppressAndRecur(t *testing.T) {
	e := mustEngine(t, `title: f
name: f
detection: {s: {event.outcome: failure}, condition: s}
---
title: bf
id: bf
level: medium
correlation: {type: event_count, rules: [f], group-by: [source.ip], timespan: 10m, condition: {gte: 3}}
firebreak: {suppress_for: 1h}
`)
	var kinds []string
	burst := func(start time.Duration) {
		for i := range 5 {
			for _, a := range e.Process(fail(start+time.Duration(i)*time.Second, "203.0.113.1", "root")) {
				kinds = append(kinds, a.Kind)
			}
		}
	}
	burst(0)
	if up := e.TakeUpdated(); len(up) != 1 || up[0].Count != 5 {
		t.Fatalf("TakeUpdated after the first burst: %+v", up)
	}
	burst(30 * time.Minute) // within suppress_for: silent update
	if up := e.TakeUpdated(); len(up) != 1 || up[0].Count != 10 {
		t.Fatalf("TakeUpdated after the silent burst: %+v", up)
	}
	if up := e.TakeUpdated(); len(up) != 0 {
		t.Fatalf("TakeUpdated with nothing new: %+v", up)
	}
	burst(3 * time.Hour) // after 2.5 h quiet: recurs
	if len(kinds) != 2 || kinds[0] != AlertNew || kinds[1] != AlertRecurred {
		t.Errorf("alerts %v, want [new recurred]", kinds)
	}
	incs := e.Incidents()
	if len(incs) != 1 || incs[0].Count != 15 || incs[0].Alerts != 2 {
		t.Fatalf("%d incidents, count %d alerts %d", len(incs), incs[0].Count, incs[0].Alerts)
	}
}

// TestIdleEviction: groups go away once a timespan has passed without events.
func TestIdleEviction(t *testing.T) {
	e := mustEngine(t, `title: f
name: f
detection: {s: {event.outcome: failure}, condition: s}
---
title: bf
id: bf
level: medium
correlation: {type: event_count, rules: [f], group-by: [source.ip], timespan: 10m, condition: {gte: 100}}
`)
	for i := range 1000 {
		e.Process(fail(time.Duration(i)*time.Millisecond, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), "u"))
	}
	if g := e.Stats().Rules[1].Groups; g != 1000 {
		t.Fatalf("%d groups, want 1000", g)
	}
	e.Process(fail(11*time.Minute, "10.9.9.9", "u"))
	s := e.Stats().Rules[1]
	if s.Groups != 1 || s.Evicted != 1000 || s.Dropped != 0 {
		t.Errorf("groups %d evicted %d dropped %d, want 1, 1000, 0", s.Groups, s.Evicted, s.Dropped)
	}
}

// TestAliasesAndChaining: a temporal rule joins two rules on differently
// named fields through aliases, and a correlation over it chains by id.
func TestAliasesAndChaining(t *testing.T) {
	e := mustEngine(t, `title: vpn failure
name: vpn_fail
detection: {s: {event.action: vpn_fail}, condition: s}
---
title: rdp logon
name: rdp
detection: {s: {event.action: rdp_logon}, condition: s}
---
title: vpn failure then rdp from the same address
id: 7d4f0000-0000-4000-8000-000000000001
name: vpn_then_rdp
level: medium
correlation:
  type: temporal
  rules: [vpn_fail, rdp]
  group-by: [addr]
  timespan: 5m
  aliases:
    addr: {vpn_fail: source.ip, rdp: ClientAddress}
---
title: repeated
id: 7d4f0000-0000-4000-8000-000000000002
level: high
correlation:
  type: event_count
  rules: [7d4f0000-0000-4000-8000-000000000001]
  group-by: [addr]
  timespan: 1h
  condition: {gte: 2}
  aliases:
    addr: {vpn_then_rdp: source.ip}
`)
	ev := func(d time.Duration, action, ip, client string) *event.Event {
		ev := &event.Event{Timestamp: t0.Add(d), Action: action, Tenant: "t"}
		if ip != "" {
			ev.SourceIP = netip.MustParseAddr(ip)
		}
		if client != "" {
			ev.SetField("ClientAddress", client)
		}
		return ev
	}
	e.Process(ev(0, "vpn_fail", "198.51.100.4", ""))
	e.Process(ev(time.Minute, "rdp_logon", "", "198.51.100.9"))           // other address
	e.Process(ev(2*time.Minute, "rdp_logon", "10.0.0.1", "198.51.100.4")) // joins through the alias
	incs := e.Incidents()
	if len(incs) != 1 || incs[0].RuleName != "vpn_then_rdp" || incs[0].Key["addr"] != "198.51.100.4" {
		t.Fatalf("after one join: %+v", incs)
	}
	// The chained rule groups on source.ip of the event that completed the
	// temporal rule (the rdp event: 10.0.0.1); a second completion fires it.
	e.Process(ev(3*time.Minute, "rdp_logon", "10.0.0.1", "198.51.100.4"))
	var found bool
	for _, inc := range e.Incidents() {
		if inc.Rule == "7d4f0000-0000-4000-8000-000000000002" && inc.Key["addr"] == "10.0.0.1" {
			found = true
		}
	}
	if !found {
		t.Errorf("chained correlation did not fire: %+v", e.Incidents())
	}
}

// TestGenerate: generate: true reports the referenced detection rule too.
func TestGenerate(t *testing.T) {
	e := mustEngine(t, `title: f
id: f
level: low
detection: {s: {event.outcome: failure}, condition: s}
firebreak: {group-by: [user.name]}
---
title: bf
id: bf
level: medium
correlation: {type: event_count, rules: [f], group-by: [source.ip], timespan: 10m, condition: {gte: 3}, generate: true}
`)
	for i := range 3 {
		e.Process(fail(time.Duration(i)*time.Second, "203.0.113.1", "root"))
	}
	e.Process(fail(5*time.Second, "203.0.113.1", "admin"))
	got := map[string]int{}
	for _, inc := range e.Incidents() {
		got[inc.Rule]++
	}
	if got["f"] != 2 || got["bf"] != 1 {
		t.Errorf("incidents per rule %v, want f:2 (root, admin) bf:1", got)
	}
}
