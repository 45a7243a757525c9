package detect

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// TestNamedSourceBruteForce: PAM failures whose rhost= is a host name
// (loghub Linux_2k: rhost=n219076184117.netvigator.com) are one attacker
// keyed on the name (ssh_bruteforce_named, case source.domain=…), and an
// attempt logged twice, by pam_unix with the name and by sshd's own
// "Failed password" with the address, counts once (ingest's pamDedup).
// Fails on the code whose rules grouped by source.ip alone (the named
// brute force was invisible).
func TestNamedSourceBruteForce(t *testing.T) {
	t0 := time.Date(2026, 6, 14, 15, 16, 0, 0, time.UTC)
	var b bytes.Buffer
	for i := range 6 {
		at := t0.Add(time.Duration(i) * 2 * time.Second).Format(time.Stamp)
		// The legacy form: PAM is the only record of the attempt.
		fmt.Fprintf(&b, "%s combo sshd(pam_unix)[%d]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=Bad.Example.com  user=root\n", at, 19000+i)
		// The modern form: PAM names the host, sshd gives the address.
		fmt.Fprintf(&b, "%s srv01 sshd[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=evil.example.net  user=admin\n", at, 4000+i)
		fmt.Fprintf(&b, "%s srv01 sshd[%d]: Failed password for admin from 198.51.100.9 port %d ssh2\n", at, 4000+i, 50000+i)
	}
	r, err := ingest.NewReader("auth.log", bytes.NewReader(b.Bytes()), ingest.Options{Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	evs := drain(t, r)
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		e.Process(&evs[i])
	}
	e.Flush()
	got := map[string]string{}
	for _, inc := range e.Incidents() {
		got[inc.RuleName] += fmt.Sprintf("%v/%s/%d ", inc.Key, inc.Severity, inc.Count)
	}
	want := map[string]string{
		// The first attempt counts through PAM (sshd had not yet been seen
		// writing its own lines), under the name; its own line is then
		// its companion, and the other five count under the address.
		"ssh_bruteforce":       "map[source.ip:198.51.100.9]/medium/5 ",
		"ssh_bruteforce_named": "map[source.domain:bad.example.com]/medium/6 ",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("incidents %v, want %v", got, want)
	}
	var attackers []string
	for _, c := range Cases(e.Incidents()) {
		attackers = append(attackers, c.Attacker)
	}
	if fmt.Sprint(attackers) != "[source.ip=198.51.100.9 source.domain=bad.example.com]" && fmt.Sprint(attackers) != "[source.domain=bad.example.com source.ip=198.51.100.9]" {
		t.Errorf("cases %v", attackers)
	}
}
