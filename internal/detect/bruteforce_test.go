package detect

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSuccessAfterBruteForceThresholds: success_after_bruteforce follows
// the pack's own brute forces, not a count of its own: on Windows, Entra
// and Okta the reported auth_bruteforce rule itself, and on sshd a run of
// one account's failures as long as ssh_bruteforce's account_failures (the
// run that makes that rule a brute force of one account). The old rule
// counted five failures of any source, half auth_bruteforce's ten, so five
// Windows mistypes then a logon were critical.
func TestSuccessAfterBruteForceThresholds(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Rule{}
	for _, r := range rules {
		byName[r.Name] = r
	}
	src := byName["account_bruteforce_source"]
	if src == nil || src.Correlation == nil || !slices.Equal(src.Correlation.Rules, []string{"auth_bruteforce", "ssh_account_bruteforce"}) {
		t.Fatalf("account_bruteforce_source: %+v", src)
	}
	if c := byName["success_after_bruteforce"].Correlation; c == nil || c.Rules[0] != "account_bruteforce_source" {
		t.Fatalf("success_after_bruteforce follows %v", c)
	}
	ssh, acct := byName["ssh_bruteforce"], byName["ssh_account_bruteforce"]
	if ssh.Options.Recovery == nil || acct.Correlation.Condition.GTE == nil || int64(ssh.Options.Recovery.AccountFailures) != *acct.Correlation.Condition.GTE {
		t.Errorf("ssh_account_bruteforce gte %v, ssh_bruteforce account_failures %+v: they must agree", acct.Correlation.Condition.GTE, ssh.Options.Recovery)
	}
	if !slices.Equal(acct.Correlation.GroupBy, byName["auth_bruteforce"].Correlation.GroupBy) || acct.Correlation.Timespan != byName["auth_bruteforce"].Correlation.Timespan {
		t.Errorf("ssh_account_bruteforce groups by %v over %v, auth_bruteforce by %v over %v", acct.Correlation.GroupBy, acct.Correlation.Timespan, byName["auth_bruteforce"].Correlation.GroupBy, byName["auth_bruteforce"].Correlation.Timespan)
	}
}

// TestOwnSuccessEndsRun: a user who mistypes, signs in, and mistypes
// again within ten minutes before signing in (v9o's
// repro-ssh-own-run-critical: 1 failure + success, then n-1 + success; and
// n-1 + success, then 1 + success, n the brute-force threshold of the log
// source) has n failures of the account in ten minutes but no run of n:
// the own success ends the run, so no success_after_bruteforce, and on
// Windows and Entra no auth_bruteforce either. n failures in a row then a
// success stay critical. sshd counts its run with ssh_account_bruteforce
// (n 5), Windows and Entra with auth_bruteforce (n 10), both by the one
// firebreak.run. Old code: critical for both office patterns on sshd
// before 65e1e2c, and on Windows and Entra before auth_bruteforce counted
// a run.
func TestOwnSuccessEndsRun(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	gte := map[string]int{}
	for _, r := range rules {
		if r.Name == "ssh_account_bruteforce" || r.Name == "auth_bruteforce" {
			if !r.Options.Run {
				t.Errorf("%s does not count a run (firebreak.run)", r.Name)
			}
			gte[r.Name] = int(*r.Correlation.Condition.GTE)
		}
	}
	t0 := dayStart.Add(13 * time.Hour)
	seq := func(pattern string) []authLine {
		var lines []authLine
		at := t0
		for _, c := range pattern {
			at = at.Add(20 * time.Second)
			lines = append(lines, authLine{at: at, user: "noah.ward", ip: "203.0.113.10", success: c == 'S'})
		}
		return lines
	}
	for _, form := range []struct{ name, rule string }{
		{"log", "ssh_account_bruteforce"},
		{"xml", "auth_bruteforce"},
		{"jsonl", "auth_bruteforce"},
	} {
		f := strings.Repeat("F", gte[form.rule]-1)
		for _, tc := range []struct {
			pattern string
			want    bool
		}{
			{"FS" + f + "S", false},
			{f + "SFS", false},
			{f + "FS", true},
			{"S" + f + "FS", true},
		} {
			incs, _, _ := detectForm(t, form.name, seq(tc.pattern), nil)
			got := map[string]bool{}
			for _, inc := range incs {
				got[inc.RuleName] = true
				if inc.RuleName == "success_after_bruteforce" && inc.Severity != "critical" {
					t.Errorf("%s %s: success_after_bruteforce %s", form.name, tc.pattern, inc.Severity)
				}
			}
			if got["success_after_bruteforce"] != tc.want {
				t.Errorf("%s %s: success_after_bruteforce %v, want %v", form.name, tc.pattern, got["success_after_bruteforce"], tc.want)
			}
			if form.rule == "auth_bruteforce" && got["auth_bruteforce"] != tc.want {
				t.Errorf("%s %s: auth_bruteforce %v, want %v", form.name, tc.pattern, got["auth_bruteforce"], tc.want)
			}
		}
	}
}
