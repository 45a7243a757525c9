package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/notify"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

// receiver is a webhook target that records every delivery it gets, by
// idempotency key (X-Firebreak-Delivery) and by alert.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	keys map[string]int      // delivery key → times received
	byID map[string][]string // alert id → delivery keys received
	fail atomic.Int32        // answer 503 to this many requests first
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{keys: map[string]int{}, byID: map[string][]string{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.fail.Add(-1) >= 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var body notify.WebhookBody
		b, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		key := req.Header.Get(notify.HeaderDelivery)
		if key == "" || key != body.Delivery {
			t.Errorf("delivery key header %q, body %q", key, body.Delivery)
		}
		r.mu.Lock()
		r.keys[key]++
		r.byID[body.Alert.ID] = append(r.byID[body.Alert.ID], key)
		r.mu.Unlock()
	}))
	r.fail.Store(0)
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) snapshot() (map[string]int, map[string][]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := map[string]int{}
	for k, v := range r.keys {
		keys[k] = v
	}
	byID := map[string][]string{}
	for k, v := range r.byID {
		byID[k] = append([]string(nil), v...)
	}
	return keys, byID
}

func addHook(t *testing.T, st store.Store, url string) {
	t.Helper()
	cfg, _ := json.Marshal(map[string]any{"url": url, "secret": "s3cret-s3cret-s3cret"})
	if err := st.PutNotifyTarget(context.Background(), store.AllTenants(), &store.NotifyTarget{ID: "nt_hook", Name: "hook", Kind: store.TargetWebhook, Enabled: true, Config: cfg}); err != nil {
		t.Fatal(err)
	}
}

type testClock struct{ t atomic.Pointer[time.Time] }

func (c *testClock) now() time.Time       { return *c.t.Load() }
func (c *testClock) set(t time.Time)      { c.t.Store(&t) }
func (c *testClock) add(d time.Duration)  { c.set(c.now().Add(d)) }
func newTestClock(t time.Time) *testClock { c := &testClock{}; c.set(t); return c }
func loopback() []netip.Prefix            { return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} }
func incident(i int) *store.Incident {
	return &store.Incident{ID: fmt.Sprintf("inc-%03d", i), Tenant: "alpha", Tenants: []string{"alpha"}, Rule: "r", Title: "brute force", Severity: "high", Status: store.StatusOpen, Count: 5, Level: 1}
}

// An alert is sent once however often it is raised (a restart replaying
// it, a second detector), a failed send is retried from the outbox until
// the target takes it, and a new level of the same incident is a new
// notification.
func TestNotifierOutboxSQLite(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rcv := newReceiver(t)
	addHook(t, st, rcv.srv.URL)
	clk := newTestClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	n := NewNotifier(NotifierOptions{Store: st, Now: clk.now, AllowNetworks: loopback(), Owner: "one"})

	rcv.fail.Store(1) // the first attempt is refused
	n.NotifyIncident(ctx, incident(1), true)
	n.Wait(10 * time.Second)
	n.NotifyIncident(ctx, incident(1), false) // raised again (replay, another replica): not a new row
	n.Wait(10 * time.Second)
	if keys, _ := rcv.snapshot(); len(keys) != 0 {
		t.Fatalf("delivered although the target refused: %v", keys)
	}
	rows, err := st.ListOutbox(ctx, store.AllTenants(), store.OutboxFilter{Failing: true})
	if err != nil || len(rows) != 1 || rows[0].Attempts != 1 || rows[0].LastError == "" {
		t.Fatalf("failed notification in the outbox: %+v %v", rows, err)
	}
	// Not before its retry time; then once.
	if sent, err := n.Flush(ctx); err != nil || sent != 0 {
		t.Fatalf("flush before the retry time: %d %v", sent, err)
	}
	clk.add(notifyRetry.Max)
	if sent, err := n.Flush(ctx); err != nil || sent != 1 {
		t.Fatalf("flush after the retry time: %d %v", sent, err)
	}
	esc := incident(1)
	esc.Level, esc.Count = 2, 9
	n.NotifyIncident(ctx, esc, false)
	n.Wait(10 * time.Second)
	if sent, err := n.Flush(ctx); err != nil || sent != 0 {
		t.Fatalf("flush with nothing due: %d %v", sent, err)
	}
	keys, byID := rcv.snapshot()
	if len(byID["inc-001"]) != 2 || len(keys) != 2 {
		t.Fatalf("deliveries: %v (want the opening alert and the escalation, once each)", byID)
	}
	for k, c := range keys {
		if c != 1 {
			t.Errorf("delivery %s received %d times", k, c)
		}
	}
	ts, _ := st.ListNotifyTargets(ctx, store.AllTenants())
	if len(ts) != 1 || ts[0].Sent != 2 || ts[0].Failed != 1 {
		t.Errorf("recorded deliveries: %+v", ts)
	}
}

