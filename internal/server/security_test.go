package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// An analyst's note on an incident that spans tenants A and B is written for
// the MSP; a tenant viewer of A (or A's token) sees the incident but never
// the notes, which may name the other customer.
func TestCrossTenantIncidentNotesHidden(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.st.AddIncidentNote(ctx, store.AllTenants(), f.incX, store.Note{Author: "analyst1", Text: "same source also hit bravo-co's VPN", At: f.clk.now()}); err != nil {
		t.Fatal(err)
	}
	viewer := f.client()
	viewer.login("viewer-a")
	for _, path := range []string{"/api/v1/incidents/" + f.incX, "/incidents/" + f.incX, "/api/v1/incidents", "/incidents", "/incidents/rows"} {
		for _, who := range []string{"session", "token"} {
			var resp *http.Response
			var got string
			if who == "session" {
				resp, got = viewer.do("GET", path, nil, nil)
			} else {
				resp, got = f.client().do("GET", path, nil, map[string]string{"Authorization": "Bearer " + f.tokenA})
			}
			if strings.Contains(strings.ToLower(got), markerB) {
				t.Errorf("GET %s as %s: status %d shows tenant B in a cross-tenant incident's notes", path, who, resp.StatusCode)
			}
		}
	}
	// The MSP still sees its note.
	owner := f.client()
	owner.login("analyst1")
	if _, got := owner.do("GET", "/api/v1/incidents/"+f.incX, nil, nil); !strings.Contains(got, "bravo-co's VPN") {
		t.Error("analyst does not see the note")
	}
}
