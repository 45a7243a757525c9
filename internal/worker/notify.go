package worker

import (
	"context"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/notify"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// NotifierOptions configure a Notifier.
type NotifierOptions struct {
	Store   store.Store
	Logger  *slog.Logger
	Now     func() time.Time
	Version string
	Metrics *metrics.Metrics
	BaseURL string // links in alerts
	// AllowNetworks may be reached although inward (notify.allow_networks).
	AllowNetworks []netip.Prefix
}

// Notifier fans alerts out to the stored notification targets, in the
// background (detection never waits on a slow webhook), with retries and
// backoff from internal/notify, recording each outcome in the store.
type Notifier struct {
	st      store.Store
	log     *slog.Logger
	now     func() time.Time
	baseURL string
	allow   []netip.Prefix
	d       *notify.Dispatcher
	sem     chan struct{}
	wg      sync.WaitGroup
	opts    notify.Options
}

// NewNotifier returns a notifier.
func NewNotifier(o NotifierOptions) *Notifier {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	n := &Notifier{st: o.Store, log: o.Logger, now: o.Now, baseURL: o.BaseURL, allow: o.AllowNetworks, sem: make(chan struct{}, 32)}
	n.opts = notify.Options{Now: o.Now, Hostname: "firebreak", Version: o.Version, HTTPClient: n.notifyHTTPClient()}
	n.d = &notify.Dispatcher{Log: o.Logger, Now: o.Now, OnResult: func(id string, at time.Time, err error) {
		text := ""
		if err != nil {
			text = truncate(err.Error(), 500)
			o.Metrics.Notifications.WithLabelValues("failed").Inc()
		} else {
			o.Metrics.Notifications.WithLabelValues("sent").Inc()
		}
		if rerr := o.Store.RecordDelivery(context.Background(), id, at, text); rerr != nil {
			o.Logger.Warn("recording delivery", "target", id, "err", rerr)
		}
	}}
	return n
}

// SetAllowNetworks replaces notify.allow_networks (tests); call it while
// nothing is being sent.
func (n *Notifier) SetAllowNetworks(ps []netip.Prefix) { n.allow = ps }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// targets builds senders for the enabled targets.
func (n *Notifier) targets(ctx context.Context) []notify.Target {
	ts, err := n.st.ListNotifyTargets(ctx, store.AllTenants())
	if err != nil {
		n.log.Error("listing notification targets", "err", err)
		return nil
	}
	var out []notify.Target
	for _, t := range ts {
		if !t.Enabled {
			continue
		}
		if err := n.CheckTargetEgress(ctx, t.Kind, t.Config, false); err != nil {
			n.log.Warn("notification target refused", "target", t.ID, "err", err)
			continue
		}
		snd, err := notify.New(t.Kind, t.Config, n.opts)
		if err != nil {
			n.log.Warn("notification target unusable", "target", t.ID, "err", err)
			continue
		}
		out = append(out, notify.Target{ID: t.ID, Tenant: t.Tenant, MinSeverity: t.MinSeverity, Sender: snd})
	}
	return out
}

// send delivers a in the background; when too many deliveries are already
// in flight it waits (bounded back-pressure), and it never drops silently.
func (n *Notifier) send(ctx context.Context, a notify.Alert) {
	ts := n.targets(ctx)
	if len(ts) == 0 {
		return
	}
	select {
	case n.sem <- struct{}{}:
	case <-ctx.Done():
		n.log.Warn("notification not sent: shutting down", "alert", a.ID)
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() { <-n.sem }()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		_ = n.d.Send(dctx, ts, a)
	}()
}

// Wait blocks until in-flight deliveries end or d passes.
func (n *Notifier) Wait(d time.Duration) {
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// NotifyIncident sends a new or changed incident to the targets whose
// tenant and minimum severity match.
func (n *Notifier) NotifyIncident(ctx context.Context, inc *store.Incident, created bool) {
	if n == nil {
		return
	}
	kind := "incident"
	if strings.HasPrefix(inc.Rule, "firebreak-drift") {
		kind = "drift"
	}
	a := notify.Alert{
		ID: inc.ID, Kind: kind, Title: inc.Title, Severity: inc.Severity, Tenant: inc.Tenant, Tenants: inc.Tenants,
		Rule: inc.Rule, Status: inc.Status, Count: inc.Count, Level: inc.Level, First: inc.First, Last: inc.Last, At: n.now(),
		Fields: inc.Key,
	}
	if n.baseURL != "" {
		a.URL = strings.TrimRight(n.baseURL, "/") + "/incidents/" + url.PathEscape(inc.ID)
	}
	if created {
		a.Summary = "new incident"
	} else {
		a.Summary = "incident updated"
	}
	n.send(ctx, a)
}
