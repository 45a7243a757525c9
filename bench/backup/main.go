// Command backup measures the data-lifecycle targets of issue 16 on
// loopback, side by side:
//
//  1. HTTP ingest paced at -rate events/s into a SQLite store holding
//     -events events, in three windows: alone, while `firebreak backup`
//     (a separate process, -bin) runs back to back, and alone again. The
//     target: ingest during backups keeps ≥ 90% of its rate alone.
//  2. `firebreak migrate --to postgres://…` of that store against a plain
//     COPY FROM STDIN of the same rows (every table, text format, from files
//     exported beforehand, into the same schema, one transaction), twice
//     each, alternating. The target: migrate ≥ 80% of the plain COPY rate.
//
// It is bounded in count and time, binds only to 127.0.0.1 and drops the
// PostgreSQL schemas it creates. It is a benchmark script, not a test:
//
//	go build -o /tmp/firebreak ./cmd/firebreak
//	go run ./bench/backup -bin /tmp/firebreak
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/roles"
	"github.com/firebreak-msp/firebreak/internal/server"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/migrations"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/store/transfer"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

func main() {
	var o opts
	flag.StringVar(&o.bin, "bin", "", "firebreak binary (go build -o /tmp/firebreak ./cmd/firebreak); required")
	flag.IntVar(&o.events, "events", 1_000_000, "events stored before measuring")
	flag.IntVar(&o.rate, "rate", 10_000, "offered HTTP ingest rate, events/s")
	flag.DurationVar(&o.window, "window", 20*time.Second, "length of each ingest window")
	flag.StringVar(&o.database, "database", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL for the migrate comparison; empty to skip it")
	flag.IntVar(&o.reps, "reps", 3, "migrate / plain COPY repetitions")
	flag.StringVar(&o.keep, "keep", "", "keep the seeded data directory here (and reuse it when it exists: only the migrate comparison runs)")
	flag.Float64Var(&o.rateMB, "rate-mb", 64, "firebreak backup --rate-mb")
	flag.StringVar(&o.pprof, "pprof", "", "serve net/http/pprof on this loopback address (to see where ingest waits)")
	flag.StringVar(&o.from, "from", "", "copy this seeded data directory (one kept with -keep) instead of seeding; runs the ingest windows on the copy")
	flag.Parse()
	if o.bin == "" {
		fmt.Fprintln(os.Stderr, "backup bench: -bin is required")
		os.Exit(2)
	}
	if o.pprof != "" {
		go func() { _ = http.ListenAndServe(o.pprof, nil) }() //nolint:gosec // bench only, loopback
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "backup bench:", err)
		os.Exit(1)
	}
}

type opts struct {
	keep, from    string
	pprof         string
	rateMB        float64
	bin, database string
	events, rate  int
	window        time.Duration
	reps          int
}

