package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/firebreak-msp/firebreak/internal/useragent"
)

// DefaultConcurrency bounds requests in flight when Env.Concurrency is 0.
const DefaultConcurrency = 16

// maxBody bounds one response body.
const maxBody = 64 << 20

// APIError is a vendor API's error answer (after retries, for transient
// ones). Forbidden answers name the permission the call needs, so the
// evidence becomes "not evaluable: missing PERMISSION", never a pass.
type APIError struct {
	Service    string // "okta", "google", "graph"
	Tenant     string
	Path       string // request path without the query
	Status     int
	Code       string // vendor error code (E0000006, Authorization_RequestDenied, …) or NonJSONError
	Message    string
	RequestID  string
	Permission string // the permission the call needs (from the caller)
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%s %s%s: HTTP %d", e.Service, e.Path, forTenant(e.Tenant), e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request-id " + e.RequestID + ")"
	}
	return s
}

// Forbidden reports a permission, scope or licence gap (401 after a token
// refresh, or 403).
func (e *APIError) Forbidden() bool {
	return e.Status == http.StatusForbidden || e.Status == http.StatusUnauthorized
}

// ErrNotJSON marks a 2xx answer that is not JSON (an HTML login or error
// page from a proxy).
var ErrNotJSON = errors.New("response is not JSON")

// ErrRepeatingPage marks a server whose next link points at a page already
// read (the loop is stopped; what was read is kept by the caller).
var ErrRepeatingPage = errors.New("next link repeats a page already read")

// Auth sets a request's credentials. refresh is true after a 401 answer:
// the token must be fetched anew rather than reused.
type Auth func(ctx context.Context, req *http.Request, refresh bool) error

// Stats counts what a Client did.
type Stats struct {
	Calls       int64 `json:"calls"`
	Retries     int64 `json:"retries"`
	Throttled   int64 `json:"throttled"` // 429 and 503 answers
	Refreshes   int64 `json:"refreshes"` // credentials refreshed after a 401
	MaxInFlight int64 `json:"max_in_flight"`
	Bound       int   `json:"bound"`
}

// Client is a JSON-over-HTTP client shared by connectors: at most
// Env.Concurrency requests in flight, every call retried with Env.Retry,
// every answer classified the same way.
type Client struct {
	service string
	http    *http.Client
	retry   Retry
	log     *slog.Logger
	now     func() time.Time
	sem     chan struct{}
	bound   int

	calls, retries, throttled, refreshes atomic.Int64
	inFlight, maxInFlight                atomic.Int64
}

// NewClient builds a client for service (used in errors and logs).
func NewClient(service string, env Env) *Client {
	n := env.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	hc := env.HTTP
	if hc == nil {
		// Keep as many idle connections per host as requests may be in
		// flight: the default (2) closes and reopens connections under
		// load, which costs more CPU than the requests themselves.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = max(n, 100)
		tr.MaxIdleConnsPerHost = n
		hc = useragent.Client(&http.Client{Timeout: 60 * time.Second, Transport: tr})
	}
	// Every connector request names the build, injected clients included
	// (wrapping an already wrapped client changes nothing).
	hc = useragent.Client(hc)
	lg := env.Log
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	now := env.Now
	if now == nil {
		now = time.Now
	}
	return &Client{service: service, http: hc, retry: env.Retry.WithDefaults(), log: lg, now: now, sem: make(chan struct{}, n), bound: n}
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	return Stats{Calls: c.calls.Load(), Retries: c.retries.Load(), Throttled: c.throttled.Load(), Refreshes: c.refreshes.Load(),
		MaxInFlight: c.maxInFlight.Load(), Bound: c.bound}
}

