package detect

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/google/go-cmp/cmp"
)

// sigmaHQ is the SigmaHQ corpus beside the repository (shared/data/sigmahq).
const sigmaHQ = "../../../shared/data/sigmahq"

// readEvents parses a fixture with the real ingest readers (format sniffed).
func readEvents(t testing.TB, path string, opts ingest.Options) []event.Event {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Year == 0 {
		opts.Year = 2026
	}
	r, err := ingest.NewReader(path, bytes.NewReader(data), opts)
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, r)
}

// drain reads every event of r, each with its own copy of the fields.
func drain(t testing.TB, r *ingest.Reader) []event.Event {
	t.Helper()
	var out []event.Event
	var ev event.Event
	for {
		err := r.Next(&ev)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, copyEv(&ev))
	}
}

func copyEv(ev *event.Event) event.Event {
	c := *ev
	c.Fields = nil
	for k, v := range ev.Fields {
		c.SetField(k, v)
	}
	return c
}

func loadSigmaHQ(t testing.TB, rel ...string) []*Rule {
	t.Helper()
	var rules []*Rule
	for _, r := range rel {
		p := filepath.Join(sigmaHQ, r)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("SigmaHQ corpus: %v (shared/data/sigmahq must sit beside the repository)", err)
		}
		rs, err := ParseRules(p, data)
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, rs...)
	}
	return rules
}

// TestSigmaHQRulesOnParsedSources runs unmodified SigmaHQ authentication
// rules over fixtures parsed by the real readers: the field mappings make
// Windows EventData, SigninLogs and Okta names match the events.
func TestSigmaHQRulesOnParsedSources(t *testing.T) {
	rules := loadSigmaHQ(t,
		"rules/windows/builtin/security/win_security_susp_failed_logon_reasons.yml",
		"rules/windows/builtin/security/account_management/win_security_rdp_localhost_login.yml",
		"rules/windows/builtin/security/account_management/win_security_pass_the_hash_2.yml",
		"rules/windows/builtin/security/account_management/win_security_successful_external_remote_rdp_login.yml",
		"rules/cloud/azure/signin_logs/azure_account_lockout.yml",
		"rules/cloud/azure/signin_logs/azure_login_to_disabled_account.yml",
		"rules/cloud/azure/signin_logs/azure_mfa_denies.yml",
		"rules/identity/okta/okta_user_account_locked_out.yml",
	)
	own, err := ParseRules("own.yml", []byte(`title: SSH failure from a documentation range (pam names)
id: own-1
logsource: {product: linux, service: sshd}
detection:
  sel:
    pam_rhost|cidr: 203.0.113.0/24
    pam_user: [root, oracle]
  condition: sel
---
title: Okta failure by ECS-less name
id: own-2
logsource: {product: okta, service: okta}
detection:
  sel:
    actor.alternateId|endswith: '@northgate-logistics.example'
    client.ipAddress: 192.0.2.50
    eventType: user.session.start
  condition: sel
---
title: Entra sign-in by column names
id: own-3
logsource: {product: azure, service: signinlogs}
detection:
  sel:
    UserPrincipalName: frank@riverside-clinic.example
    IPAddress: 203.0.113.10
    ResultType: 0
  condition: sel
---
title: Keyword on the message
id: own-4
logsource: {product: linux}
detection:
  keywords: ['invalid user oracle']
  condition: keywords
`))
	if err != nil {
		t.Fatal(err)
	}
	rules = append(rules, own...)
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range e.Warnings() {
		t.Errorf("warning: %s", w)
	}
	var evs []event.Event
	for _, f := range []string{"windows.ndjson", "entra.ndjson", "okta.json", "auth.log"} {
		evs = append(evs, readEvents(t, filepath.Join("testdata/sources", f), ingest.Options{})...)
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Timestamp.Compare(b.Timestamp) })
	for i := range evs {
		e.Process(&evs[i])
	}
	e.Flush()
	got := map[string]int64{}
	for _, r := range e.Stats().Rules {
		got[r.Title] = r.Matched
	}
	want := map[string]int64{
		"Failed Logon From Public IP":                         0,
		"Account Tampering - Suspicious Failed Logon Reasons": 1, // 4625 SubStatus 0xC0000072 (account disabled)
		"Successful Account Login Via WMI":                    0,
		"RDP Login from Localhost":                            1, // 4624 type 10 from 127.0.0.1
		"Pass the Hash Activity 2":                            1, // 4624 type 9 seclogo
		"External Remote RDP Logon from Public IP":            0, // the type 10 logon is from loopback
		"Account Lockout":                                     1, // SigninLogs ResultType 50053
		"Login to Disabled Account":                           1, // 50057 with its ResultDescription
		"Multifactor Authentication Denied":                   1, // AuthenticationRequirement + Status contains MFA Denied
		"Okta User Account Locked Out":                        1,
		"SSH failure from a documentation range (pam names)":  3, // two sshd failures and the legacy sshd(pam_unix) line
		"Okta failure by ECS-less name":                       1,
		"Entra sign-in by column names":                       1,
		"Keyword on the message":                              1,
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			delete(want, k) // titles of rules not loaded above
		}
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("matches per rule (-got +want):\n%s", d)
	}
}

