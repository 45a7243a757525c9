package detect

import (
	"slices"
	"testing"
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
