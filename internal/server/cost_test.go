package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
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
		if c.class == costHeavy && rt.Access == auth.AccessRead {
			t.Errorf("%s %s: heavy read with plain read access (a read-only token could make the server spend at will): use AccessReadHeavy", rt.Method, rt.Pattern)
		}
		if c.class != costHeavy && rt.Access == auth.AccessReadHeavy {
			t.Errorf("%s: AccessReadHeavy on a route that is not heavy", rt.Name)
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

// A token with only read may not call a heavy read (its cost grows with
// the data: a tenant's read token could make the server spend hundreds of
// MB at will); with read:heavy it may, within its tenant and the route's
// concurrency limit. Signed-in users keep them (the dashboard is built on
// them). Every GET route declared AccessReadHeavy is walked.
func TestHeavyReadNeedsPermission(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mk := func(perms ...string) string {
		tc, err := f.srv.createToken(ctx, &auth.Principal{Scope: store.AllTenants()}, tokenRequest{Name: "heavy", Tenant: tenantA, Permissions: perms})
		if err != nil {
			t.Fatal(err)
		}
		return tc.Token
	}
	readOnly, heavyOK := mk(store.PermRead), mk(store.PermRead, store.PermReadHeavy)
	if _, err := f.srv.createToken(ctx, &auth.Principal{Scope: store.AllTenants()}, tokenRequest{Name: "x", Permissions: []string{store.PermReadHeavy}}); err == nil {
		t.Error("read:heavy without read accepted")
	}
	fill := strings.NewReplacer("{format}", "json", "{id}", tenantA, "{$}", "")
	n := 0
	for _, rt := range f.srv.buildRoutes() {
		if rt.Access != auth.AccessReadHeavy || rt.Method != http.MethodGet {
			continue
		}
		n++
		path := fill.Replace(rt.Pattern)
		if resp, _ := f.client().do("GET", path, nil, map[string]string{"Authorization": "Bearer " + readOnly}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s with a read-only token: %d, want 403", path, resp.StatusCode)
		}
		if resp, _ := f.client().do("GET", path, nil, map[string]string{"Authorization": "Bearer " + heavyOK}); resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
			t.Errorf("GET %s with read and read:heavy: %d", path, resp.StatusCode)
		}
	}
	if n < 10 {
		t.Errorf("only %d heavy read routes walked", n)
	}
	v := f.client()
	v.login("viewer-a")
	if resp, _ := v.do("GET", "/api/v1/blast", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("tenant viewer session on its blast radius: %d", resp.StatusCode)
	}
}
