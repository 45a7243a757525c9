// Package bus carries events between firebreak processes over NATS
// JetStream, so that several detector processes can share the load: the
// ingest side publishes every stored event to a partitioned stream, and
// each detector follows the partitions it owns.
//
// Detection is stateful (windows per user, per source IP, per tenant), so a
// partition must be read by exactly one process at a time and in order:
// events are routed to a partition by a key (default: the tenant). Follow
// reads one partition in order with no durable position: the detector that
// owns a partition (internal/pipeline decides which, by PostgreSQL advisory
// locks) starts it from its checkpoint's stream sequence or from a time.
// Rules that correlate across partitions (the cross-tenant rules, when
// partitioned by tenant) see only their partition's events.
//
// Publishing waits for JetStream's acknowledgement (the message is stored)
// and sets a message id from the event's store id, so a retried publish is
// deduplicated.
//
// Imported by the pipeline (split roles: ingest publishes, detectors
// consume); imports store and event.
package bus

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Options configure the stream. Zero fields take defaults.
type Options struct {
	Stream     string        // stream name, default "FIREBREAK_EVENTS"
	Subject    string        // subject prefix, default "firebreak.events"; partition p is "<prefix>.<p>"
	Partitions int           // default 8; fixed for the life of the stream
	MaxAge     time.Duration // how long the stream keeps events, default 7 days (the store keeps them for retention)
	Replicas   int           // stream replicas in a JetStream cluster, default 1
	MaxBytes   int64         // cap on the stream's size per replica, 0: none (oldest events are discarded past it)
	// Key routes an event to a partition (default: its tenant).
	Key func(ev *event.Event) string
	// Keys, when set, replaces Key: an event goes to the partition of each
	// of its keys (once per partition), and an event with no key is not
	// published (the cross-tenant stage's stream, keyed by attacker).
	Keys func(ev *event.Event) []string
}

func (o Options) withDefaults() Options {
	if o.Stream == "" {
		o.Stream = "FIREBREAK_EVENTS"
	}
	if o.Subject == "" {
		o.Subject = "firebreak.events"
	}
	if o.Partitions <= 0 {
		o.Partitions = 8
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 7 * 24 * time.Hour
	}
	if o.Key == nil {
		o.Key = func(ev *event.Event) string { return ev.Tenant }
	}
	return o
}

// Bus is a connection to the event stream.
type Bus struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	kv   jetstream.KeyValue // detectors' checkpoints
	opts Options
}

// Open connects to url (nats://…) and creates or updates the stream.
func Open(ctx context.Context, url string, opts Options) (*Bus, error) {
	opts = opts.withDefaults()
	nc, err := nats.Connect(url, nats.Name("firebreak"), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        opts.Stream,
		Description: "firebreak normalized events, partitioned for detector processes",
		Subjects:    []string{opts.Subject + ".*"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      opts.MaxAge,
		Replicas:    max(1, opts.Replicas),
		MaxBytes:    cmp.Or(opts.MaxBytes, -1),
		Duplicates:  2 * time.Minute,
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("creating stream %s: %w", opts.Stream, err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      opts.Stream + "_CHECKPOINTS",
		Description: "firebreak detectors' position per partition (the oldest event in an open window, the last detected)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(1, opts.Replicas),
	})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("creating checkpoint bucket for %s: %w", opts.Stream, err)
	}
	return &Bus{nc: nc, js: js, kv: kv, opts: opts}, nil
}

// Checkpoint is a detector's position in one partition: a new owner
// follows the partition from Floor (the oldest event still in one of
// detection's open windows) and treats the events up to Last (detected,
// their incidents stored) as already seen, so windows open at a takeover
// are resumed instead of lost and what was alerted is not alerted again.
type Checkpoint struct {
	Floor   uint64    `json:"floor"`
	Last    uint64    `json:"last"`
	Updated time.Time `json:"updated"`
	// Counts are the counts of the incidents detection touched within
	// its window, as of Last (whether or not their store writes
	// succeeded): a takeover adds what it detects after Last to them.
	Counts map[string]IncidentCount `json:"counts,omitempty"`
	// Since is when Counts start: every incident seen at or after it (by
	// event time) is listed.
	Since time.Time `json:"since,omitzero"`
}

