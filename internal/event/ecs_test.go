package event

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ecsSample() Event {
	return Event{
		Timestamp: time.Date(2026, 11, 26, 10, 0, 0, 123000000, time.UTC), Category: "authentication",
		Action: "ssh_failed_password", Outcome: OutcomeFailure, Reason: "bad_password", Code: "4625", Count: 3,
		UserName: "admin\"x", UserDomain: "CORP", SourceIP: netip.MustParseAddr("2001:db8::1"), SourcePort: 2222,
		HostName: "bastion", Tenant: "acme", Dataset: "sshd", Message: "Failed password for admin from 2001:db8::1",
		Fields: map[string]string{"LogonType": "3", "winlog.event_data.SubStatus": "0xc000006a", "weird": "a\x00b\u2028"},
		File:   "/var/log/auth.log", Offset: 4096, Line: 17,
	}
}

func TestECSRoundTrip(t *testing.T) {
	for name, e := range map[string]Event{"full": ecsSample(), "empty": {}, "ipv4only": {SourceIP: netip.MustParseAddr("192.0.2.7")}} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
			var got Event
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%v in %s", err, b)
			}
			if d := cmp.Diff(got, e, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Errorf("round trip (-got +want):\n%s\n%s", d, b)
			}
		})
	}
}

func TestECSFieldNames(t *testing.T) {
	e := ecsSample()
	var doc map[string]any
	if err := json.Unmarshal(AppendECS(nil, &e), &doc); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		var cur any = doc
		for p := range strings.SplitSeq(path, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = m[p]
		}
		return cur
	}
	want := map[string]any{
		"@timestamp": "2026-11-26T10:00:00.123Z", "ecs.version": ECSVersion, "event.kind": "event",
		"event.outcome": "failure", "event.dataset": "system.auth", "event.module": "system",
		"user.name": "admin\"x", "source.ip": "2001:db8::1", "source.port": float64(2222), "host.name": "bastion",
		"organization.id": "acme", "message": "Failed password for admin from 2001:db8::1", "log.file.path": "/var/log/auth.log", "firebreak.dataset": "sshd",
	}
	for path, w := range want {
		if got := get(path); got != w {
			t.Errorf("%s = %#v, want %#v", path, got, w)
		}
	}
	if cats, ok := get("event.category").([]any); !ok || len(cats) != 1 || cats[0] != "authentication" {
		t.Errorf("event.category = %#v, want [authentication]", get("event.category"))
	}
	for _, goName := range []string{"UserName", "SourceIP", "source_ip", "Timestamp"} {
		if _, ok := doc[goName]; ok {
			t.Errorf("Go field name %s in ECS output", goName)
		}
	}
}

// TestECSReadsLegacy: events written before the ECS encoder (Go field names,
// still in JetStream streams) decode to the same event.
func TestECSReadsLegacy(t *testing.T) {
	e := ecsSample()
	old, err := json.Marshal(legacyWire(e))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(old), `"UserName"`) {
		t.Fatalf("not the legacy form: %s", old)
	}
	var got Event
	if err := json.Unmarshal(old, &got); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(got, e, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("legacy (-got +want):\n%s", d)
	}
}

