package intake

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/timeline"
)

const (
	syslogMaxMsg     = 64 << 10
	syslogBatch      = 2000
	syslogFlushEvery = 200 * time.Millisecond
)

// startSyslog starts the configured syslog listeners (RFC 5424 and 3164;
// UDP; TCP and TLS with octet-counting or newline framing) on g.
func (in *Intake) startSyslog(ctx context.Context, g *errgroup.Group, tlsCfg *tls.Config) error {
	c := in.cfg.Ingest.Syslog
	if c.UDP == "" && c.TCP == "" && c.TLS == "" {
		return nil
	}
	b := newSyslogBatcher(in)
	g.Go(func() error { b.run(ctx); return nil })
	if c.UDP != "" {
		pc, err := net.ListenPacket("udp", c.UDP)
		if err != nil {
			return fmt.Errorf("syslog udp %s: %w", c.UDP, err)
		}
		in.setListenAddr("syslog-udp", pc.LocalAddr())
		g.Go(func() error {
			go func() { <-ctx.Done(); _ = pc.Close() }()
			in.serveSyslogUDP(ctx, pc, b)
			return nil
		})
	}
	serveTCP := func(ln net.Listener, transport string) {
		in.setListenAddr("syslog-"+transport, ln.Addr())
		g.Go(func() error {
			go func() { <-ctx.Done(); _ = ln.Close() }()
			in.serveSyslogTCP(ctx, ln, b, transport)
			return nil
		})
	}
	if c.TCP != "" {
		ln, err := net.Listen("tcp", c.TCP)
		if err != nil {
			return fmt.Errorf("syslog tcp %s: %w", c.TCP, err)
		}
		serveTCP(ln, "tcp")
	}
	if c.TLS != "" {
		if tlsCfg == nil {
			return errors.New("syslog tls: needs a TLS certificate (tls.disable is set)")
		}
		ln, err := tls.Listen("tcp", c.TLS, tlsCfg)
		if err != nil {
			return fmt.Errorf("syslog tls %s: %w", c.TLS, err)
		}
		serveTCP(ln, "tls")
	}
	return nil
}

// setListenAddr records where a listener is bound (ports chosen by the OS).
func (in *Intake) setListenAddr(name string, a net.Addr) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.addrs == nil {
		in.addrs = map[string]string{}
	}
	in.addrs[name] = a.String()
}

// ListenAddr reports the bound address of a listener: syslog-udp,
// syslog-tcp or syslog-tls ("" when not listening).
func (in *Intake) ListenAddr(name string) string {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.addrs[name]
}

func (in *Intake) syslogOptions() ingest.Options {
	return ingest.Options{Tenant: in.cfg.Ingest.Syslog.Tenant, TenantMap: in.tenantMap(), Year: in.cfg.Ingest.Year, Now: in.now}
}

// syslogParser is one stream's parser (a TCP connection, a UDP
// listener): it keeps the stream's state across messages — which hosts'
// sshd writes its own "Failed" lines, so that the pam_unix line of the
// same attempt is not counted a second time, as a file of the same lines
// is read. A parser per message counted both (a split deployment's
// incidents then had higher counts than `firebreak detect` of the same
// log). It is made again when the tenant map changes (estate reload).
type syslogParser struct {
	in *Intake
	p  *ingest.SyslogParser
	tm *ingest.TenantMap
}

func (sp *syslogParser) parse(msg []byte, ev *event.Event) bool {
	o := sp.in.syslogOptions()
	if sp.p == nil || o.TenantMap != sp.tm {
		sp.p, sp.tm = ingest.NewSyslogParser(o), o.TenantMap
	}
	return sp.p.Parse(msg, ev)
}

func (in *Intake) serveSyslogUDP(ctx context.Context, pc net.PacketConn, b *syslogBatcher) {
	buf := make([]byte, syslogMaxMsg)
	sp := &syslogParser{in: in}
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		in.syslogMessage(sp, buf[:n], "udp", "syslog:"+peerHost(addr), b)
	}
}

// connLimiter caps open connections per peer address and in total.
type connLimiter struct {
	mu             sync.Mutex
	perPeer, total int
	open           int
	byPeer         map[string]int
}

