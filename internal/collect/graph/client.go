package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config.
const (
	DefaultAuthority   = "https://login.microsoftonline.com"
	DefaultGraphURL    = "https://graph.microsoft.com"
	DefaultConcurrency = 8
	DefaultMaxAttempts = 6
)

// Config configures a Client. Zero values get defaults.
type Config struct {
	Credentials Credentials
	Authority   string // token endpoint base, default https://login.microsoftonline.com
	GraphURL    string // default https://graph.microsoft.com
	// Concurrency bounds HTTP requests in flight (token requests included).
	Concurrency int
	// MaxAttempts bounds tries per request on 429/5xx/network errors.
	MaxAttempts int
	BaseBackoff time.Duration // default 500 ms
	MaxBackoff  time.Duration // default 30 s; also caps Retry-After
	HTTP        *http.Client
	Log         *slog.Logger
	Now         func() time.Time
	// Sleep waits between retries; tests may replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Seed seeds the backoff jitter (0: random).
	Seed uint64
}

// Stats counts what a Client did.
type Stats struct {
	Calls       int64 `json:"calls"`         // HTTP requests sent (Graph and token)
	TokenCalls  int64 `json:"token_calls"`   // of which token requests
	Retries     int64 `json:"retries"`       // requests repeated after 429/5xx/network errors
	Throttled   int64 `json:"throttled"`     // 429 and 503 answers
	Refreshes   int64 `json:"refreshes"`     // tokens refreshed after a 401
	MaxInFlight int64 `json:"max_in_flight"` // highest concurrent requests observed
	Bound       int   `json:"bound"`         // the configured concurrency bound
}

// Client is a Microsoft Graph client on net/http.
type Client struct {
	cfg    Config
	graph  string
	log    *slog.Logger
	tokens *tokenSource
	sem    chan struct{}
	rngMu  sync.Mutex
	rng    *rand.Rand

	calls, tokenCalls, retries, throttled, refreshes atomic.Int64
	inFlight, maxInFlight                            atomic.Int64
}

