package detect

import (
	"bytes"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// TestKeyLengthRule: SigmaHQ's pass-the-hash selection (4624, LogonType 3,
// KeyLength 0; its LogonProcessName NtLmSsp left out) loads without a warning and fires on an .evtx
// logon carrying KeyLength 0, not on one with a session key (on main the
// field was advertised but never read: 0 matches, no warning).
func TestKeyLengthRule(t *testing.T) {
	rules, err := ParseRules("pth.yml", []byte(`title: PtH logon
id: pth-1
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4624
    LogonType: 3
    KeyLength: 0
  condition: sel
level: high
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range e.Warnings() {
		t.Errorf("warning: %s", w)
	}
	base := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	logon := func(s int, key string) evtxtest.Event {
		return evtxtest.Event{ID: 4624, Time: base.Add(time.Duration(s) * time.Second), Computer: "FILE01.corp.example", Data: [][2]string{
			{"SubjectUserSid", "S-1-0-0"}, {"TargetUserName", "admin"}, {"TargetDomainName", "CORP"}, {"LogonType", "3"},
			{"LogonProcessName", "NtLmSsp "}, {"AuthenticationPackageName", "NTLM"}, {"WorkstationName", "WS1"},
			{"LmPackageName", "NTLM V2"}, {"KeyLength", key}, {"IpAddress", "10.0.0.5"}, {"IpPort", "49152"}}}
	}
	r, err := ingest.NewReader("pth.evtx", bytes.NewReader(evtxtest.Write([]evtxtest.Event{logon(0, "0"), logon(1, "128")})), ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs := drain(t, r)
	for i := range evs {
		e.Process(&evs[i])
	}
	e.Flush()
	if got := e.Stats().Rules[0].Matched; got != 1 {
		t.Errorf("PtH rule matched %d of the 2 logons, want 1 (KeyLength 0)", got)
	}
}
