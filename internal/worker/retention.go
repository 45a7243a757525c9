package worker

import (
	"context"
	"fmt"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// runRetention purges events older than the retention period, expired
// sessions and delivered notifications, hourly.
func (w *Worker) runRetention(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		cut := w.now().Add(-time.Duration(w.cfg.Retention.EventsDays) * 24 * time.Hour)
		if n, err := w.st.PurgeEvents(ctx, cut); err != nil && ctx.Err() == nil {
			w.log.Warn("purging events", "err", err)
		} else if n > 0 {
			w.log.Info("purged events past retention", "count", n)
		}
		if _, err := w.st.PurgeSessions(ctx, w.now()); err != nil && ctx.Err() == nil {
			w.log.Warn("purging sessions", "err", err)
		}
		w.pruneOutbox(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AssessNow loads the configured estate and runs one assessment (demo, tests).
func (w *Worker) AssessNow(ctx context.Context, trigger string) error {
	return w.reloadAndAssess(ctx, trigger)
}

// AssessEstate stores e as a snapshot, makes it current and assesses it
// (uploads, benchmarks).
func (w *Worker) AssessEstate(ctx context.Context, e *estate.Estate, source, trigger string) error {
	meta, _, err := w.st.PutSnapshot(ctx, e, source)
	if err != nil {
		return fmt.Errorf("storing snapshot: %w", err)
	}
	w.SetEstate(e, meta.ID)
	_, _, err = w.Assess(ctx, e, meta.ID, trigger)
	return err
}

// notifyKeep is how long a delivered notification's outbox row is kept: it
// is the dedupe record that stops a second process (or a restart) from
// sending the same alert again, which happens within seconds to minutes.
const notifyKeep = 7 * 24 * time.Hour

// pruneOutbox deletes notification rows delivered more than notifyKeep
// ago. Ticket rows (PSA) are the tickets' desired state and stay.
func (w *Worker) pruneOutbox(ctx context.Context) {
	if n, err := w.st.PruneOutbox(ctx, notifyPrefix, w.now().Add(-notifyKeep)); err != nil && ctx.Err() == nil {
		w.log.Warn("pruning delivered notifications", "err", err)
	} else if n > 0 {
		w.log.Info("pruned delivered notifications", "count", n)
	}
}
