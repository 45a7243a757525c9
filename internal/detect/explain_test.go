package detect

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestExplainText: every explanation a self_recovery judgement writes, by
// case, word for word: it names the source and the counts a security lead
// can check (never "0 of the 0", "0 of the 1" or "2m0s"), and says which
// pattern it found. Old code: "0 of the 1 failing accounts from this
// address" for an office judged on too few unanswered failures, "within
// 2m0s", no source named.
func TestExplainText(t *testing.T) {
	nat := sourceKey{addr: netip.MustParseAddr("10.0.0.5")}
	attacker := sourceKey{addr: netip.MustParseAddr("198.51.100.7")}
	rds := recoveryKey(&rdsEvents(t, []rdsLogon{{dayStart, "alice", rdsBadPassword}})[0])
	v := func(pattern, attack string, src sourceKey, recovered, failed, open int) recoveryVerdict {
		return recoveryVerdict{pattern: pattern, attack: attack, src: src, tally: tally{recovered, failed, open}, within: 2 * time.Minute}
	}
	few := v(patternOffice, "brute force", nat, 0, 1, 0)
	few.few, few.runMin = 3, 5
	fewRecovered := v(patternOffice, "brute force", nat, 4, 2, 0)
	fewRecovered.few, fewRecovered.runMin = 3, 5
	run := v(patternSpray, "brute force", attacker, 0, 1, 0)
	run.run = runOf{user: "root", n: 7}
	hit := func(v recoveryVerdict, by string) recoveryVerdict {
		v.hit, v.by = true, by
		return v
	}
	for _, tc := range []struct {
		name string
		v    recoveryVerdict
		want string
	}{
		{"office", v(patternOffice, "spray", nat, 9, 1, 0),
			"Pattern: an office, not a spray: 9 of the 10 failures from 10.0.0.5 were followed by the same account signing in from there within 2 minutes — users behind one address mistyping and then signing in, as at an office's NAT; reported low."},
		{"office-all", v(patternOffice, "spray", nat, 4, 0, 0),
			"Pattern: an office, not a spray: all 4 failures from 10.0.0.5 were followed by the same account signing in from there within 2 minutes — users behind one address mistyping and then signing in, as at an office's NAT; reported low."},
		{"office-workstation", v(patternOffice, "spray", rds, 7, 3, 0),
			"Pattern: an office, not a spray: 7 of the 10 failures from workstation RDS01 were followed by the same account signing in from there within 2 minutes — users of one terminal server mistyping and then logging on; reported low."},
		{"office-few-unanswered", few,
			"Pattern: an office, not a brute force: of the failures from 10.0.0.5, none was followed by the same account signing in from there within 2 minutes and 1 was not (a brute force leaves 3 or more unanswered), and no account failed 5 times in a row; reported low."},
		{"office-few-unanswered-recovered", fewRecovered,
			"Pattern: an office, not a brute force: of the failures from 10.0.0.5, 4 were followed by the same account signing in from there within 2 minutes and 2 were not (a brute force leaves 3 or more unanswered), and no account failed 5 times in a row; reported low."},
		{"pending", v(patternPending, "spray", nat, 2, 1, 3),
			"Pattern: not yet judged: 2 of the 3 failures from 10.0.0.5 were followed by the same account signing in from there within 2 minutes, and 3 more failures from there are less than 2 minutes old; reported low until it is known whether the accounts sign in."},
		{"pending-none-known", v(patternPending, "spray", nat, 0, 0, 1),
			"Pattern: not yet judged: 1 failure from 10.0.0.5 is less than 2 minutes old; reported low until it is known whether the accounts sign in."},
		{"spray", v(patternSpray, "spray", attacker, 0, 14, 0),
			"Pattern: spray: none of the 14 failures from 198.51.100.7 was followed by the same account signing in from there within 2 minutes; in an office most users sign in right after a mistype, in a spray almost no account does."},
		{"spray-some", v(patternSpray, "spray", attacker, 2, 12, 0),
			"Pattern: spray: 2 of the 14 failures from 198.51.100.7 were followed by the same account signing in from there within 2 minutes; in an office most users sign in right after a mistype, in a spray almost no account does."},
		{"brute-force-one", v(patternSpray, "brute force", attacker, 0, 1, 0),
			"Pattern: brute force: the one failure from 198.51.100.7 was not followed by the same account signing in from there within 2 minutes; in an office most users sign in right after a mistype, in a brute force almost no account does."},
		{"spray-nothing-followed", v(patternSpray, "spray", attacker, 0, 0, 0),
			"Pattern: spray: no failure from 198.51.100.7 could be followed to a sign-in; in an office most users sign in right after a mistype, in a spray almost no account does."},
		{"run", run,
			"Pattern: brute force of one account: root failed 7 times in a row from 198.51.100.7 without signing in from there in between; a user who mistypes signs in after a try or two."},
		{"hit-office", hit(v(patternOffice, "spray", nat, 9, 1, 0), "password_spray_velocity"),
			"Pattern: an office, not a spray: this sign-in followed password_spray_velocity's failures, which were judged an office: 9 of the 10 failures from 10.0.0.5 were followed by the same account signing in from there within 2 minutes; reported low."},
		{"hit-pending", hit(v(patternPending, "spray", nat, 2, 1, 3), "password_spray_velocity"),
			"Pattern: not yet judged: this sign-in followed password_spray_velocity's failures from 10.0.0.5, which are still being judged; reported low until they are."},
		{"hit-spray", hit(v(patternSpray, "spray", attacker, 0, 9, 0), "password_spray_source"),
			"Pattern: spray: this sign-in followed password_spray_source's failures, judged a spray: none of the 9 failures from 198.51.100.7 was followed by the same account signing in from there within 2 minutes; the account a spray gets into is typically one that never failed."},
		{"hit-unjudged-rule", hit(v(patternSpray, "spray", attacker, 0, 0, 0), "credential_stuffing"),
			"Pattern: spray: this sign-in followed credential_stuffing's failures from 198.51.100.7; the account a spray gets into is typically one that never failed."},
		{"hit-no-incident", hit(v(patternSpray, "spray", attacker, 0, 0, 0), ""),
			"Pattern: spray: this sign-in followed a spray from 198.51.100.7; the account a spray gets into is typically one that never failed."},
		{"hit-workstation", hit(v(patternSpray, "spray", rds, 1, 6, 0), "password_spray_velocity_workstation"),
			"Pattern: spray: this sign-in followed password_spray_velocity_workstation's failures, judged a spray: 1 of the 7 failures from workstation RDS01 was followed by the same account signing in from there within 2 minutes; the account a spray gets into is typically one that never failed."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.v.explain()
			if d := cmp.Diff(got, tc.want); d != "" {
				t.Errorf("(-got +want)\n%s", d)
			}
			if unplain.MatchString(got) {
				t.Errorf("not plain: %q", got)
			}
		})
	}
}

