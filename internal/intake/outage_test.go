package intake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// cutStore fails every event append while down is set (the database cut).
type cutStore struct {
	store.Store
	down    atomic.Bool
	refused atomic.Int64
}

func (c *cutStore) AppendEvents(ctx context.Context, b []store.EventRecord) error {
	if c.down.Load() {
		c.refused.Add(1)
		return errors.New("connection refused (test cut)")
	}
	return c.Store.AppendEvents(ctx, b)
}

func syslogCount(t *testing.T, m *metrics.Metrics, result string) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.SyslogMessages.WithLabelValues("all", result).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetCounter().GetValue()
}

// TestSyslogKeepsEventsThroughStoreOutage: syslog received while the store
// is down is kept in memory and committed once it is back (a TCP line was
// dropped with only a log line). Past the bound a TCP connection is read
// no further (back pressure: still nothing lost) and UDP datagrams are
// dropped, counted.
func TestSyslogKeepsEventsThroughStoreOutage(t *testing.T) {
	ctx := context.Background()
	base, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	st := &cutStore{Store: base}
	m := metrics.New()
	p := pipeline.New(pipeline.Options{Store: st, Metrics: m})
	cfg := config.Default()
	cfg.Ingest.Year = 2026
	cfg.Ingest.Syslog.TCP, cfg.Ingest.Syslog.UDP = "127.0.0.1:0", "127.0.0.1:0"
	in, err := New(Options{Config: cfg, Store: st, Pipeline: p, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer func(n int) { syslogMaxBuffered = n }(syslogMaxBuffered)
	syslogMaxBuffered = 20
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(rctx)
	if err := in.Start(gctx, g, nil); err != nil {
		t.Fatal(err)
	}
	line := func(i int) string {
		return fmt.Sprintf("Nov 26 10:%02d:%02d srv01 sshd[42]: Failed password for user%d from 198.51.100.%d port 50022 ssh2\n", i/60%60, i%60, i, i%200+1)
	}
	count := func() int64 { return storedCount(ctx, t, base) }
	wait := func(what string, cond func() bool) { t.Helper(); waitFor(t, what, cond) }

	// TCP: 100 lines (five times the bound) during the cut.
	st.down.Store(true)
	c, err := net.Dial("tcp", in.ListenAddr("syslog-tcp"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := c.Write([]byte(line(i))); err != nil {
			t.Fatal(err)
		}
	}
	wait("commits refused twice", func() bool { return st.refused.Load() >= 2 })
	st.down.Store(false)
	wait("every TCP line stored", func() bool { return count() >= 100 })
	c.Close()
	if n := count(); n != 100 {
		t.Errorf("stored %d of 100 TCP lines", n)
	}
	if d := syslogCount(t, m, "dropped"); d != 0 {
		t.Errorf("%v TCP lines dropped: a full buffer must pause the connection", d)
	}

	// UDP: 50 datagrams during the cut; 20 are kept, the rest counted.
	st.down.Store(true)
	u, err := net.Dial("udp", in.ListenAddr("syslog-udp"))
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for i := range 50 {
		if _, err := u.Write([]byte(line(100 + i))); err != nil {
			t.Fatal(err)
		}
	}
	wait("50 datagrams read", func() bool {
		return float64(count()-100)+syslogCount(t, m, "dropped") >= 30 && syslogCount(t, m, "dropped") >= 30
	})
	st.down.Store(false)
	wait("the kept datagrams stored", func() bool { return count() >= 120 })
	time.Sleep(300 * time.Millisecond)
	if n, d := count(), syslogCount(t, m, "dropped"); n != 120 || d != 30 {
		t.Errorf("UDP: stored %d, dropped %v; want 20 kept past the cut, 30 dropped and counted", n-100, d)
	}
	cancel()
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// storedCount is the number of events st holds, all tenants.
func storedCount(ctx context.Context, t *testing.T, st store.Store) int64 {
	t.Helper()
	n, err := st.CountEvents(ctx, store.AllTenants(), store.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond every 20 ms for up to 30 s, failing the test naming
// what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
