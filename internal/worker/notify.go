package worker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
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
	// Owner names this process in outbox claims (default: host, pid and a
	// random suffix).
	Owner string
	// Lease is how long a claimed notification is this process's to send
	// (default 2m); a process that dies holding it leaves the notification
	// to another once it passes.
	Lease time.Duration
	// Every is how often Run looks for notifications to (re)send: failed
	// ones due for a retry, ones a dead process held (default 5s).
	Every time.Duration
}

// Notification delivery (outbox). An alert is written to the store's
// outbox, one row per wanting target, keyed by the alert (kind, incident,
// level, count), before anything is sent: a second replica or a restart
// raising the same alert adds nothing (store.OutboxStore.AddOutbox). Rows
// are then claimed for a lease and sent (ClaimOutbox: row claims, so any
// number of processes may send, each row by one of them), acknowledged
// when the target took them, or failed with a backoff and retried. A
// process that dies between claim and acknowledgement leaves the row to
// another after the lease: the target may then get it a second time,
// with the same idempotency key (the webhook's X-Firebreak-Delivery),
// and never a third time from that crash.
const (
	notifyPrefix       = "notify:"
	defaultNotifyLease = 2 * time.Minute
	defaultNotifyEvery = 5 * time.Second
	// notifySendTimeout bounds one attempt; it is well inside the lease.
	notifySendTimeout = time.Minute
)

// notifyRetry spaces a failed notification's next attempts (full jitter
// from 5s, at most 15m apart); they continue until the target takes it or
// is removed.
var notifyRetry = connector.Retry{Base: 5 * time.Second, Max: 15 * time.Minute}

// Notifier records alerts in the outbox and delivers them to the stored
// notification targets in the background (detection never waits on a
// slow webhook), recording each outcome in the store.
type Notifier struct {
	st      store.Store
	log     *slog.Logger
	now     func() time.Time
	baseURL string
	allow   []netip.Prefix
	metrics *metrics.Metrics
	owner   string
	lease   time.Duration
	every   time.Duration
	sem     chan struct{}
	wg      sync.WaitGroup
	// held: alerts are only recorded in the outbox, not sent from here
	// (SetSending).
	held atomic.Bool
	opts notify.Options
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
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:8])
	}
	if o.Lease <= 0 {
		o.Lease = defaultNotifyLease
	}
	if o.Every <= 0 {
		o.Every = defaultNotifyEvery
	}
	n := &Notifier{st: o.Store, log: o.Logger, now: o.Now, baseURL: o.BaseURL, allow: o.AllowNetworks, metrics: o.Metrics,
		owner: o.Owner, lease: o.Lease, every: o.Every, sem: make(chan struct{}, 8)}
	n.opts = notify.Options{Now: o.Now, Hostname: "firebreak", Version: o.Version, HTTPClient: n.notifyHTTPClient()}
	return n
}

// SetSending says whether this process sends the alerts it records (the
// default) or only records them in the outbox for another to send. Split
// roles send only under the worker's leader lease (roles.Node.Run), so a
// detector that raises an alert records it and the leading worker's Run
// sends it: each alert is sent by one process, the leader.
func (n *Notifier) SetSending(on bool) { n.held.Store(!on) }

// SetAllowNetworks replaces notify.allow_networks (tests); call it while
// nothing is being sent.
func (n *Notifier) SetAllowNetworks(ps []netip.Prefix) { n.allow = ps }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// enabledTargets lists the enabled notification targets.
func (n *Notifier) enabledTargets(ctx context.Context) ([]store.NotifyTarget, error) {
	ts, err := n.st.ListNotifyTargets(ctx, store.AllTenants())
	if err != nil {
		return nil, fmt.Errorf("listing notification targets: %w", err)
	}
	out := ts[:0]
	for _, t := range ts {
		if t.Enabled {
			out = append(out, t)
		}
	}
	return out, nil
}

// alertKey names one alert of an incident: a replica or a restart that
// raises the same alert (same incident, level and count) names it alike.
func alertKey(a *notify.Alert) string {
	// The severity too: a self_recovery judgement stored pending (low) and
	// settled as an attack (the rule's level) has the same level and count.
	return fmt.Sprintf("%s/%s/%d/%d/%s", a.Kind, a.ID, a.Level, a.Count, a.Severity)
}

// enqueue adds a to the outbox of every enabled target that wants it and
// reports the targets it was new for.
func (n *Notifier) enqueue(ctx context.Context, a notify.Alert) ([]string, error) {
	ts, err := n.enabledTargets(ctx)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	var added []string
	for _, t := range ts {
		if !(notify.Target{Tenant: t.Tenant, MinSeverity: t.MinSeverity}).Wants(a) {
			continue
		}
		ok, err := n.st.AddOutbox(ctx, &store.OutboxItem{Target: notifyPrefix + t.ID, Key: alertKey(&a), Kind: a.Kind, Tenant: a.Tenant, Body: body})
		if err != nil {
			return added, err
		}
		if ok {
			added = append(added, t.ID)
		}
	}
	return added, nil
}