// unplain matches what an explanation must never say: counts of nothing
// or of one written as shares, Go durations, a source not named.
var unplain = regexp.MustCompile(`\b0 of the\b|\bof the [01]\b|\b\d+[hm]\d+[ms]|\b\d+m0s\b|this address|\bthe source\b`)

// TestExplanationsPlainOnOfficeDays: every explanation of the pack on
// office days (give-ups, sshd mistypes, a terminal server) and on sprays
// reads plainly (unplain). Old code: "0 of the 1 failing accounts" and
// "2m0s" on these days.
func TestExplanationsPlainOnOfficeDays(t *testing.T) {
	explained := 0
	check := func(name string, incs []*Incident, cases []Case) {
		t.Helper()
		for _, inc := range incs {
			if strings.Contains(inc.Description, "Pattern: ") {
				explained++
			}
			if unplain.MatchString(inc.Description) {
				t.Errorf("%s: %s: %q", name, inc.RuleName, inc.Description)
			}
		}
		for _, c := range cases {
			if unplain.MatchString(c.Explanation) {
				t.Errorf("%s: case %s: %q", name, c.Attacker, c.Explanation)
			}
		}
	}
	for seed := range uint64(5) {
		for _, form := range forms {
			incs, cases, _ := detectForm(t, form, officeDayLines(seed, 0.1), nil)
			check(form, incs, cases)
		}
		incs, cases, _ := detectForm(t, "log", giveUp(sshdMistypeDay(seed, 240), seed, 0.1), nil)
		check("sshd mistypes", incs, cases)
		incs, cases, _ = runPack(t, rdsEvents(t, rdsOfficeDay(seed, 120, 4, 16)), nil)
		check("terminal server", incs, cases)
	}
	if explained == 0 {
		t.Error("no explained incident: the test no longer exercises the explanations")
	}
}
