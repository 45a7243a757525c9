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

// TestServeReloadsAndTails runs the service with an estate directory and a
// tailed log file: the estate is assessed at start and again when a file
// changes, and lines appended to the log reach the store.
func TestServeReloadsAndTails(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	est := filepath.Join(dir, "estate")
	if err := os.MkdirAll(est, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string) {
		doc := fmt.Sprintf("provider:\n  id: msp\n  name: Test MSP\ntenants:\n  - id: alpha-co\n    name: %s\n", name)
		if err := os.WriteFile(filepath.Join(est, "tenants.yaml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Alpha One")
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
	eng := &worker.Engines{Assess: func(ctx context.Context, e *estate.Estate) (*assess.Report, error) {
		return &assess.Report{Version: "1", At: time.Now(), Provider: "msp", Scores: []assess.Score{{Subject: "alpha-co", Name: e.Tenants[0].Name, Score: 50}}}, nil
	}}
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
		for deadline := time.Now().Add(15 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	tenantName := func() string {
		ts, _ := st.ListTenants(ctx, store.AllTenants())
		if len(ts) == 0 {
			return ""
		}
		return ts[0].Name
	}
	waitFor("first assessment", func() bool { return tenantName() == "Alpha One" })
	time.Sleep(1100 * time.Millisecond) // a distinct modification time
	write("Alpha Two")
	waitFor("reload after change", func() bool { return tenantName() == "Alpha Two" })
	// The tenant row is written before the run is saved: wait for the run
	// rather than reading the list the moment the name changes.
	waitFor("reload run stored", func() bool {
		runList, err := st.ListRuns(ctx, store.AllTenants(), 10)
		return err == nil && len(runList) >= 2 && runList[0].Trigger == "reload"
	})
	f, err := os.OpenFile(logf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "Nov 26 06:30:11 srv01 sshd[4200]: Failed password for tailuser from 198.51.100.7 port 50022 ssh2")
	f.Close()
	waitFor("tailed event", func() bool {
		n, _ := st.CountEvents(ctx, store.TenantScope("alpha-co"), store.EventQuery{User: "tailuser"})
		return n == 1
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestSelfSignedCertificateKept(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	_, fp1, err := LoadOrCreateCertificate("", "", dir, []string{"firebreak.example"}, now)
	if err != nil {
		t.Fatal(err)
	}
	_, fp2, err := LoadOrCreateCertificate("", "", dir, nil, now)
	if err != nil || fp1 != fp2 {
		t.Errorf("certificate not reused: %s vs %s (%v)", fp1, fp2, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "tls", "key.pem"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
}