// TestCheckRuleWarnings: a field no source produces, a logsource nothing
// provides, a placeholder without a value.
func TestCheckRuleWarnings(t *testing.T) {
	rules, err := ParseRules("w.yml", []byte(`title: unmapped
id: w1
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4625
    ObjectName|contains: secret
  condition: sel
---
title: no source
id: w2
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '\cmd.exe'}
  condition: sel
---
title: placeholder
id: w3
logsource: {product: windows, service: security}
detection:
  sel: {IpAddress|expand: '%dc_ip_addresses%'}
  condition: sel
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range e.Warnings() {
		got = append(got, w.String())
	}
	want := []string{
		`w.yml:7: rule "unmapped": field ObjectName: no loaded source produces it (windows-security); the rule cannot match it`,
		`w.yml:10: rule "no source": no loaded source provides logsource product=windows category=process_creation`,
		`w.yml:21: rule "placeholder": placeholder %dc_ip_addresses% has no value (set it in the placeholders file or the estate); its values never match`,
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("warnings (-got +want):\n%s", d)
	}
	e, err = NewEngine(rules, Options{Placeholders: map[string][]string{"dc_ip_addresses": {"10.0.0.10"}}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(e.Warnings()); n != 2 {
		t.Errorf("with the placeholder set: %d warnings, want 2", n)
	}
}

// TestFilter: a Sigma meta filter narrows the rules it names.
func TestFilter(t *testing.T) {
	rules, err := ParseRules("f.yml", []byte(`title: failures
id: r1
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: not the kiosk
id: f1
logsource: {product: windows, service: security}
filter:
  rules: [r1, nope]
  kiosk: {WorkstationName: KIOSK7}
  condition: not kiosk
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	for _, w := range e.Warnings() {
		warns = append(warns, w.Msg)
	}
	if len(warns) != 1 || !strings.Contains(warns[0], `no loaded rule "nope"`) {
		t.Errorf("warnings = %q, want one for the missing rule", warns)
	}
	evs := readEvents(t, "testdata/sources/windows.ndjson", ingest.Options{})
	for i := range evs {
		e.Process(&evs[i])
	}
	if n := e.Stats().Rules[0].Matched; n != 1 {
		t.Errorf("failures matched %d, want 1 (two 4625s, one from the filtered kiosk)", n)
	}
}

// TestSigmaHQOnRealEVTX runs every SigmaHQ Windows Security rule, unmodified,
// over the five real .evtx files in shared/data/evtx (read by the EVTX
// reader): the authentication rules fire on the attacks those files record,
// and nothing else fires.
func TestSigmaHQOnRealEVTX(t *testing.T) {
	rules, err := LoadRules(os.DirFS(filepath.Join(sigmaHQ, "rules/windows/builtin/security")))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("../../../shared/data/evtx/*.evtx")
	if err != nil || len(files) != 5 {
		t.Fatalf("shared/data/evtx: %v files, %v", files, err)
	}
	var evs []event.Event
	for _, f := range files {
		r, err := ingest.Open(t.Context(), f, ingest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, drain(t, r)...)
		r.Close()
	}
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Timestamp.Compare(b.Timestamp) })
	for i := range evs {
		e.Process(&evs[i])
	}
	e.Flush()
	got := map[string]int64{}
	for _, r := range e.Stats().Rules {
		if r.Matched > 0 {
			got[r.Title] = r.Matched
		}
	}
	want := map[string]int64{
		"RDP Login from Localhost":                          1, // DE_RDP_Tunneling: 4624 type 10 from 127.0.0.1
		"Successful Overpass the Hash Attempt":              1, // LM_4624_mimikatz_sekurlsa_pth: 4624 type 9 seclogo, Negotiate
		"Pass the Hash Activity 2":                          1,
		"Outgoing Logon with New Credentials":               1,
		"Suspicious Remote Logon with Explicit Credentials": 2, // LM_WMIC_4648: 4648 by WMIC.exe
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("SigmaHQ rules matched on the real .evtx files (-got +want):\n%s", d)
	}
}

// TestLinuxLogsourceCoversSuSudo: su, sudo and PAM events of other services
// (dataset linux.auth) are Linux authentication events, so a rule with
// logsource product linux (or linux/auth) sees them, as it sees sshd's; a
// linux/sshd rule does not.
func TestLinuxLogsourceCoversSuSudo(t *testing.T) {
	log := filepath.Join(t.TempDir(), "auth.log")
	if err := os.WriteFile(log, []byte("Dec  7 09:00:01 web1 su[1234]: FAILED SU (to root) alice on pts/0\n"+
		"Dec  7 09:00:04 web1 sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rules, err := ParseRules("linux.yml", []byte(`title: linux keyword
id: v9-1
logsource: {product: linux}
detection:
  keywords: ['incorrect password attempts', 'FAILED SU']
  condition: keywords
---
title: linux auth user
id: v9-2
logsource: {product: linux, service: auth}
detection:
  sel: {user: alice}
  condition: sel
---
title: linux sshd keyword
id: v9-3
logsource: {product: linux, service: sshd}
detection:
  keywords: ['incorrect password attempts', 'FAILED SU']
  condition: keywords
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, log, ingest.Options{})
	for i := range evs {
		e.Process(&evs[i])
	}
	e.Flush()
	got := map[string]int64{}
	for _, r := range e.Stats().Rules {
		got[r.Title] = r.Matched
	}
	want := map[string]int64{"linux keyword": 2, "linux auth user": 2, "linux sshd keyword": 0}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("matches per rule (-got +want):\n%s", d)
	}
}
