package pipeline

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

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
func freshPostgres(t *testing.T) (store.Store, string) {
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
	rules, err := detect.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	newDet := func() (Detector, error) {
		e, err := detect.NewEngine(rules, detect.Options{})
		if err != nil {
			return nil, err
		}
		return Wrap(e), nil
	}
	now := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
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