// acquire reserves a slot for peer, false when a cap is reached.
func (l *connLimiter) acquire(peer string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open >= l.total || l.byPeer[peer] >= l.perPeer {
		return false
	}
	l.open++
	l.byPeer[peer]++
	return true
}

func (l *connLimiter) release(peer string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byPeer[peer]--; l.byPeer[peer] <= 0 {
		delete(l.byPeer, peer)
	}
}

func peerHost(a net.Addr) string {
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// serveSyslogTCP accepts connections up to ingest.syslog.max_conns_per_peer
// per peer address and max_conns in total (the rest are closed at once and
// counted as connection_refused) and closes a connection that sends no
// complete frame within idle_timeout.
func (in *Intake) serveSyslogTCP(ctx context.Context, ln net.Listener, b *syslogBatcher, transport string) {
	c := in.cfg.Ingest.Syslog
	lim := &connLimiter{perPeer: c.MaxConnsPerPeer, total: c.MaxConns, byPeer: map[string]int{}}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		peer := peerHost(conn.RemoteAddr())
		if !lim.acquire(peer) {
			_ = conn.Close()
			in.metrics.SyslogMessages.WithLabelValues(transport, "connection_refused").Inc()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer lim.release(peer)
			defer func() { _ = conn.Close() }()
			stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
			defer stop()
			in.syslogStream(conn, transport, "syslog:"+peer, b)
		}()
	}
}

// syslogStream reads one TCP stream: RFC 6587 octet counting ("LEN MSG")
// when a frame starts with a digit, else newline-delimited frames.
func (in *Intake) syslogStream(conn net.Conn, transport, source string, b *syslogBatcher) {
	r := bufio.NewReaderSize(conn, 64<<10)
	sp := &syslogParser{in: in}
	for {
		_ = conn.SetReadDeadline(time.Now().Add(in.cfg.Ingest.Syslog.IdleTimeout))
		msg, err := readSyslogFrame(r)
		if len(msg) > 0 {
			in.syslogMessage(sp, msg, transport, source, b)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				in.metrics.SyslogMessages.WithLabelValues(transport, "framing_error").Inc()
			}
			return
		}
	}
}

var errFrame = errors.New("bad syslog frame")

// readSyslogFrame returns the next message from r.
func readSyslogFrame(r *bufio.Reader) ([]byte, error) {
	for {
		c, err := r.Peek(1)
		if err != nil {
			return nil, err
		}
		if c[0] == '\n' || c[0] == '\r' || c[0] == 0 {
			_, _ = r.ReadByte()
			continue
		}
		break
	}
	c, _ := r.Peek(1)
	if c[0] >= '1' && c[0] <= '9' {
		// Octet counting: digits, a space, then exactly LEN bytes.
		var n int
		for i := 0; ; i++ {
			d, err := r.ReadByte()
			if err != nil {
				return nil, err
			}
			if d == ' ' {
				break
			}
			if d < '0' || d > '9' || i > 6 {
				return nil, errFrame
			}
			n = n*10 + int(d-'0')
		}
		if n <= 0 || n > syslogMaxMsg {
			return nil, errFrame
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(r, msg); err != nil {
			return nil, err
		}
		return bytes.TrimRight(msg, "\r\n"), nil
	}
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// Over-long line: skip to its end.
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		return nil, err
	}
	out := bytes.TrimRight(line, "\r\n")
	return append([]byte(nil), out...), err
}

// syslogMessage parses one message from source (the sender's address, the
// watermark it moves) into b.
func (in *Intake) syslogMessage(sp *syslogParser, msg []byte, transport, source string, b *syslogBatcher) {
	var ev event.Event
	if !sp.parse(msg, &ev) {
		in.metrics.SyslogMessages.WithLabelValues(transport, "ignored").Inc()
		return
	}
	if ev.Tenant != "" {
		if known := in.knownTenants(context.Background()); known != nil && !known[ev.Tenant] {
			in.metrics.SyslogMessages.WithLabelValues(transport, "unknown_tenant").Inc()
			return
		}
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = in.now().UTC()
	}
	in.metrics.SyslogMessages.WithLabelValues(transport, "parsed").Inc()
	b.add(store.EventRecord{Event: timeline.Copy(&ev), Raw: string(bytes.ToValidUTF8(msg, nil))}, source, transport != "udp")
}

