package graph

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
)

// TestPartnerConsent drives the Partner Center consent API in the shapes
// Microsoft documents at
// learn.microsoft.com/partner-center/developer/control-panel-vendor-apis
// (POST /v1/customers/{customer_id}/applicationconsents, body
// {applicationId, applicationGrants:[{enterpriseApplicationId, scope}]},
// answers 201 Created / 409 / 403) with a user_impersonation token
// (learn.microsoft.com/powershell/partnercenter/exchange-online-gdap-app),
// then verifies with the consent checker: a new consent is granted and
// verified, a second one answers 409 and counts as present, a customer
// without the GDAP role answers 403 naming the roles, and the next
// customer is consented all the same.
func TestPartnerConsent(t *testing.T) {
	f := graphtest.NewServer(t, []graphtest.Tenant{
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 1},
		{ID: graphtest.TenantGUID(1), Name: "Locked", Slug: "locked", Users: 1, NoAppAdmin: true},
		{ID: graphtest.TenantGUID(2), Name: "Birch Dental", Slug: "birch-dental", Users: 1},
	})
	f.RefreshTokens["rt-0"] = true
	st, _ := NewRefreshStore(filepath.Join(t.TempDir(), "rt"), testKey(t))
	if err := st.Save("rt-0"); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Authority: f.Srv.URL, GraphURL: f.Srv.URL, Delegated: &Delegated{ClientID: "admin-app", Partner: f.Partner, Store: st}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := slices.Sorted(slices.Values(CustomerPermissions))

	r := PartnerConsent(ctx, c, f.Srv.URL, graphtest.TenantGUID(0), "app-1", CustomerPermissions)
	if !r.OK() || !r.Created || len(r.Granted) != len(CustomerPermissions) || r.ServicePrincipal == "" {
		t.Fatalf("consent: %+v", r)
	}
	if got := f.Consented(graphtest.TenantGUID(0)); !slices.Equal(got, want) {
		t.Errorf("granted %v want %v", got, want)
	}

	again := PartnerConsent(ctx, c, f.Srv.URL, graphtest.TenantGUID(0), "app-1", CustomerPermissions)
	if !again.OK() || again.Created || len(again.Granted) != 0 || len(again.Present) != len(CustomerPermissions) {
		t.Errorf("409 not treated as present: %+v", again)
	}

	locked := PartnerConsent(ctx, c, f.Srv.URL, graphtest.TenantGUID(1), "app-1", CustomerPermissions)
	if locked.OK() || !strings.Contains(locked.Error, "HTTP 403") || !strings.Contains(locked.Error, "Cloud Application Administrator") || len(locked.Missing) != len(CustomerPermissions) {
		t.Errorf("locked: %+v", locked)
	}
	if got := f.Consented(graphtest.TenantGUID(1)); len(got) != 0 {
		t.Errorf("locked tenant consented: %v", got)
	}

	next := PartnerConsent(ctx, c, f.Srv.URL, graphtest.TenantGUID(2), "app-1", CustomerPermissions)
	if !next.OK() || len(next.Granted) != len(CustomerPermissions) {
		t.Errorf("tenant after the 403: %+v", next)
	}
	if n := f.PCConsents.Load(); n != 4 {
		t.Errorf("partner center consent calls %d, want 4", n)
	}

	// App-only clients cannot use Partner Center consent.
	app, err := New(Config{Authority: f.Srv.URL, GraphURL: f.Srv.URL, Credentials: Credentials{TenantID: f.Partner, ClientID: "app-1", Secret: Secret(f.Secret)}})
	if err != nil {
		t.Fatal(err)
	}
	if r := PartnerConsent(ctx, app, f.Srv.URL, graphtest.TenantGUID(2), "app-1", CustomerPermissions); r.OK() || !strings.Contains(r.Error, "delegated") {
		t.Errorf("app-only: %+v", r)
	}
}
