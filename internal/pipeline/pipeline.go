// Package pipeline moves committed events through detection and detection's
// incidents into the store and out to the notifier: the detect role.
//
// Events arrive already durable (Commit stores them, then queues them);
// one goroutine (Run) feeds the detection engine and keeps stored incidents
// in step with it (sync). It imports no HTTP.
package pipeline

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/bus"
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
	q   chan queued
	mu  sync.Mutex
	det Detector

	// syncEvery is the longest a changed incident waits before it is
	// written; lastSync (run's goroutine only) is when that last happened.
	syncEvery time.Duration
	lastSync  time.Time

	// The replay at start and the live queue must not both detect an
	// event: one committed after the pipeline was built but before the
	// replay's query is in both. Until the replay has read the store,
	// Commit notes the ids it commits (early, under gate's read lock from
	// the append to the note); the replay then takes gate's write lock, so
	// every event its query saw is noted, detects the noted ones it read as
	// live events, and skips their queued copies (skip, Run's goroutine).
	gate     sync.RWMutex
	tracking bool               // guarded by gate
	early    map[int64]struct{} // guarded by gate (and earlyMu among the read lock's holders)
	earlyMu  sync.Mutex
	skip     map[int64]struct{}
	live     map[int64]struct{} // replayed events never detected before (committed here since New)

	// Stored events older than the replay read (Run's goroutine only):
	// replayFrom is where the restart replay began (zero: no replay, or no
	// window); primedTo, per tenant, how far the live detector has been fed
	// the stored events from before this process (primeLive); firstID the
	// lowest store id this process queued for detection (math.MaxInt64:
	// none yet), below which a stored event can only be a predecessor's.
	replayFrom time.Time
	window     time.Duration
	primedTo   map[string]time.Time
	firstID    atomic.Int64

	// late holds events older than the live horizon until the next
	// back-fill pass (Run's goroutine only).
	late []event.Event
	// bf is the back-fill engine kept across passes (Run's goroutine
	// only): a source far behind the others sends its log over many sync
	// ticks, and a correlation spanning two passes must join as in one.
	// It takes a pass whose events are all from its horizon on; a pass
	// with older ones drops it for a fresh engine primed with the stored
	// events around the whole pass. Dropped (flushed) after bfIdleTicks
	// passes without events.
	bf     Detector
	bfIdle int
	// bfBase holds, per incident of bf, the count its writes have
	// accounted for so far (see handleBackfill).
	bfBase map[string]int
	// lateIDs are the store ids of the events in late: a pass primes its
	// engine with the stored events around them, not with them again.
	lateIDs map[int64]struct{}

	// spans are the delivered batches that may still hold events of open
	// windows, oldest first; lastSeq the last delivered sequence detected;
	// saved the checkpoint last reported (Run's goroutine only).
	spans   []span
	lastSeq uint64
	saved   [2]uint64
	// unwritten are the incidents whose last write failed (see unwritten).
	unwritten unwritten

	// horizon is the live detector's horizon in Unix ns (math.MinInt64:
	// none yet), published by Run's goroutine for Commit's estimate.
	horizon atomic.Int64

	// marks are the watermarks per source and per tenant (marksMu).
	marksMu sync.Mutex
	marks   map[markKey]int64

	// replayPage is the most stored events the replay holds at once.
	replayPage int

	// out is the publish outbox (outbox.go).
	out *outbox

	// hist (guarded by mu) holds, per incident id this process's detection
	// has written, what the store already had beyond the engine's view
	// (nil: nothing), read once at the first write.
	hist map[string]*history
	// pend (guarded by mu) holds the ids of incidents stored with their
	// self_recovery judgement pending (written so here, or found so at
	// the first write): when one is written settled as an attack, that
	// is notified once, as an escalation, even in a replayed or
	// back-filled write, where no alert notifies it.
	pend map[string]struct{}
	// Back-filled counts (guarded by mu): a back-fill pass detects events
	// the live detector never sees, so an incident both hold (one brute
	// force whose log halves arrive out of order) is counted by neither in
	// full. extra holds, per incident id, the events back-fill passes
	// added to it; engineCount the count other writes of it last carried.
	// A write carries the sum (handleBackfill, handle).
	extra       map[string]int
	engineCount map[string]int
	// primedBase (guarded by mu) holds, per incident id, what the stored
	// events primeLive fed the live detector count alone (countAlone):
	// the part of the live engine's count its predecessors' stored count
	// already holds (see keepHistory). replayedFrom is replayFrom in Unix
	// ns (0: none), for writes from any goroutine.
	primedBase   map[string]int
	replayedFrom atomic.Int64
	// started is when this pipeline was made (wall clock, Unix ns, as a
	// commit's time). redelivered is set once the live detector takes an
	// event committed before it (or at an unknown time): a stream
	// redelivering what a partition's previous owner had detected (a
	// detector that retakes a partition replays events the stored
	// incident already holds), not new events; from then on a restored
	// incident is raised to its stored count, never added to (keepHistory).
	started     int64
	redelivered atomic.Bool

	// Resumed pipelines (Run's goroutine only): written holds the counts
	// of the live detector's incidents as written (the checkpoint's
	// Counts); rebuilt the incidents the events up to Resume.Last touched;
	// crossed is set once detection passes Resume.Last, with base the
	// rebuilt engine's counts then and offset what is added to them.
	written map[string]bus.IncidentCount
	rebuilt map[string]store.Incident
	crossed bool
	base    map[string]int
	offset  map[string]int
}

// history is a stored incident's state from before this process's engine
// saw it: a restart rebuilds detection from the longest rule window of events only,
// so the engine's count, tenants and severity can start below the stored
// ones. Written incidents never go backwards past it.
type history struct {
	stored int // the stored count
	// sum: the engine's view of the incident began with no replayed
	// event (its last time before the replay's window), so what it
	// counts beyond the stored events it was primed with (primedBase)
	// is new, and written added to stored, not raised to it — while the
	// live detector has taken only events committed since this pipeline
	// began (see redelivered; count is the stored count otherwise).
	sum      bool
	first    time.Time // the stored first time
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
	// MaxSkew is how far past the receive clock an event's time may be:
	// beyond it the event is quarantined (stored, flagged, counted, never
	// detected), so no sender can move detection's clock ahead. Zero means
	// DefaultMaxSkew.
	MaxSkew time.Duration
	// NewDetector makes the fresh engine of a back-fill pass, which
	// detects events older than the live engine's horizon (late or
	// back-filled logs); nil drops them, counted in
	// firebreak_events_late_dropped_total.
	NewDetector func() (Detector, error)
	// Publish, when set, sends committed events to the detectors' stream
	// instead of this process's queue (split roles). On a store with a
	// publish backlog (store.EventPublishLog, PostgreSQL) a batch the
	// stream does not take is left to RunPublisher and Commit succeeds
	// (outbox.go); otherwise Commit fails when it fails, so ingest never
	// acknowledges an event detection will not see.
	Publish func(ctx context.Context, recs []store.EventRecord) error
	// ReplayFilter, when set, limits the restart replay to the events it
	// accepts (a detector's partition).
	ReplayFilter func(ev *event.Event) bool
	// SkipReplayed drops every delivered event the replay already
	// detected, not only those committed in this process (a partition
	// taken over: the stream redelivers what its last owner had not
	// acknowledged).
	SkipReplayed bool
	// Checkpoint, when set, is told at each sync tick how far detection of
	// delivered events (DeliverSeq) has come, when it moved: floor is the
	// first stream sequence whose event may still be in an open window
	// (or held for reordering), last the last sequence detected with its
	// incidents stored, counts the counts of the incidents detection
	// touched within its window as of last (see Resumed). Split roles keep
	// it as the partition's checkpoint.
	Checkpoint func(ctx context.Context, floor, last uint64, counts map[string]bus.IncidentCount, since time.Time)
	// Resume, when set, starts detection from a checkpoint instead of the
	// store: there is no restart replay, and delivered events up to
	// Resume.Last (detected by the partition's previous owner) are
	// detected as replayed ones: only incidents new to the store are
	// notified.
	Resume *Resumed
}

