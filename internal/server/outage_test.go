package server

import (
	"context"
	"fmt"
	"net/http"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

// PostgreSQL goes away under a running server (a loopback proxy in front
// of it is cut) and comes back. Meanwhile ingest and the API answer 503
// with Retry-After and a message that names no internal detail, the
// process stays up (/healthz), /readyz says the store is unavailable;
// afterwards everything answers again, and the store holds every event
// that was acknowledged with a 2xx — each once — and none that was not.
func TestPostgresOutage(t *testing.T) {
	url := storetest.FreshPostgresSchema(t)
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := storetest.NewProxy(t, u.Host)
	u.Host = proxy.Addr()
	ctx := context.Background()
	st, err := postgres.OpenWith(ctx, u.String(), store.Options{SecretKey: []byte("test-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, st)
	tc, err := f.srv.createToken(ctx, &auth.Principal{Scope: store.AllTenants()}, tokenRequest{Name: "ingest", Permissions: []string{store.PermRead, store.PermIngest}})
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tc.Token}
	const perBatch = 10
	post := func(batch int) (*http.Response, string) {
		var b strings.Builder
		for i := range perBatch {
			fmt.Fprintf(&b, "Nov 26 11:%02d:%02d srv01.alpha.example sshd[42]: Failed password for user-%d-%d from 198.51.100.7 port 50022 ssh2\n", batch, i, batch, i)
		}
		return f.client().do("POST", "/api/v1/events?tenant="+tenantA, strings.NewReader(b.String()), bearer)
	}
	acked := map[int]bool{}
	if resp, body := post(0); resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest before the outage: %d %s", resp.StatusCode, body)
	}
	acked[0] = true

	proxy.Cut()
	unavailable := func(what string, resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s during the outage: %d (Retry-After %q) %s, want 503 with Retry-After", what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		for _, leak := range []string{"127.0.0.1", "dial", "EOF", "connection", "pgx", "SQLSTATE"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s during the outage names %q: %s", what, leak, body)
			}
		}
	}
	resp, body := post(1)
	unavailable("ingest", resp, body)
	resp, body = f.client().do("GET", "/api/v1/incidents", nil, bearer)
	unavailable("incidents API", resp, body)
	resp, body = f.client().do("GET", "/readyz", nil, nil)
	unavailable("readyz", resp, body)
	if resp, body := f.client().do("GET", "/healthz", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("healthz during the outage: %d %s (the process must stay up)", resp.StatusCode, body)
	}

	proxy.Restore()
	// The client retries what was refused, as Retry-After asks.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, body := post(1)
		if resp.StatusCode == http.StatusOK {
			acked[1] = true
			break
		}
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			t.Fatalf("ingest after the outage: %d %s", resp.StatusCode, body)
		}
	}
	if resp, body := post(2); resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest after recovery: %d %s", resp.StatusCode, body)
	}
	acked[2] = true
	for _, path := range []string{"/api/v1/incidents", "/readyz"} {
		h := bearer
		if path == "/readyz" {
			h = nil
		}
		if resp, body := f.client().do("GET", path, nil, h); resp.StatusCode != http.StatusOK {
			t.Errorf("%s after recovery: %d %s", path, resp.StatusCode, body)
		}
	}

	// Every acknowledged event once, nothing else.
	recs, err := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen, ours := map[string]int{}, 0
	for _, r := range recs {
		if strings.HasPrefix(r.Event.UserName, "user-") { // the fixture seeds others
			seen[r.Event.UserName]++
			ours++
		}
	}
	for batch := range 3 {
		for i := range perBatch {
			if n := seen[fmt.Sprintf("user-%d-%d", batch, i)]; n != 1 {
				t.Errorf("event %d of batch %d (acknowledged %v) stored %d times, want once", i, batch, acked[batch], n)
			}
		}
	}
	if ours != 3*perBatch {
		t.Errorf("%d events stored, want %d", ours, 3*perBatch)
	}
}
