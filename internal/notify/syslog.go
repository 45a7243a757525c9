package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// SyslogConfig configures syslog delivery of CEF messages.
type SyslogConfig struct {
	Address  string `json:"address"`            // host:port
	Network  string `json:"network,omitempty"`  // udp (default), tcp, tls
	Facility *int   `json:"facility,omitempty"` // 0..23, default 16 (local0)
	AppName  string `json:"app_name,omitempty"` // default "firebreak"
}

// Syslog sends each alert as one RFC 5424 message whose MSG is an ArcSight
// CEF record; over TCP/TLS messages are framed by octet counting (RFC 6587).
type Syslog struct {
	cfg  SyslogConfig
	opts Options
}

// NewSyslog validates c.
func NewSyslog(c SyslogConfig, opts Options) (*Syslog, error) {
	if c.Network == "" {
		c.Network = "udp"
	}
	if c.Network != "udp" && c.Network != "tcp" && c.Network != "tls" {
		return nil, fmt.Errorf("syslog: network %q: want udp, tcp or tls", c.Network)
	}
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return nil, fmt.Errorf("syslog: address %q: want host:port", c.Address)
	}
	if c.Facility == nil {
		f := 16
		c.Facility = &f
	}
	if *c.Facility < 0 || *c.Facility > 23 {
		return nil, fmt.Errorf("syslog: facility %d: want 0..23", *c.Facility)
	}
	if c.AppName == "" {
		c.AppName = "firebreak"
	}
	return &Syslog{cfg: c, opts: opts}, nil
}

// Kind implements Sender.
func (s *Syslog) Kind() string { return store.TargetSyslog }

// Send implements Sender: one connection per alert (alerts are rare, and a
// fresh connection survives collector restarts).
func (s *Syslog) Send(ctx context.Context, a Alert) error {
	msg := s.Message(a)
	d := net.Dialer{Timeout: 10 * time.Second}
	var conn net.Conn
	var err error
	switch s.cfg.Network {
	case "tls":
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if s.opts.TLS != nil {
			cfg = s.opts.TLS.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(s.cfg.Address)
		}
		conn, err = (&tls.Dialer{NetDialer: &d, Config: cfg}).DialContext(ctx, "tcp", s.cfg.Address)
	default:
		conn, err = d.DialContext(ctx, s.cfg.Network, s.cfg.Address)
	}
	if err != nil {
		return fmt.Errorf("syslog %s %s: %w", s.cfg.Network, s.cfg.Address, err)
	}
	defer func() { _ = conn.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	if s.cfg.Network != "udp" {
		msg = append([]byte(strconv.Itoa(len(msg))+" "), msg...)
	}
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("syslog %s %s: %w", s.cfg.Network, s.cfg.Address, err)
	}
	return nil
}

// syslogSeverity maps alert severity to a syslog severity.
func syslogSeverity(sev string) int {
	switch severityRank(sev) {
	case 5:
		return 2 // critical
	case 4:
		return 3 // error
	case 3:
		return 4 // warning
	case 2:
		return 5 // notice
	}
	return 6 // informational
}

// cefSeverity maps alert severity to CEF's 0..10.
func cefSeverity(sev string) int {
	switch severityRank(sev) {
	case 5:
		return 10
	case 4:
		return 8
	case 3:
		return 5
	case 2:
		return 3
	}
	return 1
}

// Message is the RFC 5424 message for a.
func (s *Syslog) Message(a Alert) []byte {
	pri := *s.cfg.Facility*8 + syslogSeverity(a.Severity)
	host := s.opts.Hostname
	if host == "" {
		host = "firebreak"
	}
	ts := a.At
	if ts.IsZero() {
		ts = s.opts.now()
	}
	msgid := a.Kind
	if msgid == "" {
		msgid = "alert"
	}
	return fmt.Appendf(nil, "<%d>1 %s %s %s - %s - %s", pri, ts.UTC().Format("2006-01-02T15:04:05.000Z"),
		headerToken(host, 255), headerToken(s.cfg.AppName, 48), headerToken(msgid, 32), CEF(a, s.opts.Version))
}

// headerToken makes s a valid RFC 5424 header field (printable US-ASCII, no
// spaces, at most n characters, "-" when empty).
func headerToken(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r > 32 && r < 127 {
			b.WriteRune(r)
		}
		if b.Len() == n {
			break
		}
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

// CEF renders a as one ArcSight Common Event Format record.
func CEF(a Alert, version string) string {
	if version == "" {
		version = "1"
	}
	sig := a.Rule
	if sig == "" {
		sig = a.Kind
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CEF:0|Firebreak|firebreak|%s|%s|%s|%d|", cefHeader(version), cefHeader(sig), cefHeader(a.Title), cefSeverity(a.Severity))
	ext := [][2]string{}
	add := func(k, v string) {
		if v != "" {
			ext = append(ext, [2]string{k, v})
		}
	}
	if !a.At.IsZero() {
		add("rt", strconv.FormatInt(a.At.UnixMilli(), 10))
	}
	if !a.First.IsZero() {
		add("start", strconv.FormatInt(a.First.UnixMilli(), 10))
	}
	if !a.Last.IsZero() {
		add("end", strconv.FormatInt(a.Last.UnixMilli(), 10))
	}
	add("externalId", a.ID)
	add("cat", a.Kind)
	if a.Count > 0 {
		add("cnt", strconv.Itoa(a.Count))
	}
	if ip, err := netip.ParseAddr(a.Fields["source.ip"]); err == nil {
		add("src", ip.String())
	}
	add("suser", a.Fields["user.name"])
	if a.Tenant != "" {
		add("cs1Label", "tenant")
		add("cs1", a.Tenant)
	}
	if len(a.Tenants) > 0 {
		add("cs2Label", "tenants")
		add("cs2", strings.Join(a.Tenants, ","))
	}
	if a.Status != "" {
		add("cs3Label", "status")
		add("cs3", a.Status)
	}
	add("request", a.URL)
	add("msg", a.Summary)
	for i, kv := range ext {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(cefValue(kv[1]))
	}
	return b.String()
}

// cefHeader escapes a CEF header field: backslash and pipe; line breaks
// become spaces.
func cefHeader(s string) string {
	return strings.NewReplacer(`\`, `\\`, `|`, `\|`, "\r\n", " ", "\n", " ", "\r", " ").Replace(strings.ToValidUTF8(s, "\uFFFD"))
}

// cefValue escapes a CEF extension value: backslash, equals sign, line breaks.
func cefValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r\n", `\n`, "\n", `\n`, "\r", `\r`).Replace(strings.ToValidUTF8(s, "\uFFFD"))
}
