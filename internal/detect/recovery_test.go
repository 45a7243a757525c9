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

// officePeak is v9's morning peak: 60 users behind one NAT address arrive
// around 9:00 (sd 20 minutes), each mistypes once and signs in 5-30 s
// later; later in the day 0-2 more mistypes each, each followed by the
// user's own success (Windows 4625/4624, as an office's DC records them).
func officePeak(seed uint64) []event.Event {
	r := rand.New(rand.NewPCG(seed, 9))
	nat := netip.MustParseAddr("203.0.113.50")
	day := dayStart.Add(9 * time.Hour)
	var evs []event.Event
	add := func(at time.Time, user, outcome, code string) {
		evs = append(evs, event.Event{Timestamp: at, Dataset: "windows.security", Category: "authentication", Code: code,
			Outcome: outcome, UserName: user, SourceIP: nat, Tenant: "corp"})
	}
	pair := func(at time.Time, user string) {
		add(at, user, event.OutcomeFailure, "4625")
		add(at.Add(time.Duration(5+r.IntN(26))*time.Second), user, event.OutcomeSuccess, "4624")
	}
	for u := range 60 {
		user := fmt.Sprintf("user%02d", u)
		pair(day.Add(time.Duration(r.NormFloat64()*1200)*time.Second), user)
		for range r.IntN(3) {
			pair(day.Add(time.Duration(3600+r.IntN(7*3600))*time.Second), user)
		}
	}
	return evs
}

// TestOfficePeakSelfRecovering: the office's morning peak trips the
// velocity (and, without benign networks, the one-source) spray rules, but
// they are reported low as self-recovering and no success-after-spray
// follows, with the address in benign_networks or not (fails on the code
// before firebreak.self_recovery: password_spray_velocity high and
// success_after_spray critical).
func TestOfficePeakSelfRecovering(t *testing.T) {
	benign := map[string]TenantContext{"corp": {Accounts: 60, BenignNetworks: []netip.Prefix{netip.MustParsePrefix("203.0.113.48/29")}}}
	for seed := range uint64(5) {
		for _, ctx := range []map[string]TenantContext{nil, benign} {
			incs, cases := runDay(t, officePeak(seed), ctx)
			spray := 0
			for _, inc := range incs {
				if LevelRank(inc.Severity) > LevelRank("low") {
					t.Errorf("seed %d, benign %v: %s %s %v: %s", seed, ctx != nil, inc.Severity, inc.RuleName, inc.Key, inc.Description)
				}
				if strings.HasPrefix(inc.RuleName, "password_spray") {
					spray++
					if inc.Pattern != "self-recovering" || !strings.Contains(inc.Description, "Pattern: an office, not a spray") {
						t.Errorf("seed %d: %s pattern %q, description %q", seed, inc.RuleName, inc.Pattern, inc.Description)
					}
				}
			}
			for _, c := range cases {
				if LevelRank(c.Severity) > LevelRank("low") {
					t.Errorf("seed %d: case %s %s", seed, c.Severity, c.Attacker)
				}
			}
			if seed == 0 && ctx == nil && spray == 0 {
				t.Errorf("seed 0: no spray rule tripped at all: the test no longer exercises self_recovery")
			}
		}
	}
}

// TestSprayAfterOfficePeak: a spray from another address on the same
// morning (fresh accounts, then a hit on an account that never failed) is
// still critical, and says it is a spray; so is a spray that also hits
// accounts that recover from the spray address (two of 30).
func TestSprayAfterOfficePeak(t *testing.T) {
	evs := officePeak(1)
	atk := netip.MustParseAddr("198.51.100.66")
	t0 := dayStart.Add(9*time.Hour + 10*time.Minute)
	for i := range 30 {
		evs = append(evs, event.Event{Timestamp: t0.Add(time.Duration(i) * 4 * time.Second), Dataset: "windows.security", Category: "authentication",
			Code: "4625", Outcome: event.OutcomeFailure, UserName: fmt.Sprintf("user%02d", i), SourceIP: atk, Tenant: "corp"})
	}
	for i, u := range []string{"user03", "user07", "p.lambert"} {
		evs = append(evs, event.Event{Timestamp: t0.Add(2*time.Minute + time.Duration(i)*time.Second), Dataset: "windows.security", Category: "authentication",
			Code: "4624", Outcome: event.OutcomeSuccess, UserName: u, SourceIP: atk, Tenant: "corp"})
	}
	_, cases := runDay(t, evs, map[string]TenantContext{"corp": {Accounts: 60}})
	var found bool
	for _, c := range cases {
		if c.Attacker != "source.ip="+atk.String() {
			continue
		}
		found = true
		if c.Severity != "critical" || !strings.Contains(c.Explanation, "Pattern: spray") {
			t.Errorf("spray case: %s %v %q", c.Severity, c.Rules, c.Explanation)
		}
	}
	if !found {
		t.Error("the spray from 198.51.100.66 raised no case")
	}
}