// Two schedulers on one PostgreSQL, each raising every alert (as two
// detectors replaying the same incidents would) and each sending with
// its own loop: every notification reaches the target exactly once.
func TestNotifierTwoSchedulersPostgres(t *testing.T) {
	url := storetest.FreshPostgresSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	open := func() store.Store {
		st, err := postgres.OpenWith(ctx, url, store.Options{SecretKey: []byte("test-key-0123456789")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	a, b := open(), open()
	rcv := newReceiver(t)
	addHook(t, a, rcv.srv.URL)
	na := NewNotifier(NotifierOptions{Store: a, AllowNetworks: loopback(), Owner: "scheduler-a", Every: 10 * time.Millisecond})
	nb := NewNotifier(NotifierOptions{Store: b, AllowNetworks: loopback(), Owner: "scheduler-b", Every: 10 * time.Millisecond})
	rctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, n := range []*Notifier{na, nb} {
		wg.Add(1)
		go func() { defer wg.Done(); n.Run(rctx) }()
	}
	const alerts = 40
	var raise sync.WaitGroup
	for _, n := range []*Notifier{na, nb} {
		raise.Add(1)
		go func() {
			defer raise.Done()
			for i := range alerts {
				n.NotifyIncident(ctx, incident(i), true)
			}
		}()
	}
	raise.Wait()
	na.Wait(30 * time.Second)
	nb.Wait(30 * time.Second)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if rows, _ := a.ListOutbox(ctx, store.AllTenants(), store.OutboxFilter{Pending: true, Limit: 1000}); len(rows) == 0 {
			break
		}
	}
	stop()
	wg.Wait()
	keys, byID := rcv.snapshot()
	for i := range alerts {
		id := incident(i).ID
		if len(byID[id]) != 1 {
			t.Errorf("%s delivered %d times, want once", id, len(byID[id]))
		}
	}
	for k, c := range keys {
		if c != 1 {
			t.Errorf("delivery %s received %d times", k, c)
		}
	}
}

// noAck is a store whose process "dies" after sending: acknowledgements
// never reach the database.
type noAck struct{ store.Store }

func (noAck) AckOutbox(context.Context, string, string, int64, string) error {
	return errors.New("process killed before the acknowledgement")
}

// A scheduler that dies between sending and acknowledging: within the
// lease nobody sends again; after it, another scheduler sends once more
// with the same idempotency key, and never again.
func TestNotifierCrashAfterClaimPostgres(t *testing.T) {
	url := storetest.FreshPostgresSchema(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := postgres.OpenWith(ctx, url, store.Options{SecretKey: []byte("test-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rcv := newReceiver(t)
	addHook(t, st, rcv.srv.URL)
	clk := newTestClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	const lease = time.Minute
	dead := NewNotifier(NotifierOptions{Store: noAck{st}, Now: clk.now, AllowNetworks: loopback(), Owner: "dies", Lease: lease})
	dead.NotifyIncident(ctx, incident(7), true)
	dead.Wait(10 * time.Second)
	keys, _ := rcv.snapshot()
	if len(keys) != 1 {
		t.Fatalf("first send: %v", keys)
	}
	other := NewNotifier(NotifierOptions{Store: st, Now: clk.now, AllowNetworks: loopback(), Owner: "survivor", Lease: lease})
	clk.add(lease - time.Second)
	if sent, err := other.Flush(ctx); err != nil || sent != 0 {
		t.Fatalf("within the dead scheduler's lease: sent %d, %v", sent, err)
	}
	clk.add(time.Second)
	if sent, err := other.Flush(ctx); err != nil || sent != 1 {
		t.Fatalf("after the lease: sent %d, %v", sent, err)
	}
	clk.add(time.Hour)
	if sent, err := other.Flush(ctx); err != nil || sent != 0 {
		t.Fatalf("after the re-send was acknowledged: sent %d, %v", sent, err)
	}
	keys, byID := rcv.snapshot()
	if len(byID["inc-007"]) != 2 || len(keys) != 1 {
		t.Fatalf("deliveries %v: want the same key twice", byID)
	}
}

// A self_recovery judgement stored pending (notified at low) and later
// settled as an attack at the same rule level and count (high) is a new
// notification: the outbox key must tell the two apart.
func TestNotifierSettledSeverityIsNew(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rcv := newReceiver(t)
	addHook(t, st, rcv.srv.URL)
	n := NewNotifier(NotifierOptions{Store: st, Now: time.Now, AllowNetworks: loopback(), Owner: "one"})
	pending := incident(2)
	pending.Severity, pending.Level, pending.Count = "low", 3, 9
	n.NotifyIncident(ctx, pending, true)
	n.Wait(10 * time.Second)
	settled := *pending
	settled.Severity = "high"
	n.NotifyIncident(ctx, &settled, false)
	n.Wait(10 * time.Second)
	if _, byID := rcv.snapshot(); len(byID["inc-002"]) != 2 {
		t.Fatalf("deliveries: %v (want the pending alert and the settled one)", byID)
	}
}
