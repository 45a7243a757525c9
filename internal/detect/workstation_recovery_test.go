package detect

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// rdsLogon is one logon at terminal server RDS01 as its DC validates it
// (4776, no source address): a success, a wrong password (0xc000006a) or an
// account that does not exist (0xc0000064, a mistyped user name).
type rdsLogon struct {
	at     time.Time
	user   string
	status string
}

const (
	rdsOK           = "0x0"
	rdsBadPassword  = "0xc000006a"
	rdsUnknownUser  = "0xc0000064"
	rdsWorkstation  = "RDS01"
	rdsLogonsPerDay = 4
)

// rdsEvents writes logons as forwarded 4776 event XML, in time order, and
// reads them back with the real reader.
func rdsEvents(t *testing.T, ls []rdsLogon) []event.Event {
	t.Helper()
	ls = slices.Clone(ls)
	slices.SortStableFunc(ls, func(a, b rdsLogon) int { return a.at.Compare(b.at) })
	var b bytes.Buffer
	for i, l := range ls {
		fmt.Fprintf(&b, "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Security-Auditing' Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>4776</EventID><TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Channel>Security</Channel><Computer>dc01.corp.local</Computer></System><EventData><Data Name='PackageName'>MICROSOFT_AUTHENTICATION_PACKAGE_V1_0</Data><Data Name='TargetUserName'>%s</Data><Data Name='Workstation'>%s</Data><Data Name='Status'>%s</Data></EventData></Event>\n",
			l.at.UTC().Format("2006-01-02T15:04:05.000000Z"), i+1, l.user, rdsWorkstation, l.status)
	}
	r, err := ingest.NewReader("dc.xml", &b, ingest.Options{Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, r)
}

// rdsOfficeDay is an office's day at a terminal server: each of its users
// logs on a few times over four hours from 8:00, mistyping the password of
// one logon in badPassword and else the user name of one in unknownUser (a
// letter pair swapped: an account that does not exist; 0: never), and
// logging on 10-40 s after the mistype.
func rdsOfficeDay(seed uint64, users, badPassword, unknownUser int) []rdsLogon {
	rng := rand.New(rand.NewPCG(seed, 2))
	var ls []rdsLogon
	for u := range users {
		for range rdsLogonsPerDay {
			at := dayStart.Add(8*time.Hour + time.Duration(rng.Int64N(int64(4*time.Hour))))
			user := fmt.Sprintf("user%03d", u)
			switch {
			case rng.IntN(badPassword) == 0:
				ls = append(ls, rdsLogon{at, user, rdsBadPassword})
				at = at.Add(time.Duration(10+rng.IntN(30)) * time.Second)
			case unknownUser > 0 && rng.IntN(unknownUser) == 0:
				ls = append(ls, rdsLogon{at, "usre" + user[4:], rdsUnknownUser})
				at = at.Add(time.Duration(10+rng.IntN(30)) * time.Second)
			}
			ls = append(ls, rdsLogon{at, user, rdsOK})
		}
	}
	return ls
}

// assertNothingAboveLow fails for a case or an alert above low, and when
// none of the rules named tripped (the test no longer exercises their
// judgement).
func assertNothingAboveLow(t *testing.T, incs []*Incident, cases []Case, alerts []Alert, rules ...string) {
	t.Helper()
	for _, name := range rules {
		if !slices.ContainsFunc(incs, func(inc *Incident) bool { return inc.RuleName == name }) {
			t.Errorf("%s did not trip: the test no longer exercises its judgement", name)
		}
	}
	for _, c := range cases {
		if LevelRank(c.Severity) > LevelRank("low") {
			t.Errorf("case %s %s %v", c.Severity, c.Attacker, c.Rules)
		}
	}
	for _, a := range alerts {
		if LevelRank(a.Incident.Severity) > LevelRank("low") {
			t.Errorf("alert %s %s %s", a.Kind, a.Incident.Severity, a.Incident.RuleName)
		}
	}
}

// TestTerminalServerOfficeSelfRecovers: an office behind a terminal server
// (DC 4776 validations from workstation RDS01, no source address) whose
// users mistype a quarter of their logons and log on seconds later trips
// password_spray_ntlm (ten accounts failing in an hour); it is judged by
// the same self-recovery as the address-keyed spray rules, keyed on the
// workstation, and raises nothing above low (v9o's
// repro-terminal-server-office-*). Old code: password_spray_ntlm high.
func TestTerminalServerOfficeSelfRecovers(t *testing.T) {
	incs, cases, alerts := runPack(t, rdsEvents(t, rdsOfficeDay(9, 60, 4, 0)), nil)
	assertNothingAboveLow(t, incs, cases, alerts, "password_spray_ntlm")
}

// TestTerminalServerSlowDaySelfRecovers: a larger office at the terminal
// server that mistypes user names too (about one logon in twenty starts
// with a user name that does not exist, besides a wrong password in one in
// four): five or more such names in an hour trip
// password_spray_slow_workstation, which is judged by the workstation's
// self-recovery like the other spray rules (most of its failing accounts
// log on within two minutes), so it is low and success_after_workstation_spray
// does not follow from it. A spray of accounts that do not exist from the
// same workstation, with nobody logging on after, stays high. Old code:
// password_spray_slow_workstation high and success_after_workstation_spray
// critical for the office.
func TestTerminalServerSlowDaySelfRecovers(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if r.Name == "password_spray_slow_workstation" && r.Options.Recovery == nil {
			t.Error("password_spray_slow_workstation has no firebreak.self_recovery")
		}
	}
	incs, cases, alerts := runPack(t, rdsEvents(t, rdsOfficeDay(9, 120, 4, 16)), nil)
	assertNothingAboveLow(t, incs, cases, alerts, "password_spray_slow_workstation")

	var spray []rdsLogon
	at := dayStart.Add(20 * time.Hour)
	for i := range 8 {
		spray = append(spray, rdsLogon{at.Add(time.Duration(i) * 5 * time.Minute), fmt.Sprintf("svc_backup%d", i), rdsUnknownUser})
	}
	incs, _, _ = runPack(t, rdsEvents(t, spray), nil)
	i := slices.IndexFunc(incs, func(inc *Incident) bool { return inc.RuleName == "password_spray_slow_workstation" })
	if i < 0 || incs[i].Severity != "high" || incs[i].Pattern != patternSpray {
		t.Errorf("a slow spray of accounts that do not exist from %s: password_spray_slow_workstation not high (found %d)", rdsWorkstation, i)
	}
}