func TestECSDecodeErrors(t *testing.T) {
	for name, in := range map[string]string{
		"truncated": `{"@timestamp":"2026-11-26T10:00:00Z","event":{`,
		"badip":     `{"@timestamp":"2026-11-26T10:00:00Z","source":{"ip":"999.1.1.1"}}`,
		"badcat":    `{"@timestamp":"2026-11-26T10:00:00Z","event":{"category":7}}`,
		"notobject": `[1,2]`,
	} {
		var e Event
		if err := json.Unmarshal([]byte(in), &e); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	var e Event
	if err := json.Unmarshal([]byte(`{"@timestamp":"2026-11-26T10:00:00Z","event":{"category":"iam","dataset":"azure.signinlogs"}}`), &e); err != nil || e.Category != "iam" || e.Dataset != "entra.signin" {
		t.Errorf("string category / Elastic dataset: %+v, %v", e, err)
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x1f\t\n\r", "é日本", "bad\xffutf8", "\u2028\u2029", "<&>"} {
		var want string
		if err := json.Unmarshal(AppendString(nil, s), &want); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		std, _ := json.Marshal(s)
		var stdBack string
		json.Unmarshal(std, &stdBack)
		if want != stdBack {
			t.Errorf("%q decodes to %q, encoding/json's to %q", s, want, stdBack)
		}
	}
}

func TestAlertECS(t *testing.T) {
	a := Alert{ID: "abc", Kind: "new", Dataset: "firebreak.incident", Time: time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC),
		Start: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 26, 10, 5, 0, 0, time.UTC),
		RuleID: "r1", RuleName: "SSH brute force", Title: "Brute force from 192.0.2.1", Severity: "high", Tenant: "acme",
		Tenants: []string{"acme", "beta"}, Count: 42, Techniques: []string{"T1110.001"},
		Key: map[string]string{"source.ip": "192.0.2.1"}, Status: "open", Extra: json.RawMessage(`{"samples":[]}`),
		Assignee: "ana", Notes: []AlertNote{{At: time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC), Author: "ana", Text: "looking \"now\""}}}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TS    string `json:"@timestamp"`
		ECS   struct{ Version string }
		Event struct {
			Kind, Dataset, ID string
			Severity          int
		}
		Rule   struct{ ID, Name string }
		Org    struct{ ID string } `json:"organization"`
		Source struct{ IP string }
		Threat struct {
			Technique struct{ ID []string }
		}
		Firebreak struct {
			Severity string
			Count    int
			Tenants  []string
			Detail   map[string]any
		}
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	var back Alert
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.Extra, a.Extra = nil, nil
	if d := cmp.Diff(back, a); d != "" {
		t.Errorf("alert round trip (-got +want):\n%s", d)
	}
	if doc.ECS.Version != ECSVersion || doc.Event.Kind != "alert" || doc.Event.Dataset != "firebreak.incident" || doc.Event.Severity != 3 ||
		doc.Rule.ID != "r1" || doc.Org.ID != "acme" || doc.Source.IP != "192.0.2.1" || doc.Threat.Technique.ID[0] != "T1110.001" ||
		doc.Firebreak.Count != 42 || len(doc.Firebreak.Tenants) != 2 || doc.Firebreak.Detail == nil || doc.TS != "2026-11-26T10:05:00Z" {
		t.Errorf("unexpected alert document: %s", b)
	}
}

func FuzzECSEvent(f *testing.F) {
	e := ecsSample()
	f.Add(AppendECS(nil, &e))
	f.Add([]byte(`{"Timestamp":"2026-11-26T10:00:00Z","UserName":"x"}`))
	f.Add([]byte(`{"@timestamp":null,"event":{"category":["a","b"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Event
		if json.Unmarshal(b, &e) != nil {
			return
		}
		out := AppendECS(nil, &e)
		if !json.Valid(out) {
			t.Fatalf("invalid output %s", out)
		}
		var back Event
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
	})
}

// TestECSSampleCoversEveryField keeps the round trip honest: a field added to
// Event must be set in ecsSample, and then the round trip fails until the
// encoder and decoder carry it.
func TestECSSampleCoversEveryField(t *testing.T) {
	v := reflect.ValueOf(ecsSample())
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Errorf("ecsSample leaves Event.%s zero", v.Type().Field(i).Name)
		}
	}
}

func FuzzECSAlert(f *testing.F) {
	a := Alert{ID: "x", Title: "t\n\"q\"", Severity: "high", Key: map[string]string{"user.name": "u"}, Notes: []AlertNote{{Author: "a", Text: "n"}}, Extra: json.RawMessage(`{"a":1}`)}
	f.Add(a.AppendECS(nil))
	f.Add([]byte(`{"@timestamp":"2026-11-26T10:00:00Z","event":{"id":"i"},"firebreak":{"notes":[{"at":null}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a Alert
		if json.Unmarshal(b, &a) != nil {
			return
		}
		out := a.AppendECS(nil)
		if !json.Valid(out) {
			t.Fatalf("invalid output %s", out)
		}
		var back Alert
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if back.ID != a.ID || back.Severity != a.Severity || back.Tenant != a.Tenant || len(back.Notes) != len(a.Notes) {
			t.Fatalf("round trip changed %+v into %+v", a, back)
		}
	})
}
