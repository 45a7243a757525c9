package server

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/notify"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// notifier fans alerts out to the stored notification targets, in the
// background (detection never waits on a slow webhook), with retries and
// backoff from internal/notify, recording each outcome in the store.
type notifier struct {
	s    *Server
	d    *notify.Dispatcher
	sem  chan struct{}
	wg   sync.WaitGroup
	opts notify.Options
}

func newNotifier(s *Server) *notifier {
	n := &notifier{s: s, sem: make(chan struct{}, 32), opts: notify.Options{Now: s.now, Hostname: "firebreak", Version: s.version, HTTPClient: s.notifyHTTPClient()}}
	n.d = &notify.Dispatcher{Log: s.log, Now: s.now, OnResult: func(id string, at time.Time, err error) {
		text := ""
		if err != nil {
			text = truncate(err.Error(), 500)
			s.metrics.Notifications.WithLabelValues("failed").Inc()
		} else {
			s.metrics.Notifications.WithLabelValues("sent").Inc()
		}
		if rerr := s.st.RecordDelivery(context.Background(), id, at, text); rerr != nil {
			s.log.Warn("recording delivery", "target", id, "err", rerr)
		}
	}}
	return n
}

// targets builds senders for the enabled targets.
func (n *notifier) targets(ctx context.Context) []notify.Target {
	ts, err := n.s.st.ListNotifyTargets(ctx, store.AllTenants())
	if err != nil {
		n.s.log.Error("listing notification targets", "err", err)
		return nil
	}
	var out []notify.Target
	for _, t := range ts {
		if !t.Enabled {
			continue
		}
		if err := n.s.checkTargetEgress(ctx, t.Kind, t.Config, false); err != nil {
			n.s.log.Warn("notification target refused", "target", t.ID, "err", err)
			continue
		}
		snd, err := notify.New(t.Kind, t.Config, n.opts)
		if err != nil {
			n.s.log.Warn("notification target unusable", "target", t.ID, "err", err)
			continue
		}
		out = append(out, notify.Target{ID: t.ID, Tenant: t.Tenant, MinSeverity: t.MinSeverity, Sender: snd})
	}
	return out
}

// send delivers a in the background; when too many deliveries are already
// in flight it waits (bounded back-pressure), and it never drops silently.
func (n *notifier) send(ctx context.Context, a notify.Alert) {
	ts := n.targets(ctx)
	if len(ts) == 0 {
		return
	}
	select {
	case n.sem <- struct{}{}:
	case <-ctx.Done():
		n.s.log.Warn("notification not sent: shutting down", "alert", a.ID)
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

// wait blocks until in-flight deliveries end or d passes.
func (n *notifier) wait(d time.Duration) {
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// notifyIncident sends a new or changed incident to the targets whose
// tenant and minimum severity match.
func (s *Server) notifyIncident(ctx context.Context, inc *store.Incident, created bool) {
	if s.notify == nil {
		return
	}
	kind := "incident"
	if strings.HasPrefix(inc.Rule, "firebreak-drift") {
		kind = "drift"
	}
	a := notify.Alert{
		ID: inc.ID, Kind: kind, Title: inc.Title, Severity: inc.Severity, Tenant: inc.Tenant, Tenants: inc.Tenants,
		Rule: inc.Rule, Status: inc.Status, Count: inc.Count, Level: inc.Level, First: inc.First, Last: inc.Last, At: s.now(),
		Fields: inc.Key,
	}
	if s.cfg.BaseURL != "" {
		a.URL = strings.TrimRight(s.cfg.BaseURL, "/") + "/incidents/" + urlPathEscape(inc.ID)
	}
	if created {
		a.Summary = "new incident"
	} else {
		a.Summary = "incident updated"
	}
	s.notify.send(ctx, a)
}
