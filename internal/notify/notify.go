// Package notify delivers alerts (new or escalated incidents, drift) to
// the places an MSP watches: a generic webhook signed with HMAC-SHA256,
// Slack- and Teams-compatible incoming webhooks, syslog as CEF over UDP or
// TCP, and SMTP email.
//
// Every delivery is retried with exponential backoff and full jitter, a
// bounded number of times, and stops when its context ends. A delivery that
// still fails is returned as a *DeliveryError and counted; nothing is
// dropped silently. Secrets (webhook signing keys, SMTP passwords) live in
// Secret-typed fields that redact themselves in logs and JSON.
//
// Imported by internal/server; imports only the standard library and store
// (for the Secret type).
package notify

import (
	"github.com/firebreak-msp/firebreak/internal/catalog"

	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/useragent"
)

// Alert is what is sent.
type Alert struct {
	ID       string            `json:"id"`   // incident id (stable across escalations) or drift id
	Kind     string            `json:"kind"` // incident, drift, test
	Title    string            `json:"title"`
	Severity string            `json:"severity"` // critical, high, medium, low, info
	Tenant   string            `json:"tenant,omitempty"`
	Tenants  []string          `json:"tenants,omitempty"`
	Rule     string            `json:"rule,omitempty"` // detection rule or control id
	Summary  string            `json:"summary,omitempty"`
	Status   string            `json:"status,omitempty"` // open, acknowledged, resolved
	Count    int               `json:"count,omitempty"`
	Level    int               `json:"level,omitempty"`
	First    time.Time         `json:"first,omitzero"`
	Last     time.Time         `json:"last,omitzero"`
	At       time.Time         `json:"at"`            // when the alert was raised
	URL      string            `json:"url,omitempty"` // link into the dashboard
	Fields   map[string]string `json:"fields,omitempty"`
	// Delivery, when set, is the idempotency key of this delivery (the
	// outbox row's): DeliveryID returns it, the webhook sends it.
	Delivery string `json:"-"`
}

// Sender delivers one alert once (no retry); Deliver adds the retries.
type Sender interface {
	Send(ctx context.Context, a Alert) error
	Kind() string
}

// PermanentError marks a failure that retrying cannot fix (a 4xx answer, a
// rejected recipient, a bad configuration): the connector framework's type.
type PermanentError = connector.PermanentError

// DeliveryError is a delivery that failed after every attempt.
type DeliveryError struct {
	Target   string
	Attempts int
	Err      error
}

func (e *DeliveryError) Error() string {
	return fmt.Sprintf("delivering to %s failed after %d attempt(s): %v", e.Target, e.Attempts, e.Err)
}
func (e *DeliveryError) Unwrap() error { return e.Err }

// Retry is the retry policy: the one of every outside call
// (connector.Retry: exponential backoff with full jitter, bounded tries,
// Retry-After honoured up to Max). Zero fields take defaults.
type Retry = connector.Retry

// Deliver sends a with s, retrying transient failures. It returns nil or a
// *DeliveryError; the number of attempts made is in the error.
func Deliver(ctx context.Context, s Sender, target string, a Alert, r Retry) error {
	attempts := 0
	err := r.Do(ctx, func(n int) error {
		attempts = n
		return s.Send(ctx, a)
	})
	if err == nil {
		return nil
	}
	var ex *connector.ExhaustedError
	if errors.As(err, &ex) {
		err = ex.Err
	}
	return &DeliveryError{Target: target, Attempts: attempts, Err: err}
}

// Options are shared by every sender.
type Options struct {
	HTTPClient *http.Client     // nil: a client with a 10s timeout
	Now        func() time.Time // nil: time.Now
	Hostname   string           // syslog HOSTNAME and email Message-ID domain (default "firebreak")
	Version    string           // CEF device version (default "1")
	// TLS, when set, is the TLS configuration for SMTP STARTTLS and syslog
	// over TLS (tests pass their own roots). ServerName is filled from the
	// target's host when empty.
	TLS *tls.Config
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) client() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return useragent.Client(&http.Client{Timeout: 10 * time.Second})
}

