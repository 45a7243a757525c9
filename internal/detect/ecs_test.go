package detect

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSampleJSON: samples are written as ECS events and read back, and
// samples stored by earlier versions (snake_case) are still read.
func TestSampleJSON(t *testing.T) {
	want := Sample{Time: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), Action: "ssh_failed_password", Outcome: "failure",
		Reason: "bad_password", User: "root", SourceIP: "203.0.113.5", Host: "srv01", Tenant: "cedar-law", File: "auth.log", Line: 3}
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"source":{"ip":"203.0.113.5"}`, `"user":{"name":"root"}`, `"ecs":{"version"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("ECS sample lacks %s: %s", s, b)
		}
	}
	legacy := `{"time":"2026-11-26T10:00:00Z","action":"ssh_failed_password","outcome":"failure","reason":"bad_password","user":"root","source_ip":"203.0.113.5","host":"srv01","tenant":"cedar-law","file":"auth.log","line":3}`
	for name, in := range map[string]string{"ecs": string(b), "legacy": legacy} {
		var got Sample
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := cmp.Diff(got, want); d != "" {
			t.Errorf("%s (-got +want):\n%s", name, d)
		}
	}
}

// TestIncidentECS: the alert document carries the incident's identity.
func TestIncidentECS(t *testing.T) {
	inc := Incident{ID: "i1", Rule: "r", RuleName: "ssh_bruteforce", Title: "t", Severity: "high", Level: "medium", Tenant: "a",
		Key: map[string]string{"source.ip": "203.0.113.5"}, First: time.Unix(0, 0).UTC(), Last: time.Unix(60, 0).UTC(), Count: 6,
		Samples: []Sample{{Time: time.Unix(0, 0).UTC(), User: "root", Dataset: "sshd"}}}
	a := inc.ECS("new", inc.Last)
	b, _ := json.Marshal(a)
	var back struct {
		Firebreak struct {
			Detail struct {
				Level   string
				Samples []Sample
			}
		}
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if a.RuleName != "ssh_bruteforce" || a.Count != 6 || a.Start != inc.First || back.Firebreak.Detail.Level != "medium" ||
		len(back.Firebreak.Detail.Samples) != 1 || back.Firebreak.Detail.Samples[0].User != "root" {
		t.Errorf("alert %+v\n%s", a, b)
	}
	// A sample keeps its dataset: Elastic's name in event.dataset, read back as firebreak's.
	if !strings.Contains(string(b), `"dataset":"system.auth"`) || len(back.Firebreak.Detail.Samples) != 1 || back.Firebreak.Detail.Samples[0].Dataset != "sshd" {
		t.Errorf("sample dataset lost: %s", b)
	}
}

// TestCaseJSON: a case leaves as an ECS alert (the attacker at its ECS
// field) and reads back whole; the snake_case form of earlier versions is
// still read.
func TestCaseJSON(t *testing.T) {
	c := Case{ID: "c1", Attacker: "source.ip=203.0.113.5", Field: "source.ip", Value: "203.0.113.5", Severity: "high", Title: "spray",
		Tenants: []string{"a", "b"}, First: time.Unix(0, 0).UTC(), Last: time.Unix(600, 0).UTC(), Events: 40, Rules: []string{"r1", "r2"}, IncidentIDs: []string{"i1", "i2"}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"dataset":"firebreak.case"`, `"source":{"ip":"203.0.113.5"}`, `"ecs":{"version"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("case lacks %s: %s", want, b)
		}
	}
	legacy := `{"id":"c1","attacker":"source.ip=203.0.113.5","field":"source.ip","value":"203.0.113.5","severity":"high","title":"spray","tenants":["a","b"],"first":"1970-01-01T00:00:00Z","last":"1970-01-01T00:10:00Z","events":40,"rules":["r1","r2"],"incident_ids":["i1","i2"]}`
	for name, in := range map[string]string{"ecs": string(b), "legacy": legacy} {
		var got Case
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := cmp.Diff(got, c); d != "" {
			t.Errorf("%s (-got +want):\n%s", name, d)
		}
	}
}

// TestECSCarriesPattern: the alert documents of detect --format json say
// which pattern an incident followed and why, as the table does: the
// incident's firebreak.detail has its description (with the explanation)
// and its self_recovery pattern under the keys the incident's own JSON
// uses (what the service stores as the detail its API writes), and a
// case's has its explanation and pattern, read back whole. Fails on the
// code whose documents dropped them.
func TestECSCarriesPattern(t *testing.T) {
	_, cases := runDay(t, officePeak(1), nil)
	var office *Incident
	for _, c := range cases {
		for _, inc := range c.Incidents {
			if inc.Pattern == patternOffice {
				office = inc
			}
		}
	}
	if office == nil {
		t.Fatal("no self-recovering incident on the office peak")
	}
	own, _ := json.Marshal(office)
	doc, _ := json.Marshal(office.ECS("", office.Last))
	var stored map[string]any
	var ecs struct {
		Firebreak struct{ Detail map[string]any }
	}
	if err := json.Unmarshal(own, &stored); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(doc, &ecs); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"pattern", "description"} {
		if ecs.Firebreak.Detail[k] == nil || ecs.Firebreak.Detail[k] != stored[k] {
			t.Errorf("firebreak.detail.%s = %v, the incident's own %s = %v", k, ecs.Firebreak.Detail[k], k, stored[k])
		}
	}
	if d, _ := ecs.Firebreak.Detail["description"].(string); !strings.Contains(d, "Pattern: an office, not a spray") {
		t.Errorf("description %q lacks the explanation", d)
	}

	c := Case{ID: "c1", Attacker: "source.ip=203.0.113.5", Field: "source.ip", Value: "203.0.113.5", Severity: "critical", Title: "success after spray",
		Explanation: "A source address that sprayed … Pattern: spray: this sign-in followed password_spray_velocity's failures, judged a spray: none of the 9 failures …", Pattern: "spray",
		First: time.Unix(0, 0).UTC(), Last: time.Unix(600, 0).UTC(), Events: 10, Rules: []string{"r1"}, IncidentIDs: []string{"i1"}}
	b, _ := json.Marshal(c)
	if !strings.Contains(string(b), `"pattern":"spray"`) || !strings.Contains(string(b), `"explanation":"A source address that sprayed`) {
		t.Errorf("case document lacks pattern or explanation: %s", b)
	}
	var got Case
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, c); d != "" {
		t.Errorf("case read back (-got +want):\n%s", d)
	}
}
