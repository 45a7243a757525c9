package collect

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBoundedOrderAndLimit(t *testing.T) {
	items := make([]int, 50)
	for i := range items {
		items[i] = i
	}
	var inFlight, peak atomic.Int32
	var calls []int
	got := Bounded(items, 4, func(x int) int {
		n := inFlight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		return x * x
	}, func(done, total int) { calls = append(calls, done) })
	for i, v := range got {
		if v != i*i {
			t.Fatalf("result %d = %d, want %d (order lost)", i, v, i*i)
		}
	}
	if p := peak.Load(); p > 4 || p < 1 {
		t.Errorf("peak in flight %d, want 1..4", p)
	}
	want := make([]int, 50)
	for i := range want {
		want[i] = i + 1
	}
	if diff := cmp.Diff(calls, want); diff != "" {
		t.Errorf("progress calls (-got +want):\n%s", diff)
	}
}
