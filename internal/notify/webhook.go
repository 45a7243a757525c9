package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/useragent"
)

// Webhook headers.
const (
	HeaderSignature = "X-Firebreak-Signature" // "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderTimestamp = "X-Firebreak-Timestamp" // unix seconds when this attempt was signed
	HeaderDelivery  = "X-Firebreak-Delivery"  // stable id of the delivery, the same on every retry (deduplicate on it)
	HeaderEvent     = "X-Firebreak-Event"     // alert kind: incident, drift, test
)

// DefaultTolerance is how old a signed webhook may be before Verify refuses it.
const DefaultTolerance = 5 * time.Minute

// WebhookConfig configures the generic webhook.
type WebhookConfig struct {
	URL     string            `json:"url"`
	Secret  store.Secret      `json:"secret"` // HMAC key; required
	Headers map[string]string `json:"headers,omitempty"`
}

// Webhook posts the alert as JSON, signed.
type Webhook struct {
	cfg  WebhookConfig
	opts Options
}

// WebhookBody is the generic webhook's JSON document.
type WebhookBody struct {
	Version  string `json:"version"` // "1"
	Delivery string `json:"delivery"`
	Alert    Alert  `json:"alert"`
}

// NewWebhook validates c.
func NewWebhook(c WebhookConfig, opts Options) (*Webhook, error) {
	if err := checkURL(c.URL); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	if len(c.Secret) < 16 {
		return nil, errors.New("webhook: secret must be at least 16 characters")
	}
	return &Webhook{cfg: c, opts: opts}, nil
}

// Kind implements Sender.
func (w *Webhook) Kind() string { return store.TargetWebhook }

// Send implements Sender.
func (w *Webhook) Send(ctx context.Context, a Alert) error {
	id := DeliveryID(a)
	body, err := json.Marshal(WebhookBody{Version: "1", Delivery: id, Alert: a})
	if err != nil {
		return &PermanentError{Err: err}
	}
	ts := strconv.FormatInt(w.opts.now().Unix(), 10)
	h := map[string]string{
		HeaderTimestamp: ts,
		HeaderSignature: Sign(w.cfg.Secret, ts, body),
		HeaderDelivery:  id,
		HeaderEvent:     a.Kind,
	}
	for k, v := range w.cfg.Headers {
		if _, ours := h[http.CanonicalHeaderKey(k)]; !ours {
			h[k] = v
		}
	}
	return postJSON(ctx, w.opts.client(), w.cfg.URL, body, h)
}

// DeliveryID identifies one delivery: a.Delivery when set (serve's
// outbox key, the same on every attempt and from every replica), else a
// digest of the alert's state (incident id, level, count and time). A
// receiver that saw it already can ignore a retry.
func DeliveryID(a Alert) string {
	if a.Delivery != "" {
		return a.Delivery
	}
	sum := sha256.Sum256([]byte(a.Kind + "\x00" + a.ID + "\x00" + strconv.Itoa(a.Level) + "\x00" + strconv.Itoa(a.Count) + "\x00" + a.At.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:16])
}

// Sign returns the signature header value for body signed at timestamp ts.
func Sign(secret store.Secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret.Reveal()))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verification errors.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp outside the tolerance (replayed or clock skew)")
)

// Verify checks a received webhook: the signature header against the HMAC
// of timestamp "." body, in constant time, and the timestamp against now
// within tolerance (<= 0: DefaultTolerance). Receivers call it with the raw
// request body, before parsing it.
func Verify(secret store.Secret, body []byte, timestamp, signature string, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp %q", ErrStale, timestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	if !hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(strings.TrimSpace(signature))) {
		return ErrBadSignature
	}
	return nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("url %q: want an http(s) URL", redactURL(raw))
	}
	return nil
}

// redactURL hides a URL's path and query (Slack and Teams put their
// credential in the path).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[invalid url]"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// postJSON posts body and classifies the answer: 2xx ok; 408, 425, 429 and
// 5xx transient (429/503 honour Retry-After); other statuses permanent.
// Errors never contain the URL's path or query.
func postJSON(ctx context.Context, c *http.Client, target string, body []byte, headers map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return &PermanentError{Err: fmt.Errorf("building request to %s: invalid url", redactURL(target))}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", useragent.String())
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("posting to %s: %w", redactURL(target), err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("posting to %s: %s: %s", redactURL(target), resp.Status, strings.TrimSpace(strings.ToValidUTF8(string(snippet), "?")))
	switch {
	case resp.StatusCode == 429 || resp.StatusCode == 503:
		d, _ := connector.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return connector.After(err, d)
	case resp.StatusCode == 408 || resp.StatusCode == 425 || resp.StatusCode >= 500:
		return err
	}
	return &PermanentError{Err: err}
}
