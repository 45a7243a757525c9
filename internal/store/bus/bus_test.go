package bus

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"reflect"
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

// TestFollowersKeepPartitions: followers of the partitions receive every
// event once, each on its tenant's partition, in publish order per tenant.
func TestFollowersKeepPartitions(t *testing.T) {
	b := openTest(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := events(600, 10)
	if err := b.Publish(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[int64]int{}  // id -> deliveries
	last := map[string]int{} // tenant -> last seq
	done := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for p := range b.Partitions() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := b.Follow(ctx, p, Position{Since: time.Now().Add(-time.Minute)}, 50, func(ctx context.Context, bt Batch) error {
				mu.Lock()
				defer mu.Unlock()
				if len(bt.Seqs) != len(bt.Records) || bt.Partition != p {
					t.Errorf("batch of partition %d: partition %d, %d records, %d sequences", p, bt.Partition, len(bt.Records), len(bt.Seqs))
				}
				for _, r := range bt.Records {
					seen[r.ID]++
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
}

// TestFollowFromSequenceAndPublishDeduplicated: a retried publish is
// dropped by the stream, and Follow from a stream sequence (a checkpoint)
// starts exactly there; a handler's error ends Follow with it.
func TestFollowFromSequenceAndPublishDeduplicated(t *testing.T) {
	b := openTest(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	recs := events(30, 3)
	// One publish per event: one message each (a publish's events of one
	// partition share a message).
	publishEach(ctx, t, b, recs)
	publishEach(ctx, t, b, recs[:10]) // retried publishes
	info, err := b.js.Stream(ctx, b.opts.Stream)
	if err != nil {
		t.Fatal(err)
	}
	si, _ := info.Info(ctx)
	if si.State.Msgs != 30 {
		t.Errorf("stream holds %d messages, want 30 (duplicates kept)", si.State.Msgs)
	}
	var got []int64
	var seqs []uint64
	stop := errors.New("enough")
	err = b.Follow(ctx, 0, Position{Seq: 11}, 8, func(ctx context.Context, bt Batch) error {
		for i, r := range bt.Records {
			got = append(got, r.ID)
			seqs = append(seqs, bt.Seqs[i])
		}
		if len(got) >= 20 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Follow returned %v, want the handler's error", err)
	}
	for i := range got {
		if got[i] != int64(11+i) || seqs[i] != uint64(11+i) {
			t.Fatalf("record %d: id %d at sequence %d, want %d at %d", i, got[i], seqs[i], 11+i, 11+i)
		}
	}
	if len(got) != 20 {
		t.Errorf("%d records from sequence 11, want 20", len(got))
	}
}

// TestCheckpoints: a saved checkpoint reads back; none saved, or one past
// the stream's end (a stream created again numbers from 1), reads as none.
func TestCheckpoints(t *testing.T) {
	b := openTest(t, 2)
	ctx := storetest.Ctx(t)
	if _, ok, err := b.LoadCheckpoint(ctx, 0); err != nil || ok {
		t.Fatalf("no checkpoint saved: ok %v, err %v", ok, err)
	}
	publishEach(ctx, t, b, events(10, 2))
	want := Checkpoint{Floor: 3, Last: 9, Updated: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC),
		Counts: map[string]IncidentCount{"inc-1": {Count: 41, Last: time.Date(2026, 12, 7, 5, 59, 0, 0, time.UTC)}}}
	if err := b.SaveCheckpoint(ctx, 1, want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.LoadCheckpoint(ctx, 1)
	if err != nil || !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("LoadCheckpoint = %+v, %v, %v; want %+v", got, ok, err, want)
	}
	if err := b.SaveCheckpoint(ctx, 1, Checkpoint{Floor: 50, Last: 60}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := b.LoadCheckpoint(ctx, 1); err != nil || ok {
		t.Fatalf("checkpoint past the stream's end read as %+v, %v, %v", got, ok, err)
	}
}

// publishEach publishes recs one by one, so each is a message of its own.
func publishEach(ctx context.Context, t *testing.T, b *Bus, recs []store.EventRecord) {
	t.Helper()
	for i := range recs {
		if err := b.Publish(ctx, recs[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
}
