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
	dto "github.com/prometheus/client_model/go"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"
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

// freshDB makes a PostgreSQL schema of its own (dropped afterwards) and
// returns its URL and a random id.
func freshDB(t *testing.T) (string, string) {
	t.Helper()
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
	if strings.Contains(base, "?") {
		return base + "&search_path=" + schema, id
	}
	return base + "?search_path=" + schema, id
}

// generatedLog is the five-process bench's log (bench/scale/run.sh:
// gen-logs --seed 7 --estate examples/harbourview), smaller: sshd lines of
// the example estate's tenants with labelled attacks, cross-tenant sprays
// among them, and OpenSSH's pam_unix companion lines.
// openPG opens the store at url (the test's key), closed when the test ends.
func openPG(t *testing.T, url string) store.Store {
	t.Helper()
	st, err := postgres.OpenWith(context.Background(), url, store.Options{SecretKey: []byte("test-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// exampleEngines is the real engines and the example estate.
func exampleEngines(t *testing.T) (*worker.Engines, *estate.Estate) {
	t.Helper()
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	est, err := estate.Load(exampleEstate)
	if err != nil {
		t.Fatal(err)
	}
	return eng, est
}

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

// oneProcess is the incidents of one engine over log as `firebreak detect`
// reads it (tenants by est), the events it read and how many of the
// incidents are cross-tenant.
func oneProcess(t *testing.T, eng *worker.Engines, est *estate.Estate, log []byte) (want []incKey, evs []event.Event, cross int) {
	t.Helper()
	eng.DetectionContext(est)
	ref, err := eng.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ingest.NewReader("auth.log", bytes.NewReader(log), ingest.Options{TenantMap: ingest.TenantMapFromEstate(est), Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	var ev event.Event
	for rd.Next(&ev) == nil {
		evs = append(evs, ev)
		ev = event.Event{}
	}
	for i := range evs {
		ref.Process(&evs[i])
	}
	ref.Flush()
	for _, inc := range pipeline.EngineOf(ref).Incidents() {
		want = append(want, incKey{inc.ID, inc.Rule, inc.Tenant, inc.Tenants, inc.First.UTC(), inc.Last.UTC(), int(inc.Count)})
		if inc.Tenant == "" {
			cross++
		}
	}
	return want, evs, cross
}

// storedIncidents is the store's incidents as incKeys, sorted by id, with
// the tenants of single-tenant ones left out (as in want after
// normalize).
func storedIncidents(t *testing.T, st store.Store) []incKey {
	t.Helper()
	incs, err := st.ListIncidents(context.Background(), store.AllTenants(), store.IncidentFilter{Limit: 10000})
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
	slices.SortFunc(got, func(a, b incKey) int { return strings.Compare(a.ID, b.ID) })
	return got
}

// normalize sorts want by id and leaves out single-tenant incidents' tenants.
func normalize(want []incKey) []incKey {
	want = slices.Clone(want)
	for i := range want {
		if want[i].Tenant != "" {
			want[i].Tenants = nil
		}
	}
	slices.SortFunc(want, func(a, b incKey) int { return strings.Compare(a.ID, b.ID) })
	return want
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
// detectors — on the local PostgreSQL and an embedded three-node JetStream
// cluster (streams with three replicas), sends it the five-process bench's
// generated log, stops one detector halfway (the other takes its
// partitions of both stages over from their checkpoints), and checks that
// the incidents equal (same ids, rules, tenants, counts, first and last
// times) those of one engine reading the same log as `firebreak detect`
// does. It fails without each of three fixes: the ingest process places
// events in tenants by the estate (it loaded none and stored every event
// without a tenant), syslog counts an sshd attempt once (pam_unix line and
// "Failed password"), and cross-tenant rules run in the second,
// attacker-keyed stage (a spray over tenants of different partitions was
// never seen).
func TestSplitRolesMatchOneProcess(t *testing.T) {
	ctx := context.Background()
	dbURL, id := freshDB(t)
	cluster := bustest.Start(t) // three JetStream nodes on loopback
	natsURL := cluster.URL()
	stream, subject := "FBROLES_"+strings.ToUpper(id), "fbroles."+id
	st := openPG(t, dbURL)
	eng, est := exampleEngines(t)
	log := generatedLog(t, est, 20000)

	// One process: one engine over the log as `firebreak detect` reads it.
	want, evs, cross := oneProcess(t, eng, est, log)
	if cross == 0 || len(want) < 10 {
		t.Fatalf("the log raised %d incidents, %d of them cross-tenant: want some of each", len(want), cross)
	}

	// The split deployment.
	space := 0x5e190000 + time.Now().UnixNano()%0xfff0
	cfg := func(roles ...string) config.Config {
		c := config.Default()
		c.Roles, c.Database, c.DataDir = roles, dbURL, t.TempDir()
		c.Bus = config.BusConfig{URL: natsURL, Stream: stream, Subject: subject, Partitions: 4, Replicas: 3}
		c.Estate.Paths = []string{exampleEstate}
		c.Ingest.Year = 2026
		if slices.Contains(roles, config.RoleIngest) {
			c.Ingest.Syslog.TCP = "127.0.0.1:0"
		}
		return c
	}
	var nodes []*Node
	var stops []func()
	for _, roles := range [][]string{{config.RoleIngest}, {config.RoleDetect}, {config.RoleDetect}} {
		n, err := New(Options{Config: cfg(roles...), Store: st, Engines: eng, LockSpace: space})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- n.Run(runCtx, nil, func(ctx context.Context) error { <-ctx.Done(); return nil }) }()
		stopped := false
		stops = append(stops, func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	shutdown := func() {
		for _, stop := range stops {
			stop()
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
	// Every event reaches detection once in the tenant stage and once per
	// cross-stage partition its attacker keys route it to.
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
	detected := func() float64 {
		return counterValue(t, dets[0].Metrics.EventsDetected) + counterValue(t, dets[1].Metrics.EventsDetected)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first half of the log (cut at a line), detected by both.
	half := bytes.IndexByte(log[len(log)/2:], '\n') + len(log)/2 + 1
	if _, err := c.Write(log[:half]); err != nil {
		t.Fatal(err)
	}
	firstHalf := 0
	for i := range evs {
		if evs[i].Line <= int64(bytes.Count(log[:half], []byte("\n"))) {
			firstHalf = i + 1
		}
	}
	for deadline := time.Now().Add(120 * time.Second); detected() < float64(deliveries(evs[:firstHalf])); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("detectors saw %v deliveries of the first half, want %d", detected(), deliveries(evs[:firstHalf]))
		}
	}
	time.Sleep(1500 * time.Millisecond) // a checkpoint of every partition
	// A detector goes away: the other takes its partitions of both stages
	// over from their checkpoints while the second half arrives.
	stops[2]()
	if _, err := c.Write(log[half:]); err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Done when the survivor owns every partition, has read each to its
	// end, and detection has seen at least every delivery once.
	lagZero := func(n *Node) bool {
		ms, _ := n.Metrics.Reg.Gather()
		for _, mf := range ms {
			switch mf.GetName() {
			case "firebreak_detect_consumer_lag", "firebreak_detect_queue_depth":
				for _, m := range mf.GetMetric() {
					if m.GetGauge().GetValue() != 0 {
						return false
					}
				}
			}
		}
		return true
	}
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		a1, a2 := owned(dets[0])
		if a1 == 4 && a2 == 4 && lagZero(dets[0]) && detected() >= float64(deliveries(evs)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the surviving detector never finished: owns %d+%d, detected %v of %d", a1, a2, detected(), deliveries(evs))
		}
	}
	time.Sleep(500 * time.Millisecond)
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
