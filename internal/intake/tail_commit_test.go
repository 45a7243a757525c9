package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// largestStore is a cutStore that also records the largest batch offered.
type largestStore struct {
	cutStore
	largest atomic.Int64
}

func (l *largestStore) AppendEvents(ctx context.Context, b []store.EventRecord) error {
	for n := int64(len(b)); ; {
		m := l.largest.Load()
		if n <= m || l.largest.CompareAndSwap(m, n) {
			break
		}
	}
	return l.cutStore.AppendEvents(ctx, b)
}

// TestTailSavesPositionOnlyOnceCommitted: serve's folder tail saved how
// far it had read a file right after reading it, while its events still
// waited in memory for the store; a stop then (SIGTERM, with the last
// commit refused, or a crash) lost them, and the next start read on past
// them: the saved offset was the file's size and no event of it was
// stored. The interleaving is forced: the store refuses every commit
// until the tail has offered the whole file and the process has stopped.
// The position is saved only once the events it covers are committed, so
// the next start reads them.
func TestTailSavesPositionOnlyOnceCommitted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "Nov 26 10:%02d:%02d srv01 sshd[42]: Failed password for user%d from 198.51.100.%d port 50022 ssh2\n", i/60, i%60, i, i%200+1)
	}
	logFile := filepath.Join(logs, "auth.log")
	if err := os.WriteFile(logFile, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	base, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	st := &largestStore{cutStore: cutStore{Store: base}}
	cfg := config.Default()
	cfg.Ingest.Year = 2026
	cfg.DataDir = dir
	cfg.Ingest.Files = []config.TailConfig{{Path: logs}}
	count := func() int64 { return storedCount(ctx, t, base) }
	wait := func(what string, cond func() bool) { t.Helper(); waitFor(t, what, cond) }
	run := func(until func()) {
		t.Helper()
		m := metrics.New()
		in, err := New(Options{Config: cfg, Store: st, Pipeline: pipeline.New(pipeline.Options{Store: st, Metrics: m}), Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		g, gctx := errgroup.WithContext(rctx)
		if err := in.Start(gctx, g, nil); err != nil {
			t.Fatal(err)
		}
		until()
		cancel() // SIGTERM
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	}

	st.down.Store(true)
	run(func() { wait("the whole file offered to the store", func() bool { return st.largest.Load() >= n }) })
	if got := count(); got != 0 {
		t.Fatalf("%d events stored through a refusing store", got)
	}
	if off := savedOffset(t, tailStatePath(dir, logs), logFile); off > 0 {
		t.Errorf("the tail saved offset %d of %s (size %d) with none of its events stored", off, logFile, b.Len())
	}

	st.down.Store(false)
	run(func() {
		wait(fmt.Sprintf("%d events stored after the restart", n), func() bool { return count() >= n })
	})
	if got := count(); got != n {
		t.Errorf("stored %d events, want %d", got, n)
	}
	if off := savedOffset(t, tailStatePath(dir, logs), logFile); off != int64(b.Len()) {
		t.Errorf("saved offset %d once every event is stored, want the size %d", off, b.Len())
	}
}

// savedOffset is the offset the tail state file at state keeps for path
// (0: none).
func savedOffset(t *testing.T, state, path string) int64 {
	t.Helper()
	raw, err := os.ReadFile(state)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Files []struct {
			Path   string `json:"path"`
			Offset int64  `json:"offset"`
		} `json:"files"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	for _, f := range s.Files {
		if f.Path == path {
			return f.Offset
		}
	}
	return 0
}
