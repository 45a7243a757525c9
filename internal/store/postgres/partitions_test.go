package postgres

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/migrations"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

// clock is a settable time source for the store.
type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) now() time.Time   { return *c.t.Load() }
func (c *clock) set(t time.Time)  { c.t.Store(&t) }
func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func at(s string) time.Time       { t, _ := time.Parse(time.RFC3339, s); return t }
func ev(ts time.Time) store.EventRecord {
	return store.EventRecord{Event: event.Event{Timestamp: ts, Tenant: "alpha", Dataset: "test", UserName: "u"}}
}

// placement maps each event id to the partition that holds it.
func placement(t *testing.T, conn *pgx.Conn) map[int64]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT id, tableoid::regclass::text FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var p string
		if err := rows.Scan(&id, &p); err != nil {
			t.Fatal(err)
		}
		out[id] = p
	}
	return out
}

func partitionNames(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// Events land in their day's partition (a back-filled day within
// retention gets its own on demand; the default one holds the far
// future), every partition has the dashboard's indexes, creating a
// day's partition moves its rows out of the default, and retention drops
// whole days.
func TestEventsByDay(t *testing.T) {
	url := freshSchema(t)
	ctx := storetest.Ctx(t)
	clk := newClock(at("2026-12-07T12:00:00Z"))
	s, err := OpenWith(ctx, url, store.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	want := []string{"events_default"}
	for d := 6; d <= 14; d++ { // one day behind, seven ahead
		want = append(want, partitionName(time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC)))
	}
	if diff := cmp.Diff(partitionNames(t, conn), want); diff != "" {
		t.Fatalf("partitions at open (-got +want):\n%s", diff)
	}
	// Each partitioned index has one child on every partition.
	for _, ix := range []string{"events_tenant_ts", "events_ts", "events_user_ts", "events_ip_ts", "events_id"} {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass`, ix).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != len(want) {
			t.Errorf("index %s on %d partitions, want %d", ix, n, len(want))
		}
	}

	batch := []store.EventRecord{
		ev(at("2026-12-07T09:00:00Z")), ev(at("2026-12-07T10:00:00Z")), // today, before the cutoff below
		ev(at("2026-12-07T13:00:00Z")), // today, after it
		ev(at("2026-12-08T01:00:00Z")), // tomorrow
		ev(at("2026-11-07T01:00:00Z")), // back-filled: its own day, created for it
		ev(at("2026-12-19T01:00:00Z")), // twelve days ahead: default
	}
	if err := s.AppendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	id := func(i int) int64 { return batch[i].ID }
	got := placement(t, conn)
	if diff := cmp.Diff(got, map[int64]string{id(0): "events_p20261207", id(1): "events_p20261207", id(2): "events_p20261207",
		id(3): "events_p20261208", id(4): "events_p20261107", id(5): "events_default"}); diff != "" {
		t.Fatalf("placement (-got +want):\n%s", diff)
	}

	// Ten days later: the retention pass creates the partitions ahead
	// (moving the future event out of the default), drops 6 December
	// and the back-filled 7 November whole and deletes the rows of 7
	// December before 11:00.
	clk.set(at("2026-12-17T12:00:00Z"))
	n, err := s.PurgeEvents(ctx, at("2026-12-07T11:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("purged %d events, want 3", n)
	}
	if diff := cmp.Diff(placement(t, conn), map[int64]string{id(2): "events_p20261207", id(3): "events_p20261208", id(5): "events_p20261219"}); diff != "" {
		t.Errorf("after purge (-got +want):\n%s", diff)
	}
	names := partitionNames(t, conn)
	if slices.Contains(names, "events_p20261206") || slices.Contains(names, "events_p20261107") || !slices.Contains(names, "events_p20261224") {
		t.Errorf("partitions after purge: %v", names)
	}
	// A purge past a whole day with rows drops it and counts them.
	n, err = s.PurgeEvents(ctx, at("2026-12-09T00:00:00Z"))
	if err != nil || n != 2 {
		t.Errorf("purge to 9 December: %d %v, want 2", n, err)
	}
	if names := partitionNames(t, conn); slices.Contains(names, "events_p20261207") || slices.Contains(names, "events_p20261208") {
		t.Errorf("partitions after the second purge: %v", names)
	}
	if c, err := s.CountEvents(ctx, store.AllTenants(), store.EventQuery{}); err != nil || c != 1 {
		t.Errorf("events left: %d %v, want 1", c, err)
	}
}

// A database with the unpartitioned events table of versions 1–7 is
// converted by migration 0008 without losing a row; ids continue.
func TestMigrationPartitionsExistingEvents(t *testing.T) {
	url := freshSchema(t)
	ctx := storetest.Ctx(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ms, err := migrations.List("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, migrations.SchemaTable); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:7] {
		if _, err := conn.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, 0)`, m.Version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
	old := []time.Time{at("2026-10-01T08:00:00Z"), at("2026-12-07T08:00:00Z"), at("2026-12-07T09:00:00Z")}
	for _, ts := range old {
		if _, err := conn.Exec(ctx, `INSERT INTO events (ts, received, tenant, user_name) VALUES ($1, $1, 'alpha', 'old')`, ts.UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenWith(ctx, url, store.Options{Now: newClock(at("2026-12-07T12:00:00Z")).now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var kind string
	if err := conn.QueryRow(ctx, `SELECT relkind::text FROM pg_class WHERE oid = 'events'::regclass`).Scan(&kind); err != nil || kind != "p" {
		t.Fatalf("events relkind %q %v, want p (partitioned)", kind, err)
	}
	if diff := cmp.Diff(placement(t, conn), map[int64]string{1: "events_default", 2: "events_p20261207", 3: "events_p20261207"}); diff != "" {
		t.Errorf("converted rows (-got +want):\n%s", diff)
	}
	got, err := s.SearchEvents(ctx, store.AllTenants(), store.EventQuery{User: "old"})
	if err != nil || len(got) != 3 || !got[2].Event.Timestamp.Equal(old[0]) {
		t.Fatalf("old events after conversion: %+v %v", got, err)
	}
	b := []store.EventRecord{ev(at("2026-12-07T11:00:00Z"))}
	if err := s.AppendEvents(ctx, b); err != nil || b[0].ID != 4 {
		t.Errorf("new event id %d %v, want 4", b[0].ID, err)
	}
}

// The partitions around today follow store.Options (the configuration's
// retention.partitions_ahead_days and partitions_behind_days), at open
// and at every retention pass.
func TestPartitionSpanConfigured(t *testing.T) {
	url := freshSchema(t)
	ctx := storetest.Ctx(t)
	clk := newClock(at("2026-12-07T12:00:00Z"))
	s, err := OpenWith(ctx, url, store.Options{Now: clk.now, PartitionsAhead: 2, PartitionsBehind: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	days := func(from, to int) []string {
		out := []string{"events_default"}
		for d := from; d <= to; d++ {
			out = append(out, partitionName(time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC)))
		}
		return out
	}
	if diff := cmp.Diff(partitionNames(t, conn), days(4, 9)); diff != "" {
		t.Fatalf("partitions at open, 3 behind and 2 ahead (-got +want):\n%s", diff)
	}
	clk.set(at("2026-12-10T12:00:00Z"))
	if _, err := s.PurgeEvents(ctx, at("2026-12-01T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(partitionNames(t, conn), days(4, 12)); diff != "" {
		t.Fatalf("partitions after a retention pass three days later (-got +want):\n%s", diff)
	}
}

// TestBackfilledDayGetsItsPartition: a batch dated 10 days ago (older than
// the days kept behind today) gets its day's partition on demand instead of
// landing in events_default, and retention drops that day whole. A day
// whose rows already sit in the default partition keeps them there (the
// insert path moves nothing); days past retention stay in the default.
func TestBackfilledDayGetsItsPartition(t *testing.T) {
	url := freshSchema(t)
	ctx := storetest.Ctx(t)
	clk := newClock(at("2026-12-07T12:00:00Z"))
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	s, err := OpenWith(ctx, url, store.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A row of 20 November already in the default partition (written
	// before partitions were made on demand).
	if _, err := conn.Exec(ctx, `INSERT INTO events_default (id, ts, received, tenant) VALUES (nextval('events_id_seq'), $1, $1, 'alpha')`,
		at("2026-11-20T05:00:00Z").UnixMicro()); err != nil {
		t.Fatal(err)
	}
	old := []store.EventRecord{ev(at("2026-11-27T08:00:00Z")), ev(at("2026-11-27T09:00:00Z"))}
	if err := s.AppendEvents(ctx, old); err != nil {
		t.Fatal(err)
	}
	mixed := []store.EventRecord{ev(at("2026-11-27T10:00:00Z")), ev(at("2026-11-20T06:00:00Z")), ev(at("2026-01-02T00:00:00Z"))}
	if err := s.AppendEvents(ctx, mixed); err != nil {
		t.Fatal(err)
	}
	got := placement(t, conn)
	want := map[int64]string{old[0].ID: "events_p20261127", old[1].ID: "events_p20261127", mixed[0].ID: "events_p20261127",
		mixed[1].ID: "events_default", mixed[2].ID: "events_default"}
	for id, p := range want {
		if got[id] != p {
			t.Errorf("event %d in %s, want %s", id, got[id], p)
		}
	}
	if names := partitionNames(t, conn); slices.Contains(names, "events_p20261120") || slices.Contains(names, "events_p20260102") {
		t.Errorf("partitions %v: 20 November has rows in the default, 2 January is past retention", names)
	}
	// Retention to 28 November drops 27 November whole.
	if _, err := s.PurgeEvents(ctx, at("2026-11-28T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if names := partitionNames(t, conn); slices.Contains(names, "events_p20261127") {
		t.Errorf("27 November's partition survived retention: %v", names)
	}
	if c, err := s.CountEvents(ctx, store.AllTenants(), store.EventQuery{}); err != nil || c != 0 {
		t.Errorf("events left: %d %v, want 0", c, err)
	}
}
