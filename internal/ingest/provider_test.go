package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// winlogbeatJSON renders events as Winlogbeat writes them, one JSON
// object a line.
func winlogbeatJSON(t *testing.T, evs []evtxtest.Event) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, e := range evs {
		prov := e.Provider
		if prov == "" {
			prov = "Microsoft-Windows-Security-Auditing"
		}
		data := map[string]string{}
		for _, kv := range e.Data {
			data[kv[0]] = kv[1]
		}
		rec := map[string]any{
			"@timestamp": e.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
			"event":      map[string]any{"code": e.ID, "provider": prov},
			"host":       map[string]any{"name": e.Computer},
			"winlog": map[string]any{"channel": "Security", "provider_name": prov, "computer_name": e.Computer,
				"event_id": e.ID, "event_data": data},
		}
		line, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// TestForeignProviderNotAnAuthEvent: a Security-channel record whose
// provider is not Microsoft-Windows-Security-Auditing (a source any
// process with SeAuditPrivilege may register writes there, with any event
// id) is no logon failure: it is counted as not an authentication event,
// under a program that names its provider, in every Windows form.
func TestForeignProviderNotAnAuthEvent(t *testing.T) {
	data := [][2]string{{"TargetUserName", "alice"}, {"TargetDomainName", "CORP"}, {"Status", "0xc000006d"},
		{"SubStatus", "0xc000006a"}, {"LogonType", "3"}, {"IpAddress", "203.0.113.9"}, {"IpPort", "0"}}
	evs := []evtxtest.Event{
		{ID: 4625, Time: fixtureBase, Computer: "FS01.corp.example", Data: data},
		{ID: 4625, Time: fixtureBase.Add(time.Second), Computer: "FS01.corp.example", Provider: "Forged-Audit-Source", Data: data},
		{ID: 4625, Time: fixtureBase.Add(2 * time.Second), Computer: "FS01.corp.example", Provider: "microsoft-windows-security-auditing", Data: data},
	}
	const foreign = `Security 4625 (provider "Forged-Audit-Source", not Microsoft-Windows-Security-Auditing)`
	for _, form := range []struct {
		name string
		data []byte
	}{
		{"evtx", evtxtest.Write(evs)},
		{"xml", evtxtest.XML(evs, false, false)},
		{"json", winlogbeatJSON(t, evs)},
		// an ECS export naming the provider only as event.provider
		{"json-ecs", ecsProviderOnly(t, winlogbeatJSON(t, evs))},
	} {
		t.Run(form.name, func(t *testing.T) {
			r, err := NewReader("sec."+form.name, bytes.NewReader(form.data), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got, st := readEvents(t, r)
			if len(got) != 2 || got[0] != fixtureBase.String() || got[1] != fixtureBase.Add(2*time.Second).String() {
				t.Errorf("events %v, want the two Security-Auditing failures", got)
			}
			if st.Parsed != 2 || st.Ignored != 1 || st.Unparsed != 0 {
				t.Errorf("parsed %d ignored %d unparsed %d, want 2, 1, 0", st.Parsed, st.Ignored, st.Unparsed)
			}
			if p := st.Programs[foreign]; p == nil || p.Ignored != 1 || p.Parsed != 0 {
				t.Errorf("programs %v lack %q with one ignored record", slicesSorted(st.Programs), foreign)
			}
			if p := st.Programs["Security 4625"]; p == nil || p.Parsed != 2 {
				t.Errorf("Security 4625: %+v, want 2 parsed", p)
			}
		})
	}
}

// ecsProviderOnly drops winlog.provider_name from every line, leaving the
// provider in event.provider alone.
func ecsProviderOnly(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		delete(rec["winlog"].(map[string]any), "provider_name")
		line, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// readEvents reads r to the end: the events' times (as strings) and the
// counts.
func readEvents(t *testing.T, r *Reader) ([]string, Stats) {
	t.Helper()
	var out []string
	var ev event.Event
	for {
		err := r.Next(&ev)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Timestamp.String())
	}
	return out, r.Stats()
}

// TestUnreadableRecordNoProgram: a Windows JSON line that is not JSON, or
// is cut off before its event id, is unparsed under ProgramNone with its
// line, not under a "Security 0" no Security log has.
func TestUnreadableRecordNoProgram(t *testing.T) {
	evs := []evtxtest.Event{{ID: 4625, Time: fixtureBase, Computer: "FS01.corp.example",
		Data: [][2]string{{"TargetUserName", "alice"}, {"Status", "0xc000006d"}, {"IpAddress", "203.0.113.9"}}}}
	good := winlogbeatJSON(t, evs)
	cut := `{"@timestamp":"2026-11-26T09:14:02.517Z","winlog":{"channel":"Security","computer_name":"DC01"`
	in := append(append(append([]byte{}, good...), cut+"\nnot json at all\n"...), good...)
	r, err := NewReader("sec.json", bytes.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, st := readEvents(t, r)
	if st.Parsed != 2 || st.Unparsed != 2 {
		t.Errorf("parsed %d unparsed %d, want 2 and 2", st.Parsed, st.Unparsed)
	}
	if p := st.Programs["Security 0"]; p != nil {
		t.Errorf(`unreadable lines counted under "Security 0": %+v`, p)
	}
	if p := st.Programs[ProgramNone]; p == nil || p.Unparsed != 2 {
		t.Errorf("programs %v: want %s with 2 unparsed", slicesSorted(st.Programs), ProgramNone)
	}
}
