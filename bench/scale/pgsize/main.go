// Command pgsize measures what one stored event costs in PostgreSQL: bytes
// on disk (the day's partition with its indexes, after VACUUM ANALYZE) and
// the client's CPU per event, for docs/sizing.md. It appends -events
// realistic authentication events (25 tenants, 64 users, 250 addresses,
// a 130-byte raw line, as the store benchmark does) into a schema of its
// own, dropped at the end.
//
//	go run ./bench/scale/pgsize -database 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' -events 200000
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

func main() {
	database := flag.String("database", storetest.PostgresURL(), "PostgreSQL URL")
	n := flag.Int("events", 200_000, "events to append")
	noRaw := flag.Bool("no-raw", false, "store no original line (ingest.keep_raw: false)")
	flag.Parse()
	if err := run(*database, *n, !*noRaw); err != nil {
		fmt.Fprintln(os.Stderr, "pgsize:", err)
		os.Exit(1)
	}
}

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run(database string, n int, raw bool) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, database)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	schema := fmt.Sprintf("fbsize_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	sep := "?"
	if strings.Contains(database, "?") {
		sep = "&"
	}
	st, err := postgres.OpenWith(ctx, database+sep+"search_path="+schema, store.Options{SecretKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(time.Hour)
	batch := make([]store.EventRecord, 1000)
	c0, t0 := cpu(), time.Now()
	for done := 0; done < n; done += len(batch) {
		for i := range batch {
			k := done + i
			batch[i] = storetest.Event(fmt.Sprintf("tenant-%02d", k%25), fmt.Sprintf("user%02d@tenant.example", k%64), fmt.Sprintf("198.51.100.%d", k%250), now.Add(time.Duration(k)*time.Millisecond), "failure")
			if raw {
				batch[i].Raw = `{"time":"2026-03-01T09:00:00Z","user":"user01@tenant.example","ip":"198.51.100.7","result":"50126","app":"Office 365"}`
			}
		}
		if err := st.AppendEvents(ctx, batch); err != nil {
			return err
		}
	}
	c1, wall := cpu(), time.Since(t0)
	if _, err := conn.Exec(ctx, "SET search_path = "+schema); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE events"); err != nil {
		return err
	}
	var size, rows int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0), coalesce(sum(c.reltuples), 0)::bigint
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`).Scan(&size, &rows); err != nil {
		return err
	}
	var load string
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	fmt.Printf("events %d (counted %d), raw line %v\n", n, rows, raw)
	fmt.Printf("stored: %d bytes, %.0f bytes/event (table + indexes, all partitions)\n", size, float64(size)/float64(n))
	fmt.Printf("client CPU %.2f µs/event, wall %.0f events/s, load average %s\n", float64((c1-c0).Microseconds())/float64(n), float64(n)/wall.Seconds(), load)
	return nil
}