// Resumed is the checkpoint a pipeline resumes from. The events up to
// Last rebuild the windows; an incident's count after them is its count
// in Counts (else the stored one) plus what the events after Last add to
// the rebuilt engine's, so a takeover neither loses nor repeats counted
// events (a stored count can lag the checkpoint's when the database was
// away, or lead it when the previous owner wrote past its checkpoint).
type Resumed struct {
	Last   uint64
	Counts map[string]bus.IncidentCount
	// Since is when Counts start: they list every incident seen at or
	// after it. One not listed that the store says opened at or after it
	// was opened after Last, so its events are all the rebuilt engine's.
	Since time.Time
}

// DefaultMaxSkew is the default Options.MaxSkew.
const DefaultMaxSkew = 5 * time.Minute

// maxBackfill bounds the events of one back-fill pass (one queued batch);
// the rest are counted as dropped.
const maxBackfill = 100_000

// QuarantineField is the event field that flags a quarantined event and
// says why; it is stored with the event and shown wherever fields are.
const QuarantineField = "firebreak.quarantine"

// QuarantineSourceField names the sender of a quarantined event (an API
// token, a syslog peer, a followed file) when it is known.
const QuarantineSourceField = "firebreak.source"

// QuarantineClaimedField holds the time a quarantined event claimed
// (RFC 3339); the event itself is stored at its receive time, so it sorts,
// pages and ages out (retention) with the events received with it instead
// of heading every newest-first list until its far-future date, and a date
// past what a timestamp can hold (year 2262 in nanoseconds) is not wrapped.
const QuarantineClaimedField = "firebreak.claimed_time"

// Treatment says how the events of one commit were treated: detected live,
// detected in a back-fill pass (older than the live horizon), or
// quarantined (dated beyond the receive clock plus MaxSkew).
type Treatment struct {
	Live        int `json:"live"`
	Backfill    int `json:"backfill"`
	Quarantined int `json:"quarantined"`
}

// queued is one batch on the detection queue: events (their times clamped
// to the receive clock) and, when they came through Commit, the stored
// records' ids.
type queued struct {
	evs  []event.Event
	ids  []int64  // parallel to evs, or nil
	seqs []uint64 // stream sequences, parallel to evs, or nil
	// When each event was committed at ingest (wall clock, Unix ns; for
	// firebreak_detect_alert_latency_seconds): recv parallel to evs, else
	// at for all of them; 0: unknown.
	recv []int64
	at   int64
	// retimed[i]: evs[i] was dated ahead of the receive clock and is
	// detected at a watermark instead of its own time (nil: none was).
	retimed []bool
}

// idAt is evs[i]'s store id (0: unknown).
func (b *queued) idAt(i int) int64 {
	if b.ids == nil {
		return 0
	}
	return b.ids[i]
}

// committed is when evs[i] was committed at ingest (0: unknown).
func (b *queued) committed(i int) int64 {
	if b.recv != nil {
		return b.recv[i]
	}
	return b.at
}

// span is one delivered batch's stream sequences and its newest event
// time (Unix ns): while that time may still be in a window, a new owner
// must read the batch again.
type span struct {
	first, last uint64
	newest      int64
}

// horizoner is a Detector that can say before when it drops events.
type horizoner interface{ Horizon() time.Time }

// New returns a pipeline; Run starts detection.
func New(o Options) *Pipeline {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = DefaultMaxSkew
	}
	p := &Pipeline{o: o, q: make(chan queued, max(1, o.Queue/256)), syncEvery: defaultSyncEvery, replayPage: defaultReplayPage, marks: map[markKey]int64{}, hist: map[string]*history{}, pend: map[string]struct{}{}, extra: map[string]int{}, engineCount: map[string]int{},
		written: map[string]bus.IncidentCount{}, rebuilt: map[string]store.Incident{}, offset: map[string]int{},
		tracking: o.Detect, early: map[int64]struct{}{}}
	p.horizon.Store(math.MinInt64)
	p.firstID.Store(math.MaxInt64)
	p.started = time.Now().UnixNano()
	if o.Resume != nil {
		maps.Copy(p.written, o.Resume.Counts)
	}
	p.out = newOutbox(o.Store)
	return p
}

// SetSyncEvery changes how often in-place incident updates are written
// (tests shorten it); call it before Run.
func (p *Pipeline) SetSyncEvery(d time.Duration) { p.syncEvery = d }

// Commit writes records durably and then queues their events for detection.
// When it returns nil the events are committed: the caller may acknowledge.
func (p *Pipeline) Commit(ctx context.Context, recs []store.EventRecord) error {
	_, err := p.CommitTreated(ctx, recs)
	return err
}

// CommitTreated is CommitFrom with no named source (firebreak's own
// events, tests): every tenant's events count as one source.
func (p *Pipeline) CommitTreated(ctx context.Context, recs []store.EventRecord) (Treatment, error) {
	return p.CommitFrom(ctx, recs, nil)
}

// Watermark is how far one source of one tenant has come in event time:
// the newest event time it sent that was not ahead of the receive clock.
// Source is "" for a tenant's watermark over all its sources.
type Watermark struct {
	Tenant, Source string
	Time           time.Time
}

// markKey names a watermark: one per (tenant, source) and one per tenant
// (source "").
type markKey struct{ tenant, source string }

// maxMarks bounds the watermarks kept (an unauthenticated syslog sender can
// claim many peers); past it new sources share their tenant's watermark.
const maxMarks = 100_000

// Watermarks returns the watermarks per source and per tenant, by tenant
// then source.
func (p *Pipeline) Watermarks() []Watermark {
	p.marksMu.Lock()
	out := make([]Watermark, 0, len(p.marks))
	for k, v := range p.marks {
		out = append(out, Watermark{Tenant: k.tenant, Source: k.source, Time: time.Unix(0, v).UTC()})
	}
	p.marksMu.Unlock()
	slices.SortFunc(out, func(a, b Watermark) int {
		return cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Source, b.Source))
	})
	return out
}

