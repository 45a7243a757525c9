package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/lease"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store/bus"
)

// PartitionOptions configure RunPartitions.
type PartitionOptions struct {
	Base        Options // store, metrics, logger, clock, notifier of every partition's pipeline
	Bus         *bus.Bus
	DatabaseURL string // for the ownership locks
	NewDetector func() (Detector, error)
	// Every is how often ownership is rebalanced and checked (default 2s).
	Every time.Duration
	// LockSpace is the advisory-lock namespace (0: lease.DefaultSpace).
	LockSpace int64
	// FollowMargin is how far before its store replay a partition's first
	// owner follows the stream (0: 5 minutes).
	FollowMargin time.Duration
	// NoCheckpoints makes every takeover replay the store instead of
	// resuming from the partition's checkpoint (tests compare the two).
	NoCheckpoints bool
	// PartitionDetector, when set, makes partition p's detector instead of
	// NewDetector (the cross-tenant stage: its engines take only the
	// events whose attacker key is in p). A detector with an
	// Owns(*event.Event) bool method also filters the store replay.
	PartitionDetector func(p int) (Detector, error)
	// Stage names a second set of partitions in metrics labels
	// ("<stage>-<p>"); its count is not in firebreak_detect_partitions_owned.
	Stage string
}

// label is partition p's metrics label.
func (o PartitionOptions) label(p int) string {
	if o.Stage != "" {
		return o.Stage + "-" + strconv.Itoa(p)
	}
	return strconv.Itoa(p)
}

// owned is one partition this process detects.
type owned struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// RunPartitions detects the event stream in a split deployment until ctx
// ends. Each partition (a set of tenants) has one owner among the live
// detectors, by a PostgreSQL advisory lock: a detector holds about
// partitions/detectors of them, takes free ones (a dead detector's session,
// and so its locks, end with it) and gives up extras when another joins.
// Taking a partition replays its tenants' stored events of the last
// ReplayWindow into a fresh engine, then follows the partition in stream
// order from just before that replay, skipping the events the replay
// already detected; a partition with a checkpoint (every owner keeps one)
// is resumed from it instead (see runPartition), so a takeover neither
// loses a window nor repeats an incident.
func RunPartitions(ctx context.Context, o PartitionOptions) error {
	if o.Every <= 0 {
		o.Every = 2 * time.Second
	}
	if o.Base.Log == nil {
		o.Base.Log = slog.New(slog.DiscardHandler)
	}
	log := o.Base.Log
	parts := o.Bus.Partitions()
	mine := map[int]*owned{}
	var mu sync.Mutex
	stopAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for p, w := range mine {
			w.cancel()
			<-w.done
			delete(mine, p)
			disowned(o.Base.Metrics, o.label(p))
		}
		if o.Base.Metrics != nil && o.Stage == "" {
			o.Base.Metrics.PartitionsOwned.Set(0)
		}
	}
	defer stopAll()
	start := func(p int) {
		pctx, cancel := context.WithCancel(ctx)
		w := &owned{cancel: cancel, done: make(chan struct{})}
		mine[p] = w
		if o.Base.Metrics != nil {
			o.Base.Metrics.PartitionOwned.WithLabelValues(o.label(p)).Set(1)
		}
		go func() {
			defer close(w.done)
			if err := runPartition(pctx, o, p); err != nil && pctx.Err() == nil {
				log.Error("detecting partition", "partition", p, "err", err)
			}
		}()
	}
	for ctx.Err() == nil {
		l, err := lease.OpenIn(ctx, o.DatabaseURL, o.LockSpace)
		if err != nil {
			log.Warn("detector: PostgreSQL for partition ownership", "err", err)
			sleep(ctx, o.Every)
			continue
		}
		slot, err := l.Join(ctx)
		if err != nil {
			_ = l.Close()
			return err
		}
		log.Info("detector joined", "slot", slot, "partitions", parts)
		for ctx.Err() == nil {
			if err := balance(ctx, l, parts, mine, &mu, start, o); err != nil {
				if ctx.Err() == nil {
					log.Warn("detector: partition ownership lost", "err", err)
				}
				break
			}
			if o.Base.Metrics != nil && o.Stage == "" {
				mu.Lock()
				o.Base.Metrics.PartitionsOwned.Set(float64(len(mine)))
				mu.Unlock()
			}
			sleep(ctx, o.Every)
		}
		stopAll() // our locks are gone (or going) with the session
		_ = l.Close()
	}
	return nil
}

