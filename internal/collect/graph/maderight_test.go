package graph

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/connector/connectortest"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

func identity(fr *estate.Estate, id string) *estate.Identity {
	return find(fr.Identities, func(x estate.Identity) bool { return x.ID == id })
}

// TestGraphMadeRight covers each item of the Microsoft 365 review: last
// successful sign-in (fallback flagged), security defaults read on their
// own, CA false passes, page size 120 and the 400 fallback, no
// ConsistencyLevel, PIM-eligible, group-based, AU-scoped and deleted-
// principal role assignments, principalOrganizationId, the sign-in log
// permission label and long windows, CA throttling without Retry-After.
func TestGraphMadeRight(t *testing.T) {
	orCompliant := []any{map[string]any{"id": "ca-or", "displayName": "MFA or compliant device", "state": "enabled",
		"conditions":    map[string]any{"users": map[string]any{"includeUsers": []string{"All"}}, "applications": map[string]any{"includeApplications": []string{"All"}}, "clientAppTypes": []string{"all"}},
		"grantControls": map[string]any{"operator": "OR", "builtInControls": []string{"mfa", "compliantDevice"}}}}
	tenants := []graphtest.Tenant{
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 20},
		// No Entra ID P1, security defaults on: MFA enforced for everyone.
		{ID: graphtest.TenantGUID(1), Name: "Small Shop", Slug: "small-shop", Users: 5, SecurityDefaults: true,
			Forbid: map[string]string{"/v1.0/identity/conditionalAccess": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
				"/v1.0/roleManagement/directory/roleEligibilitySchedules": "Authentication_RequestFromNonPremiumTenantOrB2CTenant"}},
		// No P1, security defaults off: MFA not enforced (known).
		{ID: graphtest.TenantGUID(2), Name: "Corner Cafe", Slug: "corner-cafe", Users: 5,
			Forbid: map[string]string{"/v1.0/identity/conditionalAccess": "Authentication_RequestFromNonPremiumTenantOrB2CTenant"}},
		// MFA OR compliant device: a false pass, not enforced.
		{ID: graphtest.TenantGUID(3), Name: "Device Shop", Slug: "device-shop", Users: 5, CA: orCompliant, CAThrottleOnce: true},
		// signInActivity answered 400: users still read, without it.
		{ID: graphtest.TenantGUID(4), Name: "Bad Request", Slug: "bad-request", Users: 5, BadRequestActivity: true},
		// Long sign-in windows time out.
		{ID: graphtest.TenantGUID(5), Name: "Slow Logs", Slug: "slow-logs", Users: 5, SignInTimeoutOver: 2 * time.Hour},
		// Sign-in logs without Directory.Read.All: 403.
		{ID: graphtest.TenantGUID(6), Name: "No Directory", Slug: "no-directory", Users: 5,
			Forbid: map[string]string{"/v1.0/auditLogs/signIns": "Authorization_RequestDenied"}},
	}
	f := graphtest.NewServer(t, tenants)
	c := testClient(t, f, nil, 8)
	sdir := t.TempDir()
	res, err := Collect(context.Background(), c, Options{SignInDir: sdir, SkipPartner: true, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.SawConsistencyLevel.Load(); n != 0 {
		t.Errorf("%d requests sent ConsistencyLevel", n)
	}
	// One JSON batch per tenant carries the first pages.
	if n := f.Batches.Load(); n < int64(len(tenants)) {
		t.Errorf("%d $batch requests for %d tenants", n, len(tenants))
	}
	by := map[string]TenantResult{}
	for _, r := range res.Tenants {
		by[r.Tenant] = r
	}
	fr := res.Fragment

	// Last sign-in: the successful one; without one, the failed attempt
	// (2025-01-01) is no activity: capped at 2023-12-01 and flagged.
	u0, u1, u2 := identity(fr, "user0@cedar-law.example"), identity(fr, "user1@cedar-law.example"), identity(fr, "user2@cedar-law.example")
	if u2 == nil || u2.LastSignIn.Format(time.DateOnly) != "2024-06-01" {
		t.Errorf("sprayed dormant user looks active: %+v", u2)
	}
	if u1 == nil || u1.LastSignIn.Format(time.DateOnly) != "2023-12-01" || !strings.Contains(u1.Provenance.Source, "includes failed attempts") {
		t.Errorf("fallback not flagged: %+v %+v", u1, u1.Provenance)
	}
	if u0 == nil || strings.Contains(u0.Provenance.Source, "(") || by["cedar-law"].LastSignInFallback != 1 {
		t.Errorf("plain provenance %+v, fallback count %d", u0.Provenance, by["cedar-law"].LastSignInFallback)
	}

	// Roles: group-based, AU-scoped, PIM-eligible, deleted and foreign principals.
	roles := func(id string) []string {
		if x := identity(fr, id); x != nil {
			return x.Roles
		}
		return nil
	}
	if r := roles("user3@cedar-law.example"); !slices.Contains(r, "Global Administrator") {
		t.Errorf("group-based GA missed: %v", r)
	}
	if r := roles("user4@cedar-law.example"); !slices.Equal(r, []string{"Helpdesk Administrator (scope /administrativeUnits/au-branch)"}) {
		t.Errorf("AU-scoped role: %v", r)
	}
	if r := roles("user5@cedar-law.example"); !slices.Equal(r, []string{"Global Administrator (eligible)"}) {
		t.Errorf("eligible role: %v", r)
	}
	cl := by["cedar-law"]
	if cl.EligibleAssignments != 1 || cl.GroupRoleAssignments != 1 || cl.ScopedAssignments != 1 || cl.DeletedPrincipals != 1 || cl.ForeignPrincipals != 1 {
		t.Errorf("cedar-law counts %+v", cl)
	}
	fp := find(fr.Identities, func(x estate.Identity) bool { return strings.HasPrefix(x.ID, "cedar-law/foreign/") })
	if fp == nil || fp.Owner != "foreign principal of tenant "+f.Partner {
		t.Errorf("foreign principal %+v", fp)
	}
	// No P2 licence on eligibility: no eligible assignment can exist, so
	// none is recorded and there is no gap (the role controls stay
	// evaluable), never an error.
	if r := by["small-shop"]; len(r.Errors) != 0 || !r.NoP2 || slices.ContainsFunc(r.Gaps, func(g estate.Gap) bool { return g.Evidence == EvRolesEligible }) {
		t.Errorf("small-shop %+v, want NoP2 and no eligibility gap", r)
	}

	// MFA enforcement.
	enforced := func(id string) string {
		x := identity(fr, id)
		switch {
		case x == nil:
			return "missing"
		case x.MFA.Enforced == nil:
			return "unknown"
		case *x.MFA.Enforced:
			return "yes"
		}
		return "no"
	}
	for id, want := range map[string]string{
		"user0@cedar-law.example":   "yes", // GA, covered by the admins policy
		"user3@cedar-law.example":   "yes", // GA through a role-assignable group
		"user6@cedar-law.example":   "no",  // report-only policy only
		"user3@small-shop.example":  "yes", // security defaults, no P1
		"user3@corner-cafe.example": "no",  // no P1, no security defaults
		"user3@device-shop.example": "no",  // MFA OR compliant device
	} {
		if got := enforced(id); got != want {
			t.Errorf("%s: MFA enforced %s, want %s", id, got, want)
		}
	}
	if r := by["small-shop"]; r.SecurityDefaults == nil || !*r.SecurityDefaults {
		t.Errorf("security defaults not read on their own: %+v", r)
	}
	if r := by["device-shop"]; r.CAPolicies != 1 || len(r.Gaps) != 0 {
		t.Errorf("CA throttled without Retry-After not retried: %+v", r)
	}

	// 400 on signInActivity: users kept, last sign-in a named gap.
	br := by["bad-request"]
	if br.Users != 5 || !slices.ContainsFunc(br.Gaps, func(g estate.Gap) bool {
		return g.Evidence == EvLastSignIn && strings.Contains(g.Reason, "HTTP 400")
	}) {
		t.Errorf("bad-request %+v", br)
	}

	// Sign-ins: long windows are split until they answer; the 403 names both permissions.
	b, _ := os.ReadFile(filepath.Join(sdir, "signins-slow-logs.jsonl"))
	if r := by["slow-logs"]; r.SignIns != 3 || len(r.Gaps) != 0 || bytes.Count(b, []byte("\n")) != 3 {
		t.Errorf("slow-logs %+v", r)
	}
	nd := by["no-directory"]
	if !slices.ContainsFunc(nd.Gaps, func(g estate.Gap) bool {
		return g.Evidence == EvSignIns && g.Permission == "AuditLog.Read.All + Directory.Read.All"
	}) || len(nd.Errors) != 0 {
		t.Errorf("no-directory %+v", nd)
	}
	if m := connector.MissingProvenance(fr); len(m) != 0 {
		t.Errorf("facts without provenance: %v", m)
	}
}

// TestDeltaRepeat: the second run reads users/delta only, applies the
// changes, and says in the provenance how old the sign-in activity is.
func TestDeltaRepeat(t *testing.T) {
	f := graphtest.NewServer(t, []graphtest.Tenant{{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 300,
		DeltaChanges: map[int]string{7: "removed", 8: "disabled"}}})
	c := testClient(t, f, nil, 4)
	st := &DeltaState{}
	first := testNow
	res1, err := Collect(context.Background(), c, Options{SkipPartner: true, Delta: true, DeltaState: st, Now: func() time.Time { return first }})
	if err != nil || res1.Tenants[0].Users != 300 || f.DeltaRounds.Load() != 0 {
		t.Fatalf("first run: %v %+v", err, res1.Tenants)
	}
	// The state survives a restart as JSON.
	b, _ := json.Marshal(st)
	st2 := &DeltaState{}
	if err := json.Unmarshal(b, st2); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls.Load()
	later := testNow.Add(time.Hour)
	res2, err := Collect(context.Background(), c, Options{SkipPartner: true, Delta: true, DeltaState: st2, Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	if f.DeltaRounds.Load() != 1 || res2.Tenants[0].Users != 299 {
		t.Fatalf("delta run: rounds %d, %+v", f.DeltaRounds.Load(), res2.Tenants)
	}
	fr := res2.Fragment
	if identity(fr, "user7@cedar-law.example") != nil {
		t.Error("removed user kept")
	}
	u8 := identity(fr, "user8@cedar-law.example")
	u0 := identity(fr, "user0@cedar-law.example")
	if u8 == nil || u8.IsEnabled() || u0 == nil || u0.LastSignIn == nil || !u0.Provenance.CollectedAt.Equal(first) || !strings.Contains(u0.Provenance.Source, "users/delta") {
		t.Errorf("delta users: %+v %+v", u8, u0)
	}
	// Users cost one batched call instead of three pages of 120.
	if full, delta := calls, f.Calls.Load()-calls; delta >= full {
		t.Errorf("delta run made %d calls, the full run %d", delta, full)
	}
}

func testKey(t *testing.T) connector.Secret {
	k := make([]byte, 32)
	rand.Read(k)
	return connector.Secret(base64.StdEncoding.EncodeToString(k))
}

// TestDelegatedGDAP: customer tokens come from the partner admin's
// refresh token (rotated and stored encrypted); a revoked one is reported
// per tenant as "sign in again".
func TestDelegatedGDAP(t *testing.T) {
	f := graphtest.NewServer(t, mixedTenants()[:2])
	f.RefreshTokens["rt-0"] = true
	path := filepath.Join(t.TempDir(), "graph-refresh-token")
	st, err := NewRefreshStore(path, testKey(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save("rt-0"); err != nil {
		t.Fatal(err)
	}
	newClient := func() *Client {
		c, err := New(Config{Authority: f.Srv.URL, GraphURL: f.Srv.URL, Now: func() time.Time { return testNow },
			Delegated: &Delegated{ClientID: "app-1", Partner: f.Partner, Store: st}, Credentials: Credentials{TenantID: f.Partner}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	res, err := Collect(context.Background(), newClient(), Options{Now: func() time.Time { return testNow }})
	if err != nil || res.Failed() != 0 || len(res.Tenants) != 3 {
		t.Fatalf("delegated run: %v %+v", err, res.Tenants)
	}
	// Reach is bounded by the customer's GDAP roles: a 403 there is a gap
	// naming them, not an application permission to consent.
	for _, r := range res.Tenants {
		if r.Tenant != "riverside-clinic" {
			continue
		}
		if len(r.Gaps) == 0 {
			t.Error("riverside-clinic: no gaps for its 403s")
		}
		for _, g := range r.Gaps {
			if g.Permission != "" && (!strings.Contains(g.Reason, "GDAP roles") || strings.Contains(g.Reason, "application permission")) {
				t.Errorf("delegated gap %s: %q", g.Evidence, g.Reason)
			}
		}
	}
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte("rt-")) {
		t.Fatal("refresh token stored in the clear")
	}
	rt, err := st.Load()
	if err != nil || rt == "rt-0" {
		t.Fatalf("refresh token not rotated: %v", err)
	}
	// Revoked (password reset): every tenant reports it, nothing panics.
	f.Revoked[string(rt)] = true
	_, err = Collect(context.Background(), newClient(), Options{Now: func() time.Time { return testNow }})
	if !errors.Is(err, ErrSignInAgain) || !strings.Contains(err.Error(), "AADSTS50173") {
		t.Fatalf("revoked refresh token: %v", err)
	}
	res, _ = Collect(context.Background(), newClient(), Options{Only: []string{graphtest.TenantGUID(0)}, Now: func() time.Time { return testNow }})
	if res.Failed() != 2 || !strings.Contains(strings.Join(res.Tenants[len(res.Tenants)-1].Errors, ""), "sign in again") {
		t.Errorf("per-tenant report: %+v", res.Tenants)
	}
	// A wrong key cannot read the store.
	other, _ := NewRefreshStore(path, testKey(t))
	if _, err := other.Load(); err == nil {
		t.Error("refresh token decrypted with another key")
	}
}

func TestDeviceSignIn(t *testing.T) {
	f := graphtest.NewServer(t, nil)
	f.DevicePending = 2
	st, _ := NewRefreshStore(filepath.Join(t.TempDir(), "rt"), testKey(t))
	var shown DeviceCode
	var waits int
	err := DeviceSignIn(context.Background(), Config{Authority: f.Srv.URL, GraphURL: f.Srv.URL, Credentials: Credentials{TenantID: f.Partner},
		Sleep: func(context.Context, time.Duration) error { waits++; return nil }}, "app-1", st, func(d DeviceCode) { shown = d })
	if err != nil || shown.UserCode != "FJL7KWBYQ" || waits != 3 {
		t.Fatalf("device sign-in: %v %+v waits %d", err, shown, waits)
	}
	if rt, err := st.Load(); err != nil || rt != "rt-1" {
		t.Fatalf("stored %v", err)
	}
}

// TestAssertionDefaultPS256: certificate assertions are PS256 with
// x5t#S256 unless RS256 is asked for.
func TestAssertionDefaultPS256(t *testing.T) {
	certPEM, keyPEM, _ := selfSigned(t)
	s, err := newAssertionSigner(Credentials{ClientID: "a", TenantID: "t", CertPEM: certPEM, KeyPEM: Secret(keyPEM)})
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := s.sign("https://login.microsoftonline.com/t/oauth2/v2.0/token", testNow)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	cb, _ := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[1])
	var hdr map[string]string
	var claims map[string]any
	json.Unmarshal(hb, &hdr)
	json.Unmarshal(cb, &claims)
	if hdr["alg"] != "PS256" || hdr["x5t#S256"] == "" || hdr["x5t"] != "" {
		t.Errorf("header %v", hdr)
	}
	// Clock skew: valid from five minutes before now.
	if nbf := int64(claims["nbf"].(float64)); nbf != testNow.Add(-5*time.Minute).Unix() {
		t.Errorf("nbf %d", nbf)
	}
}

// TestConsent: the helper creates the app's service principal and grants
// each permission, verifies by reading back, is idempotent, and reports
// (without changing anything) under --check; a partner without the GDAP
// role gets the 403 per tenant.
func TestConsent(t *testing.T) {
	f := graphtest.NewServer(t, []graphtest.Tenant{
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 1},
		{ID: graphtest.TenantGUID(1), Name: "Locked", Slug: "locked", Users: 1, NoAppAdmin: true},
	})
	f.RefreshTokens["rt-0"] = true
	st, _ := NewRefreshStore(filepath.Join(t.TempDir(), "rt"), testKey(t))
	st.Save("rt-0")
	c, err := New(Config{Authority: f.Srv.URL, GraphURL: f.Srv.URL, Delegated: &Delegated{ClientID: "admin-app", Partner: f.Partner, Store: st}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	chk := Consent(ctx, c, graphtest.TenantGUID(0), "app-1", CustomerPermissions, true)
	if chk.OK() || len(chk.Missing) != len(CustomerPermissions) || len(f.Consented(graphtest.TenantGUID(0))) != 0 {
		t.Fatalf("check before consent: %+v", chk)
	}
	r := Consent(ctx, c, graphtest.TenantGUID(0), "app-1", CustomerPermissions, false)
	if !r.OK() || !r.Created || len(r.Granted) != len(CustomerPermissions) {
		t.Fatalf("consent: %+v", r)
	}
	want := slices.Sorted(slices.Values(CustomerPermissions))
	if got := f.Consented(graphtest.TenantGUID(0)); !slices.Equal(got, want) {
		t.Errorf("granted %v want %v", got, want)
	}
	again := Consent(ctx, c, graphtest.TenantGUID(0), "app-1", CustomerPermissions, false)
	if !again.OK() || again.Created || len(again.Granted) != 0 || len(again.Present) != len(CustomerPermissions) {
		t.Errorf("second run not idempotent: %+v", again)
	}
	locked := Consent(ctx, c, graphtest.TenantGUID(1), "app-1", CustomerPermissions, false)
	if locked.OK() || !strings.Contains(locked.Error, "Authorization_RequestDenied") {
		t.Errorf("locked: %+v", locked)
	}
}

// BenchmarkDeltaRepeat200x500 measures a repeat run over 200 tenants × 500
// users after a full round with users/delta (50 ms latency per call, a 429
// with Retry-After: 1 every 50th request, 64 requests in flight): users
// cost one delta call per tenant instead of five pages of 120. Sign-in
// logs are not part of the repeat (serve polls them as events).
//
//	go test ./internal/collect/graph -run XXX -bench DeltaRepeat -benchtime=1x
func BenchmarkDeltaRepeat200x500(b *testing.B) {
	var tenants []graphtest.Tenant
	for i := range 200 {
		tenants = append(tenants, graphtest.Tenant{ID: graphtest.TenantGUID(i), Name: fmt.Sprintf("Customer %03d", i), Slug: fmt.Sprintf("customer-%03d", i), Users: 500,
			DeltaChanges: map[int]string{7: "disabled"}, CAThrottleOnce: true})
	}
	f := graphtest.NewServer(b, tenants)
	f.Latency = 50 * time.Millisecond
	f.ThrottleEvery = 50
	f.RetryAfter = "1"
	f.PageSize = 999
	const bound = 64
	newClient := func() *Client {
		c, err := New(Config{Credentials: Credentials{ClientID: "app-1", TenantID: f.Partner, Secret: Secret(f.Secret)},
			Authority: f.Srv.URL, GraphURL: f.Srv.URL, Concurrency: bound})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	st := &DeltaState{}
	start := time.Now()
	if res, err := Collect(context.Background(), newClient(), Options{Delta: true, DeltaState: st}); err != nil || res.Failed() != 0 {
		b.Fatalf("full round: %v", err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "full-wall-s")
	for b.Loop() {
		c := newClient()
		start, cpu0 := time.Now(), connectortest.ProcessCPU()
		var res *Result
		var err error
		// The repeat's own goroutines carry phase=repeat, the fake's
		// side=fake (connectortest): -test.cpuprofile then splits them
		// (go tool pprof -tags).
		pprof.Do(context.Background(), pprof.Labels("phase", "repeat"), func(ctx context.Context) {
			res, err = Collect(ctx, c, Options{Delta: true, DeltaState: st})
		})
		if err != nil || res.Failed() != 0 {
			b.Fatalf("repeat: %v %d", err, res.Failed())
		}
		b.ReportMetric(time.Since(start).Seconds(), "wall-s")
		b.ReportMetric((connectortest.ProcessCPU() - cpu0).Seconds(), "cpu-s(client+fake)")
		b.ReportMetric(float64(res.Stats.Calls), "calls")
		b.ReportMetric(float64(res.Stats.Throttled), "429s")
	}
	if f.DeltaRounds.Load() == 0 {
		b.Fatal("no delta round served")
	}
}