// CommitFrom is Commit, saying how the events are treated; source(i) names
// the sender of recs[i] (an API token, a syslog peer, a followed file; nil:
// none). Watermarks are kept per source and per tenant and never pass the
// receive clock: an event dated ahead of it by up to MaxSkew moves no
// watermark and is detected at its own source's watermark (or live
// detection's horizon, when later), so it changes detection's clock for no
// other source or tenant; an event beyond MaxSkew is quarantined: flagged
// in QuarantineField, stored, counted, reported as a clock-skew incident of
// its source, and never detected. The live/back-fill split is an estimate
// at commit time; detection re-checks each event against the live horizon
// when it runs, so no event is dropped either way.
func (p *Pipeline) CommitFrom(ctx context.Context, recs []store.EventRecord, source func(i int) string) (Treatment, error) {
	var t Treatment
	if len(recs) == 0 {
		return t, nil
	}
	now := p.o.Now()
	limit := now.Add(p.o.MaxSkew)
	horizon := p.horizon.Load()
	var quarantined []int
	// at[i] is the time detection sees recs[i] at (0: its own).
	var at []int64
	var run struct {
		tenant, src string
		ts          int64
		n           int
	}
	p.marksMu.Lock()
	for i := range recs {
		ev := &recs[i].Event
		src := ""
		if source != nil {
			src = source(i)
		}
		switch {
		case ev.Timestamp.After(limit):
			fields := make(map[string]string, len(ev.Fields)+2)
			maps.Copy(fields, ev.Fields)
			fields[QuarantineField] = fmt.Sprintf("future: %s is more than %s past the receive clock %s",
				ev.Timestamp.UTC().Format(time.RFC3339), p.o.MaxSkew, now.UTC().Format(time.RFC3339))
			fields[QuarantineClaimedField] = ev.Timestamp.UTC().Format(time.RFC3339Nano)
			if src != "" {
				fields[QuarantineSourceField] = src
			}
			ev.Fields = fields
			ev.Timestamp = now
			quarantined = append(quarantined, i)
			t.Quarantined++
			continue
		case ev.Timestamp.After(now):
			if at == nil {
				at = make([]int64, len(recs))
			}
			at[i] = max(p.mark(ev.Tenant, src), horizon)
			if at[i] == math.MinInt64 {
				at[i] = now.Add(-p.o.MaxSkew).UnixNano() // nothing detected yet
			}
		case !ev.Timestamp.IsZero():
			// Consecutive events of one source advance its watermarks once.
			if ts := ev.Timestamp.UnixNano(); run.n > 0 && run.tenant == ev.Tenant && run.src == src {
				run.ts = max(run.ts, ts)
			} else {
				if run.n > 0 {
					p.advance(run.tenant, run.src, run.ts)
				}
				run.tenant, run.src, run.ts = ev.Tenant, src, ts
			}
			run.n++
		}
		if !ev.Timestamp.IsZero() && ev.Timestamp.UnixNano() < horizon {
			t.Backfill++
		} else {
			t.Live++
		}
	}
	if run.n > 0 {
		p.advance(run.tenant, run.src, run.ts)
	}
	p.marksMu.Unlock()
	commitAt := time.Now().UnixNano()
	p.gate.RLock()
	var pid int64
	pending := false
	var err error
	if p.outboxUsable() {
		meta := publishMeta{At: commitAt}
		for i := range at {
			if at[i] != 0 {
				if meta.Retimed == nil {
					meta.Retimed = map[int]int64{}
				}
				meta.Retimed[i] = at[i]
			}
		}
		pid, pending, err = p.appendPending(ctx, recs, meta)
	}
	if !pending && err == nil {
		err = p.o.Store.AppendEvents(ctx, recs)
	}
	if err == nil && p.tracking {
		p.noteEarly(recs)
	}
	if err == nil {
		p.noteQueued(recs)
	}
	p.gate.RUnlock()
	if err != nil {
		return Treatment{}, err
	}
	p.o.Metrics.EventsStored.Add(float64(len(recs)))
	if len(quarantined) > 0 {
		p.o.Metrics.EventsQuarantined.Add(float64(len(quarantined)))
		p.clockSkew(ctx, recs, quarantined, now)
	}
	// The stored event keeps its own time; detection sees an event dated
	// ahead of the receive clock at at[i].
	b := queued{evs: make([]event.Event, 0, len(recs)-len(quarantined)), ids: make([]int64, 0, len(recs)-len(quarantined)), at: commitAt}
	for i := range recs {
		if _, q := recs[i].Event.Fields[QuarantineField]; !q {
			b.evs = append(b.evs, recs[i].Event)
			b.ids = append(b.ids, recs[i].ID)
			if at != nil && at[i] != 0 {
				b.evs[len(b.evs)-1].Timestamp = time.Unix(0, at[i]).UTC()
				if b.retimed == nil {
					b.retimed = make([]bool, len(recs)-len(quarantined))
				}
				b.retimed[len(b.evs)-1] = true
			}
		}
	}
	if len(b.evs) > 0 {
		if p.o.Publish != nil {
			out := make([]store.EventRecord, len(b.evs))
			for i := range b.evs {
				out[i] = store.EventRecord{ID: b.ids[i], Event: b.evs[i], Received: time.Unix(0, b.at)}
			}
			if pending {
				p.publishCommitted(ctx, pid, out)
			} else if err := p.publish(ctx, out); err != nil {
				return t, fmt.Errorf("events stored but not handed to detection: %w", err)
			}
		} else {
			p.enqueue(ctx, b)
		}
	}
	return t, nil
}

// mark is the watermark of tenant's source src (its tenant's when src has
// none), math.MinInt64 when neither has one. marksMu is held.
func (p *Pipeline) mark(tenant, src string) int64 {
	if v, ok := p.marks[markKey{tenant, src}]; ok {
		return v
	}
	if v, ok := p.marks[markKey{tenant, ""}]; ok {
		return v
	}
	return math.MinInt64
}

// advance moves the watermarks of tenant's source src and of tenant to ts
// (never back). marksMu is held; ts is not ahead of the receive clock.
func (p *Pipeline) advance(tenant, src string, ts int64) {
	for _, k := range []markKey{{tenant, ""}, {tenant, src}} {
		v, ok := p.marks[k]
		if !ok && len(p.marks) >= maxMarks {
			continue
		}
		if !ok || ts > v {
			p.marks[k] = ts
		}
		if src == "" {
			break
		}
	}
}

// publishRetry bounds how long Commit retries handing events to the stream
// (a NATS node restarting, a stream leader moving) before it fails and
// ingest answers 503. Retries are safe: the stream drops a message id it
// already has. A variable for tests.
var publishRetry = 15 * time.Second