// balance takes free partitions up to this detector's share and gives up
// those beyond it.
func balance(ctx context.Context, l *lease.Locker, parts int, mine map[int]*owned, mu *sync.Mutex, start func(int), o PartitionOptions) error {
	if err := l.Alive(ctx); err != nil {
		return err
	}
	members, err := l.Members(ctx)
	if err != nil {
		return err
	}
	share := (parts + max(1, members) - 1) / max(1, members)
	mu.Lock()
	defer mu.Unlock()
	for p := 0; p < parts && len(mine) < share; p++ {
		if _, ok := mine[p]; ok {
			continue
		}
		ok, err := l.TryLock(ctx, l.PartitionKey(p))
		if err != nil {
			return err
		}
		if ok {
			o.Base.Log.Info("partition taken", "partition", p)
			start(p)
		}
	}
	for p := parts - 1; p >= 0 && len(mine) > share; p-- {
		if w, ok := mine[p]; ok {
			w.cancel()
			<-w.done
			delete(mine, p)
			disowned(o.Base.Metrics, o.label(p))
			if err := l.Unlock(ctx, l.PartitionKey(p)); err != nil {
				return err
			}
			o.Base.Log.Info("partition given up", "partition", p)
		}
	}
	return nil
}

// disowned removes partition p's ownership and lag series: this detector
// no longer reports on it.
func disowned(m *metrics.Metrics, label string) {
	if m == nil {
		return
	}
	m.PartitionOwned.DeleteLabelValues(label)
	m.ConsumerLag.DeleteLabelValues(label)
}

// runPartition detects partition p until ctx ends. With a checkpoint of
// the partition (its previous owner's, in the bus's key-value bucket) it
// follows the stream from the checkpoint's floor, so the windows open when
// that owner stopped are rebuilt from the stream, and no store replay is
// needed; without one (the partition's first owner, a lost bucket) it
// replays the partition's stored events of the detector's longest window
// and follows from a little before that replay.
func runPartition(ctx context.Context, o PartitionOptions, p int) error {
	newDet := o.NewDetector
	if o.PartitionDetector != nil {
		newDet = func() (Detector, error) { return o.PartitionDetector(p) }
	}
	det, err := newDet()
	if err != nil {
		return fmt.Errorf("detector: %w", err)
	}
	po := o.Base
	po.Detect, po.Publish = true, nil
	po.NewDetector = newDet // back-fill passes detect with the partition's rules
	po.Checkpoint = func(ctx context.Context, floor, last uint64, counts map[string]bus.IncidentCount, since time.Time) {
		c := bus.Checkpoint{Floor: floor, Last: last, Updated: time.Now().UTC(), Counts: counts, Since: since}
		if err := o.Bus.SaveCheckpoint(ctx, p, c); err != nil {
			o.Base.Log.Warn("detector: checkpoint not saved", "partition", p, "err", err)
		}
	}
	// Follow the stream from before the replay's query: an event not in
	// the replay was committed after it, and so published after it.
	from := bus.Position{Since: time.Now().Add(-o.followMargin())}
	ck, ok, err := o.Bus.LoadCheckpoint(ctx, p)
	switch {
	case err != nil:
		o.Base.Log.Warn("detector: checkpoint unreadable; replaying the store", "partition", p, "err", err)
		fallthrough
	case !ok || o.NoCheckpoints:
		po.SkipReplayed = true
		po.ReplayFilter = func(ev *event.Event) bool { return o.Bus.Partition(ev) == p }
		if ow, ok := det.(interface{ Owns(*event.Event) bool }); ok {
			po.ReplayFilter = ow.Owns
		}
	default:
		po.Resume = &Resumed{Last: ck.Last, Counts: ck.Counts, Since: ck.Since}
		from = bus.Position{Seq: ck.Floor}
		o.Base.Log.Info("partition resumed from its checkpoint", "partition", p, "floor", ck.Floor, "last", ck.Last)
	}
	pipe := New(po)
	done := make(chan struct{})
	go func() { pipe.Run(ctx, det); close(done) }()
	lag := func(uint64) {}
	if o.Base.Metrics != nil {
		g := o.Base.Metrics.ConsumerLag.WithLabelValues(o.label(p))
		lag = func(n uint64) { g.Set(float64(n)) }
	}
	err = o.Bus.Follow(ctx, p, from, 256, func(ctx context.Context, b bus.Batch) error {
		pipe.Deliver(ctx, b.Records, b.Seqs)
		lag(b.Pending)
		return nil
	})
	<-done
	return err
}

func (o PartitionOptions) followMargin() time.Duration {
	if o.FollowMargin > 0 {
		return o.FollowMargin
	}
	return followMargin
}

// followMargin is how far before its replay a new owner starts following
// the stream (clock differences between hosts and the NATS server); what
// the replay already saw is skipped.
const followMargin = 5 * time.Minute

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