// TestWorkstationAndAddressKeptApart: a workstation's recovery is followed
// under its name, never under an address. The old key stood a workstation
// in for an address in 100::/64 (a hash of its name), so a real address
// there — here the very address the old code gave RDS01 — shared the
// workstation's recovery state: its accounts' sign-ins recovered RDS01's
// failures, and a burst of failures from RDS01 whose accounts never log on
// from it was judged self-recovering (low). The burst is a spray (high),
// and nothing the pack reports names an address in 100::/64 that the
// input did not.
func TestWorkstationAndAddressKeptApart(t *testing.T) {
	h := sha256.Sum256([]byte(strings.ToLower(rdsWorkstation)))
	var a [16]byte
	a[0] = 0x01
	copy(a[8:], h[:8])
	standIn := netip.AddrFrom16(a)

	t0 := dayStart.Add(10 * time.Hour)
	var fails []rdsLogon
	var recoveries []authLine
	for i := range 6 {
		at := t0.Add(time.Duration(i) * 5 * time.Second)
		user := fmt.Sprintf("user%02d", i)
		fails = append(fails, rdsLogon{at, user, rdsBadPassword})
		recoveries = append(recoveries, authLine{at: at.Add(20 * time.Second), user: user, ip: standIn.String(), success: true})
	}
	evs := rdsEvents(t, fails)
	name, data := formLines("xml", recoveries)
	r, err := ingest.NewReader(name, bytes.NewReader(data), ingest.Options{Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	evs = append(evs, drain(t, r)...)
	slices.SortStableFunc(evs, func(a, b event.Event) int { return a.Timestamp.Compare(b.Timestamp) })
	incs, _, _ := runPack(t, evs, nil)
	i := slices.IndexFunc(incs, func(inc *Incident) bool { return inc.RuleName == "password_spray_velocity_workstation" })
	if i < 0 {
		t.Fatal("password_spray_velocity_workstation did not trip")
	}
	if inc := incs[i]; inc.Severity != "high" || inc.Pattern != patternSpray {
		t.Errorf("RDS01's burst %s %s: its accounts' sign-ins from %s recovered it: %s", inc.Severity, inc.Pattern, standIn, inc.Description)
	}

	// Only workstation events: no address in 100::/64 anywhere in the output.
	incs, cases, alerts := runPack(t, rdsEvents(t, rdsOfficeDay(9, 120, 4, 16)), nil)
	out, err := json.Marshal(struct {
		I []*Incident
		C []Case
		A []Alert
	}{incs, cases, alerts})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(`"100:`)) || bytes.Contains(out, []byte(" 100:")) {
		t.Errorf("an address in 100::/64 in the output of workstation events: %s", out)
	}
}