// IncidentCount is one incident's count and last time in a Checkpoint.
type IncidentCount struct {
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

func checkpointKey(p int) string { return "partition." + strconv.Itoa(p) }

// SaveCheckpoint records partition p's checkpoint.
func (b *Bus) SaveCheckpoint(ctx context.Context, p int, c Checkpoint) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := b.kv.Put(ctx, checkpointKey(p), data); err != nil {
		return fmt.Errorf("saving checkpoint of partition %d: %w", p, err)
	}
	return nil
}

// LoadCheckpoint returns partition p's checkpoint; ok is false when none
// was saved or it is past the stream's end (a stream deleted and created
// again numbers from 1: following from the old floor would skip events).
func (b *Bus) LoadCheckpoint(ctx context.Context, p int) (c Checkpoint, ok bool, err error) {
	e, err := b.kv.Get(ctx, checkpointKey(p))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("reading checkpoint of partition %d: %w", p, err)
	}
	if err := json.Unmarshal(e.Value(), &c); err != nil {
		return Checkpoint{}, false, fmt.Errorf("reading checkpoint of partition %d: %w", p, err)
	}
	s, err := b.js.Stream(ctx, b.opts.Stream)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("reading stream %s: %w", b.opts.Stream, err)
	}
	if c.Floor > s.CachedInfo().State.LastSeq+1 || c.Last > s.CachedInfo().State.LastSeq {
		return Checkpoint{}, false, nil
	}
	return c, true, nil
}

// DeleteStream removes the stream, its consumers and the checkpoints
// (tests, teardown).
func (b *Bus) DeleteStream(ctx context.Context) error {
	_ = b.js.DeleteKeyValue(ctx, b.opts.Stream+"_CHECKPOINTS")
	return b.js.DeleteStream(ctx, b.opts.Stream)
}

// Connected reports whether the connection to NATS is up (a dashboard's
// degraded-part check; publishes fail and detectors pause while it is
// down, and the client reconnects by itself).
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

// Close drains and closes the connection.
func (b *Bus) Close() error { return b.nc.Drain() }

// Partition is the partition ev is routed to (by Key).
func (b *Bus) Partition(ev *event.Event) int { return b.PartitionOf(b.opts.Key(ev)) }

// PartitionOf is the partition of a routing key.
func (b *Bus) PartitionOf(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(b.opts.Partitions))
}

