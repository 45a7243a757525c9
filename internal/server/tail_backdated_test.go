package server

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// sshdFailures is an sshd log of n failed passwords from ip, every step
// from at.
func sshdFailures(ip string, at time.Time, n int, step time.Duration) string {
	var b strings.Builder
	for i := range n {
		ts := at.Add(time.Duration(i) * step)
		fmt.Fprintf(&b, "%s srv01 sshd[4200]: Failed password for root from %s port %d ssh2\n", ts.Format(time.Stamp), ip, 40000+i)
	}
	return b.String()
}

// TestTailBackdatedFilesMatchDetect: back-dated sshd logs (brute forces
// hours and days old, two of them split over two files, one into halves
// below the threshold) dropped into
// serve's tailed folder one after another, in several orders, leave the
// incidents — counts included — of one detect pass over the same events.
func TestTailBackdatedFilesMatchDetect(t *testing.T) { checkBackdated(t, false) }

// TestTailBackdatedFilesRestartMatchDetect is TestTailBackdatedFilesMatchDetect
// with serve stopped (as by SIGTERM) and started again between files: the
// restarted engine counts the new file's events (and the stored ones it is
// primed with), which add to the stored count. On the old code the stored
// count was the larger of the two (12 where detect counts 17).
func TestTailBackdatedFilesRestartMatchDetect(t *testing.T) { checkBackdated(t, true) }

func checkBackdated(t *testing.T, restart bool) {
	base := time.Now().UTC().Add(-50 * time.Hour).Truncate(time.Second)
	files := []string{
		sshdFailures("203.0.113.9", base, 6, 10*time.Second),                    // a brute force…
		sshdFailures("203.0.113.9", base.Add(2*time.Minute), 6, 10*time.Second), // …its second half in another file
		sshdFailures("198.51.100.4", base.Add(3*time.Hour), 5, 20*time.Second),
		sshdFailures("203.0.113.9", base.Add(26*time.Hour), 5, 5*time.Second),
		sshdFailures("192.0.2.77", base.Add(5*time.Hour), 3, 10*time.Second),             // a brute force only
		sshdFailures("192.0.2.77", base.Add(5*time.Hour+time.Minute), 3, 10*time.Second), // the two halves make
	}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5}, {3, 2, 1, 0, 5, 4}, {1, 0, 3, 2, 5, 4}, {2, 0, 5, 3, 1, 4}} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			got, want := tailOneByOne(t, files, order, restart, nil)
			if !slices.ContainsFunc(want, func(s string) bool { return strings.Contains(s, "source.ip=203.0.113.9 17 ") }) ||
				!slices.ContainsFunc(want, func(s string) bool { return strings.Contains(s, "source.ip=192.0.2.77 6 ") }) {
				t.Fatalf("detect found no brute forces of 17 failures (12 then 5 a day later) and 6 (3 and 3): %v", want)
			}
			if d := gocmp.Diff(want, got); d != "" {
				t.Errorf("serve's tail (files in order %v) and one detect pass differ (-detect +serve):\n%s", order, d)
			}
		})
	}
}

// TestTailGzipMatchesDetect: the back-dated logs of
// TestTailBackdatedFilesMatchDetect, some of them gzip files (as rotated
// archives are), dropped into serve's tailed folder, leave the incidents
// of one detect pass over every event of the folder. The old tail left
// the .gz files out: the brute force split over a plain and a compressed
// file was not found, nor the compressed ones.
func TestTailGzipMatchesDetect(t *testing.T) {
	base := time.Now().UTC().Add(-50 * time.Hour).Truncate(time.Second)
	files := []string{
		sshdFailures("203.0.113.9", base, 6, 10*time.Second),
		sshdFailures("203.0.113.9", base.Add(2*time.Minute), 6, 10*time.Second),
		sshdFailures("198.51.100.4", base.Add(3*time.Hour), 5, 20*time.Second),
		sshdFailures("192.0.2.77", base.Add(5*time.Hour), 3, 10*time.Second),
		sshdFailures("192.0.2.77", base.Add(5*time.Hour+time.Minute), 3, 10*time.Second),
	}
	got, want := tailOneByOne(t, files, []int{0, 1, 2, 3, 4}, false, map[int]bool{1: true, 2: true, 4: true})
	if !slices.ContainsFunc(want, func(s string) bool { return strings.Contains(s, "source.ip=203.0.113.9 12 ") }) ||
		!slices.ContainsFunc(want, func(s string) bool { return strings.Contains(s, "source.ip=192.0.2.77 6 ") }) {
		t.Fatalf("detect found no brute forces of 12 failures (6 and 6) and 6 (3 and 3): %v", want)
	}
	if d := gocmp.Diff(want, got); d != "" {
		t.Errorf("serve's tail of plain and gzip files and one detect pass differ (-detect +serve):\n%s", d)
	}
}

