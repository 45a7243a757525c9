// Package pipeline moves committed events through detection and detection's
// incidents into the store and out to the notifier: the detect role.
//
// Events arrive already durable (Commit stores them, then queues them);
// one goroutine (Run) feeds the detection engine and keeps stored incidents
// in step with it (sync). It imports no HTTP.
package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/audit"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/timeline"
)

// Detector is the detection engine as the pipeline drives it: one event in,
// the incidents it alerted on (new, escalated or recurring) out, already in
// store form. It is used from one goroutine only.
type Detector interface {
	Process(ev *event.Event) []store.Incident
	// Flush releases events held for reordering (at shutdown).
	Flush() []store.Incident
	// Updated returns the incidents opened or changed in place (count,
	// last seen, tenants, severity) since the previous call, alerted or
	// not, so the store can be kept in step without a write per event.
	Updated() []store.Incident
}

// defaultSyncEvery bounds how often detection's in-place incident updates
// are written to the store while events keep arriving (and how stale a
// stored count or last-seen time can be).
const defaultSyncEvery = time.Second

// Pipeline moves stored events to detection and detection's incidents to
// the store and the notifiers.
//
// Ownership: Enqueue sends on q; Run (one goroutine) is the only reader;
// q is never closed — run stops when its context ends, after draining what
// is already queued.
type Pipeline struct {
	o   Options
	q   chan []event.Event
	mu  sync.Mutex
	det Detector

	// syncEvery is the longest a changed incident waits before it is
	// written; lastSync (run's goroutine only) is when that last happened.
	syncEvery time.Duration
	lastSync  time.Time

	// hist (guarded by mu) holds, per incident id this process's detection
	// has written, what the store already had beyond the engine's view
	// (nil: nothing), read once at the first write.
	hist map[string]*history
}

// history is a stored incident's state from before this process's engine
// saw it: a restart rebuilds detection from ReplayWindow of events only,
// so the engine's count, tenants and severity can start below the stored
// ones. Written incidents never go backwards past it.
type history struct {
	count    int
	last     time.Time
	tenants  []string
	severity string
}

// Notifier sends a new or changed incident to the notification targets.
type Notifier interface {
	NotifyIncident(ctx context.Context, inc *store.Incident, created bool)
}

// Options configure a Pipeline.
type Options struct {
	Store   store.Store
	Metrics *metrics.Metrics
	Log     *slog.Logger
	Now     func() time.Time
	Queue   int      // detection queue length in events (batches are queued: Queue/256 of them)
	Notify  Notifier // nil: no notifications
	// Detect reports whether detection runs in this process; without it
	// committed events are only stored.
	Detect bool
}

// New returns a pipeline; Run starts detection.
func New(o Options) *Pipeline {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{o: o, q: make(chan []event.Event, max(1, o.Queue/256)), syncEvery: defaultSyncEvery, hist: map[string]*history{}}
}

// SetSyncEvery changes how often in-place incident updates are written
// (tests shorten it); call it before Run.
func (p *Pipeline) SetSyncEvery(d time.Duration) { p.syncEvery = d }

// Commit writes records durably and then queues their events for detection.
// When it returns nil the events are committed: the caller may acknowledge.
func (p *Pipeline) Commit(ctx context.Context, recs []store.EventRecord) error {
	if len(recs) == 0 {
		return nil
	}
	if err := p.o.Store.AppendEvents(ctx, recs); err != nil {
		return err
	}
	p.o.Metrics.EventsStored.Add(float64(len(recs)))
	evs := make([]event.Event, len(recs))
	for i := range recs {
		evs[i] = recs[i].Event
	}
	p.Enqueue(ctx, evs)
	return nil
}

// Enqueue hands events to detection; it blocks while the queue is full
// (back-pressure) until ctx ends. Events are already stored, so a dropped
// enqueue (ctx cancelled) loses detection of these events, never the events.
func (p *Pipeline) Enqueue(ctx context.Context, evs []event.Event) {
	if !p.o.Detect {
		return // no detection configured
	}
	select {
	case p.q <- evs:
		p.o.Metrics.QueueDepth.Set(float64(len(p.q)))
	case <-ctx.Done():
		p.o.Metrics.DetectDropped.Add(float64(len(evs)))
	}
}

// Submit stores and detects one event the server produced itself
// (login failures, dataset firebreak.auth).
func (p *Pipeline) Submit(ctx context.Context, ev event.Event) {
	ctx = context.WithoutCancel(ctx)
	rec := store.EventRecord{Event: ev}
	if err := p.Commit(ctx, []store.EventRecord{rec}); err != nil {
		p.o.Log.Error("storing auth event", "err", err)
	}
}

// Run rebuilds detection state from recently stored events, then consumes
// the detection queue until ctx ends. Live events wait in the queue (and
// ingest slows by back-pressure) while the replay runs; serving does not.
func (p *Pipeline) Run(ctx context.Context, det Detector) {
	p.mu.Lock()
	p.det = det
	p.mu.Unlock()
	if n, err := p.Replay(ctx, det); err != nil {
		if ctx.Err() == nil {
			p.o.Log.Warn("replaying stored events into detection", "err", err)
		}
	} else if n > 0 {
		p.o.Log.Info("detection state rebuilt from stored events", "events", n)
	}
	tick := time.NewTicker(p.syncEvery)
	defer tick.Stop()
	for {
		select {
		case evs := <-p.q:
			p.detect(ctx, evs)
			if time.Since(p.lastSync) >= p.syncEvery {
				p.sync(ctx, det)
			}
		case <-tick.C:
			p.sync(ctx, det)
		case <-ctx.Done():
			ctx := context.WithoutCancel(ctx)
			for {
				select {
				case evs := <-p.q:
					p.detect(ctx, evs)
				default:
					p.Handle(ctx, det.Flush())
					p.sync(ctx, det)
					return
				}
			}
		}
	}
}

