package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// The publish outbox (split roles on a store.EventPublishLog, PostgreSQL):
// Commit stores a batch and, in the same transaction, records it as still
// to be published; it then publishes the batch itself (bounded by
// publishDirect) and leaves the record's removal to RunPublisher. When the
// stream does not take it (NATS down), the commit still succeeds — the
// events are durable — and RunPublisher sends the backlog, oldest first,
// once the stream is back; while a backlog waits, commits leave their
// batches to it so the stream gets them in commit order. A batch published
// twice (by Commit and the publisher, or again after a crash between
// publishing and removing the record) carries the same message ids
// (bus.Publish: the store ids of its records), which the stream drops
// within its duplicate window.

// publishDirect bounds Commit's own publish attempts before it leaves the
// batch to the publisher (a variable for tests).
var publishDirect = 2 * time.Second

// publisherTick is how often RunPublisher removes published records and
// looks at the backlog.
const publisherTick = 200 * time.Millisecond

// orphanAge is how old a backlog record must be before a publisher that
// has no backlog of its own takes it (a batch another ingest process
// committed and died before publishing; younger ones are being published
// by their committer).
const orphanAge = 10 * time.Second

// publishMeta is what the backlog keeps beside a batch's ids: what Commit
// published that the stored events do not say.
type publishMeta struct {
	At      int64         `json:"at"`                // commit wall clock (Unix ns): the records' Received
	Retimed map[int]int64 `json:"retimed,omitempty"` // batch index: detection time (Unix ns) of an event dated ahead
}

type outbox struct {
	log         store.EventPublishLog // nil: none (SQLite; Commit fails when the stream does)
	unsupported atomic.Bool
	backlog     atomic.Bool // batches wait: commits leave theirs to the publisher
	running     atomic.Bool
	wake        chan struct{}
	mu          sync.Mutex
	done        []int64 // backlog records Commit published, to remove
}

func newOutbox(st store.Store) *outbox {
	o := &outbox{wake: make(chan struct{}, 1)}
	o.log, _ = st.(store.EventPublishLog)
	return o
}

func (o *outbox) kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// usable reports whether commits go through the backlog.
func (p *Pipeline) outboxUsable() bool {
	return p.o.Publish != nil && p.out.log != nil && !p.out.unsupported.Load()
}

// appendPending stores recs with their backlog record; ok is false when
// the store has no backlog (the caller appends them plainly).
func (p *Pipeline) appendPending(ctx context.Context, recs []store.EventRecord, meta publishMeta) (id int64, ok bool, err error) {
	data, err := json.Marshal(meta)
	if err != nil {
		return 0, false, err
	}
	id, err = p.out.log.AppendEventsPending(ctx, recs, data)
	if errors.Is(err, errors.ErrUnsupported) {
		p.out.unsupported.Store(true)
		return 0, false, nil
	}
	return id, true, err
}

// publishCommitted hands a committed batch (its backlog record id) to the
// stream, or to the publisher when a backlog waits or the stream does not
// take it in publishDirect. It never fails: the events are durable.
func (p *Pipeline) publishCommitted(ctx context.Context, id int64, out []store.EventRecord) {
	if p.out.backlog.Load() {
		p.out.kick()
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishDirect)
	err := p.o.Publish(actx, out)
	cancel()
	if err != nil {
		p.o.Log.Warn("event stream unavailable: events stored, left to the publisher", "events", len(out), "err", err)
		p.out.backlog.Store(true)
		p.out.kick()
		return
	}
	if p.out.running.Load() {
		p.out.mu.Lock()
		p.out.done = append(p.out.done, id)
		p.out.mu.Unlock()
		return
	}
	if err := p.out.log.DonePublishes(context.WithoutCancel(ctx), []int64{id}); err != nil {
		p.o.Log.Warn("marking events published; they will be published again (deduplicated by the stream)", "err", err)
	}
}

// RunPublisher removes the backlog records of batches Commit published and
// sends the backlog to the stream, oldest first, until ctx ends (split
// roles, an ingest process). It returns at once without a publish outbox.
func (p *Pipeline) RunPublisher(ctx context.Context) {
	if p.o.Publish == nil || p.out.log == nil {
		return
	}
	p.out.running.Store(true)
	defer func() {
		p.out.running.Store(false)
		p.flushDone(context.WithoutCancel(ctx))
	}()
	// What a previous run left (a crash, an outage at shutdown) goes first.
	p.out.backlog.Store(true)
	t := time.NewTicker(publisherTick)
	defer t.Stop()
	var lastCount time.Time
	for {
		p.flushDone(ctx)
		p.drainBacklog(ctx)
		if p.out.backlog.Load() || time.Since(lastCount) > 5*time.Second {
			lastCount = time.Now()
			if _, n, err := p.out.log.PublishBacklog(ctx); err == nil {
				p.o.Metrics.PublishBacklog.Set(float64(n))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.out.wake:
		}
	}
}

func (p *Pipeline) flushDone(ctx context.Context) {
	p.out.mu.Lock()
	ids := p.out.done
	p.out.done = nil
	p.out.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := p.out.log.DonePublishes(ctx, ids); err != nil {
		p.o.Log.Warn("marking events published; they will be published again (deduplicated by the stream)", "err", err)
	}
}

// drainBacklog publishes backlog records oldest first: all of them while
// this process has a backlog, else only those older than orphanAge. It
// stops at the first failure (the stream or the store down; the next tick
// tries again) and clears the backlog once none is left.
func (p *Pipeline) drainBacklog(ctx context.Context) {
	for ctx.Err() == nil {
		backlog := p.out.backlog.Load()
		before := time.Now().Add(-orphanAge)
		if backlog {
			before = time.Now().Add(time.Hour)
		}
		pend, err := p.out.log.PendingPublishes(ctx, before, 32)
		if err != nil {
			return
		}
		if len(pend) == 0 {
			if backlog {
				// Commits publish themselves again; one more pass takes a
				// batch committed while the backlog was being cleared.
				p.out.backlog.Store(false)
				continue
			}
			return
		}
		for _, pp := range pend {
			recs := rebuildPublished(pp)
			if len(recs) > 0 {
				actx, cancel := context.WithTimeout(ctx, publishDirect)
				err := p.o.Publish(actx, recs)
				cancel()
				if err != nil {
					p.out.backlog.Store(true)
					return
				}
			}
			if err := p.out.log.DonePublishes(ctx, []int64{pp.ID}); err != nil {
				return
			}
		}
	}
}

// rebuildPublished makes the records Commit published for a backlog
// record: its stored events less the quarantined ones, received at the
// commit, retimed as they were.
func rebuildPublished(pp store.PendingPublish) []store.EventRecord {
	var m publishMeta
	_ = json.Unmarshal(pp.Meta, &m)
	out := make([]store.EventRecord, 0, len(pp.Records))
	for i := range pp.Records {
		r := pp.Records[i]
		if _, q := r.Event.Fields[QuarantineField]; q {
			continue
		}
		if ts, ok := m.Retimed[i]; ok {
			r.Event.Timestamp = time.Unix(0, ts).UTC()
		}
		if m.At != 0 {
			r.Received = time.Unix(0, m.At)
		}
		r.Raw = ""
		out = append(out, r)
	}
	return out
}