// New builds the sender for a target of kind (store.TargetWebhook, …) from
// its JSON config. Unknown keys are errors.
func New(kind string, config json.RawMessage, opts Options) (Sender, error) {
	dec := func(v any) error {
		if len(config) == 0 {
			return fmt.Errorf("%s target: empty config", kind)
		}
		d := json.NewDecoder(strings.NewReader(string(config)))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return fmt.Errorf("%s target config: %w", kind, err)
		}
		return nil
	}
	switch kind {
	case store.TargetWebhook:
		var c WebhookConfig
		if err := dec(&c); err != nil {
			return nil, err
		}
		return NewWebhook(c, opts)
	case store.TargetSlack, store.TargetTeams:
		var c ChatConfig
		if err := dec(&c); err != nil {
			return nil, err
		}
		if kind == store.TargetSlack {
			return NewSlack(c, opts)
		}
		return NewTeams(c, opts)
	case store.TargetSyslog:
		var c SyslogConfig
		if err := dec(&c); err != nil {
			return nil, err
		}
		return NewSyslog(c, opts)
	case store.TargetSMTP:
		var c SMTPConfig
		if err := dec(&c); err != nil {
			return nil, err
		}
		return NewSMTP(c, opts)
	}
	return nil, fmt.Errorf("unknown notification target kind %q (want webhook, slack, teams, syslog or smtp)", kind)
}

// severityRank orders severities on catalog's one scale (info 1 …
// critical 5, Sigma's "informational" = info); unknown ranks lowest (0).
func severityRank(s string) int { return catalog.SeverityOf(s).Rank() + 1 }

// Target is a destination in a Dispatcher.
type Target struct {
	ID          string
	Tenant      string // "": every tenant's alerts; else only alerts involving it
	MinSeverity string
	Sender      Sender
}

// Wants reports whether the target takes alert a.
func (t Target) Wants(a Alert) bool {
	if t.MinSeverity != "" && severityRank(a.Severity) < severityRank(t.MinSeverity) {
		return false
	}
	if t.Tenant == "" {
		return true
	}
	if a.Tenant == t.Tenant {
		return true
	}
	for _, x := range a.Tenants {
		if x == t.Tenant {
			return true
		}
	}
	return false
}

// Stats counts deliveries.
type Stats struct {
	Sent, Failed, Attempts atomic.Int64
}

// Dispatcher fans an alert out to every target that wants it.
type Dispatcher struct {
	Retry Retry
	Log   *slog.Logger
	Stats Stats
	// OnResult, when set, is called after each target's delivery (err nil on
	// success), e.g. to record it in the store and in metrics.
	OnResult func(targetID string, at time.Time, err error)
	Now      func() time.Time
}

// Send delivers a to every wanting target concurrently and returns the
// failures joined (nil when all succeeded). Tenant-bound targets get an
// alert naming only their own tenant.
func (d *Dispatcher) Send(ctx context.Context, targets []Target, a Alert) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, t := range targets {
		if !t.Wants(a) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			alert := a
			if t.Tenant != "" {
				alert.Tenant, alert.Tenants = t.Tenant, []string{t.Tenant}
			}
			counting := &countingSender{Sender: t.Sender, n: &d.Stats.Attempts}
			err := Deliver(ctx, counting, t.ID, alert, d.Retry)
			now := time.Now
			if d.Now != nil {
				now = d.Now
			}
			if err != nil {
				d.Stats.Failed.Add(1)
				if d.Log != nil {
					d.Log.Warn("notification failed", "target", t.ID, "kind", t.Sender.Kind(), "alert", a.ID, "err", err)
				}
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			} else {
				d.Stats.Sent.Add(1)
			}
			if d.OnResult != nil {
				d.OnResult(t.ID, now(), err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

type countingSender struct {
	Sender
	n *atomic.Int64
}

func (c *countingSender) Send(ctx context.Context, a Alert) error {
	c.n.Add(1)
	return c.Sender.Send(ctx, a)
}
