package server

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// TestServeDetectorsFollowEstate runs serve with the real detection engines
// and a tailed auth log: a source the estate names a benign network of the
// tenant raises no incident while the estate at start says so, and raises
// one after the estate is reloaded without it. It fails when serve's
// detectors do not get the estate's tenant context (worker.Engines.
// DetectionContext, called at start by PrimeDetection and on every load).
func TestServeDetectorsFollowEstate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	est := filepath.Join(dir, "estate")
	if err := os.MkdirAll(est, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(benign string) {
		doc := "provider: {id: msp, name: Test MSP}\ntenants:\n  - id: alpha-co\n    name: Alpha\n"
		if benign != "" {
			doc += "    detection:\n      benign_networks: [" + benign + "]\n"
		}
		if err := os.WriteFile(filepath.Join(est, "tenants.yaml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("198.51.100.0/24")
	logf := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(logf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Estate.Paths = []string{est}
	cfg.Estate.PollInterval = time.Second
	cfg.Ingest.Files = []config.TailConfig{{Path: logf, Tenant: "alpha-co"}}
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	eng.Assess = func(ctx context.Context, e *estate.Estate) (*assess.Report, error) { // the detectors are under test, not the controls
		return &assess.Report{Version: "1", At: time.Now(), Provider: "msp", Scores: []assess.Score{{Subject: "alpha-co", Name: "Alpha", Score: 50}}}, nil
	}
	eng.AssessMonitored = func(ctx context.Context, e *estate.Estate, _ *assess.AuthMonitoring) (*assess.Report, error) {
		return eng.Assess(ctx, e)
	}
	srv, err := newServer(Options{Config: cfg, Store: st}, eng)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, srv, ln) }()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	runs := func() []store.Run {
		rs, _ := st.ListRuns(ctx, store.AllTenants(), 10)
		return rs
	}
	waitFor("first assessment", func() bool { return len(runs()) >= 1 })
	// Twelve accounts tried from one address, 30 s apart: a spray and a
	// brute force by count, but not a burst of seconds.
	spray := func(from time.Time, tag string) {
		t.Helper()
		f, err := os.OpenFile(logf, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 12 {
			ts := from.Add(time.Duration(i) * 30 * time.Second).UTC().Format(time.RFC3339)
			fmt.Fprintf(f, "%s srv01 sshd[%d]: Failed password for %s%d from 198.51.100.7 port %d ssh2\n", ts, 4000+i, tag, i, 50000+i)
		}
		_ = f.Close()
	}
	// ssh_bruteforce counts every sshd failure, benign networks included
	// (fail2ban's jail); the rules over auth_failure leave them out.
	const sshBruteforce = "12452b35-c9e2-4640-ab82-bc890593e346"
	incidents := func() int {
		incs, _ := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Tenant: "alpha-co"})
		n := 0
		for _, inc := range incs {
			if inc.Rule != sshBruteforce {
				n++
			}
		}
		return n
	}
	events := func(user string) int {
		n, _ := st.CountEvents(ctx, store.TenantScope("alpha-co"), store.EventQuery{User: user})
		return int(n)
	}
	now := time.Now()
	spray(now.Add(-3*time.Hour), "a")
	waitFor("the first spray's events", func() bool { return events("a11") == 1 })
	for range 40 { // detection follows the commit; give it two seconds to (wrongly) raise
		if n := incidents(); n != 0 {
			incs, _ := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Tenant: "alpha-co"})
			t.Fatalf("a spray from the tenant's benign network raised %d incident(s) with the estate loaded at start: %+v", n, incs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := len(runs())
	time.Sleep(1100 * time.Millisecond) // a distinct modification time
	write("")
	waitFor("estate reload", func() bool { r := runs(); return len(r) > before && r[0].Trigger == "reload" })
	spray(now.Add(-time.Hour), "b")
	waitFor("an incident for the spray once the network is no longer benign", func() bool { return incidents() > 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