// partitions appends the partitions recs[i] goes to.
func (b *Bus) partitions(ev *event.Event, out []int) []int {
	if b.opts.Keys == nil {
		return append(out, b.Partition(ev))
	}
	for _, k := range b.opts.Keys(ev) {
		if p := b.PartitionOf(k); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// Partitions is the number of partitions.
func (b *Bus) Partitions() int { return b.opts.Partitions }

// Publish sends recs and returns when JetStream has stored every one of
// them (or the first error). The records routed to one partition go in
// batch messages (codec.go), in their order; a batch's message id is made
// of its first and last record's store ids and its partition, so a
// retried publish of the same records is deduplicated.
func (b *Bus) Publish(ctx context.Context, recs []store.EventRecord) error {
	byPart := map[int][]*store.EventRecord{}
	var order []int
	var parts []int
	for i := range recs {
		parts = b.partitions(&recs[i].Event, parts[:0])
		for _, p := range parts {
			if _, ok := byPart[p]; !ok {
				order = append(order, p)
			}
			byPart[p] = append(byPart[p], &recs[i])
		}
	}
	futures := make([]jetstream.PubAckFuture, 0, len(order))
	for _, p := range order {
		prs := byPart[p]
		subj := b.opts.Subject + "." + strconv.Itoa(p)
		err := encodeBatches(prs, func(data []byte, first, last int) error {
			var popts []jetstream.PublishOpt
			if prs[first].ID != 0 && prs[last].ID != 0 {
				popts = append(popts, jetstream.WithMsgID(fmt.Sprintf("%d-%d.%d", prs[first].ID, prs[last].ID, p)))
			}
			f, err := b.js.PublishAsync(subj, data, popts...)
			if err != nil {
				return fmt.Errorf("publishing events: %w", err)
			}
			futures = append(futures, f)
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publishing events: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Position is where Follow starts reading a partition: at stream sequence
// Seq when it is set (a checkpoint), else at the events that reached the
// stream at Since.
type Position struct {
	Seq   uint64
	Since time.Time
}

// Batch is what Follow hands on: records of one partition in stream order.
type Batch struct {
	Partition int
	Records   []store.EventRecord
	Seqs      []uint64 // each record's stream sequence
	Pending   uint64   // events of the partition in the stream after this batch
}

// Handler processes one batch. An error ends Follow with it.
type Handler func(ctx context.Context, b Batch) error

// Follow reads partition p in stream order from `from` until ctx ends,
// handing on batches of up to batch records, and returns nil then (or the
// handler's error). It pulls continuously: the client keeps up to two
// batches of messages buffered while the handler runs, so reading and
// detection overlap (with one Fetch per batch they took turns, 3.7× slower
// per event on the split path).
//
// Reads come from a consumer of Follow's own (no acknowledgements, in
// memory, one replica), created again from the sequence after the last one
// handed on whenever it fails or a delivery is missing. Without
// acknowledgements a message the server sent while this client's
// connection went down (a node restarting) is never sent again, and the
// next one arrives after the reconnect (TestFollowSurvivesNodeRestart).
// Each delivery carries the consumer's delivery sequence, one more than the
// previous one's: a batch is handed on up to the first gap, and the rest is
// read again from a new consumer. A gap at the tail (nothing arrives after
// the lost message) or a stuck pull is found when the partition has been
// idle a second and the server says it delivered more than arrived or
// holds events it does not send.
func (b *Bus) Follow(ctx context.Context, p int, from Position, batch int, h Handler) error {
	if p < 0 || p >= b.opts.Partitions {
		return fmt.Errorf("partition %d out of range 0..%d", p, b.opts.Partitions-1)
	}
	if batch <= 0 {
		batch = 256
	}
	f := &follower{b: b, subject: b.opts.Subject + "." + strconv.Itoa(p), since: from.Since}
	if from.Seq > 0 {
		f.last = from.Seq - 1
	}
	defer f.drop()
	out := Batch{Partition: p}
	for ctx.Err() == nil {
		if f.it == nil {
			if err := f.open(ctx, batch); err != nil {
				sleep(ctx, followRetry)
				continue
			}
		}
		out.Records, out.Seqs = out.Records[:0], out.Seqs[:0]
		// The first message waits up to followIdle; the rest of a batch
		// is what arrives without a pause.
		wait := followIdle
		reopen := false
		for len(out.Seqs) < batch {
			m, err := f.it.Next(jetstream.NextMaxWait(wait))
			if err != nil {
				switch {
				case !errors.Is(err, nats.ErrTimeout):
					reopen = true // iterator closed, heartbeats missed, consumer gone
				case len(out.Seqs) == 0 && ctx.Err() == nil:
					reopen = f.stalled(ctx)
				}
				break
			}
			md, err := m.Metadata()
			if err != nil || md.Sequence.Consumer != f.delivered+1 {
				reopen = true // a lost delivery: read again from a new consumer
				break
			}
			f.delivered = md.Sequence.Consumer
			f.last, out.Pending = md.Sequence.Stream, md.NumPending
			wait = followBurst
			out.Records, out.Seqs = decode(m.Data(), md.Sequence.Stream, out.Records, out.Seqs)
		}
		if reopen {
			f.drop()
		}
		if len(out.Seqs) > 0 {
			if err := h(ctx, out); err != nil {
				return err
			}
			// The handler may keep the slices: start new ones (decode
			// sizes them by the messages it reads).
			out = Batch{Partition: p}
		}
		if reopen && ctx.Err() == nil {
			sleep(ctx, followRetry)
		}
	}
	return nil
}

const (
	// followRetry is how long Follow waits before it reads again after a
	// failure (a node restarting, a leader election).
	followRetry = 200 * time.Millisecond
	// followIdle is how long Follow waits for a partition's next event
	// before it checks for a lost delivery at the tail.
	followIdle = time.Second
	// followBurst is the pause that ends a batch short of its size.
	followBurst = 2 * time.Millisecond
	// followBuffer is how many bytes of messages the client keeps
	// buffered ahead of the handler.
	followBuffer = 8 << 20
)

// decode appends the records of one message (a batch, or one JSON record
// of an earlier version) with their stream sequence. An undecodable
// message is skipped (nothing would deliver it differently).
func decode(data []byte, seq uint64, recs []store.EventRecord, seqs []uint64) ([]store.EventRecord, []uint64) {
	if len(data) > 0 && data[0] == batchMagic {
		r, n, err := newBatchReader(data)
		if err != nil {
			return recs, seqs
		}
		base := len(recs)
		// One allocation for the message's records: appending them one
		// by one grew the slice (records of ~0.5 KB) several times per
		// message, and that copying and its garbage were a third of a
		// detector's CPU (bench/scale/run.sh, pprof).
		recs, seqs = slices.Grow(recs, n), slices.Grow(seqs, n)
		for range n {
			recs = append(recs, store.EventRecord{})
			if r.record(&recs[len(recs)-1]) != nil {
				return recs[:base], seqs // a batch is taken whole or not at all
			}
		}
		for range n {
			seqs = append(seqs, seq)
		}
		return recs, seqs
	}
	var rec store.EventRecord
	if json.Unmarshal(data, &rec) != nil {
		return recs, seqs
	}
	return append(recs, rec), append(seqs, seq)
}

// follower is Follow's position in one partition and its current consumer.
type follower struct {
	b         *Bus
	subject   string
	since     time.Time
	last      uint64 // stream sequence of the last event read (0: none yet)
	cons      jetstream.Consumer
	it        jetstream.MessagesContext
	delivered uint64 // the current consumer's delivery sequence so far
}

// open creates the follower's consumer, from the sequence after the last
// one read (or from since), and starts pulling from it.
func (f *follower) open(ctx context.Context, batch int) error {
	cfg := jetstream.ConsumerConfig{
		FilterSubject:     f.subject,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: time.Minute, // a follower that died leaves no consumer behind for long
	}
	if f.last > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, f.last+1
	} else {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &f.since
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cons, err := f.b.js.CreateConsumer(cctx, f.b.opts.Stream, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxBytes(followBuffer), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		f.cons = cons
		f.drop()
		return err
	}
	f.cons, f.it, f.delivered = cons, it, 0
	return nil
}

// stalled reports, after a second with nothing arriving, whether the
// consumer is stuck: the server delivered more than arrived here (a message
// lost with nothing after it to show the gap), or events wait that it does
// not send (the pull request was parked on a node that went away; the
// client's missed-heartbeat check runs only within one Next call, shorter
// than it).
func (f *follower) stalled(ctx context.Context) bool {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	info, err := f.cons.Info(cctx)
	if err != nil {
		return ctx.Err() == nil // the consumer is gone (its node restarted) or unreachable
	}
	return info.Delivered.Consumer > f.delivered || info.NumPending > 0
}

// drop stops pulling and deletes the follower's consumer (in the
// background: a server that is going away may not answer; the inactivity
// threshold removes it then).
func (f *follower) drop() {
	if f.it != nil {
		f.it.Stop()
		f.it = nil
	}
	if f.cons == nil {
		return
	}
	name := f.cons.CachedInfo().Name
	f.cons = nil
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = f.b.js.DeleteConsumer(ctx, f.b.opts.Stream, name)
	}()
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
