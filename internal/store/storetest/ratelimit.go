package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// testRateLimits: attempts count per key within a window, a new window
// starts over, and concurrent callers (several processes) count every
// attempt exactly once.
func testRateLimits(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	at := T0
	for i := 1; i <= 3; i++ {
		n, err := s.Hit(ctx, "login-ip:198.51.100.7", time.Minute, at.Add(time.Duration(i)*time.Second))
		if err != nil || n != i {
			t.Fatalf("hit %d: %d %v", i, n, err)
		}
	}
	// Count reads the open window without counting an attempt.
	for range 2 {
		if n, err := s.Count(ctx, "login-ip:198.51.100.7", time.Minute, at.Add(4*time.Second)); err != nil || n != 3 {
			t.Errorf("count = %d %v, want 3", n, err)
		}
	}
	if n, _ := s.Count(ctx, "login-ip:198.51.100.7", time.Minute, at.Add(2*time.Minute)); n != 0 {
		t.Errorf("count of an ended window = %d, want 0", n)
	}
	if n, _ := s.Count(ctx, "login-ip:192.0.2.1", time.Minute, at); n != 0 {
		t.Errorf("count of an unknown key = %d, want 0", n)
	}
	// Keys are opaque: the server's per-account key joins user and
	// address with a NUL, which PostgreSQL text cannot hold (every
	// sign-in on a split deployment was refused with 429, v12).
	for i, k := range []string{"login-user:admin\x00127.0.0.1", "login-user:admin\\0127.0.0.1"} {
		if n, err := s.Hit(ctx, k, time.Minute, at); err != nil || n != 1 {
			t.Errorf("key %q: hit = %d %v, want 1", k, n, err)
		}
		if n, err := s.Count(ctx, k, time.Minute, at); err != nil || n != 1 {
			t.Errorf("key %d %q: count = %d %v, want 1", i, k, n, err)
		}
	}
	if n, _ := s.Hit(ctx, "login-ip:203.0.113.9", time.Minute, at.Add(3*time.Second)); n != 1 {
		t.Errorf("another key counts %d, want 1", n)
	}
	if n, _ := s.Hit(ctx, "login-ip:198.51.100.7", time.Minute, at.Add(2*time.Minute)); n != 1 {
		t.Errorf("a new window counts %d, want 1", n)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[int]bool{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := s.Hit(ctx, "login-user:admin", time.Hour, at)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			seen[n] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	for i := 1; i <= 20; i++ {
		if !seen[i] {
			t.Fatalf("concurrent hits returned %v, want each of 1..20 once", seen)
		}
	}
}
