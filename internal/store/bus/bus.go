// Package bus carries events between firebreak processes over NATS
// JetStream, so that several detector processes can share the load: the
// ingest side publishes every stored event to a partitioned stream, and
// each detector consumes a fixed subset of the partitions.
//
// Detection is stateful (windows per user, per source IP, per tenant), so a
// partition must be read by exactly one process at a time and in order:
// events are routed to a partition by a key (default: the tenant). Follow
// reads one partition in order with no durable position (the detector that
// owns it replays the store first); Consume reads with durable consumers,
// one batch in flight, and Assigned splits the partitions statically among
// N processes. Rules that
// correlate across partitions (the cross-tenant rules, when partitioned by
// tenant) see only their partition's events; run those in a process that
// consumes every partition, or partition by source IP instead.
//
// Delivery is at least once: a batch is acknowledged only after the handler
// returned nil, otherwise it is redelivered. Publishing waits for
// JetStream's acknowledgement (the message is stored) and sets a message id
// from the event's store id, so a retried publish is deduplicated.
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
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

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
	return &Bus{nc: nc, js: js, opts: opts}, nil
}

// Lag is how many events of partition p the durable consumer name has not
// yet been delivered (0 when the consumer does not exist yet).
func (b *Bus) Lag(ctx context.Context, name string, p int) (uint64, error) {
	c, err := b.js.Consumer(ctx, b.opts.Stream, fmt.Sprintf("%s-p%d", name, p))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}

// DeleteStream removes the stream and its consumers (tests, teardown).
func (b *Bus) DeleteStream(ctx context.Context) error { return b.js.DeleteStream(ctx, b.opts.Stream) }

// Close drains and closes the connection.
func (b *Bus) Close() error { return b.nc.Drain() }

// Partition is the partition ev is routed to.
func (b *Bus) Partition(ev *event.Event) int {
	h := fnv.New32a()
	h.Write([]byte(b.opts.Key(ev)))
	return int(h.Sum32() % uint32(b.opts.Partitions))
}

// Partitions is the number of partitions.
func (b *Bus) Partitions() int { return b.opts.Partitions }

// Assigned returns the partitions process index (0-based) of count takes.
func Assigned(partitions, index, count int) []int {
	var out []int
	for p := range partitions {
		if count > 0 && p%count == index {
			out = append(out, p)
		}
	}
	return out
}

