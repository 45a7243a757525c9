package detect

import (
	"slices"
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

// TestSSHOwnSuccessEndsRun: an sshd user who mistypes, signs in, and
// mistypes again within ten minutes before signing in (v9o's
// repro-ssh-own-run-critical: 1 failure + success, then 4 + success; and
// 4 + success, then 1 + success) has five failures of the account in ten
// minutes but no run of five: the own success ends the run, so no
// success_after_bruteforce. Five failures in a row then a success stay
// critical. Old code: critical for both office patterns.
func TestSSHOwnSuccessEndsRun(t *testing.T) {
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
	for _, tc := range []struct {
		pattern string
		want    bool
	}{
		{"FSFFFFS", false},
		{"FFFFSFS", false},
		{"FFFFFS", true},
		{"SFFFFFS", true},
	} {
		incs, _, _ := detectForm(t, "log", seq(tc.pattern), nil)
		got := false
		for _, inc := range incs {
			if inc.RuleName == "success_after_bruteforce" {
				got = true
				if inc.Severity != "critical" {
					t.Errorf("%s: success_after_bruteforce %s", tc.pattern, inc.Severity)
				}
			}
		}
		if got != tc.want {
			t.Errorf("%s: success_after_bruteforce %v, want %v", tc.pattern, got, tc.want)
		}
	}
}
