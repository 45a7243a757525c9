package roles

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	dto "github.com/prometheus/client_model/go"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

const exampleEstate = "../../examples/harbourview"

// generatedLog is the five-process bench's log (bench/scale/run.sh:
// gen-logs --seed 7 --estate examples/harbourview), smaller: sshd lines of
// the example estate's tenants with labelled attacks, cross-tenant sprays
// among them, and OpenSSH's pam_unix companion lines.
func generatedLog(t *testing.T, e *estate.Estate, lines int) []byte {
	t.Helper()
	lo := loggen.Options{Format: loggen.FormatSSHD, Lines: lines, Seed: 7, Start: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour, HostsPerTenant: 2}
	for _, tn := range e.Tenants {
		lt := loggen.Tenant{ID: tn.ID, EntraID: tn.EntraTenantID, Domain: tn.ID + ".example"}
		if len(tn.Domains) > 0 {
			lt.Domain = tn.Domains[0]
		}
		if lt.EntraID == "" {
			lt.EntraID = loggen.DefaultTenantGUID(tn.ID)
		}
		lo.Tenants = append(lo.Tenants, lt)
	}
	var buf bytes.Buffer
	if _, err := loggen.Generate(&buf, lo); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type incKey struct {
	ID, Rule, Tenant string
	Tenants          []string
	First, Last      time.Time
	Count            int
}

func counterValue(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestSplitRolesMatchOneProcess composes a split deployment as `serve
// --roles` does — one ingest process receiving syslog over TCP, two
// detectors — on the local PostgreSQL and NATS JetStream, sends it the
// five-process bench's generated log, and checks that the incidents equal
// (same ids, rules, tenants, counts, first and last times) those of one
// engine reading the same log as `firebreak detect` does. It fails
// without each of three fixes: the ingest process places events in
// tenants by the estate (it loaded none and stored every event without a
// tenant), syslog counts an sshd attempt once (pam_unix line and "Failed
// password"), and cross-tenant rules run in the second, attacker-keyed
// stage (a spray over tenants of different partitions was never seen).
func TestSplitRolesMatchOneProcess(t *testing.T) {
	ctx := context.Background()
	base := envOr("FIREBREAK_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		storetest.ServiceUnavailable(t, "PostgreSQL", err)
	}
	id := strings.ToLower(rand.Text()[:10])
	schema := "fbroles_" + id
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		if conn, err := pgx.Connect(context.Background(), base); err == nil {
			conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(context.Background())
		}
	})
	dbURL := base + "&search_path=" + schema
	if !strings.Contains(base, "?") {
		dbURL = base + "?search_path=" + schema
	}
	natsURL := envOr("FIREBREAK_TEST_NATS", "nats://127.0.0.1:4222")
	nc, err := nats.Connect(natsURL, nats.Timeout(3*time.Second))
	if err != nil {
		storetest.ServiceUnavailable(t, "NATS at "+natsURL, err)
	}
	nc.Close()
	stream, subject := "FBROLES_"+strings.ToUpper(id), "fbroles."+id
	t.Cleanup(func() {
		for _, o := range []bus.Options{{Stream: stream, Subject: subject}, {Stream: stream + "_CROSS", Subject: subject + "_cross"}} {
			if b, err := bus.Open(context.Background(), natsURL, o); err == nil {
				b.DeleteStream(context.Background())
				b.Close()
			}
		}
	})
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
	log := generatedLog(t, est, 20000)

	// One process: one engine over the log as `firebreak detect` reads it.
	eng.DetectionContext(est)
	ref, err := eng.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ingest.NewReader("auth.log", bytes.NewReader(log), ingest.Options{TenantMap: ingest.TenantMapFromEstate(est), Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	var ev event.Event
	for rd.Next(&ev) == nil {
		evs = append(evs, ev)
		ev = event.Event{}
	}
	for i := range evs {
		ref.Process(&evs[i])
	}
	ref.Flush()
	var want []incKey
	cross := 0
	for _, inc := range pipeline.EngineOf(ref).Incidents() {
		want = append(want, incKey{inc.ID, inc.Rule, inc.Tenant, inc.Tenants, inc.First.UTC(), inc.Last.UTC(), int(inc.Count)})
		if inc.Tenant == "" {
			cross++
		}
	}
	if cross == 0 || len(want) < 10 {
		t.Fatalf("the log raised %d incidents, %d of them cross-tenant: want some of each", len(want), cross)
	}

	// The split deployment.
	space := 0x5e190000 + time.Now().UnixNano()%0xfff0
	cfg := func(roles ...string) config.Config {
		c := config.Default()
		c.Roles, c.Database, c.DataDir = roles, dbURL, t.TempDir()
		c.Bus = config.BusConfig{URL: natsURL, Stream: stream, Subject: subject, Partitions: 4}
		c.Estate.Paths = []string{exampleEstate}
		c.Ingest.Year = 2026
		if slices.Contains(roles, config.RoleIngest) {
			c.Ingest.Syslog.TCP = "127.0.0.1:0"
		}
		return c
	}
	runCtx, stop := context.WithCancel(ctx)
	var nodes []*Node
	done := make(chan error, 3)
	for _, roles := range [][]string{{config.RoleIngest}, {config.RoleDetect}, {config.RoleDetect}} {
		n, err := New(Options{Config: cfg(roles...), Store: st, Engines: eng, LockSpace: space})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		go func() { done <- n.Run(runCtx, nil, func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
	}
	stopped := false
	shutdown := func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		for range nodes {
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	defer shutdown()
	in, dets := nodes[0], nodes[1:]
	if in.Cross == nil {
		t.Fatal("no cross-tenant stage: the built-in rules have cross-tenant rules")
	}
	// Both detectors own partitions of both stages before events flow.
	owned := func(n *Node) (first, second int) {
		ms, _ := n.Metrics.Reg.Gather()
		for _, mf := range ms {
			if mf.GetName() != "firebreak_detect_partition_owned" {
				continue
			}
			for _, m := range mf.GetMetric() {
				if m.GetGauge().GetValue() != 1 {
					continue
				}
				if strings.HasPrefix(m.GetLabel()[0].GetValue(), "cross-") {
					second++
				} else {
					first++
				}
			}
		}
		return first, second
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		a1, a2 := owned(dets[0])
		b1, b2 := owned(dets[1])
		if a1+b1 == 4 && a2+b2 == 4 && a1*b1 > 0 && a2*b2 > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("detectors never shared the partitions: %d+%d, cross %d+%d", a1, b1, a2, b2)
		}
	}
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == ""; time.Sleep(50 * time.Millisecond) {
		if addr = in.ListenAddr("syslog-tcp"); addr == "" && time.Now().After(deadline) {
			t.Fatal("the ingest process never listened for syslog")
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(log); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Every event reaches detection once in the tenant stage and once per
	// cross-stage partition its attacker keys route it to.
	_, lanes := pipeline.SplitRules(eng.Rules)
	mayMatch, err := pipeline.MayMatchLanes(lanes)
	if err != nil {
		t.Fatal(err)
	}
	keys := pipeline.LaneKeys(lanes, mayMatch)
	deliveries := len(evs)
	for i := range evs {
		var ps []int
		for _, k := range keys(&evs[i]) {
			if p := in.Cross.PartitionOf(k); !slices.Contains(ps, p) {
				ps = append(ps, p)
			}
		}
		deliveries += len(ps)
	}
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got := counterValue(t, dets[0].Metrics.EventsDetected) + counterValue(t, dets[1].Metrics.EventsDetected)
		if got >= float64(deliveries) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("detectors saw %v deliveries, want %d", got, deliveries)
		}
	}
	// Shut down: each partition's engine releases what it held for
	// reordering and writes its incidents, as the reference's Flush did.
	shutdown()
	incs, err := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	var got []incKey
	for _, inc := range incs {
		k := incKey{inc.ID, inc.Rule, inc.Tenant, inc.Tenants, inc.First.UTC(), inc.Last.UTC(), inc.Count}
		if inc.Tenant != "" {
			k.Tenants = nil
		}
		got = append(got, k)
	}
	for i := range want {
		if want[i].Tenant != "" {
			want[i].Tenants = nil
		}
	}
	byID := func(ks []incKey) { slices.SortFunc(ks, func(a, b incKey) int { return strings.Compare(a.ID, b.ID) }) }
	byID(want)
	byID(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("split incidents differ from one process's (-one process +split):\n%s", d)
	}
}
