package ingest

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// sharedEVTX lists the real .evtx files of ../shared/data/evtx (beside the
// repository in development and CI). The test fails, not skips, when they
// are missing.
func sharedEVTX(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../../../shared/data/evtx/*.evtx")
	if len(files) == 0 {
		t.Fatal("no .evtx files in ../../../shared/data/evtx (the shared test data must sit beside the repository)")
	}
	return files
}

// checkGolden compares lines with testdata/<name>.golden (-update rewrites).
func checkGolden(t *testing.T, name string, got []string) {
	t.Helper()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	want := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("%s mismatch (-got +want):\n%s", name, d)
	}
}

// TestGoldenRealEVTX reads the real EVTX-ATTACK-SAMPLES files.
func TestGoldenRealEVTX(t *testing.T) {
	for _, f := range sharedEVTX(t) {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".evtx"), func(t *testing.T) {
			r, err := Open(context.Background(), f, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got := readAll(t, r)
			for i, l := range got {
				got[i] = strings.ReplaceAll(l, f, name)
			}
			checkGolden(t, "evtx/"+name, got)
		})
	}
}

var fixtureBase = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// kerberosSpray is one address spraying a domain over Kerberos: 4768 for
// accounts that do not exist (0x6), 4771 pre-authentication failures
// (0x18) for real ones, then a 4768 success for the account that fell,
// its 4769 service ticket, and a 4740 lockout of another account.
func kerberosSpray() []evtxtest.Event {
	var evs []evtxtest.Event
	at := func(s int) time.Time { return fixtureBase.Add(time.Duration(s) * time.Second) }
	dc := "DC01.corp.example"
	src := "::ffff:203.0.113.50"
	for i, u := range []string{"admin", "backup", "scanner", "test", "oracle"} {
		evs = append(evs, evtxtest.Event{ID: 4768, Time: at(i), Computer: dc, Data: [][2]string{
			{"TargetUserName", u}, {"TargetDomainName", "CORP"}, {"TargetSid", "S-1-0-0"}, {"ServiceName", "krbtgt/CORP"},
			{"ServiceSid", "S-1-0-0"}, {"TicketOptions", "0x40810010"}, {"Status", "0x6"}, {"TicketEncryptionType", "0xffffffff"},
			{"PreAuthType", "-"}, {"IpAddress", src}, {"IpPort", fmt.Sprint(50000 + i)}}})
	}
	for i, u := range []string{"alice", "bob", "carol", "dave"} {
		evs = append(evs, evtxtest.Event{ID: 4771, Time: at(10 + i), Computer: dc, Data: [][2]string{
			{"TargetUserName", u}, {"TargetSid", "S-1-5-21-1-2-3-" + fmt.Sprint(1100+i)}, {"ServiceName", "krbtgt/CORP"},
			{"TicketOptions", "0x40810010"}, {"Status", "0x18"}, {"PreAuthType", "2"}, {"IpAddress", src}, {"IpPort", fmt.Sprint(50100 + i)}}})
	}
	evs = append(evs,
		evtxtest.Event{ID: 4768, Time: at(20), Computer: dc, Data: [][2]string{
			{"TargetUserName", "erin"}, {"TargetDomainName", "CORP"}, {"TargetSid", "S-1-5-21-1-2-3-1104"}, {"ServiceName", "krbtgt"},
			{"ServiceSid", "S-1-5-21-1-2-3-502"}, {"TicketOptions", "0x40810010"}, {"Status", "0x0"}, {"TicketEncryptionType", "0x12"},
			{"PreAuthType", "2"}, {"IpAddress", src}, {"IpPort", "50200"}}},
		evtxtest.Event{ID: 4769, Time: at(21), Computer: dc, Data: [][2]string{
			{"TargetUserName", "erin@CORP.EXAMPLE"}, {"TargetDomainName", "CORP.EXAMPLE"}, {"ServiceName", "FILE01$"},
			{"ServiceSid", "S-1-5-21-1-2-3-2001"}, {"TicketOptions", "0x40810000"}, {"TicketEncryptionType", "0x17"},
			{"IpAddress", src}, {"IpPort", "50201"}, {"Status", "0x0"}, {"LogonGuid", "{00000000-0000-0000-0000-000000000000}"}, {"TransmittedServices", "-"}}},
		evtxtest.Event{ID: 4740, Time: at(30), Computer: dc, Data: [][2]string{
			{"TargetUserName", "alice"}, {"TargetDomainName", "WS017"}, {"TargetSid", "S-1-5-21-1-2-3-1100"},
			{"SubjectUserSid", "S-1-5-18"}, {"SubjectUserName", "DC01$"}, {"SubjectDomainName", "CORP"}, {"SubjectLogonId", "0x3e7"}}},
		evtxtest.Event{ID: 4767, Time: at(600), Computer: dc, Data: [][2]string{
			{"TargetUserName", "alice"}, {"TargetDomainName", "CORP"}, {"TargetSid", "S-1-5-21-1-2-3-1100"},
			{"SubjectUserSid", "S-1-5-21-1-2-3-500"}, {"SubjectUserName", "helpdesk"}, {"SubjectDomainName", "CORP"}, {"SubjectLogonId", "0x1234"}}},
	)
	return evs
}

// ntlmSpray is a small domain sprayed over NTLM from one workstation in
// one second with no source address in the 4625s: 4776 on the DC and 4625
// on the file server, then a logon, its 4672, and the logoff.
func ntlmSpray() []evtxtest.Event {
	var evs []evtxtest.Event
	at := func(ms int) time.Time { return fixtureBase.Add(time.Duration(ms) * time.Millisecond) }
	users := []string{"amy", "ben", "cat", "dan", "eve", "fay", "gus"}
	for i, u := range users {
		status := "0xc000006a"
		if u == "gus" {
			status = "0xc0000064"
		}
		evs = append(evs, evtxtest.Event{ID: 4776, Time: at(i * 100), Computer: "DC01.corp.example", Data: [][2]string{
			{"PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"}, {"TargetUserName", u}, {"Workstation", "KIOSK-7"}, {"Status", status}}})
		sub := status
		evs = append(evs, evtxtest.Event{ID: 4625, Time: at(i*100 + 10), Computer: "FILE01.corp.example", Data: [][2]string{
			{"SubjectUserSid", "S-1-0-0"}, {"SubjectUserName", "-"}, {"SubjectDomainName", "-"}, {"SubjectLogonId", "0x0"},
			{"TargetUserSid", "S-1-0-0"}, {"TargetUserName", u}, {"TargetDomainName", "CORP"}, {"Status", "0xc000006d"},
			{"FailureReason", "%%2313"}, {"SubStatus", sub}, {"LogonType", "3"}, {"LogonProcessName", "NtLmSsp "},
			{"AuthenticationPackageName", "NTLM"}, {"WorkstationName", "KIOSK-7"}, {"TransmittedServices", "-"},
			{"LmPackageName", "-"}, {"KeyLength", "0"}, {"ProcessId", "0x0"}, {"ProcessName", "-"}, {"IpAddress", "-"}, {"IpPort", "-"}}})
	}
	evs = append(evs,
		evtxtest.Event{ID: 4776, Time: at(2000), Computer: "DC01.corp.example", Data: [][2]string{
			{"PackageName", "MICROSOFT_AUTHENTICATION_PACKAGE_V1_0"}, {"TargetUserName", "fay"}, {"Workstation", "KIOSK-7"}, {"Status", "0x0"}}},
		evtxtest.Event{ID: 4624, Time: at(2010), Computer: "FILE01.corp.example", Data: [][2]string{
			{"SubjectUserSid", "S-1-0-0"}, {"SubjectUserName", "-"}, {"SubjectDomainName", "-"}, {"SubjectLogonId", "0x0"},
			{"TargetUserSid", "S-1-5-21-1-2-3-1105"}, {"TargetUserName", "fay"}, {"TargetDomainName", "CORP"}, {"TargetLogonId", "0x5a5a5"},
			{"LogonType", "3"}, {"LogonProcessName", "NtLmSsp "}, {"AuthenticationPackageName", "NTLM"}, {"WorkstationName", "KIOSK-7"},
			{"IpAddress", "-"}, {"IpPort", "-"}}},
		evtxtest.Event{ID: 4672, Time: at(2010), Computer: "FILE01.corp.example", Data: [][2]string{
			{"SubjectUserSid", "S-1-5-21-1-2-3-1105"}, {"SubjectUserName", "fay"}, {"SubjectDomainName", "CORP"}, {"SubjectLogonId", "0x5a5a5"},
			{"PrivilegeList", "SeBackupPrivilege"}}},
		evtxtest.Event{ID: 4634, Time: at(5000), Computer: "FILE01.corp.example", Data: [][2]string{
			{"TargetUserSid", "S-1-5-21-1-2-3-1105"}, {"TargetUserName", "fay"}, {"TargetDomainName", "CORP"}, {"TargetLogonId", "0x5a5a5"}, {"LogonType", "3"}}},
		// a Sysmon event in the same file: another channel, ignored
		evtxtest.Event{ID: 1, Time: at(6000), Computer: "FILE01.corp.example", Channel: "Microsoft-Windows-Sysmon/Operational",
			Provider: "Microsoft-Windows-Sysmon", Data: [][2]string{{"Image", `C:\Windows\System32\cmd.exe`}}},
		// an event id firebreak does not know
		evtxtest.Event{ID: 5145, Time: at(7000), Computer: "FILE01.corp.example", Data: [][2]string{{"ShareName", `\\*\IPC$`}}},
	)
	return evs
}

// renderXML renders events as `wevtutil qe /f:xml` prints them (one
// <Event> after another, no root), optionally with a BOM and an <Events>
// root as Event Viewer's "Save as XML" writes.
func renderXML(evs []evtxtest.Event, bom, root bool) []byte {
	var b bytes.Buffer
	if bom {
		b.WriteString("\ufeff")
	}
	if root {
		b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<Events>")
	}
	for i, e := range evs {
		ch, prov := e.Channel, e.Provider
		if ch == "" {
			ch = "Security"
		}
		if prov == "" {
			prov = "Microsoft-Windows-Security-Auditing"
		}
		fmt.Fprintf(&b, `<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='%s' Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>%d</EventID><Version>0</Version><Level>0</Level><Task>14339</Task><Opcode>0</Opcode><Keywords>0x8010000000000000</Keywords><TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Correlation/><Execution ProcessID='636' ThreadID='1120'/><Channel>%s</Channel><Computer>%s</Computer><Security/></System><EventData>`,
			prov, e.ID, e.Time.UTC().Format("2006-01-02T15:04:05.0000000Z"), i+1, ch, e.Computer)
		for _, kv := range e.Data {
			fmt.Fprintf(&b, "<Data Name='%s'>%s</Data>", kv[0], html.EscapeString(kv[1]))
		}
		b.WriteString("</EventData></Event>")
		if !root {
			b.WriteString("\r\n")
		}
	}
	if root {
		b.WriteString("</Events>")
	}
	return b.Bytes()
}

func readBytes(t *testing.T, name string, data []byte, opts Options) []string {
	t.Helper()
	r, err := NewReader(name, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, r)
}

// TestGoldenWindowsFixtures reads the Kerberos and NTLM sprays as .evtx
// and as rendered XML: the events must agree field for field (line numbers
// are record numbers in both).
func TestGoldenWindowsFixtures(t *testing.T) {
	for name, evs := range map[string][]evtxtest.Event{"kerberos_spray": kerberosSpray(), "ntlm_spray": ntlmSpray()} {
		t.Run(name, func(t *testing.T) {
			got := readBytes(t, name+".evtx", evtxtest.Write(evs), Options{})
			checkGolden(t, "evtx/"+name+".evtx", got)
			for _, form := range []struct {
				name      string
				bom, root bool
			}{{"wevtutil", false, false}, {"saved", true, true}} {
				x := readBytes(t, name+".xml", renderXML(evs, form.bom, form.root), Options{})
				if d := cmp.Diff(stripForCompare(got), stripForCompare(x)); d != "" {
					t.Errorf("%s: .evtx and %s XML disagree (-evtx +xml):\n%s", name, form.name, d)
				}
			}
		})
	}
}

// stripForCompare drops what legitimately differs between the binary and
// the XML form: the message (Name=Value pairs vs the XML text) and the
// format name in the summary line.
func stripForCompare(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if j := strings.Index(l, " message="); j >= 0 {
			k := strings.Index(l[j+1:], `" `)
			if k >= 0 {
				l = l[:j] + l[j+1+k+1:]
			}
		}
		l = strings.Replace(l, "format=evtx", "format=X", 1)
		l = strings.Replace(l, "format=xml", "format=X", 1)
		out[i] = l
	}
	return out
}
