package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
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
	// Delegated, when set, gets customer-tenant tokens from a partner
	// admin's refresh token through GDAP instead of app-only client
	// credentials (see Delegated).
	Delegated *Delegated
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

// APIError is a Graph error answer (the connector framework's type).
type APIError = connector.APIError

// ErrNotJSON marks a 2xx response that is not JSON (an HTML error page).
var ErrNotJSON = connector.ErrNotJSON

// Client is a Microsoft Graph client on the connector framework's HTTP
// client: one semaphore bounds Graph and token requests together, and one
// retry policy (connector.Retry) serves both.
type Client struct {
	cfg        Config
	graph      string
	log        *slog.Logger
	http       *connector.Client
	retry      connector.Retry
	tokens     tokenGetter
	tokenCalls atomic.Int64
}

// tokenGetter returns a token for a tenant, a new one when the cached
// one equals stale (after a 401).
type tokenGetter interface {
	get(ctx context.Context, tenant string, stale Secret) (Secret, error)
}

// New builds a Client; it validates the credentials.
func New(cfg Config) (*Client, error) {
	if cfg.Delegated == nil {
		if err := cfg.Credentials.Validate(); err != nil {
			return nil, err
		}
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
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	retry := connector.Retry{Attempts: cfg.MaxAttempts, Base: cfg.BaseBackoff, Max: cfg.MaxBackoff, Sleep: cfg.Sleep}
	if cfg.Seed != 0 {
		var mu sync.Mutex
		rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
		retry.Rand = func() float64 { mu.Lock(); defer mu.Unlock(); return rng.Float64() }
	}
	retry = retry.WithDefaults()
	c := &Client{cfg: cfg, graph: strings.TrimRight(cfg.GraphURL, "/"), log: cfg.Log, retry: retry}
	c.http = connector.NewClient("graph", connector.Env{HTTP: cfg.HTTP, Log: cfg.Log, Now: cfg.Now, Concurrency: cfg.Concurrency, Retry: retry})
	if cfg.Delegated != nil {
		cfg.Delegated.bind(c)
		c.tokens = cfg.Delegated
		return c, nil
	}
	ts := &tokenSource{creds: cfg.Credentials, authority: cfg.Authority, scope: c.graph + "/.default",
		do: c.doToken, now: cfg.Now, tokens: map[string]*tenantToken{}, retry: retry}
	if len(cfg.Credentials.KeyPEM) > 0 {
		s, err := newAssertionSigner(cfg.Credentials)
		if err != nil {
			return nil, err
		}
		ts.signer = s
	}
	c.tokens = ts
	return c, nil
}

// Stats returns counters so far.
func (c *Client) Stats() Stats {
	s := c.http.Stats()
	return Stats{Calls: s.Calls, TokenCalls: c.tokenCalls.Load(), Retries: s.Retries, Throttled: s.Throttled,
		Refreshes: s.Refreshes, MaxInFlight: s.MaxInFlight, Bound: s.Bound}
}

// doToken sends a token request within the shared concurrency bound.
func (c *Client) doToken(req *http.Request) (int, http.Header, []byte, error) {
	c.tokenCalls.Add(1)
	return c.http.Do(req)
}

// auth is the connector.Auth for a tenant: the cached token, or a new one
// after a 401.
func (c *Client) auth(tenant string) connector.Auth {
	var last Secret
	return func(ctx context.Context, req *http.Request, refresh bool) error {
		stale := Secret("")
		if refresh {
			stale = last
		}
		tok, err := c.tokens.get(ctx, tenant, stale)
		if err != nil {
			return err
		}
		last = tok
		req.Header.Set("Authorization", "Bearer "+string(tok))
		return nil
	}
}

// Get fetches one Graph URL (absolute, or a path like /v1.0/users) for a
// tenant and decodes the JSON answer into v, with the connector
// framework's retries and classification. No ConsistencyLevel header is
// sent: no query firebreak makes needs advanced query capabilities, and
// the header is reported to blank signInActivity.
func (c *Client) Get(ctx context.Context, tenant, u string, v any) error {
	_, err := c.get(ctx, tenant, u, "", v)
	return err
}

func (c *Client) get(ctx context.Context, tenant, u, perm string, v any) (http.Header, error) {
	if strings.HasPrefix(u, "/") {
		u = c.graph + u
	}
	h, err := c.http.JSON(ctx, connector.CallSpec{Tenant: tenant, URL: u, Auth: c.auth(tenant), Permission: perm}, v)
	// A token failure is the token's error, not the call's.
	var te *TokenError
	if errors.As(err, &te) {
		return h, te
	}
	return h, err
}

// post sends a JSON body (used by the consent helper).
func (c *Client) post(ctx context.Context, tenant, u string, body []byte, v any) error {
	if strings.HasPrefix(u, "/") {
		u = c.graph + u
	}
	_, err := c.http.JSON(ctx, connector.CallSpec{Tenant: tenant, Method: http.MethodPost, URL: u, Body: body,
		Header: http.Header{"Content-Type": {"application/json"}}, Auth: c.auth(tenant)}, v)
	return err
}

// page is a Graph collection page.
type page[T any] struct {
	Value     []T    `json:"value"`
	NextLink  string `json:"@odata.nextLink"`
	DeltaLink string `json:"@odata.deltaLink"`
}

// List follows @odata.nextLink from path and calls fn for every item. A
// next link repeating a page already read stops with
// connector.ErrRepeatingPage.
func List[T any](ctx context.Context, c *Client, tenant, path string, fn func(T) error) error {
	_, err := listDelta(ctx, c, tenant, path, fn)
	return err
}

// listDelta is List that also returns the last page's @odata.deltaLink.
func listDelta[T any](ctx context.Context, c *Client, tenant, path string, fn func(T) error) (string, error) {
	u := path
	if strings.HasPrefix(u, "/") {
		u = c.graph + u
	}
	var delta string
	err := connector.Pages(ctx, c.http, connector.CallSpec{Tenant: tenant, URL: u, Auth: c.auth(tenant)},
		func(_ http.Header, p *page[T]) string { delta = p.DeltaLink; return p.NextLink },
		func(p *page[T]) error {
			for _, it := range p.Value {
				if err := fn(it); err != nil {
					return err
				}
			}
			return nil
		})
	var te *TokenError
	if errors.As(err, &te) {
		return "", te
	}
	if err != nil {
		return "", err
	}
	return delta, nil
}

// prefetched is a Graph answer read inside a $batch: the body of a 200,
// or a final error answer (403, 400, …).
type prefetched struct {
	body []byte
	err  error
}

// maxBatch is Graph's limit of requests in one JSON batch.
const maxBatch = 20

// batch reads GET paths (as given to Get: /v1.0/… or absolute) for one
// tenant in JSON batches (POST /v1.0/$batch, 20 a batch). Answers that are
// throttled or transient (429, 5xx), and every path when a batch itself
// fails, are left out: the caller reads them on its own, with retries.
func (c *Client) batch(ctx context.Context, tenant string, paths []string) map[string]*prefetched {
	out := map[string]*prefetched{}
	for start := 0; start < len(paths); start += maxBatch {
		chunk := paths[start:min(start+maxBatch, len(paths))]
		type req struct {
			ID     string `json:"id"`
			Method string `json:"method"`
			URL    string `json:"url"`
		}
		var body struct {
			Requests []req `json:"requests"`
		}
		for i, p := range chunk {
			rel := strings.TrimPrefix(strings.TrimPrefix(p, c.graph), "/v1.0")
			body.Requests = append(body.Requests, req{ID: strconv.Itoa(i), Method: http.MethodGet, URL: rel})
		}
		b, _ := json.Marshal(body)
		var resp struct {
			Responses []struct {
				ID     string            `json:"id"`
				Status int               `json:"status"`
				Header map[string]string `json:"headers"`
				Body   json.RawMessage   `json:"body"`
			} `json:"responses"`
		}
		if err := c.post(ctx, tenant, "/v1.0/$batch", b, &resp); err != nil {
			c.log.Debug("graph: $batch failed; reading one by one", "tenant", tenant, "err", err)
			continue
		}
		for _, r := range resp.Responses {
			i, err := strconv.Atoi(r.ID)
			if err != nil || i < 0 || i >= len(chunk) {
				continue
			}
			p := chunk[i]
			switch {
			case r.Status == http.StatusOK:
				out[p] = &prefetched{body: r.Body}
			case connector.Transient(r.Status) || r.Status == http.StatusUnauthorized:
				// read on its own, with retries (and a token refresh)
			default:
				e := connector.ParseAPIError(r.Body)
				e.Service, e.Tenant, e.Path, e.Status = "graph", tenant, pathOnly(p), r.Status
				out[p] = &prefetched{err: e}
			}
		}
	}
	return out
}

func pathOnly(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// listPre is listDelta whose first page may come from a batch.
func listPre[T any](ctx context.Context, c *Client, tenant, path string, pre map[string]*prefetched, fn func(T) error) (string, error) {
	p, ok := pre[path]
	if !ok {
		return listDelta(ctx, c, tenant, path, fn)
	}
	if p.err != nil {
		return "", p.err
	}
	var pg page[T]
	if err := json.Unmarshal(p.body, &pg); err != nil {
		return "", fmt.Errorf("graph %s (tenant %s): decoding JSON: %v", pathOnly(path), tenant, err)
	}
	for _, it := range pg.Value {
		if err := fn(it); err != nil {
			return "", err
		}
	}
	if pg.NextLink == "" {
		return pg.DeltaLink, nil
	}
	if pg.NextLink == path || pg.NextLink == c.graph+path {
		return "", fmt.Errorf("graph %s (tenant %s): %w", pathOnly(path), tenant, connector.ErrRepeatingPage)
	}
	return listDelta(ctx, c, tenant, pg.NextLink, fn)
}

// getPre is Get whose answer may come from a batch.
func getPre(ctx context.Context, c *Client, tenant, path string, pre map[string]*prefetched, v any) error {
	p, ok := pre[path]
	if !ok {
		return c.Get(ctx, tenant, path, v)
	}
	if p.err != nil {
		return p.err
	}
	if err := json.Unmarshal(p.body, v); err != nil {
		return fmt.Errorf("graph %s (tenant %s): decoding JSON: %v", pathOnly(path), tenant, err)
	}
	return nil
}
