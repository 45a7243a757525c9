package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// BenchmarkIngestHTTP measures POST /api/v1/events end to end in process
// (parse, durable store, detection queue), 5,000 Windows JSON lines per
// request. Events/s is reported as a metric.
func BenchmarkIngestHTTP(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	cfg.Ingest.MaxBodyBytes = 64 << 20
	if os.Getenv("FIREBREAK_BENCH_NO_RAW") != "" {
		cfg.Ingest.KeepRaw = new(bool)
	}
	srv, err := newServer(Options{Config: cfg, Store: st}, nil)
	if err != nil {
		b.Fatal(err)
	}
	tc, err := srv.createToken(ctx, &auth.Principal{Scope: store.AllTenants()}, tokenRequest{Name: "bench", Permissions: []string{store.PermIngest}})
	if err != nil {
		b.Fatal(err)
	}
	var body bytes.Buffer
	const lines = 5000
	for i := range lines {
		fmt.Fprintf(&body, `{"@timestamp":"2026-11-26T10:%02d:%02dZ","event":{"code":"4625","outcome":"failure","provider":"Microsoft-Windows-Security-Auditing"},"winlog":{"event_id":4625,"channel":"Security","event_data":{"TargetUserName":"user%d","IpAddress":"203.0.113.%d","LogonType":"3","SubStatus":"0xc000006a"}},"host":{"name":"dc01.t%03d.example"}}`+"\n",
			(i/60)%60, i%60, i%500, i%250+1, i%200)
	}
	h := srv.Handler()
	cpu0 := cpuTime()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/v1/events", bytes.NewReader(body.Bytes()))
		req.Header.Set("Authorization", "Bearer "+tc.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
		n += lines
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
	// CPU time (user+system, every thread) per event: independent of how
	// busy the machine is; 1e6 / this = events/s one core sustains.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(n), "cpu-µs/event")
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPages measures dashboard pages over a generated 200-tenant
// estate assessed by the real engines.
func BenchmarkPages(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = b.TempDir()
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := newServer(Options{Config: cfg, Store: st}, eng)
	if err != nil {
		b.Fatal(err)
	}
	e := estate.Generate(estate.GenOptions{Tenants: 200, Identities: 4000, Grants: 2000, Assets: 2000, Seed: 1})
	if err := srv.node.AssessEstate(ctx, e, "bench", "bench"); err != nil {
		b.Fatal(err)
	}
	if _, err := auth.BootstrapOwner(ctx, st, "admin", true); err != nil {
		b.Fatal(err)
	}
	u, _ := st.GetUser(ctx, "admin")
	u.MustChangePassword = false // as after the first sign-in
	p := &auth.Principal{User: u, Scope: store.AllTenants(), Session: &store.Session{MFA: true}}
	for _, path := range []string{"/", "/tenants/" + e.Tenants[100].ID, "/matrix"} {
		b.Run(strings.ReplaceAll(strings.Trim(path, "/"), "/", "_"), func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", path, nil)
				req.SetPathValue("id", e.Tenants[100].ID)
				rec := httptest.NewRecorder()
				var err error
				switch path {
				case "/":
					err = srv.handleOverview(rec, req, p)
				case "/matrix":
					err = srv.handleMatrix(rec, req, p)
				default:
					err = srv.handleTenant(rec, req, p)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
