package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
)

// TestDetectDirectoryMixedFormats points detect at a folder holding an
// .evtx file, event XML and a legacy PAM syslog in sub-folders: every file
// is found, sniffed on its own and counted per program (the forwarded
// 4625 of an unknown provider as not an authentication event, under a
// program that names the provider).
func TestDetectDirectoryMixedFormats(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var evs []evtxtest.Event
	for i, u := range []string{"amy", "ben", "cat"} {
		evs = append(evs, evtxtest.Event{ID: 4771, Time: t0.Add(time.Duration(i) * time.Second), Computer: "DC01",
			Data: [][2]string{{"TargetUserName", u}, {"Status", "0x18"}, {"IpAddress", "::ffff:203.0.113.50"}}})
	}
	evs = append(evs, evtxtest.Event{ID: 4688, Time: t0.Add(5 * time.Second), Computer: "DC01", Data: [][2]string{{"NewProcessName", "cmd.exe"}}})
	write := func(rel string, b []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("dc01/Security.evtx", evtxtest.Write(evs))
	write("linux/old/messages", []byte("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 \n"+
		"Jun 14 15:16:02 combo crond[1]: (root) CMD (run-parts /etc/cron.hourly)\n"))
	write("wef/forwarded.xml", []byte("\ufeff<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Some-Unknown-Provider'/><EventID>4625</EventID><TimeCreated SystemTime='2026-11-26T09:00:09.000Z'/><Channel>Security</Channel><Computer>FILE01</Computer></System><EventData><Data Name='TargetUserName'>dan</Data><Data Name='SubStatus'>0xc000006a</Data><Data Name='IpAddress'>203.0.113.50</Data></EventData></Event>"))
	write(".hidden/skip.log", []byte("Jun 14 15:16:01 combo sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2\n"))

	g, out, errb := detectGlobals()
	opts := detectOptions{format: "json", progress: "never", year: 2005}
	if err := runDetect(t.Context(), opts, g, []string{dir}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Input ingest.Stats `json:"input"`
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	in := doc.Input
	if in.Lines != 7 || in.Parsed != 4 || in.Ignored != 3 || in.Unparsed != 0 {
		t.Errorf("input counts: lines %d parsed %d ignored %d unparsed %d, want 7 4 3 0", in.Lines, in.Parsed, in.Ignored, in.Unparsed)
	}
	for prog, want := range map[string][3]int64{"Security 4771": {3, 0, 0}, "Security 4688": {0, 1, 0},
		`Security 4625 (provider "Some-Unknown-Provider", not Microsoft-Windows-Security-Auditing)`: {0, 1, 0},
		"sshd(pam_unix)": {1, 0, 0}, ingest.ProgramPrefiltered: {0, 1, 0}} {
		p := in.Programs[prog]
		if p == nil || [3]int64{p.Parsed, p.Ignored, p.Unparsed} != want {
			t.Errorf("program %s: %+v, want parsed/ignored/unparsed %v", prog, p, want)
		}
	}
	if !strings.Contains(errb.String(), "by program:") || !strings.Contains(errb.String(), "from 3 input(s)") {
		t.Errorf("summary:\n%s", errb)
	}
}

// TestDetectWindowsFixturesEndToEnd runs the built-in pack over .evtx
// fixtures: a Kerberos spray and an NTLM spray with no source address,
// each ending in a compromise (a logon by one of the sprayed accounts,
// from the workstation for the NTLM spray), must each be a critical case;
// a NAT office day must raise nothing above low.
func TestDetectWindowsFixturesEndToEnd(t *testing.T) {
	base := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		evs     []evtxtest.Event
		wantMin string // lowest severity of the worst incident; "" = nothing above low
	}{
		{"kerberos_spray", evtxtest.KerberosSpray(base), "critical"},
		{"ntlm_spray", evtxtest.NTLMSpray(base), "critical"},
		{"nat_office_day", evtxtest.NATOfficeDay(base), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), c.name+".evtx")
			if err := os.WriteFile(p, evtxtest.Write(c.evs), 0o644); err != nil {
				t.Fatal(err)
			}
			g, out, _ := detectGlobals()
			if err := runDetect(t.Context(), detectOptions{format: "json", progress: "never"}, g, []string{p}); err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Cases []detect.Case `json:"cases"` // ECS alert documents, read back whole
			}
			if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			worst := ""
			for _, inc := range doc.Cases {
				if worst == "" || detect.LevelRank(inc.Severity) > detect.LevelRank(worst) {
					worst = inc.Severity
				}
			}
			switch {
			case c.wantMin == "" && worst != "" && detect.LevelRank(worst) > detect.LevelRank("low"):
				t.Errorf("an office day raised %s: %+v", worst, doc.Cases)
			case c.wantMin != "" && (worst == "" || detect.LevelRank(worst) < detect.LevelRank(c.wantMin)):
				t.Errorf("worst case %q, want at least %s: %+v", worst, c.wantMin, doc.Cases)
			}
		})
	}
}

