// Package probe checks the network exposure of hosts and ports listed in
// the estate, and only those: tools' host and ports, assets' hostname and
// internet_ports. It never expands ranges or scans. For each host:port it
// makes a TCP connection and, when open, reads a server-first banner (SSH,
// VNC, FTP, SMTP), tries a TLS handshake (version, leaf certificate expiry
// and subject) and an HTTP HEAD request (Server header).
//
// It is imported by cmd/firebreak and the server.
package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/firebreak-msp/firebreak/internal/collect"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/useragent"
)

// Target is one host:port from the estate.
type Target struct {
	Object string // tool or asset id
	Tenant string
	Host   string
	Port   int
}

func (t Target) String() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// ErrNotAHost rejects anything that is not a single host name or address
// (CIDR ranges, wildcards, lists): the prober never scans.
var ErrNotAHost = errors.New("not a single host")

// splitHost extracts host and an explicit port from "host", "host:port" or
// a URL.
func splitHost(s string) (host string, port int, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0, fmt.Errorf("%w: empty", ErrNotAHost)
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", 0, fmt.Errorf("%w: %q: %v", ErrNotAHost, s, err)
		}
		host = u.Hostname()
		if p := u.Port(); p != "" {
			port, _ = strconv.Atoi(p)
		} else if u.Scheme == "https" {
			port = 443
		} else if u.Scheme == "http" {
			port = 80
		}
	} else if h, p, err := net.SplitHostPort(s); err == nil {
		host = h
		port, _ = strconv.Atoi(p)
	} else {
		host = s
	}
	if host == "" || strings.ContainsAny(host, "/*, ") || strings.Contains(host, "..") {
		return "", 0, fmt.Errorf("%w: %q", ErrNotAHost, s)
	}
	if port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port out of range", s)
	}
	return host, port, nil
}

// Targets lists the host:port pairs named in the estate, and problems with
// entries that cannot be probed (ranges, missing ports).
func Targets(e *estate.Estate) ([]Target, []string) {
	var out []Target
	var probs []string
	seen := map[string]bool{}
	add := func(t Target) {
		k := t.Object + "|" + t.String()
		if t.Port <= 0 || t.Port > 65535 || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, t)
	}
	for _, tl := range e.Tools {
		if tl.Host == "" {
			continue
		}
		host, port, err := splitHost(tl.Host)
		if err != nil {
			probs = append(probs, fmt.Sprintf("tool %s: %v", tl.ID, err))
			continue
		}
		owner := tl.Owner
		if owner == "" {
			owner = estate.MSP
		}
		ports := tl.Ports
		if len(ports) == 0 && port > 0 {
			ports = []int{port}
		}
		if len(ports) == 0 {
			probs = append(probs, fmt.Sprintf("tool %s: host %s has no ports listed", tl.ID, tl.Host))
		}
		for _, p := range ports {
			add(Target{Object: tl.ID, Tenant: owner, Host: host, Port: p})
		}
	}
	for _, a := range e.Assets {
		if len(a.InternetPorts) == 0 {
			continue
		}
		if a.Hostname == "" {
			probs = append(probs, fmt.Sprintf("asset %s: internet_ports listed but no hostname", a.ID))
			continue
		}
		host, _, err := splitHost(a.Hostname)
		if err != nil {
			probs = append(probs, fmt.Sprintf("asset %s: %v", a.ID, err))
			continue
		}
		for _, p := range a.InternetPorts {
			add(Target{Object: a.ID, Tenant: a.Tenant, Host: host, Port: p})
		}
	}
	return out, probs
}

// services names well-known ports; management marks remote-administration
// services the advisory wants off the internet.
var services = map[int]struct {
	name       string
	management bool
}{
	21: {"ftp", false}, 22: {"ssh", true}, 23: {"telnet", true}, 25: {"smtp", false}, 80: {"http", false},
	135: {"msrpc", true}, 139: {"netbios", true}, 443: {"https", false}, 445: {"smb", true},
	1433: {"mssql", false}, 3306: {"mysql", false}, 3389: {"rdp", true}, 5900: {"vnc", true}, 5901: {"vnc", true},
	5985: {"winrm", true}, 5986: {"winrm-https", true}, 8080: {"http-alt", false}, 8443: {"https-alt", false},
	// RMM and remote-access consoles and relays.
	5721: {"kaseya-vsa-agent", true}, 8040: {"screenconnect-web", true}, 8041: {"screenconnect-relay", true},
	4433: {"rmm-console", true}, 10443: {"vpn-ssl", true}, 4443: {"rmm-console", true},
}

