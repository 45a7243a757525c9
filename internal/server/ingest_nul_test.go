package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/postgres"
	"github.com/firebreak-msp/firebreak/internal/store/storetest"
)

// TestIngestNULPostgres: PostgreSQL's text refuses NUL, so an event with
// a NUL in its user name and raw line was a 503 forever (senders retry
// without end). It is stored with U+FFFD in place of the NUL and answered
// 200.
func TestIngestNULPostgres(t *testing.T) {
	ctx := context.Background()
	st, err := postgres.OpenWith(ctx, storetest.FreshPostgresSchema(t), store.Options{SecretKey: []byte("test-key-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, st)
	body := "Nov 26 11:00:00 srv01.alpha.example sshd[42]: Failed password for nul\x00user from 198.51.100.7 port 50022 ssh2\n"
	resp, got := f.client().do("POST", "/api/v1/events?tenant="+tenantA, strings.NewReader(body), map[string]string{"Authorization": "Bearer " + f.tokenA})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest of a NUL: %d %s, want 200", resp.StatusCode, got)
	}
	recs, err := f.st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Event.UserName == "nul\uFFFDuser" && strings.Contains(r.Raw, "nul\uFFFDuser") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d events stored with U+FFFD for the NUL, want 1", n)
	}
}