// kick sends the outbox rows of targets in the background, at once; when
// too many sends are already in flight it waits (bounded back-pressure).
// Whatever it does not get to, Run sends later.
func (n *Notifier) kick(ctx context.Context, targets []string) {
	select {
	case n.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() { <-n.sem }()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
		defer cancel()
		if err := n.flush(dctx, targets); err != nil {
			n.log.Warn("sending notifications", "err", err)
		}
	}()
}

// Run sends, every NotifierOptions.Every until ctx ends, the outbox rows
// that are due: retries of failed sends, rows of processes that died, rows
// added by processes that do not send. Any number of processes may run
// it at once.
func (n *Notifier) Run(ctx context.Context) {
	t := time.NewTicker(n.every)
	defer t.Stop()
	for {
		if _, err := n.Flush(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("sending notifications", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Flush sends every due outbox row of the enabled targets and reports how
// many were delivered.
func (n *Notifier) Flush(ctx context.Context) (int, error) {
	ts, err := n.enabledTargets(ctx)
	if err != nil {
		return 0, err
	}
	var sent int
	for _, t := range ts {
		k, err := n.flushTarget(ctx, t)
		sent += k
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

func (n *Notifier) flush(ctx context.Context, ids []string) error {
	ts, err := n.enabledTargets(ctx)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if slices.Contains(ids, t.ID) {
			if _, err := n.flushTarget(ctx, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushTarget claims and sends t's due rows until none is left.
func (n *Notifier) flushTarget(ctx context.Context, t store.NotifyTarget) (int, error) {
	var snd notify.Sender
	refused := n.CheckTargetEgress(ctx, t.Kind, t.Config, false)
	if refused == nil {
		var err error
		if snd, err = notify.New(t.Kind, t.Config, n.opts); err != nil {
			refused = err
		}
	}
	sent := 0
	for {
		rows, err := n.st.ClaimOutbox(ctx, notifyPrefix+t.ID, n.owner, n.now(), n.lease, 32)
		if err != nil || len(rows) == 0 {
			return sent, err
		}
		for i := range rows {
			if n.deliver(ctx, t, snd, refused, &rows[i]) {
				sent++
			}
		}
	}
}

// deliver makes one attempt at one claimed row and records its outcome.
func (n *Notifier) deliver(ctx context.Context, t store.NotifyTarget, snd notify.Sender, refused error, row *store.OutboxItem) bool {
	var a notify.Alert
	err := refused
	if err == nil {
		if err = json.Unmarshal(row.Body, &a); err == nil {
			if t.Tenant != "" {
				// A tenant's target gets an alert naming only its tenant.
				a.Tenant, a.Tenants = t.Tenant, []string{t.Tenant}
			}
			a.Delivery = deliveryKey(row)
			sctx, cancel := context.WithTimeout(ctx, notifySendTimeout)
			err = snd.Send(sctx, a)
			cancel()
		}
	}
	at := n.now()
	if rerr := n.st.RecordDelivery(ctx, t.ID, at, errText(err)); rerr != nil {
		n.log.Warn("recording delivery", "target", t.ID, "err", rerr)
	}
	if err != nil {
		n.metrics.Notifications.WithLabelValues("failed").Inc()
		n.log.Warn("notification failed, kept in the outbox", "target", t.ID, "alert", row.Key, "attempt", row.Attempts+1, "err", err)
		next := at.Add(max(notifyRetry.Backoff(row.Attempts+1), time.Second))
		if ferr := n.st.FailOutbox(ctx, row.Target, row.Key, truncate(err.Error(), 500), next); ferr != nil {
			n.log.Warn("recording notification failure", "target", t.ID, "alert", row.Key, "err", ferr)
		}
		return false
	}
	n.metrics.Notifications.WithLabelValues("sent").Inc()
	// Not acknowledged (the store is away): the row stays claimed until
	// the lease passes, then it is sent once more with the same key.
	if aerr := n.st.AckOutbox(ctx, row.Target, row.Key, row.Version, ""); aerr != nil {
		n.log.Warn("notification sent but not acknowledged; it will be sent again with the same delivery key", "target", t.ID, "alert", row.Key, "err", aerr)
	}
	return true
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return truncate(err.Error(), 500)
}

// deliveryKey is the idempotency key of one outbox row: the same on every
// attempt and in every process, different for every target and alert.
func deliveryKey(row *store.OutboxItem) string {
	sum := sha256.Sum256([]byte(row.Target + "\x00" + row.Key + "\x00" + strconv.FormatInt(row.Version, 10)))
	return hex.EncodeToString(sum[:16])
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

// NotifyIncident records a new or escalated incident in the outbox of the
// targets whose tenant and minimum severity match and sends it. It fails
// only when the store does (logged and counted): the alert is then not
// recorded.
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
	added, err := n.enqueue(ctx, a)
	if err != nil {
		n.metrics.Notifications.WithLabelValues("failed").Inc()
		n.log.Error("notification not recorded in the outbox", "alert", a.ID, "err", err)
	}
	if len(added) > 0 && !n.held.Load() {
		n.kick(ctx, added)
	}
}
