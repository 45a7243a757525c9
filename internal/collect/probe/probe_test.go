package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

var now = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

// listen serves each connection with fn on 127.0.0.1.
func listen(t *testing.T, fn func(net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				fn(c)
			}()
		}
	}()
	t.Cleanup(func() { close(done); ln.Close(); wg.Wait() })
	_ = done
	return ln.Addr().(*net.TCPAddr).Port
}

func port(t *testing.T, u string) int {
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://"))
	n, _ := strconv.Atoi(p)
	return n
}

func tlsCert(t *testing.T, notAfter time.Time) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "rmm.harbourview-it.example"},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: notAfter, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestProbe(t *testing.T) {
	expiry := now.Add(10 * 24 * time.Hour).Truncate(time.Second)
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Kaseya VSA")
	}))
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{tlsCert(t, expiry)}, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	httpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Microsoft-IIS/10.0")
	}))
	defer httpSrv.Close()

	ssh := listen(t, func(c net.Conn) {
		c.Write([]byte("SSH-2.0-OpenSSH_9.6p1 Ubuntu\r\n"))
		time.Sleep(50 * time.Millisecond)
	})
	vnc := listen(t, func(c net.Conn) { c.Write([]byte("RFB 003.008\n")); time.Sleep(50 * time.Millisecond) })
	garbage := listen(t, func(c net.Conn) { c.Write([]byte("\x00\xff\x13\x1b[31mgarbage\x07\xfe")) })
	echoGarbage := listen(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(time.Second))
		b := make([]byte, 64)
		if n, _ := c.Read(b); n > 0 {
			c.Write([]byte("?\x01\x02 not http\n"))
		}
	})
	slow := listen(t, func(c net.Conn) { time.Sleep(1500 * time.Millisecond) })
	silent := listen(t, func(c net.Conn) {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 64)
		c.Read(b) // read the probe, answer nothing, close
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	p := &Prober{ConnectTimeout: time.Second, ReadTimeout: 300 * time.Millisecond, Now: func() time.Time { return now }}
	type res struct {
		Open             bool
		Service, TLS     string
		Banner, Error    string
		Expires, Subject string
	}
	tests := []struct {
		name string
		port int
		want res
	}{
		{"tls", port(t, tlsSrv.URL), res{Open: true, Service: "https", TLS: "TLSv1.2", Banner: "Kaseya VSA", Expires: expiry.Format(time.RFC3339), Subject: "rmm.harbourview-it.example"}},
		{"http", port(t, httpSrv.URL), res{Open: true, Service: "http", Banner: "Microsoft-IIS/10.0"}},
		{"ssh", ssh, res{Open: true, Service: "ssh", Banner: "SSH-2.0-OpenSSH_9.6p1 Ubuntu"}},
		{"vnc", vnc, res{Open: true, Service: "vnc", Banner: "RFB 003.008"}},
		{"garbage", garbage, res{Open: true, Service: "unknown", Banner: "....[31mgarbage.."}},
		{"garbage-after-input", echoGarbage, res{Open: true, Service: "unknown", Banner: "?.. not http"}},
		{"closed", closed, res{Error: "connection refused (closed)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := p.Probe(context.Background(), Target{Object: "rmm", Tenant: "msp", Host: "127.0.0.1", Port: tt.port})
			got := res{Open: x.Open, Service: x.Service, TLS: x.TLSVersion, Banner: x.Banner, Error: x.Error, Subject: x.CertSubject}
			if x.CertExpires != nil {
				got.Expires = x.CertExpires.Format(time.RFC3339)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
			if x.Provenance == nil || !x.Provenance.CollectedAt.Equal(now) || x.Object != "rmm" || x.Port != tt.port {
				t.Errorf("exposure %+v", x)
			}
		})
	}
	// Slow and silent servers: open, nothing learnt, bounded time.
	for _, pt := range []int{slow, silent} {
		start := time.Now()
		x := p.Probe(context.Background(), Target{Host: "127.0.0.1", Port: pt})
		if !x.Open || x.Banner != "" || x.TLSVersion != "" {
			t.Errorf("port %d: %+v", pt, x)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("port %d took %v", pt, el)
		}
	}
}

func TestProbeAllBounded(t *testing.T) {
	var mu sync.Mutex
	cur, peak := 0, 0
	pt := listen(t, func(c net.Conn) {
		mu.Lock()
		cur++
		peak = max(peak, cur)
		mu.Unlock()
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		cur-- // before answering: the prober cannot finish before this
		mu.Unlock()
		c.Write([]byte("SSH-2.0-x\r\n"))
	})
	var ts []Target
	for i := range 24 {
		ts = append(ts, Target{Object: "a" + strconv.Itoa(i), Host: "127.0.0.1", Port: pt})
	}
	p := &Prober{Concurrency: 3, ReadTimeout: 500 * time.Millisecond}
	calls := 0
	got := p.ProbeAll(context.Background(), ts, func(d, n int) { calls++ })
	for i, x := range got {
		if x.Object != ts[i].Object || x.Service != "ssh" {
			t.Fatalf("%d: %+v", i, x)
		}
	}
	if peak > 3 || calls != 24 {
		t.Errorf("peak %d calls %d", peak, calls)
	}
}

func TestTargets(t *testing.T) {
	e := &estate.Estate{
		Tools: []estate.Tool{
			{ID: "rmm", Host: "https://rmm.harbourview-it.example", Ports: []int{443, 5721}},
			{ID: "remote-access", Host: "https://sc.harbourview-it.example:8040"},
			{ID: "vpn", Host: "vpn.harbourview-it.example:10443"},
			{ID: "psa", Host: "psa.example"}, // no ports: reported, not guessed
			{ID: "range", Host: "10.0.0.0/24", Ports: []int{22}},
			{ID: "wild", Host: "*.example", Ports: []int{22}},
			{ID: "cust-tool", Owner: "cedar-law", Host: "fw.cedar-law.example", Ports: []int{443, 443}},
		},
		Assets: []estate.Asset{
			{ID: "jump", Tenant: "msp", Hostname: "jump.harbourview-it.example", InternetPorts: []int{3389, 22}},
			{ID: "nohost", Tenant: "cedar-law", InternetPorts: []int{445}},
			{ID: "internal", Tenant: "cedar-law", Hostname: "dc01"},
		},
	}
	got, probs := Targets(e)
	var gs []string
	for _, x := range got {
		gs = append(gs, x.Object+"@"+x.Tenant+"="+x.String())
	}
	want := []string{
		"rmm@msp=rmm.harbourview-it.example:443", "rmm@msp=rmm.harbourview-it.example:5721",
		"remote-access@msp=sc.harbourview-it.example:8040", "vpn@msp=vpn.harbourview-it.example:10443",
		"cust-tool@cedar-law=fw.cedar-law.example:443",
		"jump@msp=jump.harbourview-it.example:3389", "jump@msp=jump.harbourview-it.example:22",
	}
	if diff := cmp.Diff(gs, want); diff != "" {
		t.Errorf("targets (-got +want):\n%s", diff)
	}
	if len(probs) != 4 || !strings.Contains(strings.Join(probs, "\n"), "not a single host") {
		t.Errorf("problems %q", probs)
	}
}

func FuzzSplitHost(f *testing.F) {
	for _, s := range []string{"https://a.example:8443/x", "a.example:22", "10.0.0.0/8", "[::1]:22", "http://[::1]", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, p, err := splitHost(s)
		if err == nil && (h == "" || strings.ContainsAny(h, "/* ") || p < 0) {
			t.Fatalf("%q → %q %d", s, h, p)
		}
	})
}
