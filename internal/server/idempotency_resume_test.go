package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

// failThird is a store whose third AppendEvents fails (the database went
// away after two batches of 5,000 were committed).
type failThird struct {
	store.Store
	store.IdempotencyKeys
	armed atomic.Bool // counting (after the fixture's seeding)
	n     atomic.Int32
}

func (f *failThird) AppendEvents(ctx context.Context, b []store.EventRecord) error {
	if f.armed.Load() && f.n.Add(1) == 3 {
		return errors.New("connection refused")
	}
	return f.Store.AppendEvents(ctx, b)
}

func (f *failThird) Close() error { return f.Store.Close() }

// TestIngestIdempotencyResume: a 503 after two of three batches, then a
// retry with the same key and body: every line is stored exactly once
// (the old code stored the first two batches again) and the answer
// counts the whole body.
func TestIngestIdempotencyResume(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			ctx := context.Background()
			var st store.Store
			var err error
			if db == "sqlite" {
				st, err = sqlite.Open(ctx, t.TempDir())
			} else {
				st, err = postgres.OpenWith(ctx, storetest.FreshPostgresSchema(t), store.Options{SecretKey: []byte("test-key-0123456789")})
			}
			if err != nil {
				t.Fatal(err)
			}
			fs := &failThird{Store: st, IdempotencyKeys: st.(store.IdempotencyKeys)}
			f := newFixtureOn(t, fs)
			f.srv.cfg.Ingest.MaxBodyBytes = 16 << 20
			fs.armed.Store(true)
			const n = 12000
			var b strings.Builder
			for i := range n {
				fmt.Fprintf(&b, "Nov 26 11:%02d:%02d srv01.alpha.example sshd[42]: Failed password for resume-%d from 198.51.100.7 port 50022 ssh2\n", i/60%60, i%60, i)
			}
			post := func() (int, string) {
				resp, got := f.client().do("POST", "/api/v1/events?tenant="+tenantA, strings.NewReader(b.String()), map[string]string{"Authorization": "Bearer " + f.tokenA, "Idempotency-Key": "resume-1"})
				return resp.StatusCode, got
			}
			if code, got := post(); code != http.StatusServiceUnavailable || !strings.Contains(got, `"accepted":10000`) {
				t.Fatalf("first request: %d %.300s, want 503 after 10000", code, got)
			}
			if code, got := post(); code != http.StatusOK || !strings.Contains(got, fmt.Sprintf(`"accepted":%d`, n)) {
				t.Fatalf("retry: %d %.300s, want 200 accepting %d", code, got, n)
			}
			recs, err := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 10000})
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			count := func() {
				for _, r := range recs {
					if strings.HasPrefix(r.Event.UserName, "resume-") {
						total++
					}
				}
			}
			count()
			for len(recs) == 10000 {
				recs, err = st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 10000, BeforeID: recs[len(recs)-1].ID})
				if err != nil {
					t.Fatal(err)
				}
				count()
			}
			if total != n {
				t.Errorf("%d events stored, want %d (each line once)", total, n)
			}
		})
	}
}
