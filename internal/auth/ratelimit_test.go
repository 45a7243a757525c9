package auth

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// Two processes' limiters on one store share the count: spreading attempts
// over processes gains an attacker nothing.
func TestSharedLimiter(t *testing.T) {
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := &SharedLimiter{Store: st, Prefix: "login-ip:", Limit: 3, Window: time.Minute}
	b := &SharedLimiter{Store: st, Prefix: "login-ip:", Limit: 3, Window: time.Minute}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	got := []bool{a.Allow("198.51.100.7", now), b.Allow("198.51.100.7", now), a.Allow("198.51.100.7", now), b.Allow("198.51.100.7", now)}
	if want := []bool{true, true, true, false}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Errorf("attempts allowed %v, want %v", got, want)
	}
	if !b.Allow("203.0.113.9", now) {
		t.Error("another address refused")
	}
	if !a.Allow("198.51.100.7", now.Add(time.Minute)) {
		t.Error("refused in the next window")
	}
	st.Close()
	if a.Allow("192.0.2.1", now) {
		t.Error("allowed while the store cannot count (must fail closed)")
	}
}
