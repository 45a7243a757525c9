package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
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

// BigReport is an assessment of tenants×controls results with evidence,
// the size of a 200-tenant MSP's run.
func BigReport(tenants, controls int) *assess.Report {
	r := &assess.Report{Version: "1", At: T0, Provider: "msp"}
	r.Scores = append(r.Scores, assess.Score{Subject: "msp", Name: "MSP", Score: 50})
	for t := range tenants {
		id := fmt.Sprintf("tenant-%03d", t)
		r.Scores = append(r.Scores, assess.Score{Subject: id, Name: "Tenant " + id, Score: float64(t % 100)})
		for c := range controls {
			st := assess.StatusPass
			if (t+c)%3 == 0 {
				st = assess.StatusFail
			}
			r.Results = append(r.Results, assess.Result{Control: fmt.Sprintf("FB-%03d", c), Title: "Control title for " + id, Heading: c%12 + 1,
				Severity: "high", Subject: id, Status: st, Message: "identity x has no MFA enforced on the RMM console",
				Evidence:    []assess.Evidence{{Kind: "identity", ID: "tech-01", Detail: "mfa.enforced=false"}, {Kind: "tool", ID: "rmm", Detail: "internet_exposed=true"}},
				Remediation: "Enforce phishing-resistant MFA on every MSP account that reaches a customer."})
		}
	}
	return r
}

// BenchResults measures reading every result of a big run (the controls
// matrix) and one tenant's results (the tenant page).
func BenchResults(b *testing.B, s store.Store) {
	ctx := Ctx(b)
	if _, err := s.SaveRun(ctx, 0, "bench", BigReport(200, 60)); err != nil {
		b.Fatal(err)
	}
	b.Run("all", func(b *testing.B) {
		for b.Loop() {
			if res, err := s.Results(ctx, store.AllTenants(), store.ResultFilter{}); err != nil || len(res) != 12000 {
				b.Fatal(len(res), err)
			}
		}
	})
	b.Run("all_brief", func(b *testing.B) {
		for b.Loop() {
			if res, err := s.Results(ctx, store.AllTenants(), store.ResultFilter{Brief: true}); err != nil || len(res) != 12000 {
				b.Fatal(len(res), err)
			}
		}
	})
	b.Run("tenant", func(b *testing.B) {
		for b.Loop() {
			if res, err := s.Results(ctx, store.TenantScope("tenant-042"), store.ResultFilter{Subject: "tenant-042"}); err != nil || len(res) != 60 {
				b.Fatal(len(res), err)
			}
		}
	})
}
