package roles

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/notify"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// runNode composes and runs a process of cfg's roles; stop (idempotent,
// also at the test's end) ends it.
func runNode(t *testing.T, cfg config.Config, st store.Store, eng *worker.Engines, space int64) (*Node, func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", cfg.RolesString())
	n, err := New(Options{Config: cfg, Store: st, Engines: eng, LockSpace: space, Logger: log})
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
	st := openPG(t, dbURL)
	eng, est := exampleEngines(t)
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
	for name, n := range map[string]*Node{"ingest": in, "detect": det} {
		// Every process's banner (the api's dashboard too) shows the
		// backlog, which lives in the store: it was the ingest's only.
		if d := strings.Join(n.Degraded(ctx), "; "); !strings.Contains(d, "publish backlog") {
			t.Errorf("%s process: degraded line does not show the backlog: %q", name, d)
		}
	}
	// Still ready (/readyz): the ingest process commits events meanwhile,
	// so a load balancer must keep sending them.
	if ready, d := in.Ready(ctx); !ready || len(d) == 0 {
		t.Errorf("NATS down: ready %v, degraded %q; want ready and degraded", ready, d)
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

// TestNotificationsSentOnceByLeader: two detectors and two workers on one
// PostgreSQL and JetStream. Detectors only record their alerts in the
// outbox (they used to send them themselves, beside the workers); the
// worker holding the leader lease sends each one once.
func TestNotificationsSentOnceByLeader(t *testing.T) {
	ctx := context.Background()
	dbURL, id := freshDB(t)
	cluster := bustest.Start(t)
	st := openPG(t, dbURL)
	eng, est := exampleEngines(t)
	var mu sync.Mutex
	got := map[string]int{} // deliveries by id
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got[r.Header.Get(notify.HeaderDelivery)]++
		mu.Unlock()
	}))
	defer hook.Close()
	cfgJSON, _ := json.Marshal(map[string]any{"url": hook.URL, "secret": "s3cret-s3cret-s3cret"})
	if err := st.PutNotifyTarget(ctx, store.AllTenants(), &store.NotifyTarget{ID: "nt_hook", Name: "hook", Kind: store.TargetWebhook, Enabled: true, Config: cfgJSON}); err != nil {
		t.Fatal(err)
	}
	space := 0x5e1b0000 + time.Now().UnixNano()%0xfff0
	cfg := func(roles ...string) config.Config {
		c := config.Default()
		c.Roles, c.Database, c.DataDir = roles, dbURL, t.TempDir()
		c.Bus = config.BusConfig{URL: cluster.URL(), Stream: "FBNOTE_" + strings.ToUpper(id), Subject: "fbnote." + id, Partitions: 2, Replicas: 3}
		c.Estate.Paths = []string{exampleEstate}
		c.Ingest.Year = 2026
		c.Notify.AllowNetworks = []string{"127.0.0.0/8"}
		return c
	}
	in, _ := runNode(t, cfg(config.RoleIngest), st, eng, space)
	var nodes []*Node
	for _, r := range []string{config.RoleDetect, config.RoleDetect, config.RoleWorker, config.RoleWorker} {
		n, _ := runNode(t, cfg(r), st, eng, space)
		nodes = append(nodes, n)
	}
	dets, workers := nodes[:2], nodes[2:]
	owned := func() float64 {
		a, _ := gaugeValue(t, dets[0], "firebreak_detect_partition_owned")
		b, _ := gaugeValue(t, dets[1], "firebreak_detect_partition_owned")
		return a + b
	}
	waitFor(t, 60*time.Second, "the detectors to own every partition", func() bool { return owned() == 4 })
	leader := func() *Node {
		var l *Node
		for _, w := range workers {
			if v, _ := gaugeValue(t, w, "firebreak_leader"); v == 1 {
				if l != nil {
					t.Fatal("two leaders")
				}
				l = w
			}
		}
		return l
	}
	waitFor(t, 30*time.Second, "a leading worker", func() bool { return leader() != nil })
	log := generatedLog(t, est, 3000)
	if _, nrej, err := in.Intake.IngestBody(ctx, log, "", "", "test", func(*event.Event) string { return "" }); err != nil || nrej != 0 {
		t.Fatalf("ingest: %v (%d rejected)", err, nrej)
	}
	// Every recorded alert delivered (acknowledged in the outbox).
	due := func() int {
		rows, err := st.DueOutbox(ctx, "notify:nt_hook", time.Now().Add(time.Hour), 10000)
		if err != nil {
			t.Fatal(err)
		}
		return len(rows)
	}
	sent := func(n *Node) float64 {
		ms, _ := n.Metrics.Reg.Gather()
		for _, mf := range ms {
			if mf.GetName() == "firebreak_notifications_total" {
				for _, m := range mf.GetMetric() {
					if m.GetLabel()[0].GetValue() == "sent" {
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return 0
	}
	deliveries := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	waitFor(t, 60*time.Second, "alerts delivered", func() bool {
		return deliveries() > 0 && due() == 0 && counterValue(t, dets[0].Metrics.EventsDetected)+counterValue(t, dets[1].Metrics.EventsDetected) > 0
	})
	time.Sleep(2 * time.Second) // later alerts of the log, and any second send
	waitFor(t, 30*time.Second, "the outbox to empty", func() bool { return due() == 0 })
	mu.Lock()
	for k, v := range got {
		if v != 1 {
			t.Errorf("delivery %s sent %d times", k, v)
		}
	}
	total := len(got)
	mu.Unlock()
	l := leader()
	for _, n := range append([]*Node{in}, nodes...) {
		want := 0.0
		if n == l {
			want = float64(total)
		}
		if s := sent(n); s != want {
			t.Errorf("a %s process sent %v notifications, want %v (leader: %v)", n.cfg.RolesString(), s, want, n == l)
		}
	}
}

// TestSplitIngestFilesRunsCrossTenantRules: a one-shot import (IngestFiles)
// on an ingest process of a split deployment detects with every rule: it
// used the tenant partitions' detector, whose cross-tenant rules run in
// the second stage, and so raised no cross-tenant incident.
func TestSplitIngestFilesRunsCrossTenantRules(t *testing.T) {
	ctx := context.Background()
	dbURL, id := freshDB(t)
	cluster := bustest.Start(t)
	st := openPG(t, dbURL)
	eng, est := exampleEngines(t)
	log := generatedLog(t, est, 6000)
	want, _, cross := oneProcess(t, eng, est, log)
	if cross == 0 {
		t.Fatal("the log raised no cross-tenant incident")
	}
	path := t.TempDir() + "/auth.log"
	if err := os.WriteFile(path, log, 0o600); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Roles, c.Database, c.DataDir = []string{config.RoleIngest}, dbURL, t.TempDir()
	c.Bus = config.BusConfig{URL: cluster.URL(), Stream: "FBFILES_" + strings.ToUpper(id), Subject: "fbfiles." + id, Partitions: 2, Replicas: 3}
	c.Estate.Paths = []string{exampleEstate}
	c.Ingest.Year = 2026
	n, err := New(Options{Config: c, Store: st, Engines: eng})
	if err != nil {
		t.Fatal(err)
	}
	if n.Cross == nil {
		t.Fatal("no cross-tenant stage")
	}
	n.Work.PrimeEstate(ctx)
	eng.DetectionContext(est)
	stats, err := n.IngestFiles(ctx, []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Incidents != len(want) {
		t.Errorf("import raised %d incidents, want %d", stats.Incidents, len(want))
	}
	if d := cmp.Diff(normalize(want), storedIncidents(t, st)); d != "" {
		t.Errorf("imported incidents differ from one process's (-one process +import):\n%s", d)
	}
}