// TestDetectEVTXAndXMLAgree runs the same records through detect as an
// .evtx file and as rendered event XML: the summary counts (per program
// too) and the cases must be the same, with the built-in pack alone (no
// rule reads 4672 or 4634: both forms count them as ignored) and with a
// rule that reads 4672 (both forms parse them).
func TestDetectEVTXAndXMLAgree(t *testing.T) {
	base := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	evs := append(evtxtest.KerberosSpray(base), evtxtest.NTLMSpray(base.Add(time.Hour))...)
	for i := range 3 {
		at := base.Add(2*time.Hour + time.Duration(i)*time.Minute)
		evs = append(evs,
			evtxtest.Event{ID: 4672, Time: at, Computer: "DC01", Data: [][2]string{{"SubjectUserName", "admin"}, {"SubjectDomainName", "CORP"}, {"PrivilegeList", "SeDebugPrivilege"}}},
			evtxtest.Event{ID: 4634, Time: at.Add(time.Second), Computer: "DC01", Data: [][2]string{{"TargetUserName", "admin"}, {"LogonType", "3"}}},
			evtxtest.Event{ID: 4688, Time: at.Add(2 * time.Second), Computer: "DC01", Data: [][2]string{{"NewProcessName", "cmd.exe"}}},
			evtxtest.Event{ID: 1, Time: at.Add(3 * time.Second), Computer: "WS01", Channel: "Microsoft-Windows-Sysmon/Operational", Provider: "Microsoft-Windows-Sysmon", Data: [][2]string{{"Image", "cmd.exe"}}})
	}
	rules := t.TempDir()
	if err := os.WriteFile(filepath.Join(rules, "special.yml"), []byte(`title: Special privileges assigned
id: 3a1f7e2c-9d4b-4c1e-8f5a-2b6c7d8e9f01
status: test
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4672
  condition: selection
level: low
`), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string][]byte{"Security.evtx": evtxtest.Write(evs), "Security.xml": evtxtest.XML(evs, true, true)}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		Cases []detect.Case `json:"cases"`
		Input ingest.Stats  `json:"input"`
	}
	for _, withRule := range []bool{false, true} {
		var got [2]result
		for i, name := range []string{"Security.evtx", "Security.xml"} {
			opts := detectOptions{format: "json", progress: "never"}
			if withRule {
				opts.rulesDirs = []string{rules}
			}
			g, out, _ := detectGlobals()
			if err := runDetect(t.Context(), opts, g, []string{filepath.Join(dir, name)}); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out.Bytes(), &got[i]); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			in := &got[i].Input
			in.Name, in.Format, in.Bytes = "", "", 0
		}
		if len(got[0].Cases) == 0 || got[0].Input.Parsed == 0 {
			t.Fatalf("rule %v: no cases or events from the .evtx file: %+v", withRule, got[0])
		}
		if d := cmp.Diff(got[0], got[1]); d != "" {
			t.Errorf("rule %v: .evtx and XML disagree (-evtx +xml):\n%s", withRule, d)
		}
		p := got[0].Input.Programs["Security 4672"]
		if p == nil || withRule && (p.Parsed < 3 || p.Ignored != 0) || !withRule && (p.Ignored < 3 || p.Parsed != 0) {
			t.Errorf("rule %v: Security 4672 counted %+v", withRule, p)
		}
	}
}

// TestDetectDirectoryFollowsLinks: logs an MSP links into one folder
// (a linked file, a linked sub-folder) are read; a link loop, a link to a
// folder already read, a second link to a file and a dangling link are
// not followed, end nothing, and each is named once in the summary.
func TestDetectDirectoryFollowsLinks(t *testing.T) {
	store, dir := t.TempDir(), t.TempDir()
	line := func(sec int, user string) string {
		return fmt.Sprintf("Nov 26 09:00:%02d web01 sshd[1]: Failed password for %s from 203.0.113.7 port 22 ssh2\n", sec, user)
	}
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(store, "acme", "auth.log"), line(1, "root")+line(2, "admin"))
	write(filepath.Join(store, "globex.log"), line(3, "oracle"))
	write(filepath.Join(dir, "local", "auth.log"), line(4, "test"))
	link(filepath.Join(store, "acme"), filepath.Join(dir, "acme"))             // a linked folder
	link(filepath.Join(store, "globex.log"), filepath.Join(dir, "globex.log")) // a linked file
	link(filepath.Join(store, "globex.log"), filepath.Join(dir, "z-again.log"))
	link(dir, filepath.Join(dir, "local", "loop"))                             // back to the top
	link(filepath.Join(store, "acme"), filepath.Join(dir, "local", "acme2"))   // a folder already read
	link(filepath.Join(store, "gone.log"), filepath.Join(dir, "dangling.log")) // dangling

	g, _, errb := detectGlobals()
	opts := detectOptions{format: "table", progress: "never", year: 2026}
	if err := runDetect(t.Context(), opts, g, []string{dir}); err != nil {
		t.Fatal(err)
	}
	sum := errb.String()
	if !strings.Contains(sum, "from 3 input(s)") || !strings.Contains(sum, "4 parsed") {
		t.Errorf("want the 3 files read once each, 4 events:\n%s", sum)
	}
	for _, want := range []string{
		filepath.Join(dir, "local", "loop") + ": symbolic link loop back to " + dir,
		filepath.Join(dir, "local", "acme2") + ": same folder as " + filepath.Join(dir, "acme"),
		filepath.Join(dir, "z-again.log") + ": same file as " + filepath.Join(dir, "globex.log"),
		filepath.Join(dir, "dangling.log") + ": symbolic link not followed",
		"skipped 4 input(s)",
	} {
		if strings.Count(sum, want) != 1 {
			t.Errorf("summary should say %q once:\n%s", want, sum)
		}
	}
}
