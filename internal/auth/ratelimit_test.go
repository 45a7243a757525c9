package auth

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/store"
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

// Failed sign-ins lock one (account, address) pair, seen by every process
// on the store; another address is not locked, and only AccountLockFactor
// times max_failures failures lock the account as a whole.
func TestPairLockShared(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if err := st.CreateUser(ctx, &store.User{Username: "admin", Role: store.RoleOwner, PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	cfg := &config.AuthConfig{MaxFailures: 5, LockoutDuration: 15 * time.Minute, LoginRatePerMin: 10}
	a, err := NewSessions(SessionsOptions{Config: cfg, Store: st, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSessions(SessionsOptions{Config: cfg, Store: st, Shared: true})
	for i := range 5 {
		s := a
		if i%2 == 1 {
			s = b
		}
		if _, _, err := s.RecordFailure(ctx, "admin", "203.0.113.9", now); err != nil {
			t.Fatal(err)
		}
	}
	if !a.PairLocked(ctx, "Admin", "203.0.113.9", now) || !b.PairLocked(ctx, "admin", "203.0.113.9", now) {
		t.Error("5 failures over two processes did not lock the address out")
	}
	if a.PairLocked(ctx, "admin", "10.0.0.1", now) {
		t.Error("another address is locked out")
	}
	if a.PairLocked(ctx, "admin", "203.0.113.9", now.Add(cfg.LockoutDuration)) {
		t.Error("still locked after the lockout duration")
	}
	if u, _ := st.GetUser(ctx, "admin"); u.Locked(now) {
		t.Error("5 failures from one address locked the whole account")
	}
	for i := range 5 * (AccountLockFactor - 1) {
		if _, _, err := b.RecordFailure(ctx, "admin", fmt.Sprintf("198.51.100.%d", i/5), now); err != nil {
			t.Fatal(err)
		}
	}
	if u, _ := st.GetUser(ctx, "admin"); !u.Locked(now) {
		t.Errorf("%d failures over %d addresses did not lock the account", 5*AccountLockFactor, AccountLockFactor)
	}
}
