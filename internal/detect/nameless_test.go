package detect

import (
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// TestNamelessFailuresNotSelfRecovering: a source whose sshd failures name
// no account (legacy sshd(pam_unix) "authentication failure; ... rhost=X"
// without user=, an account that does not exist; loghub's Linux_2k.log,
// 218.188.2.4: 12 in a minute) is a brute force, not an office that
// recovers: ssh_bruteforce stays medium. Fails on the code that did not
// track nameless failures (low, "self-recovering: 0 of the 0 failing
// accounts").
func TestNamelessFailuresNotSelfRecovering(t *testing.T) {
	src := netip.MustParseAddr("198.51.100.12")
	var evs []event.Event
	for i := range 12 {
		evs = append(evs, event.Event{Timestamp: dayStart.Add(12*time.Hour + time.Duration(i*4)*time.Second), Dataset: "sshd",
			Category: "authentication", Outcome: event.OutcomeFailure, Reason: "unknown_user", SourceIP: src})
	}
	incs, _ := runDay(t, evs, nil)
	found := false
	for _, inc := range incs {
		if inc.RuleName == "ssh_bruteforce" {
			found = true
			if inc.Severity != "medium" {
				t.Errorf("ssh_bruteforce %s %q: %s", inc.Severity, inc.Pattern, inc.Description)
			}
		}
	}
	if !found {
		t.Error("no ssh_bruteforce incident")
	}
}