func (p *Pipeline) publish(ctx context.Context, recs []store.EventRecord) error {
	deadline := time.Now().Add(publishRetry)
	wait := 50 * time.Millisecond
	for {
		// Each attempt ends at the deadline: with NATS down the client
		// buffers the publish while it reconnects and no acknowledgement
		// comes, so an attempt bounded only by the request would outlast
		// the HTTP write timeout and the sender would get no 503 at all.
		actx, cancel := context.WithDeadline(ctx, deadline)
		err := p.o.Publish(actx, recs)
		cancel()
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		p.o.Log.Warn("publishing events to the stream; retrying", "events", len(recs), "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// Deliver queues records from the event stream (with their store ids and
// stream sequences, seqs parallel to recs or nil) for detection; it blocks
// while the queue is full.
func (p *Pipeline) Deliver(ctx context.Context, recs []store.EventRecord, seqs []uint64) {
	p.noteQueued(recs)
	b := queued{evs: make([]event.Event, len(recs)), ids: make([]int64, len(recs)), seqs: seqs, recv: make([]int64, len(recs))}
	for i := range recs {
		b.evs[i], b.ids[i] = recs[i].Event, recs[i].ID
		if !recs[i].Received.IsZero() {
			b.recv[i] = recs[i].Received.UnixNano()
		}
	}
	if len(b.evs) > 0 {
		p.enqueue(ctx, b)
	}
}

// noteQueued lowers firstID to the lowest id of recs (records this process
// queues for detection), before they are queued.
func (p *Pipeline) noteQueued(recs []store.EventRecord) {
	low := int64(math.MaxInt64)
	for i := range recs {
		if recs[i].ID > 0 {
			low = min(low, recs[i].ID)
		}
	}
	for {
		cur := p.firstID.Load()
		if low >= cur || p.firstID.CompareAndSwap(cur, low) {
			return
		}
	}
}

func (p *Pipeline) noteEarly(recs []store.EventRecord) {
	p.earlyMu.Lock()
	for i := range recs {
		p.early[recs[i].ID] = struct{}{}
	}
	p.earlyMu.Unlock()
}

// noteReplayed marks the replayed records that were also committed (and
// so queued) since the pipeline was built: their queued copies are skipped
// when they come off the queue. Taking gate's write lock waits for commits
// between their append and their note, so every record the replay read
// that a commit of this process wrote is noted by then.
func (p *Pipeline) noteReplayed(recs []store.EventRecord) {
	p.gate.Lock()
	defer p.gate.Unlock()
	if !p.tracking {
		return
	}
	for i := range recs {
		_, early := p.early[recs[i].ID]
		if early || p.o.SkipReplayed {
			if p.skip == nil {
				p.skip = map[int64]struct{}{}
			}
			p.skip[recs[i].ID] = struct{}{}
		}
		if early {
			if p.live == nil {
				p.live = map[int64]struct{}{}
			}
			p.live[recs[i].ID] = struct{}{}
		}
	}
}

// endTracking ends the noting of early commits (the replay has read the
// store).
func (p *Pipeline) endTracking() {
	p.gate.Lock()
	defer p.gate.Unlock()
	p.tracking = false
	p.early = nil
}

// clockSkew opens or updates one incident per sending source (tenant, host
// and dataset) whose events were quarantined: the MSP learns that a
// sender's clock is wrong (or that someone is trying to move detection's).
func (p *Pipeline) clockSkew(ctx context.Context, recs []store.EventRecord, idx []int, now time.Time) {
	type source struct{ tenant, host, dataset, sender string }
	bySource := map[source][]*event.Event{}
	var order []source
	for _, i := range idx {
		ev := &recs[i].Event
		k := source{ev.Tenant, ev.HostName, ev.Dataset, ev.Fields[QuarantineSourceField]}
		if _, ok := bySource[k]; !ok {
			order = append(order, k)
		}
		bySource[k] = append(bySource[k], ev)
	}
	for _, k := range order {
		evs := bySource[k]
		name := k.tenant + "\x00" + k.host + "\x00" + k.dataset
		if k.sender != "" {
			name += "\x00" + k.sender
		}
		sum := sha256.Sum256([]byte(name))
		id := "clock-skew-" + hex.EncodeToString(sum[:8])
		count := len(evs)
		first := now
		if old, err := p.o.Store.GetIncident(ctx, store.AllTenants(), id); err == nil {
			count += old.Count
			first = old.First
		}
		var latest time.Time
		for _, ev := range evs {
			claimed, err := time.Parse(time.RFC3339Nano, ev.Fields[QuarantineClaimedField])
			if err == nil && claimed.After(latest) {
				latest = claimed
			}
		}
		inc := store.Incident{ID: id, Tenant: k.tenant, Rule: "clock_skew", Severity: "medium", Level: detect.LevelRank("medium"),
			Title:  fmt.Sprintf("Clock skew: %s sends events dated in the future", cmp.Or(k.host, k.sender, k.dataset, "a source")),
			Status: store.StatusOpen, First: first, Last: now, Count: count,
			Key: map[string]string{"host.name": k.host, "event.dataset": k.dataset},
			Detail: mustJSON(map[string]any{"latest_event_time": latest.UTC(), "received": now.UTC(), "max_skew": p.o.MaxSkew.String(),
				"note": "events dated beyond the receive clock plus the allowed skew are stored and flagged (" + QuarantineField + ") but not detected"})}
		if k.sender != "" {
			inc.Key[QuarantineSourceField] = k.sender
		}
		p.Handle(ctx, []store.Incident{inc})
	}
}

// Enqueue hands events to detection; it blocks while the queue is full
// (back-pressure) until ctx ends. Events are already stored, so a dropped
// enqueue (ctx cancelled) loses detection of these events, never the events.
func (p *Pipeline) Enqueue(ctx context.Context, evs []event.Event) { p.enqueue(ctx, queued{evs: evs}) }

func (p *Pipeline) enqueue(ctx context.Context, b queued) {
	if !p.o.Detect {
		return // no detection configured
	}
	select {
	case p.q <- b:
		p.o.Metrics.QueueDepth.Set(float64(len(p.q)))
	case <-ctx.Done():
		p.o.Metrics.DetectDropped.Add(float64(len(b.evs)))
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
	if p.o.Resume != nil {
		p.endTracking() // the checkpoint's stream position replaces the store's replay
	} else if n, err := p.Replay(ctx, det); err != nil {
		if ctx.Err() == nil {
			p.o.Log.Warn("replaying stored events into detection", "err", err)
		}
	} else if n > 0 {
		p.o.Log.Info("detection state rebuilt from stored events", "events", n)
	}
	tick := time.NewTicker(p.syncEvery)
	defer tick.Stop()
	// Incidents of a batch being detected when ctx ends are still written
	// (the loop stops between batches, then drains the queue).
	wctx := context.WithoutCancel(ctx)
	for {
		select {
		case b := <-p.q:
			p.detect(wctx, b)
			if time.Since(p.lastSync) >= p.syncEvery {
				p.sync(wctx, det)
			}
		case <-tick.C:
			p.flushLate(wctx)
			p.sync(wctx, det)
			p.checkpoint(wctx, det)
		case <-ctx.Done():
			ctx := wctx
			for {
				select {
				case b := <-p.q:
					p.detect(ctx, b)
				default:
					p.flushLate(ctx)
					p.dropBackfill(ctx)
					p.sync(ctx, det)
					p.checkpoint(ctx, det) // before Flush moves the horizon to the end of time
					p.handle(ctx, det.Flush(), false, true)
					p.sync(ctx, det)
					p.retryUnwritten(ctx)
					return
				}
			}
		}
	}
}

func (p *Pipeline) detect(ctx context.Context, b queued) {
	start := time.Now()
	hz, _ := p.det.(horizoner)
	evs := b.evs
	primed := p.primeLive(ctx, b)
	for i := range evs {
		if len(p.skip) > 0 && b.ids != nil {
			if _, dup := p.skip[b.ids[i]]; dup {
				delete(p.skip, b.ids[i]) // detected by the replay already
				continue
			}
		}
		if at := b.committed(i); at < p.started && !p.redelivered.Load() {
			p.redelivered.Store(true) // committed before this pipeline: maybe counted already
		}
		if hz != nil && !evs[i].Timestamp.IsZero() {
			if h := hz.Horizon(); evs[i].Timestamp.Before(h) {
				if b.retimed == nil || !b.retimed[i] {
					p.late = append(p.late, evs[i])
					if id := b.idAt(i); id != 0 {
						if p.lateIDs == nil {
							p.lateIDs = map[int64]struct{}{}
						}
						p.lateIDs[id] = struct{}{}
					}
					if len(p.late) >= maxBackfill {
						p.flushLate(ctx)
					}
					continue
				}
				// Dated ahead of the clock and placed at a watermark taken
				// at commit: live detection has moved on since (this
				// batch's own earlier events, another source), so it is
				// detected at the horizon, in the live windows, not in a
				// back-fill pass apart.
				evs[i].Timestamp = h
			}
		}
		// Events the partition's previous owner detected (up to its
		// checkpoint) rebuild windows; their alerts were notified then.
		seen := p.o.Resume != nil && b.seqs != nil && b.seqs[i] <= p.o.Resume.Last
		if p.o.Resume != nil && !p.crossed && b.seqs != nil && !seen {
			p.cross(ctx)
		}
		primed = p.feedPrimed(ctx, primed, evs[i].Timestamp)
		incs := p.det.Process(&evs[i])
		p.handle(ctx, incs, seen, true)
		if at := b.committed(i); len(incs) > 0 && !seen && at > 0 && p.o.Metrics != nil {
			d := time.Since(time.Unix(0, at)).Seconds()
			for range incs {
				p.o.Metrics.AlertLatency.Observe(d)
			}
		}
	}
	p.feedPrimed(ctx, primed, time.Time{})
	if n := len(b.seqs); n > 0 {
		sp := span{first: b.seqs[0], last: b.seqs[n-1], newest: math.MinInt64}
		for i := range evs {
			if !evs[i].Timestamp.IsZero() {
				sp.newest = max(sp.newest, evs[i].Timestamp.UnixNano())
			}
		}
		p.spans = append(p.spans, sp)
		p.lastSeq = sp.last
	}
	p.publishHorizon()
	p.o.Metrics.DetectSeconds.Observe(time.Since(start).Seconds())
	p.o.Metrics.EventsDetected.Add(float64(len(evs)))
	p.o.Metrics.QueueDepth.Set(float64(len(p.q)))
}

// checkpoint reports how far detection of delivered events has come (see
// Options.Checkpoint). Run calls it after a sync, with no late events
// waiting, so every incident of the events up to lastSeq is stored. A
// batch leaves the window once its newest event is older than the horizon
// minus the detector's longest window; the floor is the first sequence of
// the oldest batch still in it (batches leave in order, so a batch with a
// late-dated event holds the floor back: conservative, never lossy).
func (p *Pipeline) checkpoint(ctx context.Context, det Detector) {
	if !p.retryUnwritten(ctx) {
		return // an incident is not stored yet: the last checkpoint stands
	}
	if p.o.Checkpoint == nil || p.lastSeq == 0 || p.o.Resume != nil && !p.crossed {
		return // (still rebuilding: the checkpoint resumed from stands)
	}
	window := ReplayWindow
	if w, ok := det.(interface{ Window() time.Duration }); ok {
		window = w.Window()
	}
	var since time.Time
	if hz, ok := det.(horizoner); ok {
		if t := hz.Horizon(); !t.IsZero() {
			since = t.Add(-window)
			cutoff := since.UnixNano()
			k := 0
			for k < len(p.spans) && p.spans[k].newest < cutoff {
				k++
			}
			p.spans = slices.Delete(p.spans, 0, k)
			maps.DeleteFunc(p.written, func(_ string, c bus.IncidentCount) bool { return c.Last.UnixNano() < cutoff })
		}
	}
	floor := p.lastSeq + 1
	if len(p.spans) > 0 {
		floor = p.spans[0].first
	}
	if cp := [2]uint64{floor, p.lastSeq}; cp != p.saved {
		p.saved = cp
		counts, oldest := newestCounts(p.written, maxCheckpointCounts)
		if oldest.After(since) {
			since = oldest
		}
		p.o.Checkpoint(ctx, floor, p.lastSeq, counts, since)
	}
}

// maxCheckpointCounts bounds the incident counts a checkpoint holds (a
// JetStream key-value entry); a takeover reads the others' from the store.
const maxCheckpointCounts = 4096

// newestCounts is counts, or its n most recently seen incidents when it
// holds more, with the oldest last time kept (zero: all kept).
func newestCounts(counts map[string]bus.IncidentCount, n int) (map[string]bus.IncidentCount, time.Time) {
	if len(counts) <= n {
		return counts, time.Time{}
	}
	ids := slices.Collect(maps.Keys(counts))
	slices.SortFunc(ids, func(a, b string) int { return counts[b].Last.Compare(counts[a].Last) })
	out := make(map[string]bus.IncidentCount, n)
	for _, id := range ids[:n] {
		out[id] = counts[id]
	}
	return out, counts[ids[n-1]].Last
}

// publishHorizon makes the live detector's horizon visible to Commit.
func (p *Pipeline) publishHorizon() {
	if hz, ok := p.det.(horizoner); ok {
		if t := hz.Horizon(); !t.IsZero() {
			p.horizon.Store(t.UnixNano())
		}
	}
}

// flushLate runs a back-fill pass over the late events gathered since the
// last one. Run calls it at every sync tick (so late events wait at most
// syncEvery), when maxBackfill are waiting, and at shutdown: under a
// stream of back-filled logs one pass covers many queued batches, which
// finds correlations across them and writes each incident once.
func (p *Pipeline) flushLate(ctx context.Context) {
	if len(p.late) == 0 {
		if p.bf != nil {
			if p.bfIdle++; p.bfIdle >= bfIdleTicks {
				p.dropBackfill(ctx)
			}
		}
		return
	}
	p.bfIdle = 0
	p.backfill(ctx, p.late)
	clear(p.late)
	p.late = p.late[:0]
	clear(p.lateIDs)
}

// backfill detects events older than the live horizon with a fresh engine
// of their own, in time order: late and back-filled logs raise incidents
// among themselves instead of being dropped. A pass holds at most
// maxBackfill events.
func (p *Pipeline) backfill(ctx context.Context, late []event.Event) {
	if len(late) == 0 {
		return
	}
	if p.o.NewDetector == nil {
		p.o.Metrics.EventsLateDropped.Add(float64(len(late)))
		return
	}
	if len(late) > maxBackfill {
		p.o.Metrics.EventsLateDropped.Add(float64(len(late) - maxBackfill))
		late = late[:maxBackfill]
	}
	slices.SortStableFunc(late, func(a, b event.Event) int { return timeline.Compare(&a, &b) })
	// Events from the kept engine's horizon on continue its windows. One
	// older than that (another source, further behind), or a stored event
	// after the first of them (a later part of the log that arrived first),
	// ends the kept engine: a fresh one is primed with the stored events
	// around the whole pass (the kept engine's among them), below. The pass
	// is never split between two engines: a correlation spanning the split
	// would lose the events of the part its engine did not see.
	if p.bf != nil {
		var h time.Time
		if hz, ok := p.bf.(horizoner); ok {
			h = hz.Horizon()
		}
		if late[0].Timestamp.Before(h) || p.storedAfter(ctx, p.bf, late) {
			p.dropBackfill(ctx)
		}
	}
	if p.bf == nil {
		det, err := p.o.NewDetector()
		if err != nil {
			p.o.Log.Error("back-fill detector", "err", err)
			p.o.Metrics.EventsLateDropped.Add(float64(len(late)))
			return
		}
		p.bf = det
		p.bfBase = p.primeBackfill(ctx, det, late)
	} else {
		for i := range late {
			p.bf.Process(&late[i])
		}
	}
	// Release every event of the pass (as Flush would) but keep the
	// windows open: the next pass's events, from here on, join them.
	if a, ok := p.bf.(advancer); ok {
		upTo := late[len(late)-1].Timestamp
		if hz, ok := p.bf.(horizoner); ok && hz.Horizon().After(upTo) {
			upTo = hz.Horizon()
		}
		a.AdvanceTo(upTo.Add(a.Lateness()))
		p.handleBackfill(ctx, p.bf.Updated(), p.bfBase)
	} else {
		p.dropBackfill(ctx)
	}
	p.o.Metrics.EventsBackfilled.Add(float64(len(late)))
}

// maxPrime bounds the stored events a fresh back-fill engine is primed with.
const maxPrime = 50_000

// primeBackfill runs a fresh back-fill engine over the late events
// (sorted) among the stored events of their tenants from one detection
// window before the first of them to one after the last (the newest
// maxPrime; the late events' own stored copies left out), in time order,
// so late events join the windows those events opened, on both sides:
// after a restart the live engine's windows are rebuilt by the replay,
// but a source that lags behind live detection is detected here, half an
// attack before the restart and half after must still be one, and a log
// whose second half arrived first must count as one. The stored events'
// alerts were raised when they were first detected; only what the late
// events add is written (through the pass's Updated). It returns base:
// the counts the stored events alone give each incident (another engine
// run over them), which handleBackfill counts the late events beyond.
func (p *Pipeline) primeBackfill(ctx context.Context, det Detector, late []event.Event) map[string]int {
	base := map[string]int{}
	recs := p.around(ctx, det, late)
	if len(recs) > 0 && recs[len(recs)-1].Event.Timestamp.After(late[0].Timestamp) {
		// stored events after the first late one: what they count alone
		maps.Copy(base, p.countAlone(recs))
	}
	k := 0
	for i := range late {
		for ; k < len(recs) && timeline.Compare(&recs[k].Event, &late[i]) <= 0; k++ {
			det.Process(&recs[k].Event)
		}
		if i == 0 {
			// written when the stored events before it were detected
			for _, inc := range det.Updated() {
				if _, ok := base[inc.ID]; !ok {
					base[inc.ID] = inc.Count
				}
			}
		}
		det.Process(&late[i])
	}
	for ; k < len(recs); k++ {
		det.Process(&recs[k].Event)
	}
	return base
}

// countAlone is what the stored events recs (in time order) count alone,
// per incident: another engine run over them and flushed. The part of a
// priming engine's count its stored events give (a back-fill pass's base,
// the live engine's primedBase) is counted beyond it.
func (p *Pipeline) countAlone(recs []store.EventRecord) map[string]int {
	out := map[string]int{}
	if len(recs) == 0 || p.o.NewDetector == nil {
		return out
	}
	ref, err := p.o.NewDetector()
	if err != nil {
		return out
	}
	for i := range recs {
		ref.Process(&recs[i].Event)
	}
	ref.Flush()
	for _, inc := range ref.Updated() {
		out[inc.ID] = inc.Count
	}
	return out
}

// storedAfter reports whether a stored event around the late events
// (around) is dated after the first of them.
func (p *Pipeline) storedAfter(ctx context.Context, det Detector, late []event.Event) bool {
	recs := p.around(ctx, det, late)
	return len(recs) > 0 && recs[len(recs)-1].Event.Timestamp.After(late[0].Timestamp)
}

// around returns the stored events of the late events' tenants from one
// detection window (det's) before the first of them to one after the
// last, the late events' own stored copies left out, in time order (nil
// when det cannot say its window).
func (p *Pipeline) around(ctx context.Context, det Detector, late []event.Event) []store.EventRecord {
	w, ok := det.(interface{ Window() time.Duration })
	if !ok || len(late) == 0 || late[0].Timestamp.IsZero() {
		return nil
	}
	var tenants []string
	for i := range late {
		if !slices.Contains(tenants, late[i].Tenant) {
			tenants = append(tenants, late[i].Tenant)
		}
	}
	first, last := late[0].Timestamp, late[len(late)-1].Timestamp
	recs := p.storedEvents(ctx, tenants, first.Add(-w.Window()), last.Add(w.Window()), 0)
	return slices.DeleteFunc(recs, func(r store.EventRecord) bool { _, l := p.lateIDs[r.ID]; return l })
}

// handleBackfill writes the incidents a back-fill pass changed, each
// with the events the pass added beyond base (the count its previous
// writes, or its priming, accounted for) added to what other writes of
// the incident carried: the live detector's count and earlier passes'.
func (p *Pipeline) handleBackfill(ctx context.Context, incs []store.Incident, base map[string]int) {
	p.mu.Lock()
	for i := range incs {
		id := incs[i].ID
		p.extra[id] += incs[i].Count - base[id]
		base[id] = incs[i].Count
		incs[i].Count = p.engineCount[id] + p.extra[id]
	}
	p.mu.Unlock()
	for i := range incs {
		// the pass's events are older than what the live detector wrote:
		// they move neither the incident's last time nor its severity back
		inc := &incs[i]
		if old, err := p.o.Store.GetIncident(ctx, store.AllTenants(), inc.ID); err == nil {
			if old.Last.After(inc.Last) {
				inc.Last = old.Last
			}
			if old.First.Before(inc.First) {
				inc.First = old.First
			}
			if detect.LevelRank(old.Severity) > detect.LevelRank(inc.Severity) {
				inc.Severity, inc.Level = old.Severity, old.Level
			}
		}
	}
	p.handleCounted(ctx, incs, true, false, true)
}

// storedEvents reads the stored events of tenants in [from, to) with ids
// below beforeID (0: any), the newest maxPrime of them, that detection
// takes (the ReplayFilter's, not quarantined), in time order.
func (p *Pipeline) storedEvents(ctx context.Context, tenants []string, from, to time.Time, beforeID int64) []store.EventRecord {
	var recs []store.EventRecord
	for _, t := range tenants {
		// (the query's BeforeID is a keyset cursor: events dated before
		// that event's time, not ids below it; ids are kept below)
		q := store.EventQuery{Tenant: t, From: from, To: to, Limit: 10_000}
		for len(recs) < maxPrime {
			page, err := p.o.Store.SearchEvents(ctx, store.AllTenants(), q)
			if err != nil {
				p.o.Log.Warn("reading stored events to prime detection", "tenant", t, "err", err)
				break
			}
			recs = append(recs, page...)
			if len(page) < q.Limit {
				break
			}
			q.BeforeID = page[len(page)-1].ID
		}
	}
	recs = slices.DeleteFunc(recs, func(r store.EventRecord) bool {
		_, q := r.Event.Fields[QuarantineField]
		return q || beforeID > 0 && r.ID >= beforeID || p.o.ReplayFilter != nil && !p.o.ReplayFilter(&r.Event)
	})
	slices.Reverse(recs) // newest first: reversed, commit order among equal times
	slices.SortStableFunc(recs, func(a, b store.EventRecord) int { return timeline.Compare(&a.Event, &b.Event) })
	return recs
}

// primeLive returns the stored events the live detector must see before
// batch b's: after a restart, events older than the replay's range (a
// back-dated .evtx or log whose first half was read before the restart)
// reach a live engine that never saw their predecessors, since the replay
// rebuilt windows from [now-window, now] only. For each tenant whose live
// events in b are older than the replay's start, it reads the stored
// events of this process's predecessors (ids below firstID: this
// process's own are detected from the queue) from one window before the
// oldest of them, or from where the previous batch's priming ended, up to
// the newest of them; detect feeds them in time order among b's events
// (feedPrimed). primedTo keeps each stored event from being fed twice.
func (p *Pipeline) primeLive(ctx context.Context, b queued) []store.EventRecord {
	if p.replayFrom.IsZero() || p.o.Resume != nil {
		return nil
	}
	var h time.Time
	if hz, ok := p.det.(horizoner); ok {
		h = hz.Horizon()
	}
	type span struct{ from, to time.Time }
	spans := map[string]span{}
	var tenants []string
	for i := range b.evs {
		ts := b.evs[i].Timestamp
		if ts.IsZero() || !ts.Before(p.replayFrom) || ts.Before(h) || b.retimed != nil && b.retimed[i] {
			continue
		}
		if _, dup := p.skip[b.idAt(i)]; dup {
			continue
		}
		t := b.evs[i].Tenant
		sp, ok := spans[t]
		if !ok {
			tenants = append(tenants, t)
			sp = span{ts, ts}
		}
		if ts.Before(sp.from) {
			sp.from = ts
		}
		if ts.After(sp.to) {
			sp.to = ts
		}
		spans[t] = sp
	}
	var out []store.EventRecord
	for _, t := range tenants {
		sp := spans[t]
		from := sp.from.Add(-p.window)
		if pt, ok := p.primedTo[t]; ok && pt.After(from) {
			from = pt
		}
		// and one window after the newest: a log whose later half was
		// stored first joins it (as in a back-fill pass's priming)
		to := sp.to.Add(p.window)
		if to.After(p.replayFrom) {
			to = p.replayFrom
		}
		if !to.After(from) {
			continue
		}
		if p.primedTo == nil {
			p.primedTo = map[string]time.Time{}
		}
		p.primedTo[t] = to
		out = append(out, p.storedEvents(ctx, []string{t}, from, to, p.firstID.Load())...)
	}
	if len(tenants) > 1 {
		slices.SortStableFunc(out, func(a, b store.EventRecord) int { return timeline.Compare(&a.Event, &b.Event) })
	}
	if alone := p.countAlone(out); len(alone) > 0 {
		p.mu.Lock()
		if p.primedBase == nil {
			p.primedBase = map[string]int{}
		}
		for id, n := range alone {
			p.primedBase[id] += n
		}
		p.mu.Unlock()
	}
	if p.o.SkipReplayed {
		// A stream redelivering what a partition's last owner had not
		// acknowledged can bring a primed event again.
		for i := range out {
			if p.skip == nil {
				p.skip = map[int64]struct{}{}
			}
			p.skip[out[i].ID] = struct{}{}
		}
	}
	return out
}

// feedPrimed feeds the live detector the primed events dated up to before
// (all of them when before is zero) and returns the rest. Their incidents
// are handled as replayed ones: they were raised (and notified) when the
// events were first detected; only an incident new to the store is
// notified.
func (p *Pipeline) feedPrimed(ctx context.Context, primed []store.EventRecord, before time.Time) []store.EventRecord {
	i := 0
	for ; i < len(primed) && (before.IsZero() || !primed[i].Event.Timestamp.After(before)); i++ {
		p.HandleMode(ctx, p.det.Process(&primed[i].Event), true)
	}
	return primed[i:]
}

// bfIdleTicks is how many sync ticks without late events the back-fill
// engine is kept (its windows stay open for a source that pauses).
const bfIdleTicks = 60

// advancer is a detector whose held events can be released up to a time
// without closing its windows (detect.Engine through Wrap).
type advancer interface {
	AdvanceTo(t time.Time) []store.Incident
	Lateness() time.Duration
}

// dropBackfill flushes and forgets the kept back-fill engine.
func (p *Pipeline) dropBackfill(ctx context.Context) {
	if p.bf == nil {
		return
	}
	p.bf.Flush()
	p.handleBackfill(ctx, p.bf.Updated(), p.bfBase)
	p.bf, p.bfIdle, p.bfBase = nil, 0, nil
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
	p.handle(ctx, incs, true, det == p.det)
	p.o.Metrics.IncidentSyncs.Add(float64(len(incs)))
}

// Handle stores incidents and notifies on new or escalated ones.
func (p *Pipeline) Handle(ctx context.Context, incs []store.Incident) { p.HandleMode(ctx, incs, false) }

// HandleMode stores incidents; when replaying (detection state rebuilt at
// start) only incidents new to the store are notified.
func (p *Pipeline) HandleMode(ctx context.Context, incs []store.Incident, replay bool) {
	p.handle(ctx, incs, replay, false)
}

// handle is HandleMode; live says the incidents are the live detector's
// (Run's goroutine), whose counts a resumed pipeline adjusts (see Resumed).
func (p *Pipeline) handle(ctx context.Context, incs []store.Incident, replay, live bool) {
	p.handleCounted(ctx, incs, replay, live, false)
}

// handleCounted is handle; counted says the counts already include the
// back-filled events (handleBackfill), otherwise they are added.
func (p *Pipeline) handleCounted(ctx context.Context, incs []store.Incident, replay, live, counted bool) {
	for i := range incs {
		inc := incs[i]
		if !counted {
			p.mu.Lock()
			p.engineCount[inc.ID] = inc.Count
			inc.Count += p.extra[inc.ID]
			p.mu.Unlock()
		}
		p.keepHistory(ctx, &inc)
		if live && p.o.Resume != nil {
			if !p.crossed {
				p.rebuilt[inc.ID] = incs[i]
			} else if n, ok := p.resumedCount(inc.ID, incs[i].Count); ok {
				inc.Count = n
			}
		}
		if live && p.o.Checkpoint != nil && (p.o.Resume == nil || p.crossed) {
			p.written[inc.ID] = bus.IncidentCount{Count: inc.Count, Last: inc.Last}
		}
		stored, created, err := p.o.Store.UpsertIncident(ctx, &inc)
		if err != nil {
			p.o.Log.Error("storing incident", "id", inc.ID, "err", err)
			p.unwritten.note(inc, replay) // retried at the next sync tick (see unwritten)
			continue
		}
		settled := p.settled(&inc) // a pending judgement settled as an attack is notified even when replayed
		p.stored(ctx, stored, created, p.unwritten.written(inc.ID, replay) && !settled)
	}
}

// settled notes whether the written incident inc's self_recovery
// judgement is pending and reports whether it was stored pending before
// and is now settled as an attack: the transition an MSP must hear of
// (a judgement settled as an office is not notified).
func (p *Pipeline) settled(inc *store.Incident) bool {
	d := judgementOf(inc.Detail)
	p.mu.Lock()
	defer p.mu.Unlock()
	_, was := p.pend[inc.ID]
	if d.Pending() {
		p.pend[inc.ID] = struct{}{}
	} else {
		delete(p.pend, inc.ID)
	}
	return was && d.Attack()
}

// cross is called when a resumed pipeline's detection passes the
// checkpoint's Last: the rebuilt engine's counts then are the base the
// events from here on add to, and the incidents the rebuild touched are
// written with their checkpointed counts.
func (p *Pipeline) cross(ctx context.Context) {
	for _, inc := range p.det.Updated() {
		p.rebuilt[inc.ID] = inc
	}
	p.crossed = true
	p.base = make(map[string]int, len(p.rebuilt))
	incs := make([]store.Incident, 0, len(p.rebuilt))
	for id, inc := range p.rebuilt {
		p.base[id] = inc.Count
		incs = append(incs, inc)
	}
	p.rebuilt = nil
	slices.SortFunc(incs, func(a, b store.Incident) int { return strings.Compare(a.ID, b.ID) })
	p.handle(ctx, incs, true, true)
}

// resumedCount is incident id's count in a resumed pipeline past the
// checkpoint, from the rebuilt engine's count raw: its count as of the
// checkpoint (checkpointed, else stored) plus what the engine counted
// since. ok is false while the stored count is unknown (read failed).
func (p *Pipeline) resumedCount(id string, raw int) (int, bool) {
	off, ok := p.offset[id]
	if !ok {
		var at int
		if c, ok := p.o.Resume.Counts[id]; ok {
			at = c.Count
		} else {
			p.mu.Lock()
			h, seen := p.hist[id]
			p.mu.Unlock()
			if !seen {
				return 0, false
			}
			if h != nil && (p.o.Resume.Since.IsZero() || h.first.Before(p.o.Resume.Since)) {
				at = h.stored
			}
		}
		b := p.base[id]
		off = max(at, b) - b
		p.offset[id] = off
	}
	return raw + off, true
}

// keepHistory raises inc to what the store held for it before this
// process's detection first wrote it (see history).
func (p *Pipeline) keepHistory(ctx context.Context, inc *store.Incident) {
	p.mu.Lock()
	h, seen := p.hist[inc.ID]
	p.mu.Unlock()
	if !seen {
		old, err := p.o.Store.GetIncident(ctx, store.AllTenants(), inc.ID)
		if err == nil && judgementOf(old.Detail).Pending() {
			p.mu.Lock()
			p.pend[inc.ID] = struct{}{}
			p.mu.Unlock()
		}
		rf := p.replayedFrom.Load()
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return // unknown for now; asked again at the next write
		case p.o.Resume == nil && rf != 0 && !inc.Last.IsZero() && inc.Last.UnixNano() < rf:
			h = &history{stored: old.Count, first: old.First, sum: true, count: old.Count, last: old.Last, tenants: old.Tenants, severity: old.Severity}
		case old.Count > inc.Count || old.Last.After(inc.Last) || detect.LevelRank(old.Severity) > detect.LevelRank(inc.Severity) ||
			slices.ContainsFunc(old.Tenants, func(t string) bool { return !slices.Contains(inc.Tenants, t) }):
			h = &history{stored: old.Count, first: old.First, count: old.Count, last: old.Last, tenants: old.Tenants, severity: old.Severity}
		default:
			h = &history{stored: old.Count, first: old.First} // nothing beyond the engine's view
		}
		p.mu.Lock()
		p.hist[inc.ID] = h
		p.mu.Unlock()
	}
	if h == nil {
		return
	}
	if h.sum && !p.redelivered.Load() {
		p.mu.Lock()
		inc.Count = h.stored + max(0, inc.Count-p.primedBase[inc.ID])
		p.mu.Unlock()
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

// ReplayWindow is how far back the restart replay reads when the detector
// cannot say its longest rule window.
const ReplayWindow = 24 * time.Hour

// defaultReplayPage is the most stored events the replay reads (and holds)
// at once.
const defaultReplayPage = 10_000

// Replay rebuilds detection state from the stored events of the detector's
// longest rule window (its Window: the longest correlation timespan plus
// the allowed lateness; ReplayWindow when it cannot say), oldest first,
// before live events are processed. However many events the window holds,
// the replay streams them: it reads one time slice of at most replayPage
// events at a time (halving a slice that holds more), so memory is bounded
// by the page, not by the window.
func (p *Pipeline) Replay(ctx context.Context, det Detector) (int, error) {
	window := ReplayWindow
	if w, ok := det.(interface{ Window() time.Duration }); ok {
		window = w.Window()
	}
	now := p.o.Now()
	wctx := context.WithoutCancel(ctx) // a replayed event's incidents are written whole
	n := 0
	p.o.Metrics.Replaying.Set(1)
	defer p.o.Metrics.Replaying.Set(0)
	// Quarantined events (dated past the clock plus MaxSkew) stay out.
	var err error
	if window > 0 {
		if det == p.det {
			p.replayFrom, p.window = now.Add(-window), window
			p.replayedFrom.Store(p.replayFrom.UnixNano())
		}
		err = p.replaySlice(ctx, wctx, det, now.Add(-window), now.Add(p.o.MaxSkew), &n)
	}
	p.endTracking()
	if err != nil {
		return n, err
	}
	p.live = nil
	p.sync(wctx, det)
	if det == p.det {
		p.publishHorizon()
	}
	return n, nil
}

// replaySlice replays the stored events of [from, to) in time order: in one
// read when they fit a page, else as its two halves, the older first.
func (p *Pipeline) replaySlice(ctx, wctx context.Context, det Detector, from, to time.Time, n *int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q := store.EventQuery{From: from, To: to, Limit: p.replayPage}
	page, err := p.o.Store.SearchEvents(ctx, store.AllTenants(), q)
	if err != nil {
		return err
	}
	if len(page) >= p.replayPage {
		if mid := from.Add(to.Sub(from) / 2); mid.After(from) && to.Sub(from) > time.Millisecond {
			page = nil // let the garbage collector have it before the halves are read
			if err := p.replaySlice(ctx, wctx, det, from, mid, n); err != nil {
				return err
			}
			return p.replaySlice(ctx, wctx, det, mid, to, n)
		}
		// More than a page within a millisecond: page through it by id.
		for last := len(page); last == p.replayPage; {
			q.BeforeID = page[len(page)-1].ID
			more, err := p.o.Store.SearchEvents(ctx, store.AllTenants(), q)
			if err != nil {
				return err
			}
			page, last = append(page, more...), len(more)
		}
	}
	if p.o.ReplayFilter != nil {
		page = slices.DeleteFunc(page, func(r store.EventRecord) bool { return !p.o.ReplayFilter(&r.Event) })
	}
	p.noteReplayed(page)
	// Pages come newest first (by time, then id): reversed, they are in
	// time order, commit order among equal times.
	slices.Reverse(page)
	slices.SortStableFunc(page, func(a, b store.EventRecord) int { return timeline.Compare(&a.Event, &b.Event) })
	// The tenants' watermarks come back with their events: without them an
	// event dated a little ahead of the receive clock after a restart would
	// be placed at the clock minus MaxSkew, behind the horizon the replay
	// just set, and detected by a back-fill pass apart from the windows the
	// replay rebuilt (half a brute force before a restart and half after
	// raised nothing).
	p.marksMu.Lock()
	for i := range page {
		ev := &page[i].Event
		if _, q := ev.Fields[QuarantineField]; q || ev.Timestamp.IsZero() {
			continue
		}
		p.advance(ev.Tenant, "", ev.Timestamp.UnixNano())
	}
	p.marksMu.Unlock()
	for i := range page {
		if _, q := page[i].Event.Fields[QuarantineField]; q {
			continue
		}
		// Events committed since this pipeline was built were never seen
		// by any detector: their alerts are notified as live ones.
		_, live := p.live[page[i].ID]
		p.HandleMode(wctx, det.Process(&page[i].Event), !live)
	}
	*n += len(page)
	return nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