// TestJudgePendingOnlyWhenChanged: judgePending judges a pending
// judgement again only when its source recorded an outcome or one of its
// deadlines passed, with the same alerts (kind, time, severity, pattern)
// and incidents as judging every pending judgement each second (the code
// before: the oracle here), on office mornings with a spray among them and busy sign-ins elsewhere,
// settled by Flush or by AdvanceTo alone; and it judges far fewer times
// (fails on the code that judged every judgement each second).
func TestJudgePendingOnlyWhenChanged(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	atk := netip.MustParseAddr("198.51.100.66")
	run := func(evs []event.Event, all, flush bool) (string, int) {
		e, err := NewEngine(rules, Options{Tenants: map[string]TenantContext{"corp": {Accounts: 60}}})
		if err != nil {
			t.Fatal(err)
		}
		e.judgeAll = all
		var b strings.Builder
		out := func(as []Alert) {
			for _, a := range as {
				fmt.Fprintf(&b, "alert %s %s %s %s %s %s\n", a.Kind, a.Time.Format(time.RFC3339Nano), a.Incident.ID, a.Incident.RuleName, a.Incident.Severity, a.Incident.Pattern)
			}
		}
		for i := range evs {
			out(e.Process(&evs[i]))
		}
		if flush {
			out(e.Flush())
		} else {
			out(e.AdvanceTo(evs[len(evs)-1].Timestamp.Add(time.Hour)))
		}
		for _, inc := range e.Incidents() {
			fmt.Fprintf(&b, "incident %s %s %s %s %s %d %q\n", inc.ID, inc.RuleName, inc.Severity, inc.Pattern, inc.Last.Format(time.RFC3339Nano), inc.Count, inc.Description)
		}
		return b.String(), e.judged
	}
	for seed := range uint64(3) {
		evs := officePeak(seed)
		t0 := dayStart.Add(9*time.Hour + 10*time.Minute)
		for i := range 30 {
			evs = append(evs, event.Event{Timestamp: t0.Add(time.Duration(i) * 4 * time.Second), Dataset: "windows.security", Category: "authentication",
				Code: "4625", Outcome: event.OutcomeFailure, UserName: fmt.Sprintf("user%02d", i), SourceIP: atk, Tenant: "corp"})
		}
		// Sign-ins from elsewhere every 200 ms: judgePending runs each
		// second of the busy hour.
		for i := range 5 * 3600 {
			evs = append(evs, event.Event{Timestamp: dayStart.Add(8*time.Hour + 30*time.Minute + time.Duration(i)*200*time.Millisecond), Dataset: "windows.security", Category: "authentication",
				Code: "4624", Outcome: event.OutcomeSuccess, UserName: fmt.Sprintf("staff%d", i%40), SourceIP: netip.MustParseAddr("10.1.0.9"), Tenant: "corp"})
		}
		sortEvents(evs)
		for _, flush := range []bool{true, false} {
			want, all := run(evs, true, flush)
			got, n := run(evs, false, flush)
			if got != want {
				t.Errorf("seed %d, flush %v: judging on change differs from judging each second:\n got %s\nwant %s", seed, flush, got, want)
			}
			if !strings.Contains(want, "alert ") || all == 0 {
				t.Fatalf("seed %d: nothing pending to judge (%d judgements): the test no longer exercises judgePending", seed, all)
			}
			t.Logf("seed %d, flush %v: %d judgements, each second %d", seed, flush, n, all)
			// At least 3x fewer: the count rules judged on their own
			// window (password_spray_source's ten minutes, _slow's hour)
			// stay pending through the peak, and every outcome at the
			// office's address judges them again.
			if n*3 > all {
				t.Errorf("seed %d, flush %v: %d judgements, judging each second made %d", seed, flush, n, all)
			}
		}
	}
}