// syslogBatcher groups syslog events into store batches (syslog has no
// acknowledgement, so batching only trades latency for throughput).
//
// A batch the store does not take (PostgreSQL down) is kept and committed
// again, backing off, until the store is back: at most syslogMaxBuffered
// events wait in memory. Past that a TCP or TLS connection's reader waits
// for room (it stops reading, so the sender's TCP window closes: back
// pressure, nothing lost) and a UDP datagram is dropped and counted
// (firebreak_syslog_messages_total{result="dropped"}), as are the events
// still waiting when the process stops.
type syslogBatcher struct {
	in       *Intake
	mu       sync.Mutex
	room     *sync.Cond // signalled when events leave the buffer (or it closes)
	recs     []store.EventRecord
	srcs     []string // parallel to recs: each event's sender
	inflight int      // events taken by a flush that is committing them
	closed   bool
	retry    time.Time     // no commit before (after a failure)
	backoff  time.Duration // the next failure's wait
	kick     chan struct{}
}

// syslogMaxBuffered bounds the syslog events waiting in memory for the
// store (a variable for tests).
var syslogMaxBuffered = 50_000

func newSyslogBatcher(in *Intake) *syslogBatcher {
	b := &syslogBatcher{in: in, kick: make(chan struct{}, 1)}
	b.room = sync.NewCond(&b.mu)
	return b
}

// add buffers r; with the buffer full it waits for room when wait is set
// (a stream: its reader pauses) and otherwise drops r, counted.
func (b *syslogBatcher) add(r store.EventRecord, source string, wait bool) {
	b.mu.Lock()
	for wait && !b.closed && len(b.recs)+b.inflight >= syslogMaxBuffered {
		b.room.Wait()
	}
	if b.closed || len(b.recs)+b.inflight >= syslogMaxBuffered {
		b.mu.Unlock()
		b.in.metrics.SyslogMessages.WithLabelValues("all", "dropped").Inc()
		return
	}
	b.recs = append(b.recs, r)
	b.srcs = append(b.srcs, source)
	full := len(b.recs) >= syslogBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// flush commits the buffered events; on failure they go back to the front
// of the buffer for the next attempt. final drops (counted) what the
// store does not take.
func (b *syslogBatcher) flush(ctx context.Context, final bool) {
	b.mu.Lock()
	if !final && time.Now().Before(b.retry) {
		b.mu.Unlock()
		return
	}
	recs, srcs := b.recs, b.srcs
	b.recs, b.srcs = nil, nil
	b.inflight = len(recs)
	b.mu.Unlock()
	if len(recs) == 0 {
		return
	}
	_, err := b.in.pipe.CommitFrom(ctx, recs, func(i int) string { return srcs[i] })
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight = 0
	defer b.room.Broadcast()
	if err == nil {
		b.retry, b.backoff = time.Time{}, 0
		return
	}
	b.in.metrics.SyslogMessages.WithLabelValues("all", "store_error").Add(float64(len(recs)))
	if final {
		b.in.log.Error("storing syslog events at shutdown; they are lost", "count", len(recs), "err", err)
		b.in.metrics.SyslogMessages.WithLabelValues("all", "dropped").Add(float64(len(recs)))
		return
	}
	b.backoff = min(max(2*b.backoff, 250*time.Millisecond), 5*time.Second)
	b.retry = time.Now().Add(b.backoff)
	b.in.log.Warn("storing syslog events; kept in memory and retried", "count", len(recs), "buffered", len(recs)+len(b.recs), "retry_in", b.backoff, "err", err)
	for i := range recs {
		recs[i].ID = 0
	}
	b.recs = append(recs, b.recs...)
	b.srcs = append(srcs, b.srcs...)
}

// close ends the buffer: waiting readers drop their event (counted).
func (b *syslogBatcher) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.room.Broadcast()
}

func (b *syslogBatcher) run(ctx context.Context) {
	t := time.NewTicker(syslogFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.close()
			b.flush(context.WithoutCancel(ctx), true)
			return
		case <-t.C:
			b.flush(ctx, false)
		case <-b.kick:
			b.flush(ctx, false)
		}
	}
}