func (p *Pipeline) detect(ctx context.Context, evs []event.Event) {
	start := time.Now()
	for i := range evs {
		p.Handle(ctx, p.det.Process(&evs[i]))
	}
	p.o.Metrics.DetectSeconds.Observe(time.Since(start).Seconds())
	p.o.Metrics.EventsDetected.Add(float64(len(evs)))
	p.o.Metrics.QueueDepth.Set(float64(len(p.q)))
}

// sync writes the incidents det changed in place since the last sync —
// counts, last seen, tenants of cross-tenant rules, severity — so the store
// (dashboard, API) shows the engine's state, not the state at its last
// alert. It notifies nothing: an incident already in the store is only
// re-notified through an alert (escalation, recurrence); one the store
// lacks (its alert's write failed) is notified as new. Each changed
// incident is written once per sync, however many events touched it.
func (p *Pipeline) sync(ctx context.Context, det Detector) {
	p.lastSync = time.Now()
	incs := det.Updated()
	if len(incs) == 0 {
		return
	}
	p.HandleMode(ctx, incs, true)
	p.o.Metrics.IncidentSyncs.Add(float64(len(incs)))
}

// Handle stores incidents and notifies on new or escalated ones.
func (p *Pipeline) Handle(ctx context.Context, incs []store.Incident) { p.HandleMode(ctx, incs, false) }

// HandleMode stores incidents; when replaying (detection state rebuilt at
// start) only incidents new to the store are notified.
func (p *Pipeline) HandleMode(ctx context.Context, incs []store.Incident, replay bool) {
	for i := range incs {
		inc := incs[i]
		p.keepHistory(ctx, &inc)
		stored, created, err := p.o.Store.UpsertIncident(ctx, &inc)
		if err != nil {
			p.o.Log.Error("storing incident", "id", inc.ID, "err", err)
			continue
		}
		if created {
			p.o.Metrics.Incidents.WithLabelValues(stored.Severity).Inc()
			audit.Append(ctx, p.o.Store, p.o.Log, "anonymous", "", "incident.open", stored.ID, stored.Tenant, map[string]any{"rule": stored.Rule, "severity": stored.Severity})
		}
		if (!replay || created) && p.o.Notify != nil {
			p.o.Notify.NotifyIncident(ctx, stored, created)
		}
	}
}

// keepHistory raises inc to what the store held for it before this
// process's detection first wrote it (see history).
func (p *Pipeline) keepHistory(ctx context.Context, inc *store.Incident) {
	p.mu.Lock()
	h, seen := p.hist[inc.ID]
	p.mu.Unlock()
	if !seen {
		old, err := p.o.Store.GetIncident(ctx, store.AllTenants(), inc.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return // unknown for now; asked again at the next write
		case old.Count > inc.Count || old.Last.After(inc.Last) || detect.LevelRank(old.Severity) > detect.LevelRank(inc.Severity) ||
			slices.ContainsFunc(old.Tenants, func(t string) bool { return !slices.Contains(inc.Tenants, t) }):
			h = &history{count: old.Count, last: old.Last, tenants: old.Tenants, severity: old.Severity}
		}
		p.mu.Lock()
		p.hist[inc.ID] = h
		p.mu.Unlock()
	}
	if h == nil {
		return
	}
	inc.Count = max(inc.Count, h.count)
	if h.last.After(inc.Last) {
		inc.Last = h.last
	}
	if detect.LevelRank(h.severity) > detect.LevelRank(inc.Severity) {
		inc.Severity = h.severity
	}
	if len(h.tenants) > 0 {
		ts := append(slices.Clone(inc.Tenants), h.tenants...)
		slices.Sort(ts)
		inc.Tenants = slices.Compact(ts)
	}
}

// ReplayWindow and replayMax bound the events re-run through detection at
// start, so correlation windows open before a restart keep counting.
const (
	ReplayWindow = 24 * time.Hour
	replayMax    = 200_000
)

// Replay rebuilds detection state from the events stored in the last
// ReplayWindow (oldest first), before live events are processed.
func (p *Pipeline) Replay(ctx context.Context, det Detector) (int, error) {
	q := store.EventQuery{From: p.o.Now().Add(-ReplayWindow), Limit: 10000}
	var recs []store.EventRecord
	for len(recs) < replayMax {
		page, err := p.o.Store.SearchEvents(ctx, store.AllTenants(), q)
		if err != nil {
			return 0, err
		}
		recs = append(recs, page...)
		if len(page) < q.Limit {
			break
		}
		q.BeforeID = page[len(page)-1].ID
	}
	// Pages come newest id first: put them in id (commit) order, then in
	// event time, keeping commit order among equal times.
	slices.Reverse(recs)
	slices.SortStableFunc(recs, func(a, b store.EventRecord) int { return timeline.Compare(&a.Event, &b.Event) })
	for i := range recs {
		p.HandleMode(ctx, det.Process(&recs[i].Event), true)
	}
	p.sync(ctx, det)
	return len(recs), nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
