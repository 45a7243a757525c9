package server

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// TestSyslogListener sends RFC 3164 and RFC 5424 sshd messages over UDP and
// TCP (newline and octet-counting framing) and waits for them in the store.
func TestSyslogListener(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Ingest.Syslog.UDP, cfg.Ingest.Syslog.TCP, cfg.Ingest.Syslog.Tenant = "127.0.0.1:0", "127.0.0.1:0", "alpha-co"
	srv, err := newServer(Options{Config: cfg, Store: st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, srv, ln) }()
	for i := 0; srv.node.ListenAddr("syslog-tcp") == "" || srv.node.ListenAddr("syslog-udp") == ""; i++ {
		if i > 200 {
			t.Fatal("syslog listeners did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	msg3164 := func(user string) string {
		return fmt.Sprintf("<38>Nov 26 06:30:11 srv01 sshd[4200]: Failed password for %s from 198.51.100.7 port 50022 ssh2", user)
	}
	msg5424 := func(user string) string {
		return fmt.Sprintf("<38>1 2026-11-26T06:30:11Z srv01 sshd 4200 - - Failed password for %s from 198.51.100.7 port 50022 ssh2", user)
	}
	u, err := net.Dial("udp", srv.node.ListenAddr("syslog-udp"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(u, msg3164("udp3164"))
	fmt.Fprint(u, msg5424("udp5424"))
	u.Close()
	c, err := net.Dial("tcp", srv.node.ListenAddr("syslog-tcp"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, msg3164("tcpnl")+"\n")
	m := msg5424("tcpoctet")
	fmt.Fprintf(c, "%d %s", len(m), m)
	c.Close()
	want := []string{"udp3164", "udp5424", "tcpnl", "tcpoctet"}
	deadline := time.Now().Add(10 * time.Second)
	for _, user := range want {
		for {
			n, err := st.CountEvents(ctx, store.TenantScope("alpha-co"), store.EventQuery{User: user})
			if err != nil {
				t.Fatal(err)
			}
			if n == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("syslog event for %s not stored", user)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestSlowClientCutOff checks a client that never finishes its request is
// disconnected by the server's timeouts instead of holding a connection.
func TestSlowClientCutOff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.ReadHeaderTimeout = 300 * time.Millisecond
	cfg.HTTP.ReadTimeout = 600 * time.Millisecond
	srv, err := newServer(Options{Config: cfg, Store: st}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, srv, ln) }()
	for _, partial := range []string{
		"GET /healthz HTTP/1.1\r\nHost: x\r\n", // headers never finished
		"POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fbk_x\r\nContent-Length: 100000\r\n\r\nsome", // body never finished
	} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		fmt.Fprint(c, partial)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Errorf("%q: connection still open after 5s", partial[:20])
				}
				break
			}
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("%q: cut off after %s", partial[:20], d)
		}
		c.Close()
	}
	cancel()
	<-done
}
