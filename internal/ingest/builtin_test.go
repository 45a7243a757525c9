package ingest

import (
	"os"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
)

func readBuiltin(t *testing.T, format, body string, opts Options) []event.Event {
	t.Helper()
	opts.Format = format
	rd, err := NewReader("test", strings.NewReader(body), opts)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.Event
	for {
		var ev event.Event
		if err := rd.Next(&ev); err != nil {
			break
		}
		out = append(out, ev)
	}
	return out
}

// TestBuiltinRMMMatchesExample: the shipped "rmm" mapping reads the
// example RMM audit log as its own mapping file does.
func TestBuiltinRMMMatchesExample(t *testing.T) {
	body, err := os.ReadFile("../../examples/harbourview/logs/rmm-audit.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(body), "\n", 201)
	sample := strings.Join(lines[:200], "\n")
	ex, err := LoadMapping("../../examples/harbourview/logs/rmm-mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := readBuiltin(t, FormatGeneric, sample, Options{Mapping: ex})
	got := readBuiltin(t, "rmm", sample, Options{})
	if len(got) != len(want) || len(got) < 100 {
		t.Fatalf("%d events with the built-in mapping, %d with the example's", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Timestamp != w.Timestamp || g.UserName != w.UserName || g.Action != w.Action || g.Tenant != w.Tenant || g.HostName != w.HostName ||
			g.Outcome != w.Outcome || g.Category != w.Category || g.Dataset != w.Dataset || g.SourceIP != w.SourceIP || g.Fields["console"] != w.Fields["console"] {
			t.Fatalf("event %d differs:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestBuiltinScreenConnect(t *testing.T) {
	line := `{"ts":"12/6/2026 11:50:00 PM","event":"RanCommand","session":"ACME-SRV-01","session_id":"7f0c","session_type":"Access","company":"acme","machine":"ACME-SRV-01","technician":"sam.carter","ip":"203.0.113.9","process":"Host","data":"whoami"}`
	evs := readBuiltin(t, "screenconnect", line, Options{Mapping: &Mapping{Timestamp: "x"}}) // a configured mapping does not override the named format
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	e := evs[0]
	if e.Dataset != "rmm.screenconnect" || e.Action != "RanCommand" || e.Tenant != "acme" || e.UserName != "sam.carter" || e.HostName != "ACME-SRV-01" ||
		e.Timestamp.Format("2006-01-02T15:04:05") != "2026-12-06T23:50:00" || e.SourceIP.String() != "203.0.113.9" || e.Fields["session_type"] != "Access" {
		t.Errorf("%+v", e)
	}
	if !KnownFormat("screenconnect") || !KnownFormat("rmm") || KnownFormat("nope") {
		t.Error("KnownFormat")
	}
	if _, err := BuiltinMapping("nope"); err == nil {
		t.Error("unknown built-in mapping accepted")
	}
}
