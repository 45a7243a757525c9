package server

import (
	"net/http"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/auth"
)

// TestRouteCosts walks the route table: every route declares a cost class,
// every heavy one a concurrency limit, and a heavy route that changes
// state needs more than read access (verify, public by design, is limited
// per address and in concurrency).
func TestRouteCosts(t *testing.T) {
	f := newFixture(t)
	names := map[string]bool{}
	for _, rt := range f.srv.buildRoutes() {
		names[rt.Name] = true
		c, ok := routeCosts[rt.Name]
		switch {
		case !ok || c.class == 0:
			t.Errorf("%s %s (%s): no declared cost class in routeCosts", rt.Method, rt.Pattern, rt.Name)
			continue
		case c.class == costHeavy && heavyLimits[c.limit] <= 0:
			t.Errorf("%s: heavy with no limit (%q)", rt.Name, c.limit)
		case c.class != costHeavy && c.limit != "":
			t.Errorf("%s: a limit on a route that is not heavy", rt.Name)
		case c.byHandler && c.limit != "estate":
			t.Errorf("%s: only estate jobs take their slot in the handler", rt.Name)
		}
		if c.class == costHeavy && rt.Method != http.MethodGet {
			switch {
			case rt.Access == auth.AccessPublic && rt.Name == "verify_post":
			case rt.Access == auth.AccessPublic || rt.Access == auth.AccessRead || rt.Access == auth.AccessPreMFA:
				t.Errorf("%s %s: changes state at a cost with only %v access", rt.Method, rt.Pattern, rt.Access)
			}
		}
		if c.class == costHeavy && rt.Access == auth.AccessPublic && rt.Name != "verify_post" {
			t.Errorf("%s: heavy and public", rt.Name)
		}
	}
	for name := range routeCosts {
		if !names[name] {
			t.Errorf("routeCosts names %s, which is not a route", name)
		}
	}
}

// A heavy route past its limit answers 429 with Retry-After, and runs
// again once a slot is free.
func TestHeavyRouteLimit(t *testing.T) {
	f := newFixture(t)
	f.srv.heavyWait = 0
	c := f.client()
	c.login("owner1")
	slots := f.srv.heavy["report"]
	for range cap(slots) {
		slots <- struct{}{}
	}
	resp, _ := c.do("GET", "/api/v1/reports/json", nil, nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("report with every slot taken: %d, want 429 with Retry-After", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a lookup while reports are saturated: %d", resp.StatusCode)
	}
	for range cap(slots) {
		<-slots
	}
	if resp, _ := c.do("GET", "/api/v1/reports/json", nil, nil); resp.StatusCode == http.StatusTooManyRequests {
		t.Error("report refused with free slots")
	}
}
