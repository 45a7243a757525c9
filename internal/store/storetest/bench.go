package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// BenchAppend measures AppendEvents with batches of size events, from
// writers concurrent goroutines, and reports events/s.
func BenchAppend(b *testing.B, s store.Store, size, writers int) {
	ctx := Ctx(b)
	users := make([]string, 64)
	for i := range users {
		users[i] = fmt.Sprintf("user%02d@tenant.example", i)
	}
	mk := func(n int) []store.EventRecord {
		batch := make([]store.EventRecord, n)
		for i := range batch {
			batch[i] = Event(fmt.Sprintf("tenant-%02d", i%25), users[i%len(users)], fmt.Sprintf("198.51.100.%d", i%250), T0.Add(time.Duration(i)*time.Millisecond), "failure")
			batch[i].Raw = `{"time":"2026-03-01T09:00:00Z","user":"user01@tenant.example","ip":"198.51.100.7","result":"50126","app":"Office 365"}`
		}
		return batch
	}
	b.ReportAllocs()
	start := time.Now()
	var total int64
	if writers <= 1 {
		batch := mk(size)
		n := 0
		for b.Loop() {
			for i := range batch {
				batch[i].ID = 0
				batch[i].Event.Timestamp = T0.Add(time.Duration(n) * time.Millisecond)
				n++
			}
			if err := s.AppendEvents(ctx, batch); err != nil {
				b.Fatal(err)
			}
			total += int64(size)
		}
	} else {
		b.SetParallelism(writers)
		b.RunParallel(func(pb *testing.PB) {
			batch := mk(size)
			for pb.Next() {
				now := time.Now()
				for i := range batch {
					batch[i].Event.Timestamp = now
				}
				if err := s.AppendEvents(ctx, batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
		total = int64(b.N) * int64(size)
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "events/s")
}
