package bus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

func natsURL() string {
	if u := os.Getenv("FIREBREAK_TEST_NATS"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}

// openTest opens a bus on a stream unique to the test, deleted afterwards.
func openTest(t testing.TB, partitions int) *Bus {
	t.Helper()
	nc, err := nats.Connect(natsURL(), nats.Timeout(3*time.Second))
	if err != nil {
		storetest.ServiceUnavailable(t, "NATS at "+natsURL(), err)
	}
	nc.Close()
	id := strings.ToLower(rand.Text()[:10])
	b, err := Open(storetest.Ctx(t), natsURL(), Options{Stream: "FBTEST_" + id, Subject: "fbtest." + id, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.js.DeleteStream(context.Background(), b.opts.Stream)
		b.Close()
	})
	return b
}

func events(n, tenants int) []store.EventRecord {
	recs := make([]store.EventRecord, n)
	for i := range recs {
		recs[i] = storetest.Event(fmt.Sprintf("tenant-%02d", i%tenants), "u", "192.0.2.1", storetest.T0.Add(time.Duration(i)*time.Second), "failure")
		recs[i].ID = int64(i + 1)
		recs[i].Event.Fields = map[string]string{"seq": strconv.Itoa(i)}
	}
	return recs
}

func TestTwoDetectorsSharePartitions(t *testing.T) {
	b := openTest(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := events(600, 10)
	if err := b.Publish(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int64]int{}   // id -> deliveries
	owner := map[string]int{} // tenant -> detector
	last := map[string]int{}  // tenant -> last seq
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for det := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.Consume(ctx, "detector", Assigned(b.Partitions(), det, 2), 50, func(ctx context.Context, p int, batch []store.EventRecord) error {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range batch {
					seen[r.ID]++
					if o, ok := owner[r.Event.Tenant]; ok && o != det {
						t.Errorf("tenant %s consumed by detectors %d and %d", r.Event.Tenant, o, det)
					}
					owner[r.Event.Tenant] = det
					seq, _ := strconv.Atoi(r.Event.Fields["seq"])
					if l, ok := last[r.Event.Tenant]; ok && seq <= l {
						t.Errorf("tenant %s: seq %d after %d (out of order)", r.Event.Tenant, seq, l)
					}
					last[r.Event.Tenant] = seq
					if b.Partition(&r.Event) != p {
						t.Errorf("event of partition %d delivered on %d", b.Partition(&r.Event), p)
					}
				}
				if len(seen) == len(recs) {
					once.Do(func() { close(done) })
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(recs) {
		t.Fatalf("received %d of %d events", len(seen), len(recs))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %d delivered %d times", id, n)
		}
	}
	dets := map[int]bool{}
	for _, d := range owner {
		dets[d] = true
	}
	if len(dets) != 2 {
		t.Errorf("load not shared: detectors used %v", dets)
	}
}

func TestFailedBatchIsRedeliveredAndPublishDeduplicated(t *testing.T) {
	b := openTest(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := events(30, 3)
	if err := b.Publish(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, recs[:10]); err != nil { // a retried publish
		t.Fatal(err)
	}
	info, err := b.js.Stream(ctx, b.opts.Stream)
	if err != nil {
		t.Fatal(err)
	}
	si, _ := info.Info(ctx)
	if si.State.Msgs != 30 {
		t.Errorf("stream holds %d messages, want 30 (duplicates kept)", si.State.Msgs)
	}
	var mu sync.Mutex
	failed := false
	got := map[int64]bool{}
	done := make(chan struct{})
	var once sync.Once
	go func() {
		b.Consume(ctx, "flaky", []int{0}, 8, func(ctx context.Context, p int, batch []store.EventRecord) error {
			mu.Lock()
			defer mu.Unlock()
			if !failed {
				failed = true
				return errors.New("detector hiccup")
			}
			for _, r := range batch {
				got[r.ID] = true
			}
			if len(got) == 30 {
				once.Do(func() { close(done) })
			}
			return nil
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("only %d of 30 events after a failed batch", len(got))
	}
	cancel()
	// Acknowledged: a restarted consumer with the same name resumes after them.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	again := 0
	b.Consume(ctx2, "flaky", []int{0}, 8, func(ctx context.Context, p int, batch []store.EventRecord) error {
		again += len(batch)
		return nil
	})
	if again != 0 {
		t.Errorf("restarted consumer got %d already acknowledged events", again)
	}
}

func TestAssigned(t *testing.T) {
	if got := fmt.Sprint(Assigned(8, 1, 3)); got != "[1 4 7]" {
		t.Errorf("Assigned(8,1,3) = %s", got)
	}
	if got := Assigned(4, 0, 0); got != nil {
		t.Errorf("Assigned with count 0 = %v", got)
	}
}

func BenchmarkPublish(b *testing.B) {
	bus := openTest(b, 8)
	recs := events(1000, 25)
	ctx := storetest.Ctx(b)
	start := time.Now()
	for b.Loop() {
		for i := range recs {
			recs[i].ID = 0 // no dedupe ids: every round is new
		}
		if err := bus.Publish(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/time.Since(start).Seconds(), "events/s")
}
