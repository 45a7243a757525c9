package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// Events are range-partitioned by UTC day of event time (ts, in
// microseconds; migration 0008). Out-of-range events (back-filled history,
// clock-skewed future) land in events_default.
const (
	lockPartitions = 0x46b0003
	// defaultBehind and defaultAhead are the days around today that
	// have a partition after every maintenance pass (at open and at every
	// retention pass, hourly on the worker) when store.Options names none.
	defaultBehind = 1
	defaultAhead  = 7
	day           = 24 * time.Hour
)

// span is the days around today that must have a partition.
type span struct{ behind, ahead int }

func spanOf(o store.Options) span {
	s := span{behind: defaultBehind, ahead: defaultAhead}
	if o.PartitionsAhead > 0 {
		s.ahead = o.PartitionsAhead
	}
	if o.PartitionsBehind > 0 {
		s.behind = o.PartitionsBehind
	}
	return s
}

// partitionName is the name of the partition holding day d (UTC midnight).
func partitionName(d time.Time) string { return "events_p" + d.UTC().Format("20060102") }

// partitionDay parses a partition's name back to its day.
func partitionDay(name string) (time.Time, bool) {
	s, ok := strings.CutPrefix(name, "events_p")
	if !ok {
		return time.Time{}, false
	}
	d, err := time.Parse("20060102", s)
	return d, err == nil
}

// ensurePartitions makes sure each day from now-sp.behind to now+sp.ahead
// has its partition. Rows of that day already in the
// default partition are moved into the new partition before it is
// attached (PostgreSQL refuses to attach over them), in one transaction.
func ensurePartitions(ctx context.Context, pool *pgxpool.Pool, now time.Time, sp span) error {
	today := now.UTC().Truncate(day)
	have, err := partitions(ctx, pool)
	if err != nil {
		return err
	}
	for d := today.Add(-time.Duration(sp.behind) * day); !d.After(today.Add(time.Duration(sp.ahead) * day)); d = d.Add(day) {
		if _, ok := have[partitionName(d)]; ok {
			continue
		}
		if err := createPartition(ctx, pool, d); err != nil {
			return err
		}
	}
	return nil
}

func createPartition(ctx context.Context, pool *pgxpool.Pool, d time.Time) error {
	name := partitionName(d)
	lo, hi := d.UnixMicro(), d.Add(day).UnixMicro()
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", lockPartitions)); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil || exists {
			return err
		}
		id := pgx.Identifier{name}.Sanitize()
		stmts := []string{
			`CREATE TABLE ` + id + ` (LIKE events INCLUDING DEFAULTS)`,
			fmt.Sprintf(`WITH moved AS (DELETE FROM events_default WHERE ts >= %d AND ts < %d RETURNING *) INSERT INTO %s SELECT * FROM moved`, lo, hi, id),
			fmt.Sprintf(`ALTER TABLE events ATTACH PARTITION %s FOR VALUES FROM (%d) TO (%d)`, id, lo, hi),
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("creating events partition %s: %w", name, err)
			}
		}
		return nil
	})
}

// partitions lists the daily partitions of events by name.
func partitions(ctx context.Context, pool *pgxpool.Pool) (map[string]time.Time, error) {
	rows, err := pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("listing events partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing events partitions: %w", err)
	}
	out := make(map[string]time.Time, len(names))
	for _, n := range names {
		if d, ok := partitionDay(n); ok {
			out[n] = d
		}
	}
	return out, nil
}