func run(o opts) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "firebreak-bench-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data := filepath.Join(dir, "data")
	if o.keep != "" {
		data = o.keep
		if _, err := os.Stat(filepath.Join(data, "firebreak.db")); err == nil {
			return migrateBench(ctx, o, dir, data)
		}
	}
	seeded := 0
	if o.from != "" {
		if err := copyDir(o.from, data); err != nil {
			return err
		}
		seeded = o.events
		fmt.Printf("seed: copied %s\n", o.from)
	}
	st, err := sqlite.Open(ctx, data)
	if err != nil {
		return err
	}
	e := estate.Generate(estate.GenOptions{Tenants: 200, Identities: 4000, Grants: 2000, Assets: 2000, Seed: 1})
	t0 := time.Now()
	base := time.Now().UTC().Add(-10 * 24 * time.Hour)
	recs := make([]store.EventRecord, 0, 10000)
	for i := seeded; i < o.events; i++ {
		recs = append(recs, store.EventRecord{Event: event.Event{Timestamp: base.Add(time.Duration(i) * 80 * time.Millisecond), Category: "authentication",
			Action: "logon", Outcome: []string{"success", "failure"}[i%2], UserName: fmt.Sprintf("user%d", i%5000), Tenant: e.Tenants[i%len(e.Tenants)].ID,
			Dataset: "windows.security", HostName: "dc01." + e.Tenants[i%len(e.Tenants)].ID + ".example", Code: "4625"}})
		if len(recs) == cap(recs) || i == o.events-1 {
			if err := st.AppendEvents(ctx, recs); err != nil {
				return err
			}
			recs = recs[:0]
		}
	}
	if seeded == 0 {
		fmt.Printf("seed: %d events in %s\n", o.events, time.Since(t0).Round(time.Millisecond))
	}
	raw := "fbk_" + rand.Text()
	if err := st.CreateAPIToken(ctx, store.Secret(raw), &store.APIToken{ID: "tok_bench_" + raw[4:12], Name: "bench", Prefix: raw[:10], Permissions: []string{store.PermIngest}}); err != nil {
		return err
	}

	cfg := config.Default()
	cfg.DataDir = data
	cfg.TLS.Disable = true
	cfg.Auth.InsecureCookies = true
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		return err
	}
	node, err := roles.New(roles.Options{Config: cfg, Store: st, Engines: eng})
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{Config: cfg, Store: st, Node: node})
	if err != nil {
		return err
	}
	if err := node.AssessEstate(ctx, e, "bench", "bench"); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	go func() {
		served <- node.Run(sctx, nil, func(ctx context.Context) error { return srv.Run(ctx, ln, nil) })
	}()
	url := "http://" + ln.Addr().String()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 60 * time.Second}
	for range 100 {
		if r, err := hc.Get(url + "/readyz"); err == nil && r.StatusCode == 200 {
			r.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Detection first rebuilds its windows from the stored events (live
	// ingest waits on it by back-pressure): measure after that.
	t1 := time.Now()
	for time.Since(t1) < 10*time.Minute {
		r, err := hc.Get(url + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if bytes.Contains(b, []byte("\nfirebreak_detect_replaying 0\n")) {
				break
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Printf("start-up replay done after %s\n", time.Since(t1).Round(100*time.Millisecond))

	// Ingest: every 100 ms one request of rate/10 lines, at most 8 in
	// flight; a request that cannot start on time is counted as late.
	per := o.rate / 10
	var body bytes.Buffer
	for i := range per {
		fmt.Fprintf(&body, `{"@timestamp":"%s","event":{"code":"4625","outcome":"failure","provider":"Microsoft-Windows-Security-Auditing"},"winlog":{"event_id":4625,"channel":"Security","event_data":{"TargetUserName":"user%d","IpAddress":"203.0.113.%d","LogonType":"3","SubStatus":"0xc000006a"}},"host":{"name":"dc01.%s.example"}}`+"\n",
			time.Now().UTC().Format(time.RFC3339), i%500, i%250+1, e.Tenants[i%len(e.Tenants)].ID)
	}
	window := func(name string, during func(ctx context.Context) string) (float64, error) {
		wctx, wcancel := context.WithCancel(ctx)
		var note string
		var dwg sync.WaitGroup
		if during != nil {
			dwg.Add(1)
			go func() { defer dwg.Done(); note = during(wctx) }()
		}
		var accepted, errs, late atomic.Int64
		var firstErr atomic.Value
		var mu sync.Mutex
		var lat []time.Duration
		sem := make(chan struct{}, 8)
		var wg sync.WaitGroup
		tick := time.NewTicker(100 * time.Millisecond)
		start := time.Now()
		for time.Since(start) < o.window {
			<-tick.C
			select {
			case sem <- struct{}{}:
			default:
				late.Add(1)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				s := time.Now()
				req, _ := http.NewRequest("POST", url+"/api/v1/events", bytes.NewReader(body.Bytes()))
				req.Header.Set("Authorization", "Bearer "+raw)
				resp, err := hc.Do(req)
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var ir struct{ Accepted int64 }
				_ = json.Unmarshal(b, &ir)
				if resp.StatusCode != 200 {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, b))
					return
				}
				accepted.Add(ir.Accepted)
				mu.Lock()
				lat = append(lat, time.Since(s))
				mu.Unlock()
			}()
		}
		tick.Stop()
		wg.Wait()
		el := time.Since(start)
		wcancel()
		dwg.Wait()
		rate := float64(accepted.Load()) / el.Seconds()
		slices.Sort(lat)
		p := func(q float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[min(len(lat)-1, int(math.Ceil(q*float64(len(lat))))-1)].Round(time.Millisecond)
		}
		if fe, ok := firstErr.Load().(string); ok {
			note += "\n  first error: " + fe
		}
		fmt.Printf("ingest %-16s %8.0f events/s accepted (offered %d; request p50 %s p99 %s max %s; late ticks %d, errors %d; load avg %s)%s\n",
			name, rate, o.rate, p(0.5), p(0.99), p(1), late.Load(), errs.Load(), loadAvg(), note)
		return rate, nil
	}
	one := func(ctx context.Context) string {
		dst := filepath.Join(dir, "bench.fbk")
		s := time.Now()
		out, err := exec.Command(o.bin, "backup", "--data-dir", data, "-o", dst, "-f", "json", "--rate-mb", fmt.Sprint(o.rateMB)).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("\n  backup failed: %v: %s", err, out)
		}
		var m struct {
			Events int64
			Bytes  int64
		}
		_ = json.Unmarshal(out, &m)
		return fmt.Sprintf("\n  one backup (--rate-mb %g): %d events, %.0f MB in %.1f s, at the start of the window", o.rateMB, m.Events, float64(m.Bytes)/1e6, time.Since(s).Seconds())
	}
	backups := func(ctx context.Context) string {
		var n int
		var secs []float64
		var size int64
		for ctx.Err() == nil {
			dst := filepath.Join(dir, "bench.fbk")
			s := time.Now()
			out, err := exec.Command(o.bin, "backup", "--data-dir", data, "-o", dst, "-f", "json", "--rate-mb", fmt.Sprint(o.rateMB)).CombinedOutput()
			if err != nil {
				return fmt.Sprintf("\n  backup failed: %v: %s", err, out)
			}
			var m struct {
				Events int64
				Bytes  int64
			}
			_ = json.Unmarshal(out, &m)
			secs = append(secs, time.Since(s).Seconds())
			size = m.Bytes
			n++
			if m.Events < int64(o.events) {
				return fmt.Sprintf("\n  backup holds %d events, fewer than the %d seeded", m.Events, o.events)
			}
		}
		return fmt.Sprintf("\n  %d backups back to back, %.1f–%.1f s each, %.0f MB", n, slices.Min(secs), slices.Max(secs), float64(size)/1e6)
	}
	a, err := window("alone", nil)
	if err != nil {
		return err
	}
	b, err := window("with one backup", one)
	if err != nil {
		return err
	}
	c, err := window("alone again", nil)
	if err != nil {
		return err
	}
	d, err := window("back-to-back", backups)
	if err != nil {
		return err
	}
	f, err := window("alone, last", nil)
	if err != nil {
		return err
	}
	fmt.Printf("ingest in a window with one backup / alone: %.1f%% (target ≥ 90%%); with backups back to back / alone: %.1f%%\n", 100*b/((a+c)/2), 100*d/((c+f)/2))
	stop()
	if err := <-served; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}
	if o.keep != "" {
		fmt.Printf("kept the data directory in %s\n", data)
	}
	if o.database == "" {
		return nil
	}
	return migrateBench(ctx, o, dir, data)
}

// migrateBench compares `firebreak migrate` with a plain COPY of the same
// rows, alternating.
func migrateBench(ctx context.Context, o opts, dir, data string) error {
	src, err := sql.Open("sqlite", "file:"+filepath.Join(data, "firebreak.db")+"?mode=ro")
	if err != nil {
		return err
	}
	defer src.Close()
	conn, err := pgx.Connect(ctx, o.database)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	// Export every table once, in PostgreSQL's COPY text format.
	tables, err := transfer.SQLiteTables(ctx, src) // the tables migrate copies
	if err != nil {
		return err
	}
	var files []string
	var rows int64
	t0 := time.Now()
	for _, t := range tables {
		f := filepath.Join(dir, t+".copy")
		n, err := export(ctx, src, t, f)
		if err != nil {
			return fmt.Errorf("exporting %s: %w", t, err)
		}
		rows += n
		files = append(files, f)
	}
	fmt.Printf("export for plain COPY: %d rows of %d tables in %s (not timed below)\n", rows, len(tables), time.Since(t0).Round(time.Millisecond))
	schema := func(i int, kind string) (string, func()) {
		name := fmt.Sprintf("fbbench_%s_%d_%d", kind, os.Getpid(), i)
		conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE")
		conn.Exec(ctx, "CREATE SCHEMA "+name)
		return name, func() { conn.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE") }
	}
	with := func(s string) string {
		sep := "?"
		if strings.Contains(o.database, "?") {
			sep = "&"
		}
		return o.database + sep + "search_path=" + s
	}
	var copyRates, migRates []float64
	for i := range o.reps {
		// Plain COPY: the same schema, created before the clock starts.
		name, drop := schema(i, "copy")
		db := stdlib.OpenDB(*mustConfig(with(name)))
		if _, err := migrations.Apply(ctx, db, "postgres", "", time.Now()); err != nil {
			return err
		}
		db.Close()
		pc, err := pgx.Connect(ctx, with(name))
		if err != nil {
			return err
		}
		s := time.Now()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		for j, t := range tables {
			f, err := os.Open(files[j])
			if err != nil {
				return err
			}
			if _, err := tx.Conn().PgConn().CopyFrom(ctx, bufio.NewReaderSize(f, 1<<20), `COPY "`+t+`" FROM STDIN`); err != nil {
				f.Close()
				return fmt.Errorf("plain COPY %s: %w", t, err)
			}
			f.Close()
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		el := time.Since(s)
		pc.Close(ctx)
		drop()
		copyRates = append(copyRates, float64(rows)/el.Seconds())
		fmt.Printf("plain COPY     %d rows in %6.2f s = %8.0f rows/s (load avg %s)\n", rows, el.Seconds(), float64(rows)/el.Seconds(), loadAvg())

		name, drop = schema(i, "mig")
		s = time.Now()
		out, err := exec.Command(o.bin, "migrate", "--data-dir", data, "--to", with(name), "-f", "json").CombinedOutput()
		el = time.Since(s)
		drop()
		if err != nil {
			return fmt.Errorf("migrate: %v: %s", err, out)
		}
		var ms struct{ Rows int64 }
		if err := json.Unmarshal(out, &ms); err != nil || ms.Rows != rows {
			return fmt.Errorf("migrate moved %d rows, plain COPY %d (%v)", ms.Rows, rows, err)
		}
		migRates = append(migRates, float64(rows)/el.Seconds())
		fmt.Printf("migrate        %d rows in %6.2f s = %8.0f rows/s, whole process (load avg %s)\n", rows, el.Seconds(), float64(rows)/el.Seconds(), loadAvg())
	}
	var ratios []string
	for i := range migRates {
		ratios = append(ratios, fmt.Sprintf("%.0f%%", 100*migRates[i]/copyRates[i]))
	}
	fmt.Printf("migrate / plain COPY: %.1f%% (mean of %d each; pairs %s; target ≥ 80%%)\n", 100*mean(migRates)/mean(copyRates), o.reps, strings.Join(ratios, ", "))
	return nil
}

func mustConfig(u string) *pgx.ConnConfig {
	c, err := pgx.ParseConfig(u)
	if err != nil {
		panic(err)
	}
	return c
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// export writes a table in COPY text format, columns in table order (the
// same in both dialects' schemas).
func export(ctx context.Context, db *sql.DB, table, path string) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	rows, err := db.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			if i > 0 {
				w.WriteByte('\t')
			}
			switch x := v.(type) {
			case nil:
				w.WriteString(`\N`)
			case int64:
				w.WriteString(strconv.FormatInt(x, 10))
			case float64:
				w.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
			case string:
				writeEscaped(w, x)
			case []byte:
				writeEscaped(w, string(x))
			default:
				writeEscaped(w, fmt.Sprint(x))
			}
		}
		w.WriteByte('\n')
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, w.Flush()
}

var escaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func writeEscaped(w io.Writer, s string) { escaper.WriteString(w, s) }

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// copyDir copies the regular files of a data directory (the store and its
// keys), keeping their modes.
func copyDir(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, de := range ents {
		if !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, de.Name()), b, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}