// New builds a Client; it validates the credentials.
func New(cfg Config) (*Client, error) {
	if err := cfg.Credentials.Validate(); err != nil {
		return nil, err
	}
	if cfg.Authority == "" {
		cfg.Authority = DefaultAuthority
	}
	if cfg.GraphURL == "" {
		cfg.GraphURL = DefaultGraphURL
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	c := &Client{cfg: cfg, graph: strings.TrimRight(cfg.GraphURL, "/"), log: cfg.Log,
		sem: make(chan struct{}, cfg.Concurrency), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	c.tokens = &tokenSource{creds: cfg.Credentials, authority: cfg.Authority, scope: c.graph + "/.default",
		do: c.doLimited, now: cfg.Now, tokens: map[string]*tenantToken{},
		attempts: cfg.MaxAttempts, maxWait: cfg.MaxBackoff, backoff: c.backoff, sleep: cfg.Sleep}
	if len(cfg.Credentials.KeyPEM) > 0 {
		s, err := newAssertionSigner(cfg.Credentials)
		if err != nil {
			return nil, err
		}
		c.tokens.signer = s
	}
	return c, nil
}

// Stats returns counters so far.
func (c *Client) Stats() Stats {
	return Stats{Calls: c.calls.Load(), TokenCalls: c.tokenCalls.Load(), Retries: c.retries.Load(), Throttled: c.throttled.Load(),
		Refreshes: c.refreshes.Load(), MaxInFlight: c.maxInFlight.Load(), Bound: c.cfg.Concurrency}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// doLimited sends one request while holding a semaphore slot.
func (c *Client) doLimited(req *http.Request) (*http.Response, error) {
	select {
	case c.sem <- struct{}{}:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	n := c.inFlight.Add(1)
	for {
		m := c.maxInFlight.Load()
		if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	c.calls.Add(1)
	if strings.Contains(req.URL.Path, "/oauth2/") {
		c.tokenCalls.Add(1)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err == nil {
		// Read the body while still holding the slot, so "in flight" covers
		// the whole exchange.
		var b []byte
		b, err = io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	c.inFlight.Add(-1)
	<-c.sem
	return resp, err
}

// APIError is a Graph error answer.
type APIError struct {
	Tenant    string
	Path      string // request path without the query
	Status    int
	Code      string // Graph error code, e.g. Authorization_RequestDenied
	Message   string
	RequestID string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("graph %s (tenant %s): HTTP %d", e.Path, e.Tenant, e.Status)
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

// Forbidden reports a missing permission or licence (403, or the
// Authorization_RequestDenied family).
func (e *APIError) Forbidden() bool {
	return e.Status == http.StatusForbidden || strings.Contains(e.Code, "RequestDenied") || strings.Contains(e.Code, "NonPremiumTenant")
}

// ErrNotJSON marks a response that is not JSON (an HTML error page).
var ErrNotJSON = errors.New("response is not JSON")

func parseAPIError(tenant, path string, resp *http.Response, body []byte) *APIError {
	e := &APIError{Tenant: tenant, Path: path, Status: resp.StatusCode, RequestID: resp.Header.Get("request-id")}
	var eb struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError struct {
				RequestID string `json:"request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
		if eb.Error.InnerError.RequestID != "" {
			e.RequestID = eb.Error.InnerError.RequestID
		}
		return e
	}
	e.Code = "NonJSONError"
	e.Message = snippet(body)
	return e
}

// retryAfter parses Retry-After (seconds or an HTTP date).
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BaseBackoff << min(attempt, 16)
	if d > c.cfg.MaxBackoff || d <= 0 {
		d = c.cfg.MaxBackoff
	}
	c.rngMu.Lock()
	j := time.Duration(c.rng.Int64N(int64(d)/2 + 1))
	c.rngMu.Unlock()
	return d/2 + j // "equal jitter": between d/2 and d
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable ||
		status == http.StatusBadGateway || status == http.StatusGatewayTimeout || status == http.StatusInternalServerError
}

// Get fetches one Graph URL (absolute, or a path like /v1.0/users) for a
// tenant and decodes the JSON answer into v. It retries throttling and
// transient errors with Retry-After or exponential backoff with jitter (at
// most MaxAttempts tries), and refreshes the tenant's token once on a 401.
func (c *Client) Get(ctx context.Context, tenant, u string, v any) error {
	if strings.HasPrefix(u, "/") {
		u = c.graph + u
	}
	path := u
	if pu, err := url.Parse(u); err == nil {
		path = pu.Path
	}
	var stale Secret
	refreshed := false
	for attempt := 0; ; attempt++ {
		tok, err := c.tokens.get(ctx, tenant, stale)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+string(tok))
		req.Header.Set("Accept", "application/json")
		req.Header.Set("ConsistencyLevel", "eventual")
		resp, err := c.doLimited(req)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if attempt+1 >= c.cfg.MaxAttempts {
				return fmt.Errorf("graph %s (tenant %s): %w (after %d attempts)", path, tenant, err, attempt+1)
			}
			wait = c.backoff(attempt)
		default:
			body, _ := io.ReadAll(resp.Body)
			switch {
			case resp.StatusCode == http.StatusOK:
				if err := json.Unmarshal(body, v); err != nil {
					return fmt.Errorf("graph %s (tenant %s): %w: %v (starts %q)", path, tenant, ErrNotJSON, err, snippet(body))
				}
				return nil
			case resp.StatusCode == http.StatusUnauthorized && !refreshed:
				// Expired or revoked token: fetch a new one, once.
				refreshed = true
				stale = tok
				c.refreshes.Add(1)
				c.log.Debug("graph: 401, refreshing token", "tenant", tenant, "path", path)
				attempt--
				continue
			case retryable(resp.StatusCode):
				if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
					c.throttled.Add(1)
				}
				if attempt+1 >= c.cfg.MaxAttempts {
					e := parseAPIError(tenant, path, resp, body)
					e.Message += fmt.Sprintf(" (gave up after %d attempts)", attempt+1)
					return e
				}
				if d, ok := retryAfter(resp.Header.Get("Retry-After"), c.cfg.Now()); ok {
					wait = min(d, c.cfg.MaxBackoff)
				} else {
					wait = c.backoff(attempt)
				}
			default:
				return parseAPIError(tenant, path, resp, body)
			}
		}
		c.retries.Add(1)
		c.log.Debug("graph: retrying", "tenant", tenant, "path", path, "attempt", attempt+1, "wait", wait)
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// page is a Graph collection page.
type page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// maxPages stops a server that links pages in a loop.
const maxPages = 100000

// List follows @odata.nextLink from path and calls fn for every item.
func List[T any](ctx context.Context, c *Client, tenant, path string, fn func(T) error) error {
	u := path
	for n := 0; u != ""; n++ {
		if n >= maxPages {
			return fmt.Errorf("graph %s (tenant %s): more than %d pages", path, tenant, maxPages)
		}
		var p page[T]
		if err := c.Get(ctx, tenant, u, &p); err != nil {
			return err
		}
		for _, it := range p.Value {
			if err := fn(it); err != nil {
				return err
			}
		}
		if p.NextLink == u {
			return fmt.Errorf("graph %s (tenant %s): @odata.nextLink points at itself", path, tenant)
		}
		u = p.NextLink
	}
	return nil
}