// Publish sends recs and returns when JetStream has stored every one of
// them (or the first error).
func (b *Bus) Publish(ctx context.Context, recs []store.EventRecord) error {
	futures := make([]jetstream.PubAckFuture, 0, len(recs))
	for i := range recs {
		data, err := json.Marshal(&recs[i])
		if err != nil {
			return fmt.Errorf("encoding event: %w", err)
		}
		subj := b.opts.Subject + "." + strconv.Itoa(b.Partition(&recs[i].Event))
		var popts []jetstream.PublishOpt
		if recs[i].ID != 0 {
			popts = append(popts, jetstream.WithMsgID(strconv.FormatInt(recs[i].ID, 10)))
		}
		f, err := b.js.PublishAsync(subj, data, popts...)
		if err != nil {
			return fmt.Errorf("publishing event: %w", err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return fmt.Errorf("publishing event: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Follow reads partition p in stream order from the events that reached
// the stream at since onwards, until ctx ends. A detector that took the
// partition over replays the store first and follows from a little before
// that replay, skipping what the replay saw, so it needs no durable
// position. lag, when set, is told how many events wait after each batch.
//
// Reads come from a consumer of Follow's own (no acknowledgements, in
// memory, one replica), recreated from the last stream sequence handed on
// whenever it fails or a delivery is missing. Without acknowledgements a
// message the server sent while this client's connection went down (a
// node restarting) is never sent again, and the next one of the same pull
// arrives after the reconnect: the client's ordered consumer, used through
// Fetch, does not check for that and handed on batches with a hole in them
// (TestFollowSurvivesNodeRestart; TestSplitFaults's incidents stopping
// after a NATS node restarted). Each delivery carries the consumer's
// delivery sequence, one more than the previous one's: a batch is handed
// on up to the first gap in it, and the rest is read again from a new
// consumer.
func (b *Bus) Follow(ctx context.Context, p int, since time.Time, batch int, h Handler, lag func(uint64)) error {
	if p < 0 || p >= b.opts.Partitions {
		return fmt.Errorf("partition %d out of range 0..%d", p, b.opts.Partitions-1)
	}
	if batch <= 0 {
		batch = 256
	}
	f := &follower{b: b, subject: b.opts.Subject + "." + strconv.Itoa(p), since: since}
	defer f.drop()
	for ctx.Err() == nil {
		if f.cons == nil {
			if err := f.open(ctx); err != nil {
				sleep(ctx, followRetry)
				continue
			}
		}
		mb, err := f.cons.Fetch(batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			f.drop()
			sleep(ctx, followRetry)
			continue
		}
		var recs []store.EventRecord
		var last, pending uint64
		gap := false
		for m := range mb.Messages() {
			if gap {
				continue // after a lost delivery: read again from a new consumer
			}
			md, err := m.Metadata()
			if err != nil || md.Sequence.Consumer != f.delivered+1 {
				gap = true
				continue
			}
			f.delivered = md.Sequence.Consumer
			last, pending = md.Sequence.Stream, md.NumPending
			var r store.EventRecord
			if json.Unmarshal(m.Data(), &r) != nil {
				continue // undecodable: skipped (nothing redelivers it)
			}
			recs = append(recs, r)
		}
		if err := mb.Error(); gap || (err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages)) {
			f.drop()
		}
		if last == 0 {
			continue
		}
		if len(recs) > 0 {
			if err := h(ctx, p, recs); err != nil {
				return err
			}
		}
		f.last = last
		if lag != nil {
			lag(pending)
		}
	}
	return nil
}

// followRetry is how long Follow waits before it reads again after a
// failure (a node restarting, a leader election).
const followRetry = 200 * time.Millisecond

// follower is Follow's position in one partition and its current consumer.
type follower struct {
	b         *Bus
	subject   string
	since     time.Time
	last      uint64 // stream sequence of the last event handed on (0: none yet)
	cons      jetstream.Consumer
	delivered uint64 // the current consumer's delivery sequence so far
}

// open creates the follower's consumer, from the sequence after the last
// one handed on (or from since).
func (f *follower) open(ctx context.Context) error {
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
	f.cons, f.delivered = cons, 0
	return nil
}

// drop deletes the follower's consumer (in the background: a server that
// is going away may not answer; the inactivity threshold removes it then).
func (f *follower) drop() {
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

// Handler processes one batch of one partition, in stream order. Returning
// an error makes the batch be delivered again.
type Handler func(ctx context.Context, partition int, recs []store.EventRecord) error

// Consume reads partitions with durable consumers named "<name>-p<N>" (a
// restarted process resumes where it acknowledged), batches of up to batch
// events, until ctx ends. It returns nil when ctx ends, or the first
// setup error.
func (b *Bus) Consume(ctx context.Context, name string, partitions []int, batch int, h Handler) error {
	if batch <= 0 {
		batch = 256
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range partitions {
		if p < 0 || p >= b.opts.Partitions {
			return fmt.Errorf("partition %d out of range 0..%d", p, b.opts.Partitions-1)
		}
		cons, err := b.js.CreateOrUpdateConsumer(ctx, b.opts.Stream, jetstream.ConsumerConfig{
			Durable:       fmt.Sprintf("%s-p%d", name, p),
			FilterSubject: b.opts.Subject + "." + strconv.Itoa(p),
			AckPolicy:     jetstream.AckAllPolicy,
			AckWait:       time.Minute,
			MaxAckPending: batch, // one batch in flight: order is kept
			DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		if err != nil {
			return fmt.Errorf("consumer for partition %d: %w", p, err)
		}
		g.Go(func() error { return b.consume(ctx, cons, p, batch, h) })
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (b *Bus) consume(ctx context.Context, cons jetstream.Consumer, p, batch int, h Handler) error {
	for ctx.Err() == nil {
		mb, err := cons.Fetch(batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var msgs []jetstream.Msg
		var recs []store.EventRecord
		for m := range mb.Messages() {
			var r store.EventRecord
			if err := json.Unmarshal(m.Data(), &r); err != nil {
				_ = m.Term() // undecodable: never redeliver a poison message
				continue
			}
			msgs = append(msgs, m)
			recs = append(recs, r)
		}
		if len(msgs) == 0 {
			continue
		}
		if err := h(ctx, p, recs); err != nil {
			for _, m := range msgs {
				_ = m.Nak()
			}
			continue
		}
		if err := msgs[len(msgs)-1].DoubleAck(ctx); err != nil && ctx.Err() == nil {
			// Not acknowledged: the batch will be redelivered after AckWait.
			continue
		}
	}
	return nil
}
