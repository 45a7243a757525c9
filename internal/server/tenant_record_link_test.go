package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// TestTenantPageRecordLinkByRight: the tenant page's "Record an
// attestation or an exception" link is offered to a user who may record
// one (owner, the tenant's attester) and not to a tenant viewer, whose
// attestations page has no form to record with.
func TestTenantPageRecordLinkByRight(t *testing.T) {
	f := newFixture(t)
	eng, err := worker.NewEngines(worker.EngineOptions{Clock: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng)
	f.addUser("attester-a", store.RoleTenantAttester, tenantA)
	f.assessNow()
	const link = "Record an attestation or an exception"
	for user, want := range map[string]bool{"owner1": true, "attester-a": true, "viewer-a": false} {
		c := f.client()
		c.login(user)
		resp, body := c.do("GET", "/tenants/"+tenantA, nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: GET tenant page: %d", user, resp.StatusCode)
		}
		if !strings.Contains(body, "Not evaluable, attested or excepted") {
			t.Fatalf("%s: the tenant page has no not-evaluable section", user)
		}
		if got := strings.Contains(body, link); got != want {
			t.Errorf("%s: record link shown %v, want %v", user, got, want)
		}
	}
}
