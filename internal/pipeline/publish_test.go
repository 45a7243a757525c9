package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// TestPublishBoundedWhenStreamHangs: with NATS down the client buffers a
// publish while it reconnects and its acknowledgement never comes, so one
// Publish call blocks until its context ends. Commit must still fail after
// publishRetry (ingest then answers 503), not wait for the request's
// context (the HTTP write timeout cut the connection after 60 s and the
// sender got no answer at all).
func TestPublishBoundedWhenStreamHangs(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defer func(d time.Duration) { publishRetry = d }(publishRetry)
	publishRetry = 300 * time.Millisecond
	hang := func(ctx context.Context, _ []store.EventRecord) error { <-ctx.Done(); return ctx.Err() }
	p := New(Options{Store: st, Metrics: metrics.New(), Now: time.Now, Publish: hang})
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second) // the request's context
	defer cancel()
	start := time.Now()
	err = p.Commit(cctx, []store.EventRecord{{Event: event.Event{Timestamp: time.Now(), Tenant: "t1", Dataset: "sshd", Outcome: event.OutcomeFailure}}})
	if err == nil {
		t.Fatal("commit succeeded although the stream never acknowledged")
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("commit took %v: it waited for the request's context, not publishRetry", el)
	}
}
