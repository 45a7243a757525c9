package detect

import (
	"errors"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// TestMayMatch: the built-in pack reads no Windows logoff or special-
// privilege event (their outcome is unknown), but reads logons and
// failures; a rule on EventID 4634 makes logoffs wanted.
func TestMayMatch(t *testing.T) {
	builtin, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(builtin, Options{})
	if err != nil {
		t.Fatal(err)
	}
	proto := func(code, action, outcome string) *event.Event {
		return &event.Event{Dataset: "windows.security", Category: "authentication", Code: code, Action: action, Outcome: outcome}
	}
	for _, c := range []struct {
		ev    *event.Event
		fixed bool
		want  bool
	}{
		{proto("4634", "logged-out", "unknown"), true, false},
		{proto("4672", "logged-in-special", "unknown"), true, false},
		{proto("4624", "logged-in", "success"), true, true},
		{proto("4625", "logon-failed", "failure"), false, true},
		{proto("4768", "kerberos-authentication-ticket-requested", ""), false, true},
		{proto("4634", "logged-out", "unknown"), false, true}, // reason not known: mfa_denied may match
	} {
		if got := eng.MayMatch(c.ev, c.fixed); got != c.want {
			t.Errorf("MayMatch(%s, fixed=%v) = %v, want %v", c.ev.Code, c.fixed, got, c.want)
		}
	}
	rs, err := ParseRules("logoff.yml", []byte(`title: Logoff
id: 0b8c0a52-0d7f-4f43-9a1e-5f8f3c2f7a10
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4634}
  condition: selection
level: low
`))
	if err != nil {
		t.Fatal(err)
	}
	eng2, err := NewEngine(append(builtin, rs...), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !eng2.MayMatch(proto("4634", "logged-out", "unknown"), true) {
		t.Error("a rule on EventID 4634 does not make logoffs wanted")
	}
	if eng2.MayMatch(proto("4672", "logged-in-special", "unknown"), true) {
		t.Error("a rule on EventID 4634 makes 4672 wanted")
	}
}

// TestWantedKeepsIncidents: replaying the example estate's Winlogbeat log
// with the records no rule may match passed over undecoded gives the same
// incidents, from fewer events.
func TestWantedKeepsIncidents(t *testing.T) {
	builtin, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	run := func(wanted bool) ([]*Incident, Stats) {
		eng, err := NewEngine(builtin, Options{})
		if err != nil {
			t.Fatal(err)
		}
		o := ingest.Options{}
		if wanted {
			o.Wanted = eng.MayMatch
		}
		r, err := ingest.Open(t.Context(), "../../examples/harbourview/logs/winlogbeat-security.ndjson", o)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var ev event.Event
		for {
			if err := r.Next(&ev); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				break
			}
			eng.Process(&ev)
		}
		eng.Flush()
		incs := eng.Incidents()
		SortIncidents(incs)
		return incs, eng.Stats()
	}
	all, allSt := run(false)
	some, someSt := run(true)
	if len(all) == 0 {
		t.Fatal("no incidents from the example log")
	}
	ecs := func(incs []*Incident) []string {
		var out []string
		for _, inc := range incs {
			a := inc.ECS("", inc.Last)
			out = append(out, string(a.AppendECS(nil)))
		}
		return out
	}
	if diff := cmp.Diff(ecs(all), ecs(some)); diff != "" {
		t.Errorf("incidents differ (-all +wanted):\n%s", diff)
	}
	if someSt.Processed >= allSt.Processed {
		t.Errorf("processed %d events with Wanted, %d without: nothing passed over", someSt.Processed, allSt.Processed)
	}
}
