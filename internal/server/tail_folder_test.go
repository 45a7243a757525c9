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
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx/evtxtest"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// TestServeTailsFolderAcrossRestart: ingest.files names a folder holding an
// auth log and, in a subfolder, a Security .evtx; serve stores every event,
// and after a restart (the log and the .evtx grown meanwhile, positions in
// the data directory) stores only the new ones: each event exactly once.
func TestServeTailsFolderAcrossRestart(t *testing.T) {
	est, logs := alphaTailDirs(t)
	if err := os.MkdirAll(filepath.Join(logs, "dc"), 0o755); err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(logs, "auth.log")
	sec := filepath.Join(logs, "dc", "Security.evtx")
	line := func(i int) string {
		return fmt.Sprintf("Nov 26 06:30:%02d srv01 sshd[4200]: Failed password for tail%d from 198.51.100.7 port %d ssh2\n", i, i, 50000+i)
	}
	base := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	var evs []evtxtest.Event
	for i := range 5 {
		evs = append(evs, evtxtest.Event{ID: 4625, Time: base.Add(time.Duration(i) * time.Second), Computer: "DC01.alpha.example", Data: [][2]string{
			{"TargetUserName", fmt.Sprintf("win%d", i)}, {"TargetDomainName", "ALPHA"}, {"Status", "0xc000006d"}, {"SubStatus", "0xc000006a"},
			{"LogonType", "3"}, {"IpAddress", "198.51.100.8"}, {"IpPort", "0"}}})
	}
	if err := os.WriteFile(auth, []byte(line(0)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sec, evtxtest.Write(evs[:3]), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Estate.Paths = []string{est}
	cfg.Ingest.Files = []config.TailConfig{{Path: logs, Tenant: "alpha-co"}}
	count := func() int {
		n, _ := st.CountEvents(ctx, store.TenantScope("alpha-co"), store.EventQuery{})
		return int(n)
	}
	run := func(want int, marker string) {
		t.Helper()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		eng := &worker.Engines{Assess: func(ctx context.Context, e *estate.Estate) (*assess.Report, error) {
			return &assess.Report{Version: "1", At: time.Now(), Provider: "msp", Scores: []assess.Score{{Subject: "alpha-co", Name: "Alpha", Score: 50}}}, nil
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
		// the marker line is appended last: once it is stored, everything
		// before it in this run is stored too
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			n, _ := st.CountEvents(ctx, store.TenantScope("alpha-co"), store.EventQuery{User: marker})
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%d events stored)", marker, count())
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := count(); n != want {
			t.Errorf("after the run ending with %s: %d events stored, want %d", marker, n, want)
		}
	}
	if err := os.WriteFile(filepath.Join(logs, "dc", "zz.log"), []byte(line(1)), 0o644); err != nil { // the marker (read after dc/Security.evtx)
		t.Fatal(err)
	}
	run(5, "tail1") // tail0, win0-2, tail1
	f, err := os.OpenFile(auth, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, line(2))
	f.Close()
	if err := os.WriteFile(sec, evtxtest.Write(evs), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err = os.OpenFile(filepath.Join(logs, "dc", "zz.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, line(3))
	f.Close()
	run(9, "tail3") // + tail2, win3-4, tail3
}
