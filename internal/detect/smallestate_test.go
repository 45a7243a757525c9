package detect

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// sshdMistypeDay is an office of 60 users behind one NAT address over a
// working day: everyone logs in once between 8:00 and 9:00, and 120
// single mistypes spread over 8:00-17:00 are each followed within a
// minute by that user's own login. No attack.
func sshdMistypeDay(seed uint64) []authLine {
	r := rand.New(rand.NewPCG(seed, 12))
	nat := "203.0.113.50"
	t0 := dayStart.Add(8 * time.Hour)
	var out []authLine
	for u := range 60 {
		out = append(out, authLine{t0.Add(time.Duration(r.IntN(3600)) * time.Second), fmt.Sprintf("user%02d", u), nat, true})
	}
	for range 120 {
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
			day := sshdMistypeDay(seed)
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

// TestHitJudgedOnTheHour: a login by an account that never failed from a
// source, with fewer than Min failures in the recovery window before it,
// is judged on the source's hour: self-recovering when its accounts
// recovered from their own failures (an office), a spray when they did
// not (a slow spray's hit, or two accounts that never recovered). Fails on
// the code that called every such hit a spray.
func TestHitJudgedOnTheHour(t *testing.T) {
	rc := &Recovery{Within: 2 * time.Minute, Horizon: time.Hour, Fraction: 0.5, Min: 3}
	ip := netip.MustParseAddr("203.0.113.50")
	t0 := dayStart.Add(9 * time.Hour)
	for _, tc := range []struct {
		name      string
		accounts  int
		recovered bool
		want      string
	}{
		{"office", 20, true, patternOffice},
		{"slow-spray", 20, false, patternSpray},
		{"two-unrecovered", 2, false, patternSpray},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newRecoveryTracker(rc.Within, rc.Horizon)
			for i := range tc.accounts {
				at := t0.Add(time.Duration(i) * 2 * time.Minute)
				u := fmt.Sprintf("user%02d", i)
				tr.observe(authEvent(u, ip, "failure", at), at.UnixNano(), noService)
				if tc.recovered {
					tr.observe(authEvent(u, ip, "success", at.Add(20*time.Second)), at.Add(20*time.Second).UnixNano(), noService)
				}
			}
			// One more mistype just before the hit, then the hit.
			at := t0.Add(time.Duration(tc.accounts)*2*time.Minute + time.Minute)
			tr.observe(authEvent("late", ip, "failure", at), at.UnixNano(), noService)
			hit := at.Add(30 * time.Second)
			tr.observe(authEvent("never-failed", ip, "success", hit), hit.UnixNano(), noService)
			v, ok := tr.verdict(rc, ip, nil, "never-failed", hit.UnixNano(), false)
			if !ok || v.pattern != tc.want {
				t.Errorf("verdict %q (%s), want %q", v.pattern, v.explain(), tc.want)
			}
			if tc.want == patternOffice && !strings.Contains(v.explain(), "self-recovering") {
				t.Errorf("explanation %q", v.explain())
			}
		})
	}
}

func authEvent(user string, ip netip.Addr, outcome string, at time.Time) *event.Event {
	return &event.Event{Timestamp: at, Dataset: "sshd", Category: "authentication", Outcome: outcome, UserName: user, SourceIP: ip}
}

func noService(*event.Event) bool { return false }

// ruleNames lists incidents' rules and levels in order.
func ruleNames(incs []*Incident) string {
	var b strings.Builder
	for _, inc := range incs {
		fmt.Fprintf(&b, "%s/%s ", inc.RuleName, inc.Severity)
	}
	return b.String()
}
