package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

// TestIngestIdempotencyKey: POST /api/v1/events with an Idempotency-Key
// (draft-ietf-httpapi-idempotency-key-header). The same key and body sent
// again — the client never saw the first answer — gets the first answer
// and stores nothing; the same key with another body is 422; another
// token's same key is its own. On PostgreSQL the retry goes to a second
// replica on the same database, as a load balancer would send it.
func TestIngestIdempotencyKey(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			ctx := context.Background()
			var f *fixture
			// post sends to replica 0 (the fixture) or 1 (PostgreSQL only:
			// a second server on the same database).
			replicas := []*httptest.Server{}
			if db == "sqlite" {
				f = newFixture(t)
			} else {
				url := storetest.FreshPostgresSchema(t)
				open := func() store.Store {
					st, err := postgres.OpenWith(ctx, url, store.Options{SecretKey: []byte("test-key-0123456789")})
					if err != nil {
						t.Fatal(err)
					}
					return st
				}
				f = newFixtureOn(t, open())
				st2 := open()
				t.Cleanup(func() { st2.Close() })
				cfg := config.Default()
				cfg.DataDir = t.TempDir()
				srv2, err := newServer(Options{Config: cfg, Store: st2, Now: f.clk.now, TLS: true}, nil)
				if err != nil {
					t.Fatal(err)
				}
				srv2.setReady(true)
				ts2 := httptest.NewTLSServer(srv2.Handler())
				t.Cleanup(ts2.Close)
				replicas = append(replicas, ts2)
			}
			replicas = append([]*httptest.Server{f.ts}, replicas...)
			token := func(name string) string {
				tc, err := f.srv.createToken(ctx, &auth.Principal{Scope: store.AllTenants()}, tokenRequest{Name: name, Permissions: []string{store.PermRead, store.PermIngest}})
				if err != nil {
					t.Fatal(err)
				}
				return tc.Token
			}
			tokA, tokB := token("a"), token("b")
			post := func(replica int, tok, key, body string) (int, string, string) {
				t.Helper()
				ts := replicas[replica%len(replicas)]
				req, _ := http.NewRequest("POST", ts.URL+"/api/v1/events?tenant="+tenantA, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Accept", "application/json")
				if key != "" {
					req.Header.Set("Idempotency-Key", key)
				}
				resp, err := ts.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b), resp.Header.Get("Idempotent-Replayed")
			}
			lines := func(tag string, n int) string {
				var b strings.Builder
				for i := range n {
					fmt.Fprintf(&b, "Nov 26 11:00:%02d srv01.alpha.example sshd[42]: Failed password for %s-%d from 198.51.100.7 port 50022 ssh2\n", i, tag, i)
				}
				return b.String()
			}
			stored := func(tag string) int {
				recs, err := f.st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 10000})
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, r := range recs {
					if strings.HasPrefix(r.Event.UserName, tag+"-") {
						n++
					}
				}
				return n
			}
			body := lines("idem", 5)
			st1, first, rep := post(0, tokA, "k-1", body)
			if st1 != http.StatusOK || rep != "" {
				t.Fatalf("first request: %d %s (replayed %q)", st1, first, rep)
			}
			st2, again, rep := post(1, tokA, "k-1", body)
			if st2 != st1 || again != first || rep != "true" {
				t.Errorf("retry: %d %s (replayed %q), want the first answer %d %s", st2, again, rep, st1, first)
			}
			if n := stored("idem"); n != 5 {
				t.Errorf("%d events stored after the retry, want 5 (once)", n)
			}
			if code, msg, _ := post(1, tokA, "k-1", lines("other", 3)); code != http.StatusUnprocessableEntity {
				t.Errorf("same key, another body: %d %s, want 422", code, msg)
			}
			if n := stored("other"); n != 0 {
				t.Errorf("%d events of the refused body stored", n)
			}
			// Another token's key is its own.
			if code, msg, rep := post(0, tokB, "k-1", body); code != http.StatusOK || rep != "" {
				t.Errorf("another token, same key: %d %s (replayed %q), want a first answer", code, msg, rep)
			}
			// A refused line is answered the same again (the rest was stored once).
			bad := lines("part", 2) + "not a log line\n"
			c1, b1, _ := post(0, tokA, "k-2", bad)
			c2, b2, rep := post(1, tokA, "k-2", bad)
			if c1 != http.StatusBadRequest || c2 != c1 || b2 != b1 || rep != "true" {
				t.Errorf("refused line: %d %s then %d %s (replayed %q), want the same 400 twice", c1, b1, c2, b2, rep)
			}
			if n := stored("part"); n != 2 {
				t.Errorf("%d events of the partly refused body stored, want 2 (once)", n)
			}
			// Past the 24 hours the key is new again.
			f.clk.add(store.IdempotencyTTL + time.Second)
			if code, _, rep := post(1, tokA, "k-1", body); code != http.StatusOK || rep != "" {
				t.Errorf("after 24 h: %d (replayed %q), want a first answer", code, rep)
			}
			if n := stored("idem"); n != 15 {
				t.Errorf("%d events after the key expired, want 15 (token a twice, token b once)", n)
			}
		})
	}
}

// TestIngestIdempotencyKeyRefused: a key that is not printable ASCII, too
// long, or sent twice (the draft: a client MUST NOT send more than one)
// is a 400 with the error body, and nothing is stored.
func TestIngestIdempotencyKeyRefused(t *testing.T) {
	f := newFixture(t)
	body := "Nov 26 11:00:00 srv01.alpha.example sshd[42]: Failed password for dupkey from 198.51.100.7 port 50022 ssh2\n"
	for name, keys := range map[string][]string{"twice": {"a", "b"}, "twice the same": {"a", "a"}, "too long": {strings.Repeat("k", 256)}, "not ASCII": {"kë"}} {
		req, _ := http.NewRequest("POST", f.ts.URL+"/api/v1/events?tenant="+tenantA, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.tokenA)
		for _, k := range keys {
			req.Header.Add("Idempotency-Key", k)
		}
		resp, err := f.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"error":"Idempotency-Key`) || !strings.Contains(string(b), `"status":400`) {
			t.Errorf("%s: %d %s, want 400 with the error body", name, resp.StatusCode, b)
		}
	}
	recs, err := f.st.SearchEvents(context.Background(), store.AllTenants(), store.EventQuery{User: "dupkey", Limit: 10})
	if err != nil || len(recs) != 0 {
		t.Errorf("%d events stored by refused requests (%v), want 0", len(recs), err)
	}
}
