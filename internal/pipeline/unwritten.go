package pipeline

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/firebreak-msp/firebreak/internal/audit"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// unwritten holds the incidents whose last store write failed (the
// database away), in the state that write carried, until a retry stores
// them. Detection hands an incident to the store only when it changes (an
// alert, a sync of what changed since the last one), so a failed write is
// not repeated by itself: an incident that does not change again would
// stay missing or stale. Run retries them at every sync tick, and a
// checkpoint is not saved while any is left: a checkpoint says every
// incident of the events up to its Last is stored, and the next owner of
// the partition rebuilds only what lies past it. Safe for concurrent use
// (Handle is called from other goroutines too).
type unwritten struct {
	mu   sync.Mutex
	incs map[string]unwrittenInc
}

type unwrittenInc struct {
	inc    store.Incident
	replay bool // every failed write was a replay's: notified only if new to the store
}

// note keeps inc (its latest state) for a retry.
func (u *unwritten) note(inc store.Incident, replay bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.incs == nil {
		u.incs = map[string]unwrittenInc{}
	}
	prev, had := u.incs[inc.ID]
	// Replay only when every failed write was a replay's: a live alert
	// that was never stored must still be notified.
	u.incs[inc.ID] = unwrittenInc{inc: inc, replay: replay && (!had || prev.replay)}
}

// written forgets id (a newer state of it is being stored) and says
// whether that write is a replay's: not when a failed one was live (its
// alert is still to be notified).
func (u *unwritten) written(id string, replay bool) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if prev, ok := u.incs[id]; ok {
		delete(u.incs, id)
		return replay && prev.replay
	}
	return replay
}

// len is how many incidents wait for a retry.
func (u *unwritten) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.incs)
}

// retryUnwritten writes the incidents whose last write failed, in id
// order; it reports whether none is left.
func (p *Pipeline) retryUnwritten(ctx context.Context) bool {
	p.unwritten.mu.Lock()
	pending := slices.Collect(maps.Values(p.unwritten.incs))
	p.unwritten.mu.Unlock()
	if len(pending) == 0 {
		return true
	}
	slices.SortFunc(pending, func(a, b unwrittenInc) int { return strings.Compare(a.inc.ID, b.inc.ID) })
	for _, w := range pending {
		inc := w.inc
		stored, created, err := p.o.Store.UpsertIncident(ctx, &inc)
		if err != nil {
			p.o.Log.Warn("storing incident again", "id", inc.ID, "err", err)
			return false // still away: the rest wait for the next tick
		}
		p.unwritten.mu.Lock()
		if cur, ok := p.unwritten.incs[inc.ID]; ok && cur.inc.Count == w.inc.Count && cur.inc.Last.Equal(w.inc.Last) {
			delete(p.unwritten.incs, inc.ID) // (a newer failed state stays)
		}
		p.unwritten.mu.Unlock()
		// The failed write may have been the one that settles a pending
		// judgement as an attack (handle's settled was not reached).
		settled := p.settled(&inc)
		p.stored(ctx, stored, created, w.replay && !settled)
	}
	return p.unwritten.len() == 0
}

// stored counts, audits and notifies an incident the store took (handle's
// and the retry's common end).
func (p *Pipeline) stored(ctx context.Context, stored *store.Incident, created, replay bool) {
	if created {
		p.o.Metrics.Incidents.WithLabelValues(stored.Severity).Inc()
		audit.Append(ctx, p.o.Store, p.o.Log, "anonymous", "", "incident.open", stored.ID, stored.Tenant, map[string]any{"rule": stored.Rule, "severity": stored.Severity})
	}
	if (!replay || created) && p.o.Notify != nil {
		p.o.Notify.NotifyIncident(ctx, stored, created)
	}
}
