package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// attackRestartWindow: half a brute force before a restart and half after
// must still be one brute force. serve rebuilds its detection windows from
// the stored events of the longest rule window at start (issue 10: "restart
// restores detection windows from stored events"); an attacker who can make
// serve restart (or who waits for an upgrade) must not get a fresh window.
// Two cases: the second half dated now (a second or so ahead of serve's
// clock, as a sender's clock often is) and dated before the live horizon (a
// lagging forwarder, detected by a back-fill pass).
func attackRestartWindow(ctx context.Context, h *harness, kind storeKind) (string, error) {
	f, err := fresh(ctx, h, kind, "")
	if err != nil {
		return "", err
	}
	defer f.in.stop()
	const ipNow, ipLate = "198.51.100.40", "198.51.100.41"
	start := time.Now().Add(-40 * time.Second)
	for _, ip := range []string{ipNow, ipLate} {
		if st, b, err := f.ingest(f.tokA, winFailures(6, start, ip, tenantA, "rw"), ""); err != nil || st >= 300 {
			return "", fmt.Errorf("first half: %d %s %v", st, b, err)
		}
	}
	if ok, err := f.incidentFor(ipNow, 3*time.Second); err != nil || ok {
		return "", fmt.Errorf("6 failures already raised an incident (%v): the rule's threshold changed", err)
	}
	f.in.stop()
	if err := f.in.start(ctx); err != nil {
		return "", fmt.Errorf("restart: %w", err)
	}
	// Live events wait in the queue while the replay runs: the second
	// halves are posted at once.
	var bad []string
	for _, c := range []struct {
		ip   string
		from time.Time
	}{{ipNow, time.Now()}, {ipLate, start.Add(10 * time.Second)}} {
		st, b, err := f.ingest(f.tokA, winFailures(6, c.from, c.ip, tenantA, "rw"), "")
		if err != nil || st >= 300 {
			return "", fmt.Errorf("second half: %d %s %v", st, b, err)
		}
		ok, err := f.incidentFor(c.ip, 30*time.Second)
		if err != nil {
			return "", err
		}
		if !ok {
			bad = append(bad, fmt.Sprintf("second half dated %s ago: no incident (response: %s)", time.Since(c.from).Round(time.Second), strings.TrimSpace(b)))
		}
	}
	if len(bad) > 0 {
		return "6 failures before a restart and 6 after (10 in 10 minutes is a brute force): " + strings.Join(bad, "; "), nil
	}
	return "", nil
}
