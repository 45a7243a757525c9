// Package useragent gives every outbound HTTP request firebreak makes the
// same User-Agent, naming the build (`firebreak/VERSION (+URL)`): webhooks,
// SIEM and PSA connectors, identity collectors and their token requests, OIDC
// discovery and key sets, KEV updates and healthchecks. Build every
// http.Client through Client; internal/archtest fails on one that is not.
package useragent

import (
	"net/http"

	"github.com/firebreak-msp/firebreak/internal/version"
)

// String is the User-Agent header value of this build.
func String() string { return version.Get().UserAgent() }

// transport sets the User-Agent on requests that carry none.
type transport struct{ base http.RoundTripper }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") != "" {
		return t.base.RoundTrip(req)
	}
	// A RoundTripper must not modify the caller's request.
	r := req.Clone(req.Context())
	r.Header.Set("User-Agent", String())
	return t.base.RoundTrip(r)
}

// CloseIdleConnections passes through to the wrapped transport, so
// http.Client.CloseIdleConnections keeps working.
func (t transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Transport returns base (http.DefaultTransport when nil) setting firebreak's
// User-Agent on every request that has none. Wrapping twice is a no-op.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if _, ok := base.(transport); ok {
		return base
	}
	return transport{base: base}
}

// Client returns a copy of c (a zero client when nil) whose transport sets
// the User-Agent; c itself is not changed.
func Client(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	}
	out.Transport = Transport(out.Transport)
	return &out
}
