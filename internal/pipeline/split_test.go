package pipeline

import (
	"os/exec"
	"strconv"
	"syscall"

	dto "github.com/prometheus/client_model/go"

	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/lease"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

// freshPostgres opens a store in a schema of its own, dropped afterwards.
func freshPostgres(t *testing.T) (store.Store, string) { return freshPostgresB(t) }

func freshPostgresB(t testing.TB) (store.Store, string) {
	t.Helper()
	base := envOr("FIREBREAK_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		storetest.ServiceUnavailable(t, "PostgreSQL", err)
	}
	schema := "fbsplit_" + strings.ToLower(rand.Text()[:10])
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
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	url := base + sep + "search_path=" + schema
	st, err := postgres.OpenWith(ctx, url, store.Options{SecretKey: []byte("test-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, url
}

func freshBus(t *testing.T, partitions int) *bus.Bus {
	t.Helper()
	url := envOr("FIREBREAK_TEST_NATS", "nats://127.0.0.1:4222")
	nc, err := nats.Connect(url, nats.Timeout(3*time.Second))
	if err != nil {
		storetest.ServiceUnavailable(t, "NATS at "+url, err)
	}
	nc.Close()
	id := strings.ToLower(rand.Text()[:10])
	b, err := bus.Open(context.Background(), url, bus.Options{Stream: "FBSPLIT_" + id, Subject: "fbsplit." + id, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.DeleteStream(context.Background()); b.Close() })
	return b
}

// attack is sshd failures of a few attackers against each tenant (no
// attacker crosses tenants: those incidents need the cross-tenant stage).
func attack(t *testing.T, tenants []string, rounds int) [][]store.EventRecord {
	var batches [][]store.EventRecord
	sec := 0
	for r := range rounds {
		for ti, tn := range tenants {
			var b strings.Builder
			for k := range 4 {
				sec++
				fmt.Fprintf(&b, "Nov 26 %02d:%02d:%02d srv01.%s.example sshd[42]: Failed password for user%d from 198.51.%d.%d port 50022 ssh2\n",
					10+sec/3600, sec/60%60, sec%60, tn, (r+k)%3, ti, r%2+1)
			}
			rd, err := ingest.NewReader("test", strings.NewReader(b.String()), ingest.Options{Tenant: tn, Year: 2026})
			if err != nil {
				t.Fatal(err)
			}
			var recs []store.EventRecord
			var ev event.Event
			for rd.Next(&ev) == nil {
				recs = append(recs, store.EventRecord{Event: ev})
			}
			batches = append(batches, recs)
		}
	}
	return batches
}

var splitNow = time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)

func splitDetector() (Detector, error) {
	rules, err := detect.Builtin()
	if err != nil {
		return nil, err
	}
	e, err := detect.NewEngine(rules, detect.Options{})
	if err != nil {
		return nil, err
	}
	return Wrap(e), nil
}

// TestMain also serves as a detector process for the kill -9 test: with
// FIREBREAK_SPLIT_HELPER set it detects until killed.
func TestMain(m *testing.M) {
	if os.Getenv("FIREBREAK_SPLIT_HELPER") == "1" {
		helperDetector()
		return
	}
	os.Exit(m.Run())
}

func helperDetector() {
	ctx := context.Background()
	st, err := postgres.OpenWith(ctx, os.Getenv("FB_DB"), store.Options{SecretKey: []byte("test-key-0123456789")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	parts, _ := strconv.Atoi(os.Getenv("FB_PARTITIONS"))
	b, err := bus.Open(ctx, os.Getenv("FB_NATS"), bus.Options{Stream: os.Getenv("FB_STREAM"), Subject: os.Getenv("FB_SUBJECT"), Partitions: parts, Replicas: 3})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	space, _ := strconv.ParseInt(os.Getenv("FB_SPACE"), 10, 64)
	now := splitNow
	if v := os.Getenv("FB_NOW"); v != "" {
		now, _ = time.Parse(time.RFC3339, v)
	}
	margin, _ := time.ParseDuration(os.Getenv("FB_MARGIN"))
	base := Options{Store: st, Metrics: metrics.New(), Now: func() time.Time { return now }, Queue: 1 << 14}
	if f := os.Getenv("FB_NOTIFY"); f != "" {
		base.Notify = fileNotifier(f)
	}
	_ = RunPartitions(ctx, PartitionOptions{Base: base, Bus: b, DatabaseURL: os.Getenv("FB_DB"), NewDetector: splitDetector, Every: 100 * time.Millisecond, LockSpace: space,
		FollowMargin: margin, NoCheckpoints: os.Getenv("FB_NOCKPT") == "1"})
}

// fileNotifier appends "created <id>" or "updated <id>" for every
// notification to a file (a detector process the test kills).
type fileNotifier string

func (f fileNotifier) NotifyIncident(_ context.Context, inc *store.Incident, created bool) {
	fh, err := os.OpenFile(string(f), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer fh.Close()
	kind := "updated"
	if created {
		kind = "created"
	}
	fmt.Fprintf(fh, "%s %s\n", kind, inc.ID)
}

type incKey struct {
	ID, Rule    string
	First, Last time.Time
	Count       int
}

// TestSplitDetectorsMatchOneProcess: ingest commits to PostgreSQL and
// publishes to JetStream; two detectors own the tenant partitions; one is
// stopped mid-stream and the other takes its partitions over. The stored
// incidents equal those of one engine replaying the same events.
func TestSplitDetectorsMatchOneProcess(t *testing.T) {
	st, dbURL := freshPostgres(t)
	b := freshBus(t, 4)
	newDet := splitDetector
	clock := func() time.Time { return splitNow }
	tenants := []string{"alpha-co", "bravo-co", "charlie-co", "delta-co", "echo-co", "foxtrot-co"}
	batches := attack(t, tenants, 12)
	ctx := context.Background()
	space := 0x5e170000 + time.Now().UnixNano()%0xffff
	base := Options{Store: st, Metrics: metrics.New(), Now: clock, Queue: 1 << 14}
	detector := func() (context.CancelFunc, chan struct{}) {
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			if err := RunPartitions(dctx, PartitionOptions{Base: base, Bus: b, DatabaseURL: dbURL, NewDetector: newDet, Every: 100 * time.Millisecond, LockSpace: space}); err != nil {
				t.Error(err)
			}
			close(done)
		}()
		return cancel, done
	}
	stopA, doneA := detector()
	stopB, doneB := detector()
	defer func() { stopB(); <-doneB }()
	in := New(Options{Store: st, Metrics: metrics.New(), Now: clock, Publish: b.Publish})
	var all []store.EventRecord
	for i, recs := range batches {
		if err := in.Commit(ctx, recs); err != nil {
			t.Fatal(err)
		}
		all = append(all, recs...)
		if i == len(batches)/2 {
			stopA() // a detector goes away mid-stream: the other takes its partitions
			<-doneA
		}
	}
	// One process: one engine over every event in time order.
	ref, _ := newDet()
	slices.SortStableFunc(all, func(a, b store.EventRecord) int { return a.Event.Timestamp.Compare(b.Event.Timestamp) })
	for i := range all {
		ref.Process(&all[i].Event)
	}
	var want []incKey
	for _, inc := range EngineOf(ref).Incidents() {
		want = append(want, incKey{inc.ID, inc.Rule, inc.First.UTC(), inc.Last.UTC(), int(inc.Count)})
	}
	if len(want) < len(tenants) {
		t.Fatalf("the workload raised %d incidents, want at least one per tenant", len(want))
	}
	sortKeys := func(ks []incKey) { slices.SortFunc(ks, func(a, b incKey) int { return strings.Compare(a.ID, b.ID) }) }
	sortKeys(want)
	var last string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		incs, err := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		var got []incKey
		for _, inc := range incs {
			got = append(got, incKey{inc.ID, inc.Rule, inc.First.UTC(), inc.Last.UTC(), inc.Count})
		}
		sortKeys(got)
		if last = cmp.Diff(want, got); last == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored incidents never matched one process's (-one process +split):\n%s", last)
		}
	}
}

// TestSplitFaults runs the split deployment on a three-node JetStream
// cluster (embedded, loopback) and the local PostgreSQL: one detector is a
// separate process killed with SIGKILL mid-stream, then a NATS node is
// restarted. The stored incidents equal one engine's replay of every stored
// event, and every acknowledged event is stored.
func TestSplitFaults(t *testing.T) {
	st, dbURL := freshPostgres(t)
	cluster := bustest.Start(t)
	id := strings.ToLower(rand.Text()[:10])
	stream, subject, parts := "FBFAULT_"+id, "fbfault."+id, 4
	ctx := context.Background()
	b, err := bus.Open(ctx, cluster.URL(), bus.Options{Stream: stream, Subject: subject, Partitions: parts, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	space := 0x5e180000 + time.Now().UnixNano()%0xffff
	clock := func() time.Time { return splitNow }

	// Detector A: its own process.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "FIREBREAK_SPLIT_HELPER=1", "FB_DB="+dbURL, "FB_NATS="+cluster.URL(), "FB_STREAM="+stream, "FB_SUBJECT="+subject,
		"FB_PARTITIONS="+strconv.Itoa(parts), "FB_SPACE="+strconv.FormatInt(space, 10))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	// Detector B: in this process.
	bm := metrics.New()
	dctx, stopB := context.WithCancel(ctx)
	doneB := make(chan struct{})
	go func() {
		base := Options{Store: st, Metrics: bm, Now: clock, Queue: 1 << 14}
		if err := RunPartitions(dctx, PartitionOptions{Base: base, Bus: b, DatabaseURL: dbURL, NewDetector: splitDetector, Every: 100 * time.Millisecond, LockSpace: space}); err != nil {
			t.Error(err)
		}
		close(doneB)
	}()
	defer func() { stopB(); <-doneB }()
	// Both detectors hold partitions before the stream starts.
	waitPartitionsShared(ctx, t, dbURL, space, parts, bm)

	tenants := []string{"alpha-co", "bravo-co", "charlie-co", "delta-co", "echo-co", "foxtrot-co"}
	batches := attack(t, tenants, 12)
	in := New(Options{Store: st, Metrics: metrics.New(), Now: clock, Publish: b.Publish})
	acked := 0
	for i, recs := range batches {
		if err := in.Commit(ctx, recs); err != nil {
			t.Fatalf("batch %d not acknowledged: %v", i, err)
		}
		acked += len(recs)
		switch i {
		case len(batches) / 3:
			// Detector A freezes, so its partitions' events wait in the
			// stream (and in PostgreSQL), then is killed: the takeover
			// replays those events and must skip their redelivery.
			cmd.Process.Signal(syscall.SIGSTOP)
		case len(batches)/3 + 3:
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			killed = true
		case 2 * len(batches) / 3:
			cluster.Restart(1) // a NATS node goes down and comes back
		}
	}
	// One process: one engine over every stored event in time order.
	stored, err := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != acked {
		t.Fatalf("%d events stored, %d acknowledged", len(stored), acked)
	}
	slices.Reverse(stored)
	ref, _ := splitDetector()
	for i := range stored {
		ref.Process(&stored[i].Event)
	}
	var want []incKey
	for _, inc := range EngineOf(ref).Incidents() {
		want = append(want, incKey{inc.ID, inc.Rule, inc.First.UTC(), inc.Last.UTC(), int(inc.Count)})
	}
	sortKeys := func(ks []incKey) { slices.SortFunc(ks, func(a, b incKey) int { return strings.Compare(a.ID, b.ID) }) }
	sortKeys(want)
	var last string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		incs, err := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		var got []incKey
		for _, inc := range incs {
			got = append(got, incKey{inc.ID, inc.Rule, inc.First.UTC(), inc.Last.UTC(), inc.Count})
		}
		sortKeys(got)
		if last = cmp.Diff(want, got); last == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored incidents never matched one process's (-one process +split):\n%s", last)
		}
	}
	if v := gaugeValue(t, bm.PartitionsOwned); v != float64(parts) {
		t.Errorf("the surviving detector owns %v partitions, want all %d", v, parts)
	}
	for p := range parts {
		var out dto.Metric
		if err := bm.PartitionOwned.WithLabelValues(strconv.Itoa(p)).Write(&out); err != nil || out.GetGauge().GetValue() != 1 {
			t.Errorf("firebreak_detect_partition_owned{partition=%q} = %v, want 1", strconv.Itoa(p), out.GetGauge().GetValue())
		}
	}
}

// gaugeValue reads a gauge's current value.
func gaugeValue(t testing.TB, g interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var out dto.Metric
	if err := g.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetGauge().GetValue()
}

// waitPartitionsShared waits until two detectors are members of the lease
// space and hold every partition between them, this process (bm) not all.
func waitPartitionsShared(ctx context.Context, t *testing.T, dbURL string, space int64, parts int, bm *metrics.Metrics) {
	t.Helper()
	l, err := lease.OpenIn(ctx, dbURL, space)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		m, _ := l.Members(ctx)
		held, _ := l.HeldAmong(ctx, l.PartitionKey(0), parts)
		if m == 2 && held == parts && gaugeValue(t, bm.PartitionsOwned) < float64(parts) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("detectors never shared the partitions: members %d held %d", m, held)
		}
	}
}
