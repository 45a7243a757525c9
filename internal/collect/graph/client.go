package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
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
	// batchThrottled counts $batch items answered 429 or 503.
	batchThrottled atomic.Int64
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
	return Stats{Calls: s.Calls, TokenCalls: c.tokenCalls.Load(), Retries: s.Retries, Throttled: s.Throttled + c.batchThrottled.Load(),
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

// prefetched is a Graph answer read inside a $batch: the first page
// decoded into the caller's type, a final error answer (403, 400, …), or
// — dst and err both nil — an answer to read again on its own (throttled,
// transient or 401) after wait (the item's Retry-After, or the retry
// policy's first backoff when it has none: CA's 1 request/s per tenant).
type prefetched struct {
	dst  any
	err  error
	wait time.Duration
}

// batchItem is one GET of a $batch: its path (as given to Get) and a new
// value of the type its body decodes into.
type batchItem struct {
	path   string
	newDst func() any
}

// pageItem is a batchItem for a collection read page by page (listPre).
func pageItem[T any](path string) batchItem {
	return batchItem{path: path, newDst: func() any { return new(page[T]) }}
}

// getItem is a batchItem for a single object (getPre).
func getItem[T any](path string) batchItem {
	return batchItem{path: path, newDst: func() any { return new(T) }}
}

// maxBatch is Graph's limit of requests in one JSON batch.
const maxBatch = 20

// batch reads GET items for one tenant in JSON batches (POST
// /v1.0/$batch, 20 a batch, the batches in parallel). Each 200 body is
// decoded once, straight into its item's type. Answers that are throttled
// or transient (429, 5xx) are marked to be read again on their own after
// their Retry-After; every item of a batch that itself fails is left out
// (read on its own, with retries).
func (c *Client) batch(ctx context.Context, tenant string, items []batchItem) map[string]*prefetched {
	out := map[string]*prefetched{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for start := 0; start < len(items); start += maxBatch {
		chunk := items[start:min(start+maxBatch, len(items))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := c.batchOne(ctx, tenant, chunk)
			mu.Lock()
			maps.Copy(out, got)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func (c *Client) batchOne(ctx context.Context, tenant string, chunk []batchItem) map[string]*prefetched {
	type req struct {
		ID     string `json:"id"`
		Method string `json:"method"`
		URL    string `json:"url"`
	}
	var body struct {
		Requests []req `json:"requests"`
	}
	for i, it := range chunk {
		rel := strings.TrimPrefix(strings.TrimPrefix(it.path, c.graph), "/v1.0")
		body.Requests = append(body.Requests, req{ID: strconv.Itoa(i), Method: http.MethodGet, URL: rel})
	}
	b, _ := json.Marshal(body)
	ans := &batchAnswer{chunk: chunk}
	if err := c.post(ctx, tenant, "/v1.0/$batch", b, ans); err != nil {
		c.log.Debug("graph: $batch failed; reading one by one", "tenant", tenant, "err", err)
		return nil
	}
	out := map[string]*prefetched{}
	for i, r := range ans.parts {
		if !r.seen {
			continue
		}
		p := chunk[i].path
		switch {
		case r.status == http.StatusOK && r.dst != nil:
			out[p] = &prefetched{dst: r.dst}
		case r.status == http.StatusOK:
			// a body of another shape: read on its own
		case connector.Transient(r.status):
			if r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable {
				c.batchThrottled.Add(1)
			}
			wait, ok := connector.ParseRetryAfter(headerFold(r.header, "Retry-After"), c.cfg.Now())
			if !ok {
				wait = c.retry.Backoff(1)
			}
			out[p] = &prefetched{wait: min(wait, c.retry.Max)}
		case r.status == http.StatusUnauthorized:
			out[p] = &prefetched{} // again at once, with a new token
		default:
			e := connector.ParseAPIError(r.raw)
			e.Service, e.Tenant, e.Path, e.Status = "graph", tenant, pathOnly(p), r.status
			out[p] = &prefetched{err: e}
		}
	}
	return out
}

// headerFold is h[name] with the name matched case-insensitively ($batch
// answers carry headers as a JSON object).
func headerFold(h map[string]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// batchAnswer decodes a $batch answer ({"responses":[{"id","status",
// "headers","body"}, …]}) in one pass: a 200 body whose id and status
// come before it (as Graph writes them) is decoded straight into its
// item's type; any other body is kept raw.
type batchAnswer struct {
	chunk []batchItem
	parts []batchPart
}

type batchPart struct {
	seen   bool
	status int
	header map[string]string
	dst    any
	raw    json.RawMessage
}

// DecodeJSONBody implements connector.BodyDecoder.
func (a *batchAnswer) DecodeJSONBody(b []byte) error {
	a.parts = make([]batchPart, len(a.chunk))
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		if key != "responses" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
			continue
		}
		if err := expectDelim(dec, '['); err != nil {
			return err
		}
		for dec.More() {
			if err := a.response(dec); err != nil {
				return err
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("$batch answer: data after the top-level object")
	}
	return nil
}

func (a *batchAnswer) response(dec *json.Decoder) error {
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	var (
		idx    = -1
		status int
		header map[string]string
		dst    any
		raw    json.RawMessage
	)
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		switch key {
		case "id":
			var id string
			if err := dec.Decode(&id); err != nil {
				return err
			}
			if i, err := strconv.Atoi(id); err == nil && i >= 0 && i < len(a.chunk) {
				idx = i
			}
		case "status":
			if err := dec.Decode(&status); err != nil {
				return err
			}
		case "headers":
			if err := dec.Decode(&header); err != nil {
				return err
			}
		case "body":
			if idx >= 0 && status == http.StatusOK {
				d := a.chunk[idx].newDst()
				err := dec.Decode(d)
				var te *json.UnmarshalTypeError
				switch {
				case err == nil:
					dst = d
				case errors.As(err, &te):
					// another shape (the value was consumed): read on its own
				default:
					return err
				}
				continue
			}
			if err := dec.Decode(&raw); err != nil {
				return err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if idx < 0 {
		return nil
	}
	if status == http.StatusOK && dst == nil && raw != nil {
		// The body came before the id or status.
		if d := a.chunk[idx].newDst(); json.Unmarshal(raw, d) == nil {
			dst = d
		}
	}
	a.parts[idx] = batchPart{seen: true, status: status, header: header, dst: dst, raw: raw}
	return nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("$batch answer: want %q, got %v", want, t)
	}
	return nil
}

func pathOnly(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// waitPre is the prefetched answer of path, nil when it must be read on
// its own (after its wait, for a throttled one).
func waitPre(ctx context.Context, c *Client, path string, pre map[string]*prefetched) (*prefetched, error) {
	p, ok := pre[path]
	if !ok {
		return nil, nil
	}
	if p.err != nil || p.dst != nil {
		return p, nil
	}
	if p.wait > 0 {
		if err := c.retry.Sleep(ctx, p.wait); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// listPre is listDelta whose first page may come from a batch.
func listPre[T any](ctx context.Context, c *Client, tenant, path string, pre map[string]*prefetched, fn func(T) error) (string, error) {
	p, err := waitPre(ctx, c, path, pre)
	if err != nil {
		return "", err
	}
	if p == nil {
		return listDelta(ctx, c, tenant, path, fn)
	}
	if p.err != nil {
		return "", p.err
	}
	pg, ok := p.dst.(*page[T])
	if !ok {
		return listDelta(ctx, c, tenant, path, fn)
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
func getPre[T any](ctx context.Context, c *Client, tenant, path string, pre map[string]*prefetched, v *T) error {
	p, err := waitPre(ctx, c, path, pre)
	if err != nil {
		return err
	}
	if p == nil {
		return c.Get(ctx, tenant, path, v)
	}
	if p.err != nil {
		return p.err
	}
	d, ok := p.dst.(*T)
	if !ok {
		return c.Get(ctx, tenant, path, v)
	}
	*v = *d
	return nil
}