// Do sends one request holding a concurrency slot and returns the status,
// headers and body (read while the slot is held).
func (c *Client) Do(req *http.Request) (int, http.Header, []byte, error) {
	select {
	case c.sem <- struct{}{}:
	case <-req.Context().Done():
		return 0, nil, nil, req.Context().Err()
	}
	defer func() { c.inFlight.Add(-1); <-c.sem }()
	n := c.inFlight.Add(1)
	for {
		m := c.maxInFlight.Load()
		if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	c.calls.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, resp.Header, b, err
}

// Call describes one JSON request.
type CallSpec struct {
	Tenant     string
	Method     string // default GET
	URL        string // absolute
	Body       []byte // form or JSON body for POST
	Header     http.Header
	Auth       Auth
	Permission string // named in a Forbidden APIError
}

// JSON makes the call with retries and decodes a 2xx JSON answer into v
// (nil: discard). It returns the answer's headers.
//
// Classification: 2xx with a JSON body → ok; 2xx with HTML or truncated
// JSON → retried, then an error naming the call; 401 → credentials
// refreshed once (Auth with refresh=true), then a Forbidden *APIError; 403
// and other 4xx → *APIError, not retried; 408/425/429/5xx → retried,
// honouring Retry-After, then an *ExhaustedError wrapping an *APIError.
func (c *Client) JSON(ctx context.Context, cs CallSpec, v any) (http.Header, error) {
	method := cs.Method
	if method == "" {
		method = http.MethodGet
	}
	path := cs.URL
	if u, err := url.Parse(cs.URL); err == nil {
		path = u.Path
	}
	refreshed := false // a 401 was answered once already (in any try)
	var hdr http.Header
	r := c.retry
	r.OnRetry = func(attempt int, wait time.Duration, err error) {
		c.retries.Add(1)
		c.log.Debug(c.service+": retrying", "tenant", cs.Tenant, "path", path, "attempt", attempt, "wait", wait, "err", err)
	}
	err := r.Do(ctx, func(attempt int) error {
		refresh := false // ask Auth for new credentials (right after a 401 only)
		for {
			var body io.Reader
			if cs.Body != nil {
				body = bytes.NewReader(cs.Body)
			}
			req, err := http.NewRequestWithContext(ctx, method, cs.URL, body)
			if err != nil {
				return Permanent(err)
			}
			for k, vs := range cs.Header {
				req.Header[k] = vs
			}
			if req.Header.Get("Accept") == "" {
				req.Header.Set("Accept", "application/json")
			}
			if cs.Auth != nil {
				if err := cs.Auth(ctx, req, refresh); err != nil {
					return Permanent(err)
				}
			}
			status, h, b, err := c.Do(req)
			if err != nil {
				if ctx.Err() != nil {
					return Permanent(ctx.Err())
				}
				return fmt.Errorf("%s %s%s: %w", c.service, path, forTenant(cs.Tenant), err)
			}
			hdr = h
			switch {
			case status >= 200 && status < 300:
				if v == nil {
					return nil
				}
				if looksHTML(h, b) {
					return fmt.Errorf("%s %s%s: %w (starts %q)", c.service, path, forTenant(cs.Tenant), ErrNotJSON, Snippet(b))
				}
				if err := decodeBody(b, v); err != nil {
					return fmt.Errorf("%s %s%s: decoding JSON: %v (%d bytes, starts %q)", c.service, path, forTenant(cs.Tenant), err, len(b), Snippet(b))
				}
				return nil
			case status == http.StatusUnauthorized && !refreshed && cs.Auth != nil:
				refreshed, refresh = true, true
				c.refreshes.Add(1)
				continue
			}
			e := ParseAPIError(b)
			e.Service, e.Tenant, e.Path, e.Status, e.Permission = c.service, cs.Tenant, path, status, cs.Permission
			if e.RequestID == "" {
				e.RequestID = firstHeader(h, "request-id", "X-Okta-Request-Id", "X-Request-Id")
			}
			if !Transient(status) {
				return Permanent(e)
			}
			if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
				c.throttled.Add(1)
			}
			if d, ok := ParseRetryAfter(h.Get("Retry-After"), c.now()); ok {
				return After(e, d)
			}
			if d, ok := rateLimitReset(h, c.now()); ok && status == http.StatusTooManyRequests {
				return After(e, d)
			}
			return e
		}
	})
	return hdr, err
}

// BodyDecoder is a JSON destination that decodes a 2xx answer's body
// itself (for example in one streaming pass instead of json.Unmarshal's
// validation pass and decoding pass). An error is a decoding error: the
// call is retried, then fails naming it.
type BodyDecoder interface {
	DecodeJSONBody(b []byte) error
}

func decodeBody(b []byte, v any) error {
	if d, ok := v.(BodyDecoder); ok {
		return d.DecodeJSONBody(b)
	}
	return json.Unmarshal(b, v)
}

// rateLimitReset reads Okta's X-Rate-Limit-Reset (epoch seconds).
func rateLimitReset(h http.Header, now time.Time) (time.Duration, bool) {
	v := h.Get("X-Rate-Limit-Reset")
	if v == "" {
		return 0, false
	}
	var secs int64
	if _, err := fmt.Sscan(v, &secs); err != nil {
		return 0, false
	}
	return max(time.Unix(secs, 0).Sub(now), 0), true
}