// purgeEvents removes events with ts before cutoff: whole daily
// partitions that end at or before it are dropped (no row-by-row delete,
// no bloat); what remains older than cutoff — in the day it falls in and
// in the default partition — is deleted in chunks. It also creates the
// partitions ahead. The count of a dropped partition is the planner's
// estimate when the table has been analysed (counting a day of events
// exactly would read it), exact otherwise.
func purgeEvents(ctx context.Context, pool *pgxpool.Pool, before, now time.Time, sp span) (int64, error) {
	if err := ensurePartitions(ctx, pool, now, sp); err != nil {
		return 0, err
	}
	have, err := partitions(ctx, pool)
	if err != nil {
		return 0, err
	}
	var total int64
	for name, d := range have {
		if d.Add(day).After(before) {
			continue
		}
		id := pgx.Identifier{name}.Sanitize()
		var n int64
		if err := pool.QueryRow(ctx, `SELECT reltuples::bigint FROM pg_class WHERE oid = $1::regclass`, name).Scan(&n); err != nil {
			return total, fmt.Errorf("dropping events partition %s: %w", name, err)
		}
		if n < 0 {
			if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+id).Scan(&n); err != nil {
				return total, fmt.Errorf("dropping events partition %s: %w", name, err)
			}
		}
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", lockPartitions)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `DROP TABLE `+id)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("dropping events partition %s: %w", name, err)
		}
		total += n
	}
	for {
		tag, err := pool.Exec(ctx, `DELETE FROM events_default WHERE ctid IN (SELECT ctid FROM events_default WHERE ts < $1 LIMIT 20000)`, before.UnixMicro())
		if err != nil {
			return total, fmt.Errorf("purging events: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() == 0 {
			break
		}
	}
	// The day the cutoff falls in: only its partition is read.
	cut := before.UTC().Truncate(day)
	for {
		tag, err := pool.Exec(ctx, `DELETE FROM events WHERE ts >= $1 AND (id, ts) IN (SELECT id, ts FROM events WHERE ts >= $1 AND ts < $2 LIMIT 20000)`, cut.UnixMicro(), before.UnixMicro())
		if err != nil {
			return total, fmt.Errorf("purging events: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() == 0 {
			return total, nil
		}
	}
}

// ensureDays gives each UTC day of the batch's events its partition when it
// has none (back-filled or late events older than the days kept ahead and
// behind today), so retention drops it whole instead of deleting its rows
// from events_default one by one. Days already checked are cached: a batch
// of known days costs no query. Nothing is moved on this path: a day whose
// rows already sit in events_default keeps them there (and gets no
// partition); days before the retention cutoff (the last purge's, else
// the default retention) and past the days kept ahead stay in the default.
func (p *pg) ensureDays(ctx context.Context, batch []store.EventRecord) error {
	var need []int64
	p.mu.Lock()
	for i := range batch {
		ts := batch[i].Event.Timestamp
		if ts.IsZero() {
			continue
		}
		d := ts.UTC().Truncate(day).Unix()
		if !p.days[d] && !slices.Contains(need, d) {
			need = append(need, d)
		}
	}
	p.mu.Unlock()
	if len(need) == 0 {
		return nil
	}
	now := p.now().UTC()
	cutoff := now.Add(-store.DefaultEventRetention).UnixMicro()
	if c := p.purged.Load(); c != 0 {
		cutoff = c
	}
	last := now.Truncate(day).Add(time.Duration(p.sp.ahead) * day)
	for _, u := range need {
		d := time.Unix(u, 0).UTC()
		if d.Add(day).UnixMicro() <= cutoff || d.After(last) {
			continue // purged soon, or clock-skewed future: the default partition
		}
		if err := p.ensureDay(ctx, d); err != nil {
			return err
		}
		p.mu.Lock()
		p.days[u] = true
		p.mu.Unlock()
	}
	return nil
}

// ensureDay creates day d's partition unless it exists or events_default
// holds rows of that day (they would have to be moved).
func (p *pg) ensureDay(ctx context.Context, d time.Time) error {
	var exists, held bool
	err := p.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL, EXISTS (SELECT 1 FROM events_default WHERE ts >= $2 AND ts < $3)`,
		partitionName(d), d.UnixMicro(), d.Add(day).UnixMicro()).Scan(&exists, &held)
	if err != nil || exists || held {
		return err
	}
	return createPartition(ctx, p.pool, d)
}
