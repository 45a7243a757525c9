package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/firebreak-msp/firebreak/internal/notify"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/useragent"
)

// Egress policy for notification targets. A target is a request the server
// makes on an owner's behalf, so by default it may not reach inward: not
// loopback, private (RFC 1918, unique-local, shared 100.64/10), link-local
// (which holds the cloud metadata endpoints) or unspecified and multicast
// addresses. The operator can allow networks in the configuration file
// (notify.allow_networks), which a signed-in owner cannot change. HTTP
// targets (webhook, Slack, Teams) are checked when saved and again for every
// address they connect to, so a name that resolves inward later, or a
// redirect, is refused too (through a proxy from the environment only the
// proxy's address is seen at connect time); syslog and SMTP targets are
// checked when saved and by address when sent.

var sharedAddressSpace = netip.MustParsePrefix("100.64.0.0/10")
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// internalKind names the kind of inward address ip is, or "".
func internalKind(ip netip.Addr) string {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsUnspecified() || (ip.Is4() && ip.As4()[0] == 0):
		return "unspecified"
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return "link-local (cloud metadata)"
	case ip.IsPrivate() || sharedAddressSpace.Contains(ip):
		return "private"
	case ip.IsMulticast() || ip.IsInterfaceLocalMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "multicast or broadcast"
	}
	return ""
}

// checkEgress returns an error when a notification may not reach ip.
func (n *Notifier) checkEgress(ip netip.Addr) error {
	kind := internalKind(ip)
	if kind == "" {
		return nil
	}
	for _, p := range n.allow {
		if p.Contains(ip.Unmap()) || p.Contains(ip) {
			return nil
		}
	}
	return fmt.Errorf("destination %s is a %s address; allow its network with notify.allow_networks in the server configuration", ip.Unmap(), kind)
}

// notifyHTTPClient is the notifiers' HTTP client: every connection's
// address is checked against the policy. A proxy from the environment
// (HTTPS_PROXY) is still used; the connection is then to the proxy, whose
// network must be allowed, and the target's own host is checked when saved.
func (n *Notifier) notifyHTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, Control: func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return &notify.PermanentError{Err: fmt.Errorf("unexpected dial address %q", address)}
		}
		if err := n.checkEgress(ap.Addr()); err != nil {
			return &notify.PermanentError{Err: err}
		}
		return nil
	}}
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment, DialContext: d.DialContext, ForceAttemptHTTP2: true, TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns: 32, IdleConnTimeout: 90 * time.Second}
	return useragent.Client(&http.Client{Timeout: 10 * time.Second, Transport: tr})
}

// targetHost is the host a target's configuration sends to.
func targetHost(kind string, raw json.RawMessage) string {
	var c struct {
		URL     string `json:"url"`
		Address string `json:"address"`
	}
	_ = json.Unmarshal(raw, &c)
	switch kind {
	case store.TargetWebhook, store.TargetSlack, store.TargetTeams:
		if u, err := url.Parse(c.URL); err == nil {
			return u.Hostname()
		}
	case store.TargetSyslog, store.TargetSMTP:
		if h, _, err := net.SplitHostPort(c.Address); err == nil {
			return h
		}
		return c.Address
	}
	return ""
}

// CheckTargetEgress refuses a target whose host is, or resolves to, an
// inward address. resolve false checks literal addresses only (no DNS).
func (n *Notifier) CheckTargetEgress(ctx context.Context, kind string, raw json.RawMessage, resolve bool) error {
	host := strings.TrimSuffix(targetHost(kind, raw), ".")
	if host == "" {
		return nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return n.checkEgress(ip)
	}
	if !resolve {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // unresolvable now; HTTP targets are checked again at connect time
	}
	for _, ip := range ips {
		if err := n.checkEgress(ip); err != nil {
			return err
		}
	}
	return nil
}
