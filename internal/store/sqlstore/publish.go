package sqlstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

var _ store.EventPublishLog = (*DB)(nil)

// AppendEventsPending implements store.EventPublishLog (a dialect without
// Config.AppendPending returns errors.ErrUnsupported).
func (d *DB) AppendEventsPending(ctx context.Context, batch []store.EventRecord, meta []byte) (int64, error) {
	if d.cfg.AppendPending == nil {
		return 0, errors.ErrUnsupported
	}
	if len(batch) == 0 {
		return 0, nil
	}
	if err := d.check(); err != nil {
		return 0, err
	}
	now := d.stamp()
	for i := range batch {
		batch[i].Received = now
		batch[i].Event.Timestamp = batch[i].Event.Timestamp.UTC().Truncate(time.Microsecond)
	}
	id, err := d.cfg.AppendPending(ctx, batch, meta)
	if err != nil {
		return 0, fmt.Errorf("appending %d events: %w", len(batch), err)
	}
	return id, nil
}

// PendingIDs is the ids column of the publish backlog for batch.
func PendingIDs(batch []store.EventRecord) string {
	b := make([]byte, 0, 1+len(batch)*10)
	b = append(b, '[')
	for i := range batch {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, batch[i].ID, 10)
	}
	return string(append(b, ']'))
}

// PendingPublishes implements store.EventPublishLog.
func (d *DB) PendingPublishes(ctx context.Context, before time.Time, limit int) ([]store.PendingPublish, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT id, created, ids, meta FROM event_publish WHERE created < ? ORDER BY id LIMIT ?`), Micros(before), max(1, limit))
	if err != nil {
		return nil, fmt.Errorf("reading the publish backlog: %w", err)
	}
	var out []store.PendingPublish
	var idLists [][]int64
	for rows.Next() {
		var pp store.PendingPublish
		var created int64
		var ids, meta string
		if err := rows.Scan(&pp.ID, &created, &ids, &meta); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading the publish backlog: %w", err)
		}
		var l []int64
		if err := json.Unmarshal([]byte(ids), &l); err != nil {
			d.log.Warn("publish backlog: unreadable ids; the batch is skipped", "id", pp.ID, "err", err)
		}
		pp.Created = FromMicros(created)
		if meta != "" {
			pp.Meta = []byte(meta)
		}
		out = append(out, pp)
		idLists = append(idLists, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the publish backlog: %w", err)
	}
	for i := range out {
		recs, err := d.eventsByID(ctx, idLists[i])
		if err != nil {
			return nil, fmt.Errorf("reading the publish backlog: %w", err)
		}
		out[i].Records = recs
	}
	return out, nil
}

// eventsByID returns the stored events of ids in the order of ids.
func (d *DB) eventsByID(ctx context.Context, ids []int64) ([]store.EventRecord, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var in strings.Builder
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			in.WriteByte(',')
		}
		in.WriteByte('?')
		args[i] = id
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+strings.Join(EventColumns, ", ")+` FROM events WHERE id IN (`+in.String()+`)`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	recs, err := scanEvents(rows, nil)
	if err != nil {
		return nil, err
	}
	at := make(map[int64]int, len(recs))
	for i := range recs {
		at[recs[i].ID] = i
	}
	out := make([]store.EventRecord, 0, len(recs))
	for _, id := range ids {
		if i, ok := at[id]; ok {
			out = append(out, recs[i])
		}
	}
	return out, nil
}

// DonePublishes implements store.EventPublishLog.
func (d *DB) DonePublishes(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var in strings.Builder
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			in.WriteByte(',')
		}
		in.WriteByte('?')
		args[i] = id
	}
	if _, err := d.w.ExecContext(ctx, d.q(`DELETE FROM event_publish WHERE id IN (`+in.String()+`)`), args...); err != nil {
		return fmt.Errorf("marking %d batches published: %w", len(ids), err)
	}
	return nil
}

// PublishBacklog implements store.EventPublishLog.
func (d *DB) PublishBacklog(ctx context.Context) (batches, events int64, err error) {
	if err := d.r.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(events), 0) FROM event_publish`).Scan(&batches, &events); err != nil {
		return 0, 0, fmt.Errorf("counting the publish backlog: %w", err)
	}
	return batches, events, nil
}
