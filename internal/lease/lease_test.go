package lease

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

func pgURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("FIREBREAK_TEST_POSTGRES")
	if u == "" {
		u = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	l, err := Open(context.Background(), u)
	if err != nil {
		storetest.ServiceUnavailable(t, "PostgreSQL", err)
	}
	l.Close()
	return u
}

// Locks are exclusive between sessions and go with the session.
func TestLocks(t *testing.T) {
	url := pgURL(t)
	ctx := context.Background()
	a, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	key := a.PartitionKey(4000 + int(time.Now().UnixNano()%1000)) // apart from other runs
	if ok, err := a.TryLock(ctx, key); !ok || err != nil {
		t.Fatalf("a: %v %v", ok, err)
	}
	if ok, _ := b.TryLock(ctx, key); ok {
		t.Fatal("b took a lock a holds")
	}
	if n, err := b.HeldAmong(ctx, key, 1); n != 1 || err != nil {
		t.Fatalf("held among: %d %v", n, err)
	}
	a.Close() // a dies: its session ends, and with it the lock (PostgreSQL notices shortly)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ok, err := b.TryLock(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never got the lock after a's session closed")
		}
	}
	b.Close()
}

// Of several replicas one leads at a time; when it dies another takes over.
func TestOneLeader(t *testing.T) {
	url := pgURL(t)
	space := 0x7e570000 + time.Now().UnixNano()%0xffff // apart from deployments and other runs
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var running atomic.Int32
	var most atomic.Int32
	var wg sync.WaitGroup
	cancels := make([]context.CancelFunc, 3)
	led := make(chan int, 16)
	for i := range 3 {
		rctx, rcancel := context.WithCancel(ctx)
		cancels[i] = rcancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			RunAsLeaderIn(rctx, url, space, 50*time.Millisecond, nil, nil, func(lctx context.Context) {
				n := running.Add(1)
				if n > most.Load() {
					most.Store(n)
				}
				led <- i
				<-lctx.Done()
				running.Add(-1)
			})
		}()
	}
	first := <-led
	cancels[first]() // the leader stops (its session closes)
	second := <-led
	if second == first {
		t.Fatalf("replica %d led again after it stopped", first)
	}
	cancel()
	wg.Wait()
	if m := most.Load(); m != 1 {
		t.Errorf("%d replicas ran the singletons at once, want 1", m)
	}
}
