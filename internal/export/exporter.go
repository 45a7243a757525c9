package export

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// Sender delivers one batch of ECS JSON documents to a SIEM in one request
// (one attempt: the exporter retries). MaxBatch is the largest request
// body and the most documents the SIEM accepts in one request, and the
// bytes the sender adds around each document (its envelope, at most).
type Sender interface {
	SendBatch(ctx context.Context, docs [][]byte) error
	MaxBatch() (bytes, docs, overhead int)
}

// Stats is an exporter's state, for the dashboard, /metrics and logs.
type Stats struct {
	Target      string     `json:"target"`
	Sent        int64      `json:"sent"`
	Batches     int64      `json:"batches"`
	Rejected    int64      `json:"rejected"` // documents the SIEM refused as invalid (4xx), given up
	Failures    int64      `json:"failures"` // failed attempts (retried)
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt time.Time  `json:"last_error_at,omitzero"`
	LastSentAt  time.Time  `json:"last_sent_at,omitzero"`
	Permission  string     `json:"permission,omitempty"` // missing permission named by a 401/403, until a batch goes through
	Spool       SpoolStats `json:"spool"`
}

// Exporter moves documents from its spool to a Sender, in order, retrying
// with backoff (the server's Retry-After honoured) for as long as the SIEM
// is down; the spool's bound decides what is kept meanwhile.
type Exporter struct {
	name   string
	spool  *Spool
	sender Sender
	retry  connector.Retry
	log    *slog.Logger
	now    func() time.Time

	mu sync.Mutex
	st Stats
}

// Options configure an exporter; zero fields take defaults.
type Options struct {
	// Retry: Base and Max bound the backoff between failed batches
	// (default 1 s and 5 min); Attempts is unused (an exporter never gives
	// up on a reachable SIEM).
	Retry connector.Retry
	Log   *slog.Logger
	Now   func() time.Time
}

// NewExporter builds an exporter named name (the config key).
func NewExporter(name string, spool *Spool, sender Sender, o Options) *Exporter {
	r := o.Retry
	if r.Base <= 0 {
		r.Base = time.Second
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Minute
	}
	r = r.WithDefaults()
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Exporter{name: name, spool: spool, sender: sender, retry: r, log: o.Log, now: o.Now, st: Stats{Target: name}}
}

// Enqueue spools documents for export; documents past the spool's bound
// are dropped and counted (Stats().Spool.Dropped).
func (x *Exporter) Enqueue(docs ...[]byte) error {
	_, err := x.spool.Append(docs...)
	return err
}

// Stats returns the exporter's counters.
func (x *Exporter) Stats() Stats {
	x.mu.Lock()
	st := x.st
	x.mu.Unlock()
	st.Spool = x.spool.Stats()
	return st
}

// Run exports until ctx ends; it returns nil then. Spooled documents are
// flushed to disk at least every flushEvery.
func (x *Exporter) Run(ctx context.Context) error {
	const flushEvery = time.Second
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	failures := 0
	for ctx.Err() == nil {
		maxBytes, maxDocs, overhead := x.sender.MaxBatch()
		docs, next, err := x.spool.Peek(maxBytes, maxDocs, overhead)
		if err != nil {
			x.fail(err)
			if connector.SleepContext(ctx, x.retry.Max) != nil {
				return nil
			}
			continue
		}
		if len(docs) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-x.spool.Ready():
			case <-tick.C:
				_ = x.spool.Sync()
			}
			continue
		}
		err = x.sender.SendBatch(ctx, docs)
		if err == nil {
			failures = 0
			x.mu.Lock()
			x.st.Sent += int64(len(docs))
			x.st.Batches++
			x.st.LastSentAt = x.now()
			x.st.Permission = ""
			x.mu.Unlock()
			if err := x.spool.Commit(next, len(docs)); err != nil {
				x.fail(err)
			}
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if rejected(err) {
			// The SIEM refused the data itself (400, 413 …): retrying the
			// same batch cannot succeed. Count it, show it, move on.
			x.mu.Lock()
			x.st.Rejected += int64(len(docs))
			x.mu.Unlock()
			x.fail(err)
			x.log.Error("export: batch rejected", "target", x.name, "documents", len(docs), "err", err)
			if err := x.spool.Commit(next, len(docs)); err != nil {
				x.fail(err)
			}
			continue
		}
		failures++
		x.fail(err)
		wait := x.retry.Backoff(failures)
		var ra *connector.RetryAfterError
		if errors.As(err, &ra) && ra.After > 0 {
			wait = min(ra.After, x.retry.Max)
		}
		x.log.Warn("export: batch not delivered, kept in the spool", "target", x.name, "documents", len(docs), "retry_in", wait, "err", err)
		if x.retry.Sleep(ctx, wait) != nil {
			return nil
		}
	}
	return nil
}

func (x *Exporter) fail(err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.st.Failures++
	x.st.LastError = err.Error()
	x.st.LastErrorAt = x.now()
	var ae *connector.APIError
	if errors.As(err, &ae) && ae.Forbidden() {
		x.st.Permission = ae.Permission
	}
}

// rejected reports an answer that refuses the data itself (400, 413, …):
// retrying the same batch cannot succeed. 401/403 are not rejections (the
// batch waits for the credentials or role to be fixed), nor are 408, 429
// and 5xx.
func rejected(err error) bool {
	var ae *connector.APIError
	if errors.As(err, &ae) {
		return !ae.Forbidden() && ae.Status >= 400 && !connector.Transient(ae.Status)
	}
	var perm *connector.PermanentError
	return errors.As(err, &perm)
}
