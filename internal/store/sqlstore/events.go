package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// EventColumns are the events table's columns in the order EventRow fills.
var EventColumns = []string{"id", "ts", "received", "tenant", "dataset", "category", "action", "outcome", "reason", "code", "cnt",
	"user_name", "user_domain", "source_ip", "source_port", "host", "file", "line", "off", "fields", "raw"}

// EventRow appends the column values of rec (see EventColumns) to dst.
func EventRow(dst []any, rec *store.EventRecord) []any {
	e := &rec.Event
	ip := ""
	if e.SourceIP.IsValid() {
		ip = e.SourceIP.String()
	}
	fields := ""
	if len(e.Fields) > 0 {
		fields = fieldsJSON(e.Fields)
	}
	return append(dst, rec.ID, Micros(e.Timestamp), Micros(rec.Received), e.Tenant, e.Dataset, e.Category, e.Action, e.Outcome,
		e.Reason, e.Code, e.Count, e.UserName, e.UserDomain, ip, e.SourcePort, e.HostName, e.File, e.Line, e.Offset, fields, rec.Raw)
}

// AppendEvents implements store.EventStore.
func (d *DB) AppendEvents(ctx context.Context, batch []store.EventRecord) error {
	if len(batch) == 0 {
		return nil
	}
	if err := d.check(); err != nil {
		return err
	}
	now := d.stamp()
	for i := range batch {
		batch[i].Received = now
		batch[i].Event.Timestamp = batch[i].Event.Timestamp.UTC().Truncate(time.Microsecond)
	}
	if err := d.cfg.AppendEvents(ctx, batch); err != nil {
		return fmt.Errorf("appending %d events: %w", len(batch), err)
	}
	return nil
}

// eventWhere builds the WHERE clause of an event query; ok=false when the
// query can match nothing in the scope.
func (d *DB) eventWhere(ctx context.Context, scope store.Scope, q store.EventQuery, paging bool) (string, []any, bool, error) {
	if !scope.Valid() || (!scope.AllTenants && q.Tenant != "" && q.Tenant != scope.Tenant) {
		return "", nil, false, nil
	}
	var w []string
	var args []any
	add := func(cond string, v ...any) { w = append(w, cond); args = append(args, v...) }
	switch {
	case !scope.AllTenants:
		add("tenant = ?", scope.Tenant)
	case q.Tenant != "":
		add("tenant = ?", q.Tenant)
	}
	if !q.From.IsZero() {
		add("ts >= ?", Micros(q.From))
	}
	if !q.To.IsZero() {
		add("ts < ?", Micros(q.To))
	}
	for _, c := range []struct{ col, v string }{{"user_name", q.User}, {"source_ip", q.SourceIP}, {"dataset", q.Dataset}, {"host", q.Host}, {"outcome", q.Outcome}} {
		if c.v != "" {
			v := c.v
			if c.col == "source_ip" {
				if a, err := netip.ParseAddr(v); err == nil {
					v = a.String()
				}
			}
			add(c.col+" = ?", v)
		}
	}
	if paging && q.BeforeID > 0 {
		// The cursor is looked up within the scope: another tenant's event
		// id is as unknown as a missing one.
		cur, curArgs := `SELECT ts FROM events WHERE id = ?`, []any{q.BeforeID}
		if !scope.AllTenants {
			cur, curArgs = cur+` AND tenant = ?`, append(curArgs, scope.Tenant)
		}
		var ts int64
		if err := d.r.QueryRowContext(ctx, d.q(cur), curArgs...).Scan(&ts); err != nil {
			return "", nil, false, fmt.Errorf("paging cursor %d: %w", q.BeforeID, noRows(err))
		}
		add("(ts < ? OR (ts = ? AND id < ?))", ts, ts, q.BeforeID)
	}
	if len(w) == 0 {
		return "1=1", nil, true, nil
	}
	return strings.Join(w, " AND "), args, true, nil
}

// SearchEvents implements store.EventStore.
func (d *DB) SearchEvents(ctx context.Context, scope store.Scope, q store.EventQuery) ([]store.EventRecord, error) {
	out := []store.EventRecord{}
	where, args, ok, err := d.eventWhere(ctx, scope, q, true)
	if err != nil {
		return nil, fmt.Errorf("searching events: %w", err)
	}
	if !ok {
		return out, nil
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10000)
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT `+strings.Join(EventColumns, ", ")+` FROM events WHERE `+where+` ORDER BY ts DESC, id DESC LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("searching events: %w", err)
	}
	defer rows.Close()
	out, err = scanEvents(rows, out)
	if err != nil {
		return nil, fmt.Errorf("searching events: %w", err)
	}
	return out, nil
}

