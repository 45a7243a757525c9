package roles

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus/bustest"
)

// cutProxy forwards loopback TCP connections to PostgreSQL; Cut closes
// every open one and refuses new ones until Restore (the database gone
// for a while, as the processes see it, without stopping the shared
// server).
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		c.Close()
		s.Close()
		return
	}
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := func() {
		c.Close()
		s.Close()
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, s)
		p.mu.Unlock()
	}
	go func() { _, _ = io.Copy(s, c); done() }()
	_, _ = io.Copy(c, s)
	done()
}

// Cut closes every forwarded connection and refuses new ones.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore forwards connections again.
func (p *cutProxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// via is dbURL with its host replaced by the proxy's address.
func (p *cutProxy) via(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = p.ln.Addr().String()
	return u.String()
}

// TestSplitRolesSurvivePostgresCut: a split deployment (ingest over syslog
// TCP, two detectors) loses PostgreSQL for 10 s in the middle of a log —
// every connection of theirs cut and new ones refused, through a proxy on
// loopback. Syslog received meanwhile waits in memory, detectors lose and
// retake their partitions; after recovery every event sent is stored once
// and the incidents equal one process's over the same log.
func TestSplitRolesSurvivePostgresCut(t *testing.T) {
	ctx := context.Background()
	dbURL, id := freshDB(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startCutProxy(t, u.Host)
	viaURL := proxy.via(t, dbURL)
	cluster := bustest.Start(t)
	direct := openPG(t, dbURL)
	st := openPG(t, viaURL)
	eng, est := exampleEngines(t)
	log := generatedLog(t, est, 6000)
	// One attacker early in the first third (before the cut) and again
	// late in the last third (after it): one incident that opens before
	// the cut and recurs after it.
	const attacker = "203.0.113.250"
	log = withBurst(t, log, attacker, "02:00")
	log = withBurst(t, log, attacker, "21:00")
	want, evs, _ := oneProcess(t, eng, est, log)
	recurs := false
	for _, w := range want {
		if w.First.Hour() == 2 && w.Last.Hour() == 21 {
			recurs = true
		}
	}
	if !recurs {
		t.Fatalf("no incident of the log opens at 02:00 and recurs at 21:00: %v", want)
	}
	space := 0x5e1c0000 + time.Now().UnixNano()%0xfff0
	cfg := func(roles ...string) config.Config {
		c := config.Default()
		c.Roles, c.Database, c.DataDir = roles, viaURL, t.TempDir()
		c.Bus = config.BusConfig{URL: cluster.URL(), Stream: "FBCUT_" + strings.ToUpper(id), Subject: "fbcut." + id, Partitions: 2, Replicas: 3}
		c.Estate.Paths = []string{exampleEstate}
		c.Ingest.Year = 2026
		if len(roles) == 1 && roles[0] == config.RoleIngest {
			c.Ingest.Syslog.TCP = "127.0.0.1:0"
		}
		return c
	}
	in, stopIn := runNode(t, cfg(config.RoleIngest), st, eng, space)
	d1, stopD1 := runNode(t, cfg(config.RoleDetect), st, eng, space)
	d2, stopD2 := runNode(t, cfg(config.RoleDetect), st, eng, space)
	owned := func() float64 {
		a, _ := gaugeValue(t, d1, "firebreak_detect_partition_owned")
		b, _ := gaugeValue(t, d2, "firebreak_detect_partition_owned")
		return a + b
	}
	waitFor(t, 60*time.Second, "the detectors to own every partition", func() bool { return owned() == 4 })
	var addr string
	waitFor(t, 30*time.Second, "the syslog listener", func() bool { addr = in.ListenAddr("syslog-tcp"); return addr != "" })
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lines := strings.SplitAfter(string(log), "\n")
	third := len(lines) / 3
	count := func() int64 {
		n, err := direct.CountEvents(ctx, store.AllTenants(), store.EventQuery{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := c.Write([]byte(strings.Join(lines[:third], ""))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the first third stored", func() bool { return count() > 0 })
	proxy.Cut()
	if _, err := c.Write([]byte(strings.Join(lines[third:2*third], ""))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	proxy.Restore()
	if _, err := c.Write([]byte(strings.Join(lines[2*third:], ""))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "every event stored", func() bool { return count() >= int64(len(evs)) })
	detected := func() float64 {
		return counterValue(t, d1.Metrics.EventsDetected) + counterValue(t, d2.Metrics.EventsDetected)
	}
	waitFor(t, 90*time.Second, "the detectors to own every partition again and read it to its end", func() bool {
		lag1, _ := gaugeValue(t, d1, "firebreak_detect_consumer_lag")
		lag2, _ := gaugeValue(t, d2, "firebreak_detect_consumer_lag")
		return owned() == 4 && lag1+lag2 == 0 && detected() >= float64(len(evs))
	})
	time.Sleep(time.Second)
	if n := count(); n != int64(len(evs)) {
		t.Errorf("stored %d events, want each of %d once", n, len(evs))
	}
	stopIn()
	stopD1()
	stopD2()
	if d := cmp.Diff(normalize(want), storedIncidents(t, direct)); d != "" {
		t.Errorf("incidents after the cut differ from one process's (-one process +split):\n%s", d)
	}
}

// withBurst inserts 30 sshd failures from src, a second apart from hh:mm
// on the log's day, against the host of the log's first failure, where
// they fall in time order.
func withBurst(t *testing.T, log []byte, src, hhmm string) []byte {
	t.Helper()
	lines := strings.SplitAfter(string(log), "\n")
	host := ""
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 5 && strings.Contains(l, "Failed password") {
			host = f[3]
			break
		}
	}
	if host == "" {
		t.Fatal("the log has no failed password line")
	}
	var burst []string
	for i := range 30 {
		burst = append(burst, fmt.Sprintf("Nov 26 %s:%02d %s sshd[4242]: Failed password for invalid user admin%d from %s port 50022 ssh2\n", hhmm, i, host, i%5, src))
	}
	at := len(lines)
	for i, l := range lines {
		if len(l) >= 15 && l[7:15] > hhmm+":00" {
			at = i
			break
		}
	}
	return []byte(strings.Join(slices.Concat(lines[:at], burst, lines[at:]), ""))
}
