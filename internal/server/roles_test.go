package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// A process without the ingest role refuses events, saying where they go,
// and stores nothing.
func TestIngestOnlyOnIngestRole(t *testing.T) {
	f := newFixture(t)
	f.srv.cfg.Roles = []string{"api"}
	line := "Nov 26 06:30:11 srv01.alpha-co.example sshd[4200]: Failed password for nobody from 198.51.100.7 port 50022 ssh2\n"
	resp, body := f.client().do("POST", "/api/v1/events", strings.NewReader(line), map[string]string{"Authorization": "Bearer " + f.tokenA})
	if resp.StatusCode != http.StatusMisdirectedRequest || !strings.Contains(body, "ingest process") {
		t.Fatalf("api-only process took events: %d %s", resp.StatusCode, body)
	}
	if n, _ := f.st.CountEvents(context.Background(), store.AllTenants(), store.EventQuery{User: "nobody"}); n != 0 {
		t.Errorf("stored %d events", n)
	}
	f.srv.cfg.Roles = []string{"api", "ingest"}
	if resp, body := f.client().do("POST", "/api/v1/events", strings.NewReader(line), map[string]string{"Authorization": "Bearer " + f.tokenA}); resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest role refused events: %d %s", resp.StatusCode, body)
	}
}