// scanEvents appends the rows (EventColumns) to out.
func scanEvents(rows *sql.Rows, out []store.EventRecord) ([]store.EventRecord, error) {
	for rows.Next() {
		var rec store.EventRecord
		e := &rec.Event
		var ts, recv int64
		var ip, fields string
		if err := rows.Scan(&rec.ID, &ts, &recv, &e.Tenant, &e.Dataset, &e.Category, &e.Action, &e.Outcome, &e.Reason, &e.Code, &e.Count,
			&e.UserName, &e.UserDomain, &ip, &e.SourcePort, &e.HostName, &e.File, &e.Line, &e.Offset, &fields, &rec.Raw); err != nil {
			return nil, err
		}
		e.Timestamp, rec.Received = FromMicros(ts), FromMicros(recv)
		if ip != "" {
			e.SourceIP, _ = netip.ParseAddr(ip)
		}
		if fields != "" {
			_ = json.Unmarshal([]byte(fields), &e.Fields)
		}
		out = append(out, rec)
	}
	return out, rows.Err()
}

// CountEvents implements store.EventStore.
func (d *DB) CountEvents(ctx context.Context, scope store.Scope, q store.EventQuery) (int64, error) {
	where, args, ok, err := d.eventWhere(ctx, scope, q, false)
	if err != nil || !ok {
		return 0, err
	}
	query := `SELECT COUNT(*) FROM events WHERE ` + where
	if q.Limit > 0 {
		// Bounded: the scan stops after Limit rows (a LIMIT inside the
		// count), so an unfiltered count over a large store costs no more
		// than reading Limit index entries.
		query, args = `SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE `+where+` LIMIT ?) bounded`, append(args, q.Limit)
	}
	var n int64
	if err := d.r.QueryRowContext(ctx, d.q(query), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting events: %w", err)
	}
	return n, nil
}

// EventHistogram implements store.EventStore: one GROUP BY over the
// bucket number (ts - from) / bucket, integer division on the microsecond
// timestamps in SQLite and PostgreSQL alike, so every matching event is
// counted once and none is read back.
func (d *DB) EventHistogram(ctx context.Context, scope store.Scope, q store.EventQuery, from, to time.Time, bucket time.Duration) ([]int64, error) {
	step := bucket.Microseconds()
	lo, hi := Micros(from), Micros(to)
	if step < 1 {
		return nil, fmt.Errorf("event histogram: bucket %v: %w", bucket, store.ErrInvalid)
	}
	if hi <= lo {
		return []int64{}, nil
	}
	n := (hi - lo + step - 1) / step
	if n > store.MaxHistogramBuckets {
		return nil, fmt.Errorf("event histogram: %d buckets of %v, at most %d: %w", n, bucket, store.MaxHistogramBuckets, store.ErrInvalid)
	}
	out := make([]int64, n)
	where, args, ok, err := d.eventWhere(ctx, scope, q, false)
	if err != nil {
		return nil, fmt.Errorf("event histogram: %w", err)
	}
	if !ok {
		return out, nil
	}
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT (ts - ?) / ?, COUNT(*) FROM events WHERE `+where+` AND ts >= ? AND ts < ? GROUP BY 1`),
		append(append([]any{lo, step}, args...), lo, hi)...)
	if err != nil {
		return nil, fmt.Errorf("event histogram: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i, c int64
		if err := rows.Scan(&i, &c); err != nil {
			return nil, fmt.Errorf("event histogram: %w", err)
		}
		if i >= 0 && i < n {
			out[i] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event histogram: %w", err)
	}
	return out, nil
}

// AuthSources implements store.EventStore. The scan is bounded by since
// through the ts index (events_ts) in SQLite and PostgreSQL alike.
func (d *DB) AuthSources(ctx context.Context, since time.Time) ([]store.AuthSourceStat, error) {
	rows, err := d.r.QueryContext(ctx, d.q(`SELECT tenant, dataset, host, outcome = 'failure', SUM(CASE WHEN cnt > 1 THEN cnt ELSE 1 END), MAX(ts)
FROM events WHERE ts >= ? AND category = 'authentication' GROUP BY tenant, dataset, host, outcome = 'failure' ORDER BY tenant, dataset, host`), Micros(since))
	if err != nil {
		return nil, fmt.Errorf("summarising authentication events: %w", err)
	}
	defer rows.Close()
	var out []store.AuthSourceStat
	for rows.Next() {
		var s store.AuthSourceStat
		var last int64
		if err := rows.Scan(&s.Tenant, &s.Dataset, &s.Host, &s.Failed, &s.Events, &last); err != nil {
			return nil, fmt.Errorf("summarising authentication events: %w", err)
		}
		s.Last = FromMicros(last)
		out = append(out, s)
	}
	return out, rows.Err()
}

// PurgeEvents implements store.EventStore. It deletes in chunks so a large
// purge never holds the writer for long.
func (d *DB) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	if d.cfg.PurgeEvents != nil {
		return d.cfg.PurgeEvents(ctx, before)
	}
	var total int64
	for {
		res, err := d.w.ExecContext(ctx, d.q(`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? LIMIT 20000)`), Micros(before))
		if err != nil {
			return total, fmt.Errorf("purging events: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n == 0 {
			return total, nil
		}
	}
}

// fieldsJSON encodes a string map as a JSON object with sorted keys, like
// encoding/json but without reflection (it is on the ingest hot path).
func fieldsJSON(m map[string]string) string {
	keys := make([]string, 0, len(m))
	n := 2
	for k, v := range m {
		keys = append(keys, k)
		n += len(k) + len(v) + 6
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return string(append(b, '}'))
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
