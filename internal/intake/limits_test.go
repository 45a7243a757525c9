package intake

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

func sshLines(n int, at time.Time) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%s srv01 sshd[%d]: Failed password for root from 198.51.100.%d port 22 ssh2\n", at.UTC().Format(time.RFC3339), 100+i, i%250+1)
	}
	return b.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestIngestBodyLimits: past the decompressed-size or event-count limit
// IngestBody stops with ErrLimit, and exactly the events it reports as
// accepted are stored.
func TestIngestBodyLimits(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		body      []byte
		maxBytes  int64
		maxEvents int
		wantErr   bool
		accepted  int
	}{
		{"within", gz(t, sshLines(50, now)), 1 << 20, 100, false, 50},
		{"events", gz(t, sshLines(50, now)), 1 << 20, 20, true, 20},
		{"plain-events", sshLines(50, now), 1 << 20, 20, true, 20},
		{"inflated", gz(t, sshLines(12000, now)), 200 << 10, 100_000, true, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			cfg := config.Default()
			cfg.Ingest.MaxDecompressedBytes, cfg.Ingest.MaxEvents = tc.maxBytes, tc.maxEvents
			m := metrics.New()
			clock := func() time.Time { return now }
			in, err := New(Options{Config: cfg, Store: st, Pipeline: pipeline.New(pipeline.Options{Store: st, Metrics: m, Now: clock}), Now: clock, Metrics: m})
			if err != nil {
				t.Fatal(err)
			}
			resp, _, err := in.IngestBody(ctx, tc.body, "syslog", "t1", "token:test", func(*event.Event) string { return "" })
			if tc.wantErr != errors.Is(err, ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit: %v", err, tc.wantErr)
			}
			if tc.accepted >= 0 && resp.Accepted != tc.accepted {
				t.Errorf("accepted %d, want %d", resp.Accepted, tc.accepted)
			}
			if tc.accepted < 0 && (resp.Accepted == 0 || resp.Accepted >= 12000) {
				t.Errorf("accepted %d, want some but not all", resp.Accepted)
			}
			got, err := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != resp.Accepted {
				t.Errorf("stored %d, response says %d", len(got), resp.Accepted)
			}
			if resp.Treatment.Live != resp.Accepted {
				t.Errorf("treatment %+v, want all %d live", resp.Treatment, resp.Accepted)
			}
		})
	}
}

func TestConnLimiter(t *testing.T) {
	l := &connLimiter{perPeer: 2, total: 3, byPeer: map[string]int{}}
	steps := []struct {
		peer string
		want bool
	}{{"a", true}, {"a", true}, {"a", false}, {"b", true}, {"c", false}}
	for i, s := range steps {
		if got := l.acquire(s.peer); got != s.want {
			t.Fatalf("step %d acquire(%s) = %v, want %v", i, s.peer, got, s.want)
		}
	}
	l.release("a")
	if !l.acquire("c") {
		t.Error("a freed slot was not reused")
	}
	if l.acquire("a") {
		t.Error("total cap not kept")
	}
}
