package roles

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// runNode composes and runs a process of cfg's roles; stop (idempotent,
// also at the test's end) ends it.
func runNode(t *testing.T, cfg config.Config, st store.Store, eng *worker.Engines, space int64) (*Node, func()) {
	t.Helper()
	n, err := New(Options{Config: cfg, Store: st, Engines: eng, LockSpace: space})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, nil, func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return n, stop
}

func gaugeValue(t *testing.T, n *Node, name string) (float64, bool) {
	t.Helper()
	ms, _ := n.Metrics.Reg.Gather()
	for _, mf := range ms {
		if mf.GetName() == name {
			v := 0.0
			for _, m := range mf.GetMetric() {
				v += m.GetGauge().GetValue()
			}
			return v, true
		}
	}
	return 0, false
}

// waitFor polls cond every 100 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
	}
}

// TestNATSOutageIngestStoresAndPublishesLater: with the whole JetStream
// cluster down, an ingest process still takes events (they are committed
// to PostgreSQL with a publish backlog record in the same transaction) —
// it used to answer 503 "0 were stored" for events it had stored, and a
// retrying sender stored them again. The backlog shows in the metrics and
// the degraded line; when NATS is back the publisher sends it, and the
// detector sees every event exactly once (the batches Commit had handed
// to the client's reconnect buffer arrive too, and the stream drops them
// by message id): the incidents equal one process's over the same log.
func TestNATSOutageIngestStoresAndPublishesLater(t *testing.T) {
	ctx := context.Background()
	dbURL, id := freshDB(t)
	cluster := bustest.Start(t)
	st, err := postgres.OpenWith(ctx, dbURL, store.Options{SecretKey: []byte("test-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	est, err := estate.Load(exampleEstate)
	if err != nil {
		t.Fatal(err)
	}
	log := generatedLog(t, est, 6000)
	want, evs, _ := oneProcess(t, eng, est, log)
	if len(want) < 5 {
		t.Fatalf("the log raised %d incidents: want some", len(want))
	}
	space := 0x5e1a0000 + time.Now().UnixNano()%0xfff0
	cfg := func(roles ...string) config.Config {
		c := config.Default()
		c.Roles, c.Database, c.DataDir = roles, dbURL, t.TempDir()
		c.Bus = config.BusConfig{URL: cluster.URL(), Stream: "FBOUT_" + strings.ToUpper(id), Subject: "fbout." + id, Partitions: 2, Replicas: 3}
		c.Estate.Paths = []string{exampleEstate}
		c.Ingest.Year = 2026
		return c
	}
	in, stopIn := runNode(t, cfg(config.RoleIngest), st, eng, space)
	det, stopDet := runNode(t, cfg(config.RoleDetect), st, eng, space)
	waitFor(t, 60*time.Second, "the detector to own both partitions of both stages", func() bool {
		v, _ := gaugeValue(t, det, "firebreak_detect_partition_owned")
		return v == 4
	})
	_, lanes := pipeline.SplitRules(eng.Rules)
	mayMatch, err := pipeline.MayMatchLanes(lanes)
	if err != nil {
		t.Fatal(err)
	}
	keys := pipeline.LaneKeys(lanes, mayMatch)
	deliveries := func(evs []event.Event) int {
		n := len(evs)
		for i := range evs {
			var ps []int
			for _, k := range keys(&evs[i]) {
				if p := in.Cross.PartitionOf(k); !slices.Contains(ps, p) {
					ps = append(ps, p)
				}
			}
			n += len(ps)
		}
		return n
	}
	post := func(body []byte) {
		t.Helper()
		resp, nrej, err := in.Intake.IngestBody(ctx, body, "", "", "test", func(*event.Event) string { return "" })
		if err != nil || nrej != 0 {
			t.Fatalf("ingest: %v (%d rejected, %d accepted)", err, nrej, resp.Accepted)
		}
	}
	// A third with NATS up, a third with the cluster down, a third after.
	lines := strings.SplitAfter(string(log), "\n")
	third := len(lines) / 3
	post([]byte(strings.Join(lines[:third], "")))
	cluster.Shutdown()
	waitFor(t, 10*time.Second, "the ingest process to see NATS down", func() bool { return !in.Bus.Connected() })
	post([]byte(strings.Join(lines[third:2*third], "")))
	waitFor(t, 10*time.Second, "the publish backlog metric", func() bool {
		v, _ := gaugeValue(t, in, "firebreak_publish_backlog_events")
		return v > 0
	})
	if d := strings.Join(in.Degraded(ctx), "; "); !strings.Contains(d, "publish backlog") {
		t.Errorf("degraded line does not show the backlog: %q", d)
	}
	cluster.Resume()
	post([]byte(strings.Join(lines[2*third:], "")))
	detected := func() float64 { return counterValue(t, det.Metrics.EventsDetected) }
	waitFor(t, 120*time.Second, "the detector to see every event", func() bool { return detected() >= float64(deliveries(evs)) })
	waitFor(t, 10*time.Second, "the backlog to empty", func() bool {
		v, _ := gaugeValue(t, in, "firebreak_publish_backlog_events")
		_, n, err := st.(store.EventPublishLog).PublishBacklog(ctx)
		return v == 0 && err == nil && n == 0
	})
	time.Sleep(time.Second) // anything delivered twice would arrive by now
	if got, want := detected(), float64(deliveries(evs)); got != want {
		t.Errorf("detector processed %v deliveries, want each of %v once", got, want)
	}
	if n, err := st.CountEvents(ctx, store.AllTenants(), store.EventQuery{}); err != nil || n != int64(len(evs)) {
		t.Errorf("stored %d events (%v), want %d: each once", n, err, len(evs))
	}
	stopIn()
	stopDet()
	if d := cmp.Diff(normalize(want), storedIncidents(t, st)); d != "" {
		t.Errorf("incidents after the outage differ from one process's (-one process +split):\n%s", d)
	}
}