// tailOneByOne runs serve over a tailed folder, writes files[order[0]],
// waits until its events are detected, then the next, and returns the
// stored incidents and those of one detection pass over the stored events
// in time order (what detect gives for the same files), one line each.
// With restart, serve is stopped and started again between files. The
// files in gz are written gzip-compressed (named .log.gz).
func tailOneByOne(t *testing.T, files []string, order []int, restart bool, gz map[int]bool) (got, want []string) {
	t.Helper()
	est, logs := alphaTailDirs(t)
	ctx := context.Background()
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Estate.Paths = []string{est}
	cfg.Ingest.Files = []config.TailConfig{{Path: logs, Tenant: "alpha-co"}}
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		srv    *Server
		cancel context.CancelFunc
		done   chan error
	)
	start := func() {
		var rctx context.Context
		rctx, cancel = context.WithCancel(ctx)
		var err error
		srv, err = newServer(Options{Config: cfg, Store: st}, eng)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done = make(chan error, 1)
		go func() { done <- runServer(rctx, srv, ln) }()
	}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	start()
	lines, before := 0, 0 // lines written; detected by the servers before this one
	for k, i := range order {
		if restart && k > 0 {
			stop()
			start()
			before = lines
		}
		name, data := fmt.Sprintf("host%d.log", i), []byte(files[i])
		if gz[i] {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			if _, err := zw.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
			name, data = name+".gz", b.Bytes()
		}
		if err := os.WriteFile(filepath.Join(logs, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		lines += strings.Count(files[i], "\n")
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			n, _ := st.CountEvents(ctx, store.TenantScope("alpha-co"), store.EventQuery{})
			var d dto.Metric
			if err := srv.metrics.EventsDetected.Write(&d); err != nil {
				t.Fatal(err)
			}
			if int(n) >= lines && int(d.GetCounter().GetValue()) >= lines-before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %d events (%d stored, %v detected)", lines, n, d.GetCounter().GetValue())
			}
		}
	}
	stop()
	incs, err := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range incs {
		if in.Rule != "clock_skew" {
			got = append(got, incidentLine(in.Rule, in.Title, in.Key, in.Count, in.First, in.Last, in.Severity))
		}
	}
	slices.Sort(got)

	recs, err := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != lines {
		t.Fatalf("%d events stored, %d lines written", len(recs), lines)
	}
	slices.SortStableFunc(recs, func(a, b store.EventRecord) int {
		return cmp.Or(a.Event.Timestamp.Compare(b.Event.Timestamp), cmp.Compare(a.ID, b.ID))
	})
	ref, err := eng.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		ref.Process(&recs[i].Event)
	}
	ref.Flush()
	for _, in := range pipeline.EngineOf(ref).Incidents() {
		want = append(want, incidentLine(in.Rule, in.Title, in.Key, int(in.Count), in.First, in.Last, in.Severity))
	}
	slices.Sort(want)
	return got, want
}

func incidentLine(rule, title string, key map[string]string, count int, first, last time.Time, severity string) string {
	keys := make([]string, 0, len(key))
	for k, v := range key {
		keys = append(keys, k+"="+v)
	}
	slices.Sort(keys)
	return strings.Join([]string{rule, title, strings.Join(keys, ","), strconv.Itoa(count),
		first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339), severity}, " ")
}