func firstHeader(h http.Header, names ...string) string {
	for _, n := range names {
		if v := h.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func looksHTML(h http.Header, b []byte) bool {
	if ct := h.Get("Content-Type"); strings.Contains(ct, "text/html") {
		return true
	}
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '<'
}

// ParseAPIError reads the error body shapes of the APIs firebreak calls:
// Microsoft Graph and Google ({"error":{"code","message"}}), Okta
// ({"errorCode","errorSummary","errorId"}), OAuth token endpoints
// ({"error","error_description"}) and ConnectWise PSA ({"code","message",
// "errors":[…]}). Anything else (an HTML page) is code
// NonJSONError with a snippet.
func ParseAPIError(b []byte) *APIError {
	e := &APIError{}
	var eb struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription string          `json:"error_description"`
		ErrorCode        string          `json:"errorCode"`
		ErrorSummary     string          `json:"errorSummary"`
		ErrorID          string          `json:"errorId"`
		// ConnectWise PSA: {"code","message","errors":[{"code","message","field"}]}
		Code    json.RawMessage `json:"code"`
		Message string          `json:"message"`
		Errors  []struct {
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"errors"`
	}
	if json.Unmarshal(b, &eb) == nil {
		switch {
		case len(eb.Error) == 0 && len(eb.Code) > 0 && eb.Code[0] == '"' && eb.Message != "":
			_ = json.Unmarshal(eb.Code, &e.Code)
			e.Message = eb.Message
			for _, fe := range eb.Errors {
				e.Message += "; " + fe.Message
				if fe.Field != "" {
					e.Message += " (field " + fe.Field + ")"
				}
			}
			return e
		case eb.ErrorCode != "":
			e.Code, e.Message, e.RequestID = eb.ErrorCode, eb.ErrorSummary, eb.ErrorID
			return e
		case len(eb.Error) > 0 && eb.Error[0] == '"':
			_ = json.Unmarshal(eb.Error, &e.Code)
			e.Message = eb.ErrorDescription
			return e
		case len(eb.Error) > 0 && eb.Error[0] == '{':
			var inner struct {
				Code       json.RawMessage `json:"code"`
				Message    string          `json:"message"`
				Status     string          `json:"status"`
				InnerError struct {
					RequestID string `json:"request-id"`
				} `json:"innerError"`
				Errors []struct {
					Reason string `json:"reason"`
				} `json:"errors"`
			}
			if json.Unmarshal(eb.Error, &inner) == nil {
				var code string
				if json.Unmarshal(inner.Code, &code) != nil || code == "" {
					code = inner.Status // Google: numeric code, textual status
					if len(inner.Errors) > 0 && inner.Errors[0].Reason != "" {
						code = inner.Errors[0].Reason
					}
				}
				e.Code, e.Message, e.RequestID = code, inner.Message, inner.InnerError.RequestID
				return e
			}
		}
	}
	e.Code = "NonJSONError"
	e.Message = Snippet(b)
	return e
}

// Snippet is the start of a body, whitespace collapsed, for error text.
func Snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// maxPages stops a server that keeps linking new pages forever.
const maxPages = 100000

// Pages fetches first and every next page (next returns "" at the end),
// calling fn with each decoded page. A next link seen before stops with
// ErrRepeatingPage; pages already handed to fn stay handed.
func Pages[P any](ctx context.Context, c *Client, cs CallSpec, next func(h http.Header, p *P) string, fn func(p *P) error) error {
	seen := map[string]bool{}
	first := cs.URL
	for n := 0; cs.URL != ""; n++ {
		if n >= maxPages {
			return fmt.Errorf("%s %s%s: more than %d pages", c.service, first, forTenant(cs.Tenant), maxPages)
		}
		seen[cs.URL] = true
		var p P
		h, err := c.JSON(ctx, cs, &p)
		if err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return err
		}
		nx := next(h, &p)
		if nx != "" && seen[nx] {
			return fmt.Errorf("%s %s%s: %w", c.service, pathOf(first), forTenant(cs.Tenant), ErrRepeatingPage)
		}
		cs.URL = nx
	}
	return nil
}

func pathOf(u string) string {
	if pu, err := url.Parse(u); err == nil {
		return pu.Path
	}
	return u
}

// LinkNext returns the rel="next" target of RFC 8288 Link headers (Okta's
// paging), or "".
func LinkNext(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			i := strings.Index(part, ">")
			if !strings.HasPrefix(part, "<") || i < 0 {
				continue
			}
			for _, p := range strings.Split(part[i+1:], ";") {
				p = strings.ReplaceAll(strings.TrimSpace(p), " ", "")
				if p == `rel="next"` || p == "rel=next" {
					return part[1:i]
				}
			}
		}
	}
	return ""
}

// forTenant is " (tenant T)" for an error about one tenant's call, "" for
// an MSP-wide one.
func forTenant(t string) string {
	if t == "" {
		return ""
	}
	return " (tenant " + t + ")"
}
