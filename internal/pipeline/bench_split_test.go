package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"

	"github.com/firebreak-msp/firebreak/internal/store/bus"
)

// benchEvents is sshd failures across 50 tenants, in batches of 500.
func benchEvents(b *testing.B, n int) [][]store.EventRecord {
	var out [][]store.EventRecord
	var cur []store.EventRecord
	for i := range n {
		tn := fmt.Sprintf("tenant-%02d", i%50)
		line := fmt.Sprintf("Nov 26 %02d:%02d:%02d srv01.%s.example sshd[42]: Failed password for user%d from 198.51.%d.%d port 50022 ssh2\n",
			10+i/3600%10, i/60%60, i%60, tn, i%7, i%50, i%200)
		rd, err := ingest.NewReader("bench", strings.NewReader(line), ingest.Options{Tenant: tn, Year: 2026})
		if err != nil {
			b.Fatal(err)
		}
		var ev event.Event
		if rd.Next(&ev) == nil {
			cur = append(cur, store.EventRecord{Event: ev})
		}
		if len(cur) == 500 {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func counter(m *metrics.Metrics) float64 {
	var out dto.Metric
	_ = m.EventsDetected.Write(&out)
	return out.GetCounter().GetValue()
}

func waitDetected(b *testing.B, ms []*metrics.Metrics, want float64) {
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
		var got float64
		for _, m := range ms {
			got += counter(m)
		}
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("detected %v of %v events", got, want)
		}
	}
}

// BenchmarkEndToEnd measures ingest → detection, per event, for one process
// on SQLite with the in-memory queue against the split roles: PostgreSQL,
// a three-node JetStream cluster (embedded) and two detectors. Run both in
// one invocation, in alternating pairs, and compare the ratios of
// cpu-µs/event (this process's user+system CPU: SQLite, NATS, ingest and
// detectors; PostgreSQL's server is another process and not counted) and
// of ns/event (wall); the load average is logged with each run.
//
//	go test -run '^$' -bench EndToEnd -benchtime 1x -count 3 ./internal/pipeline
func BenchmarkEndToEnd(b *testing.B) {
	const n = 20000
	batches := benchEvents(b, n)
	total := 0
	for _, bt := range batches {
		total += len(bt)
	}
	ctx := context.Background()
	// After the last event (10:00 to 15:33): none is dated in the future.
	benchNow := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	clock := func() time.Time { return benchNow }
	b.Run("single", func(b *testing.B) {
		b.Logf("load average %s", loadAverage())
		var cpu time.Duration
		for range b.N {
			b.StopTimer()
			st, err := sqlite.Open(ctx, b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			m := metrics.New()
			p := New(Options{Store: st, Metrics: m, Now: clock, Queue: 1 << 16, Detect: true})
			det, _ := splitDetector()
			rctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { p.Run(rctx, det); close(done) }()
			cpu0 := cpuTime()
			b.StartTimer()
			for _, bt := range batches {
				if err := p.Commit(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			waitDetected(b, []*metrics.Metrics{m}, float64(total))
			b.StopTimer()
			cpu += cpuTime() - cpu0
			stop()
			<-done
			st.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/event")
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*total), "cpu-µs/event")
	})
	b.Run("split", func(b *testing.B) {
		b.Logf("load average %s", loadAverage())
		var cpu time.Duration
		for range b.N {
			b.StopTimer()
			st, dbURL := freshPostgresB(b)
			cluster := bustest.Start(b)
			bs, err := bus.Open(ctx, cluster.URL(), bus.Options{Stream: "FBBENCH", Subject: "fbbench", Partitions: 8, Replicas: 3})
			if err != nil {
				b.Fatal(err)
			}
			space := 0x5e190000 + time.Now().UnixNano()%0xffff
			var ms []*metrics.Metrics
			dctx, stop := context.WithCancel(ctx)
			var dones []chan struct{}
			for range 2 {
				m := metrics.New()
				ms = append(ms, m)
				done := make(chan struct{})
				dones = append(dones, done)
				go func() {
					base := Options{Store: st, Metrics: m, Now: clock, Queue: 1 << 16}
					_ = RunPartitions(dctx, PartitionOptions{Base: base, Bus: bs, DatabaseURL: dbURL, NewDetector: splitDetector, Every: 100 * time.Millisecond, LockSpace: space})
					close(done)
				}()
			}
			waitOwned(b, ms, 8)
			in := New(Options{Store: st, Metrics: metrics.New(), Now: clock, Publish: bs.Publish})
			cpu0 := cpuTime()
			b.StartTimer()
			for _, bt := range batches {
				if err := in.Commit(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			waitDetected(b, ms, float64(total))
			b.StopTimer()
			cpu += cpuTime() - cpu0
			stop()
			for _, d := range dones {
				<-d
			}
			bs.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/event")
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*total), "cpu-µs/event")
	})
}

func waitOwned(b *testing.B, ms []*metrics.Metrics, parts int) {
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var got float64
		for _, m := range ms {
			var out dto.Metric
			_ = m.PartitionsOwned.Write(&out)
			got += out.GetGauge().GetValue()
		}
		if got == float64(parts) {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("partitions owned %v of %d", got, parts)
		}
	}
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
