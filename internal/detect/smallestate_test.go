package detect

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// sshdMistypeDay is an office of 60 users behind one NAT address over a
// working day: everyone logs in once between 8:00 and 9:00, and n single
// mistypes spread over 8:00-17:00 are each followed within a minute by
// that user's own login. No attack.
func sshdMistypeDay(seed uint64, n int) []authLine {
	r := rand.New(rand.NewPCG(seed, 12))
	nat := "203.0.113.50"
	t0 := dayStart.Add(8 * time.Hour)
	var out []authLine
	for u := range 60 {
		out = append(out, authLine{t0.Add(time.Duration(r.IntN(3600)) * time.Second), fmt.Sprintf("user%02d", u), nat, true})
	}
	for range n {
		user := fmt.Sprintf("user%02d", r.IntN(60))
		at := t0.Add(time.Duration(r.IntN(9*3600)) * time.Second)
		out = append(out, authLine{at, user, nat, false}, authLine{at.Add(time.Duration(3+r.IntN(57)) * time.Second), user, nat, true})
	}
	return out
}

// TestOfficeDaySmallEstate: an estate that lists 2 of an office's 60
// accounts does not scale the spray thresholds down to 2 accounts (the
// tenant is as large as the accounts seen authenticating in it), and the
// office's day raises nothing above low, on sshd and Windows alike (fails
// on the code that took the estate's count alone: password_spray_velocity
// at 3 accounts a minute tripped on the morning, and a login of an account
// that had not failed was judged the hit of a spray: success_after_spray
// critical).
func TestOfficeDaySmallEstate(t *testing.T) {
	for seed := range uint64(20) {
		for _, form := range []string{"log", "xml"} {
			day := sshdMistypeDay(seed, 120)
			incs, cases, alerts := detectForm(t, form, day, map[string]TenantContext{"": {Accounts: 2}})
			full, _, _ := detectForm(t, form, day, map[string]TenantContext{"": {Accounts: 60}})
			// Ten accounts in ten minutes is not reached by the office's
			// mistypes; scaled to 2 accounts it was (4) on most days.
			// (The velocity rule may still differ in the first minutes,
			// before most users have logged in.)
			if got, want := ruleNames(incs), ruleNames(full); strings.Contains(got, "password_spray_source") != strings.Contains(want, "password_spray_source") {
				t.Errorf("seed %d, %s: an estate listing 2 of the 60 accounts: %s; listing all 60: %s", seed, form, got, want)
			}
			for _, inc := range incs {
				if LevelRank(inc.Severity) > LevelRank("low") {
					t.Errorf("seed %d, %s: %s %s %s: %s", seed, form, inc.Severity, inc.RuleName, inc.Pattern, inc.Description)
				}
			}
			for _, c := range cases {
				if LevelRank(c.Severity) > LevelRank("low") {
					t.Errorf("seed %d, %s: case %s %s", seed, form, c.Severity, c.Attacker)
				}
			}
			for _, a := range alerts {
				if LevelRank(a.Incident.Severity) > LevelRank("low") {
					t.Errorf("seed %d, %s: alert %s %s %s", seed, form, a.Kind, a.Incident.Severity, a.Incident.RuleName)
				}
			}
		}
	}
}

// TestSmallTenantSprayStillCaught: a tenant of 7 accounts (the estate's
// count, and every one seen) sprayed in one second is still caught by the
// scaled velocity rule, and its hit is critical.
func TestSmallTenantSprayStillCaught(t *testing.T) {
	atk := "198.51.100.7"
	t0 := dayStart.Add(10 * time.Hour)
	var day []authLine
	for u := range 7 {
		day = append(day, authLine{dayStart.Add(8*time.Hour + time.Duration(u)*time.Minute), fmt.Sprintf("user%02d", u), "10.0.0.5", true})
	}
	for u := range 4 {
		day = append(day, authLine{t0.Add(time.Duration(u) * 200 * time.Millisecond), fmt.Sprintf("user%02d", u), atk, false})
	}
	day = append(day, authLine{t0.Add(30 * time.Second), "user05", atk, true})
	_, cases, _ := detectForm(t, "xml", day, map[string]TenantContext{"": {Accounts: 7}})
	if len(cases) != 1 || cases[0].Severity != "critical" || cases[0].Attacker != "source.ip="+atk {
		t.Fatalf("cases %+v, want one critical case of %s", cases, atk)
	}
}

// ruleNames lists incidents' rules and levels in order.
func ruleNames(incs []*Incident) string {
	var b strings.Builder
	for _, inc := range incs {
		fmt.Fprintf(&b, "%s/%s ", inc.RuleName, inc.Severity)
	}
	return b.String()
}
