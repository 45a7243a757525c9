package roles

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/lease"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// TestSecondDetectorWithoutBusRefused: two processes with every role on
// one PostgreSQL and no bus would each detect only their own events; the
// second refuses to start and says why.
func TestSecondDetectorWithoutBusRefused(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := freshDB(t)
	st := openPG(t, dbURL)
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	space := 0x5e1a0000 + time.Now().UnixNano()%0xfff0
	node := func() *Node {
		c := config.Default()
		c.Database, c.DataDir = dbURL, t.TempDir()
		n, err := New(Options{Config: c, Store: st, Engines: eng, LockSpace: space})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	first := node()
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- first.Run(rctx, nil, func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	l, err := lease.OpenIn(ctx, dbURL, space)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	key, err := l.SoloKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if n, _ := l.HeldAmong(ctx, key, 1); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first process never took the detector lock")
		}
	}
	err = node().Run(ctx, nil, func(ctx context.Context) error { t.Error("the second process served"); return nil })
	if err == nil || !strings.Contains(err.Error(), "without a bus") || !strings.Contains(err.Error(), "bus.url") {
		t.Fatalf("second detector without a bus: %v", err)
	}
}

// TestDegradedNamesTheDownPart: a split process names nothing while
// PostgreSQL and NATS are up, and names NATS once the event stream's
// cluster is down (the dashboard's degraded line).
func TestDegradedNamesTheDownPart(t *testing.T) {
	ctx := context.Background()
	dbURL, id := freshDB(t)
	st := openPG(t, dbURL)
	cluster := bustest.Start(t)
	c := config.Default()
	c.Roles, c.Database, c.DataDir = []string{config.RoleIngest}, dbURL, t.TempDir()
	c.Bus = config.BusConfig{URL: cluster.URL(), Stream: "FBDEG_" + strings.ToUpper(id), Subject: "fbdeg." + id, Partitions: 2, Replicas: 3}
	n, err := New(Options{Config: c, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if d := n.Degraded(ctx); len(d) != 0 {
		t.Fatalf("degraded with everything up: %v", d)
	}
	cluster.Shutdown()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		d := n.Degraded(ctx)
		if len(d) == 1 && strings.Contains(d[0], "NATS") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("NATS down: degraded %v", d)
		}
	}
	if ready, d := n.Ready(ctx); !ready {
		t.Errorf("NATS down: not ready (%v); ingest still commits events", d)
	}
	// The store gone: not ready.
	_ = st.Close()
	if ready, d := n.Ready(ctx); ready {
		t.Errorf("store closed: ready (degraded %v)", d)
	}
}

// TestBuslessServeRefusedOnSplitDatabase: an all-roles process without a
// bus on the database of a split deployment would ingest events its
// detectors never see and detect apart: it refuses before serving, naming
// bus.url; and while such a process runs, a split process refuses too.
func TestBuslessServeRefusedOnSplitDatabase(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := freshDB(t)
	st := openPG(t, dbURL)
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	space := 0x5e1a0000 + time.Now().UnixNano()%0xfff0
	node := func(roles []string, busURL string) *Node {
		c := config.Default()
		c.Database, c.DataDir = dbURL, t.TempDir()
		if roles != nil {
			c.Roles = roles
		}
		// A worker without event connectors does not connect to the bus:
		// the address need not answer.
		c.Bus.URL = busURL
		n, err := New(Options{Config: c, Store: st, Engines: eng, LockSpace: space})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	split := node([]string{config.RoleWorker}, "nats://127.0.0.1:1")
	if err := split.Claim(ctx); err != nil {
		t.Fatalf("split worker: %v", err)
	}
	err = node(nil, "").Run(ctx, nil, func(ctx context.Context) error { t.Error("the bus-less process served"); return nil })
	if err == nil || !strings.Contains(err.Error(), "split deployment") || !strings.Contains(err.Error(), "bus.url") {
		t.Fatalf("bus-less serve on a split deployment's database: %v", err)
	}
	_ = split.claim.Close()
	// (The split deployment retired: its mark is removed by the
	// conversion; see TestBuslessServeRefusedOnRetiredSplitDatabase.)
	if err := st.(store.DeploymentMarks).ClearMark(ctx, store.MarkSplit); err != nil {
		t.Fatal(err)
	}
	solo := node(nil, "")
	if err := solo.Claim(ctx); err != nil {
		t.Fatalf("bus-less serve alone: %v", err)
	}
	defer solo.claim.Close()
	err = node([]string{config.RoleWorker}, "nats://127.0.0.1:1").Claim(ctx)
	if err == nil || !strings.Contains(err.Error(), "without a bus") {
		t.Fatalf("split process while a bus-less one runs: %v", err)
	}
}

// TestBuslessServeRefusedOnRetiredSplitDatabase: a split deployment ran on
// the database and is gone (no process of it runs, so no lock says so):
// a process without a bus still refuses, by the mark the split process
// left, and says how to convert the database back; with the conversion
// asked for it starts, and the mark is gone.
func TestBuslessServeRefusedOnRetiredSplitDatabase(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := freshDB(t)
	st := openPG(t, dbURL)
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	space := 0x5e1d0000 + time.Now().UnixNano()%0xfff0
	node := func(roles []string, busURL string, convert bool) *Node {
		c := config.Default()
		c.Database, c.DataDir = dbURL, t.TempDir()
		if roles != nil {
			c.Roles = roles
		}
		c.Bus.URL = busURL
		n, err := New(Options{Config: c, Store: st, Engines: eng, LockSpace: space, ConvertToSingle: convert})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// (The bus URL's credentials are kept out of the mark: it is stored
	// and shown in the refusal.)
	split := node([]string{config.RoleWorker}, "nats://fbuser:s3cret@127.0.0.1:1,nats://t0ken@127.0.0.2:1", false)
	if err := split.Claim(ctx); err != nil {
		t.Fatalf("split worker: %v", err)
	}
	_ = split.claim.Close() // the split deployment stops
	err = node(nil, "", false).Claim(ctx)
	if err == nil || !strings.Contains(err.Error(), "split deployment") || !strings.Contains(err.Error(), "--convert-to-single-process") {
		t.Fatalf("bus-less serve on a retired split deployment's database: %v", err)
	}
	if m, _, _ := st.(store.DeploymentMarks).Mark(ctx, store.MarkSplit); strings.Contains(err.Error()+m.Value, "s3cret") || strings.Contains(err.Error()+m.Value, "t0ken") || !strings.Contains(m.Value, "nats://127.0.0.1:1,nats://127.0.0.2:1") {
		t.Errorf("split mark %q, refusal %q: want the bus address without its credentials", m.Value, err)
	}
	solo := node(nil, "", true)
	if err := solo.Claim(ctx); err != nil {
		t.Fatalf("bus-less serve converting the database back: %v", err)
	}
	_ = solo.claim.Close()
	if _, ok, err := st.(store.DeploymentMarks).Mark(ctx, store.MarkSplit); ok || err != nil {
		t.Errorf("split mark after the conversion: %v %v, want none", ok, err)
	}
	again := node(nil, "", false)
	if err := again.Claim(ctx); err != nil {
		t.Errorf("bus-less serve after the conversion: %v", err)
	}
	_ = again.claim.Close()
}
