package detect

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// TestTerminalServerOfficeSelfRecovers: an office behind a terminal server
// (DC 4776 validations from workstation RDS01, no source address) whose
// users mistype a quarter of their logons and log on seconds later trips
// password_spray_ntlm (ten accounts failing in an hour); it is judged by
// the same self-recovery as the address-keyed spray rules, keyed on the
// workstation, and raises nothing above low (v9o's
// repro-terminal-server-office-*). Old code: password_spray_ntlm high.
func TestTerminalServerOfficeSelfRecovers(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 2))
	type logon struct {
		at time.Time
		ok bool
		u  string
	}
	var ls []logon
	for u := 0; u < 60; u++ {
		for k := 0; k < 4; k++ {
			at := dayStart.Add(8*time.Hour + time.Duration(rng.Int64N(int64(4*time.Hour))))
			user := fmt.Sprintf("user%02d", u)
			if rng.IntN(4) == 0 {
				ls = append(ls, logon{at, false, user})
				at = at.Add(time.Duration(10+rng.IntN(30)) * time.Second)
			}
			ls = append(ls, logon{at, true, user})
		}
	}
	slices.SortStableFunc(ls, func(a, b logon) int { return a.at.Compare(b.at) })
	var b bytes.Buffer
	for i, l := range ls {
		status := "0xc000006a"
		if l.ok {
			status = "0x0"
		}
		fmt.Fprintf(&b, "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Security-Auditing' Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>4776</EventID><TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID><Channel>Security</Channel><Computer>dc01.corp.local</Computer></System><EventData><Data Name='PackageName'>MICROSOFT_AUTHENTICATION_PACKAGE_V1_0</Data><Data Name='TargetUserName'>%s</Data><Data Name='Workstation'>RDS01</Data><Data Name='Status'>%s</Data></EventData></Event>\n",
			l.at.UTC().Format("2006-01-02T15:04:05.000000Z"), i+1, l.u, status)
	}
	r, err := ingest.NewReader("dc.xml", &b, ingest.Options{Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	incs, cases, alerts := runPack(t, drain(t, r), nil)
	tripped := false
	for _, inc := range incs {
		tripped = tripped || inc.RuleName == "password_spray_ntlm"
	}
	if !tripped {
		t.Error("password_spray_ntlm did not trip: the test no longer exercises its judgement")
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