// Prober probes targets with timeouts and bounded concurrency.
type Prober struct {
	ConnectTimeout time.Duration // default 5 s
	ReadTimeout    time.Duration // per step (banner, TLS, HTTP), default 3 s
	Concurrency    int           // default 32
	Now            func() time.Time
	// Dial is for tests; nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (p *Prober) dial(ctx context.Context, addr string) (net.Conn, error) {
	ct := p.ConnectTimeout
	if ct <= 0 {
		ct = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, ct)
	defer cancel()
	if p.Dial != nil {
		return p.Dial(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (p *Prober) readTimeout() time.Duration {
	if p.ReadTimeout <= 0 {
		return 3 * time.Second
	}
	return p.ReadTimeout
}

// Probe checks one target. It never returns an error: failures are in
// Exposure.Error, and Open reports whether the TCP connection succeeded.
func (p *Prober) Probe(ctx context.Context, t Target) estate.Exposure {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	x := estate.Exposure{Object: t.Object, Tenant: t.Tenant, Host: t.Host, Port: t.Port,
		Provenance: &estate.Provenance{Source: "probe", CollectedAt: now().UTC()}}
	if s, ok := services[t.Port]; ok {
		x.Service = s.name
	}
	addr := t.String()
	conn, err := p.dial(ctx, addr)
	if err != nil {
		x.Error = dialError(err)
		return x
	}
	x.Open = true
	x.Management = services[t.Port].management

	// 1. Server-first banner (SSH, VNC, FTP, SMTP…).
	rt := p.readTimeout()
	_ = conn.SetReadDeadline(time.Now().Add(min(rt, time.Second)))
	buf := make([]byte, 512)
	n, _ := conn.Read(buf)
	_ = conn.Close()
	if n > 0 {
		b := string(buf[:n])
		x.Banner = clean(firstLine(b))
		switch {
		case strings.HasPrefix(b, "SSH-"):
			x.Service, x.Management = "ssh", true
		case strings.HasPrefix(b, "RFB "):
			x.Service, x.Management = "vnc", true
		case strings.HasPrefix(b, "220"):
			if x.Service == "" {
				x.Service = "ftp/smtp"
			}
		case x.Service == "":
			x.Service = "unknown"
		}
		return x
	}

	// 2. TLS handshake.
	var errs []string
	if conn, err := p.dial(ctx, addr); err == nil {
		tc := tls.Client(conn, &tls.Config{ServerName: serverName(t.Host), InsecureSkipVerify: true, MinVersion: tls.VersionTLS10}) //nolint:gosec // we inspect, not trust
		_ = tc.SetDeadline(time.Now().Add(rt))
		if err := tc.HandshakeContext(ctx); err == nil {
			st := tc.ConnectionState()
			x.TLSVersion = tlsVersion(st.Version)
			if len(st.PeerCertificates) > 0 {
				leaf := st.PeerCertificates[0]
				exp := leaf.NotAfter.UTC()
				x.CertExpires = &exp
				x.CertSubject = leaf.Subject.CommonName
			}
			if srv, _ := httpServer(tc, t.Host, rt); srv != "" {
				x.Banner = srv
			}
			_ = tc.Close()
			if x.Service == "" || x.Service == "http" || x.Service == "http-alt" {
				x.Service = "https"
			}
			return x
		} else {
			errs = append(errs, "tls: "+shortErr(err))
		}
		_ = tc.Close()
	}

	// 3. Plain HTTP.
	if conn, err := p.dial(ctx, addr); err == nil {
		if srv, raw := httpServer(conn, t.Host, rt); srv != "" {
			x.Banner = srv
			if x.Service == "" || x.Service == "https" {
				x.Service = "http"
			}
			errs = nil
		} else if raw != "" {
			x.Banner = clean(firstLine(raw))
			if x.Service == "" {
				x.Service = "unknown"
			}
		}
		_ = conn.Close()
	}
	if x.Banner == "" && len(errs) > 0 && x.Service != "rdp" && x.Service != "smb" {
		x.Error = strings.Join(errs, "; ")
	}
	return x
}

// httpServer sends HEAD / and returns the Server header ("HTTP (status)"
// when the answer is HTTP without one, "" when it is not HTTP; raw is then
// the first line of whatever came back).
func httpServer(c net.Conn, host string, rt time.Duration) (server, raw string) {
	_ = c.SetDeadline(time.Now().Add(rt))
	fmt.Fprintf(c, "HEAD / HTTP/1.0\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", host, useragent.String())
	br := bufio.NewReaderSize(c, 4096)
	status, _ := br.ReadString('\n')
	if !strings.HasPrefix(status, "HTTP/") {
		return "", status
	}
	for range 100 {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "server") {
			return clean(strings.TrimSpace(v)), ""
		}
		if err != nil || line == "" {
			break
		}
	}
	return "HTTP (" + clean(strings.TrimSpace(status)) + ")", ""
}

func serverName(host string) string {
	if net.ParseIP(host) != nil {
		return ""
	}
	return host
}

func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// clean keeps printable characters and bounds the length (banners are
// attacker-controlled text that ends up in reports).
func clean(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 120 {
			b.WriteString("…")
			break
		}
		if unicode.IsPrint(r) && r != unicode.ReplacementChar {
			b.WriteRune(r)
		} else {
			b.WriteRune('.')
		}
	}
	return strings.TrimSpace(b.String())
}

func dialError(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "connect timeout (filtered or host down)"
	case strings.Contains(err.Error(), "refused"):
		return "connection refused (closed)"
	case strings.Contains(err.Error(), "no such host"):
		return "no such host"
	}
	return shortErr(err)
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && len(s)-i > 8 {
		s = s[i+2:]
	}
	return s
}

// ProbeAll probes every target with bounded concurrency, results in
// target order.
func (p *Prober) ProbeAll(ctx context.Context, ts []Target, progress func(done, total int)) []estate.Exposure {
	n := p.Concurrency
	if n <= 0 {
		n = 32
	}
	return collect.Bounded(ts, n, func(t Target) estate.Exposure { return p.Probe(ctx, t) }, progress)
}

// ManagementPorts lists the ports treated as remote management.
func ManagementPorts() []int {
	var out []int
	for p, s := range services {
		if s.management {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// tlsVersion names versions the OpenSSL way (TLSv1.2), as scanners and
// assess's weak-TLS list do.
func tlsVersion(v uint16) string {
	switch v {
	case 0x0300: // SSL 3.0 (crypto/tls no longer negotiates it)
		return "SSLv3"
	case tls.VersionTLS10:
		return "TLSv1.0"
	case tls.VersionTLS11:
		return "TLSv1.1"
	case tls.VersionTLS12:
		return "TLSv1.2"
	case tls.VersionTLS13:
		return "TLSv1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}
