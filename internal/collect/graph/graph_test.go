package graph

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/collect"
	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
	"github.com/firebreak-msp/firebreak/internal/connector/connectortest"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

var testNow = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func testClient(t testing.TB, f *graphtest.Server, log *slog.Logger, conc int) *Client {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := New(Config{
		Credentials: Credentials{ClientID: "app-1", TenantID: f.Partner, Secret: Secret(f.Secret)},
		Authority:   f.Srv.URL, GraphURL: f.Srv.URL, Concurrency: conc, Log: log,
		Now: func() time.Time { return testNow }, BaseBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mixedTenants() []graphtest.Tenant {
	return []graphtest.Tenant{
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 250, GlobalAdmin: true},
		{ID: graphtest.TenantGUID(1), Name: "Riverside Clinic", Slug: "riverside-clinic", Users: 12,
			Forbid: map[string]string{
				"/v1.0/reports/authenticationMethods": "Authorization_RequestDenied",
				"/v1.0/auditLogs/signIns":             "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
				"/v1.0/identity/conditionalAccess":    "AccessDenied",
			}},
		{ID: graphtest.TenantGUID(2), Name: "Oakfield School", Slug: "oakfield-school", Users: 5,
			TokenError: "AADSTS700016: Application with identifier 'app-1' was not found in the directory 'Oakfield School'."},
		{ID: graphtest.TenantGUID(3), Name: "Pier 9 Freight", Slug: "pier-9-freight", Users: 5, HTMLUsers: true},
		{ID: graphtest.TenantGUID(4), Name: "Summit Accounting", Slug: "summit-accounting", Users: 30, ExpireOnce: true},
		{ID: graphtest.TenantGUID(5), Name: "Old Customer", Slug: "old-customer", Users: 3, RelStatus: "terminated"},
	}
}

func TestCollect(t *testing.T) {
	f := graphtest.NewServer(t, mixedTenants())
	f.ThrottleEvery = 7 // some 429s everywhere
	c := testClient(t, f, nil, 4)
	hand := &estate.Estate{Tenants: []estate.Tenant{{ID: "cedar-law", Name: "Cedar Law LLP", EntraTenantID: graphtest.TenantGUID(0)}},
		Identities: []estate.Identity{{ID: "tech-01", UPN: "Tech1@harbourview-it.example", Kind: estate.KindHuman, Home: "msp"}}}
	sdir := t.TempDir()
	res, err := Collect(context.Background(), c, Options{Estate: hand, SignInDir: sdir, Now: func() time.Time { return testNow }, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	byTenant := map[string]TenantResult{}
	for _, r := range res.Tenants {
		byTenant[r.Tenant] = r
	}
	type summary struct {
		Users, MFA, Foreign, Tools, SignIns int
		Gaps                                []string
		Failed                              bool
	}
	sum := func(id string) summary {
		r := byTenant[id]
		s := summary{Users: r.Users, MFA: r.MFARegistered, Foreign: r.ForeignPrincipals, Tools: r.ToolApps, SignIns: r.SignIns, Failed: len(r.Errors) > 0}
		for _, g := range r.Gaps {
			s.Gaps = append(s.Gaps, g.Evidence+"|"+g.Permission)
		}
		slices.Sort(s.Gaps)
		return s
	}
	got := map[string]summary{}
	for _, id := range []string{"msp", "cedar-law", "riverside-clinic", "oakfield-school", "pier-9-freight", "summit-accounting"} {
		got[id] = sum(id)
	}
	want := map[string]summary{
		"msp":              {Users: 3, MFA: 2, Foreign: 1, Tools: 1, SignIns: 3},
		"cedar-law":        {Users: 250, MFA: 167, Foreign: 1, Tools: 2, SignIns: 3},
		"riverside-clinic": {Users: 12, Foreign: 1, Tools: 2, Gaps: []string{"identities.mfa.enforced|Policy.Read.All", "identities.mfa.methods|AuditLog.Read.All", "signins|"}},
		"oakfield-school":  {Gaps: []string{"tenant|"}, Failed: true},
		// principalOrganizationId identifies the partner's principal even when users cannot be read.
		"pier-9-freight":    {Foreign: 1, MFA: 4, Tools: 2, SignIns: 3, Gaps: []string{"identities|"}, Failed: true},
		"summit-accounting": {Users: 30, MFA: 20, Foreign: 1, Tools: 2, SignIns: 3},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("per-tenant results (-got +want):\n%s", diff)
	}
	if _, ok := byTenant["old-customer"]; ok {
		t.Error("terminated relationship's customer was collected")
	}
	if res.Relationships != 6 {
		t.Errorf("relationships %d", res.Relationships)
	}
	// Six tokens (partner, five customers, one of which fails) plus exactly one
	// refresh after the expired token, however many requests saw the 401.
	if st := res.Stats; st.Throttled == 0 || st.Refreshes < 1 || st.TokenCalls != 7 || st.MaxInFlight > 4 {
		t.Errorf("stats %+v", st)
	}

	fr := res.Fragment
	// The hand-written tenant is not redefined; the others are added.
	var tenants []string
	for _, tn := range fr.Tenants {
		tenants = append(tenants, tn.ID)
	}
	if diff := cmp.Diff(tenants, []string{"oakfield-school", "old-customer", "pier-9-freight", "riverside-clinic", "summit-accounting"}); diff != "" {
		t.Errorf("tenants (-got +want):\n%s", diff)
	}
	if !slices.Contains(res.Skipped, "cedar-law") || !slices.Contains(res.Skipped, "tech-01") {
		t.Errorf("skipped %v", res.Skipped)
	}
	for _, tn := range fr.Tenants {
		if tn.ID == "riverside-clinic" && !slices.Equal(tn.Domains, []string{"riverside-clinic.example"}) {
			t.Errorf("domains %v", tn.Domains)
		}
	}
	tool := find(fr.Tools, func(x estate.Tool) bool { return x.ID == "gdap-cedar-law" })
	if tool == nil || tool.GDAP == nil || tool.GDAP.AutoExtend == nil || !*tool.GDAP.AutoExtend || !slices.Contains(tool.GDAP.Roles, "Global Administrator") ||
		tool.GDAP.EndDate.Format(time.DateOnly) != "2027-01-02" || tool.Provenance == nil || !tool.Provenance.CollectedAt.Equal(testNow) {
		t.Errorf("gdap tool %+v", tool)
	}
	grp := find(fr.Groups, func(x estate.Group) bool { return x.Name == "M365 GDAP Helpdesk Administrator" })
	// tech1 is defined by hand as tech-01 (same UPN): membership points at it.
	if grp == nil || !slices.Equal(grp.Members, []string{"tech0@harbourview-it.example", "tech-01"}) {
		t.Errorf("access group %+v", grp)
	}
	admin := find(fr.Identities, func(x estate.Identity) bool { return x.ID == "user0@cedar-law.example" })
	if admin == nil || admin.MFA.Enforced == nil || !*admin.MFA.Enforced || admin.MFA.Strength() != estate.MFAPhishingResistant ||
		!slices.Equal(admin.Roles, []string{"Global Administrator"}) || admin.LastSignIn.Format(time.DateOnly) != "2026-11-25" {
		t.Errorf("admin %+v", admin)
	}
	plain := find(fr.Identities, func(x estate.Identity) bool { return x.ID == "user6@cedar-law.example" })
	if plain == nil || plain.MFA.Enforced == nil || *plain.MFA.Enforced { // report-only policy does not enforce
		t.Errorf("plain user %+v", plain)
	}
	// Without registration details the MFA state stays unknown: not-evaluable, never a false fail.
	rc := find(fr.Identities, func(x estate.Identity) bool { return x.ID == "user3@riverside-clinic.example" })
	if rc == nil || rc.MFA.Enforced != nil || rc.MFA.Methods != nil {
		t.Errorf("riverside user %+v", rc)
	}
	foreign := find(fr.Identities, func(x estate.Identity) bool { return strings.HasPrefix(x.ID, "cedar-law/foreign/") })
	if foreign == nil || !slices.Equal(foreign.Roles, []string{"Helpdesk Administrator"}) {
		t.Errorf("foreign principal %+v", foreign)
	}
	grant := find(fr.Grants, func(x estate.Grant) bool { return x.Target == "cedar-law" })
	if grant == nil || grant.Subject != groupID("11111111-2222-4333-8444-555555555555") || grant.Privilege != estate.PrivAdmin || grant.Via != "gdap-cedar-law" {
		t.Errorf("grant %+v", grant)
	}

	// Sign-ins written as JSON lines per tenant.
	b, err := os.ReadFile(filepath.Join(sdir, "signins-cedar-law.jsonl"))
	if err != nil || bytes.Count(b, []byte("\n")) != 3 || !bytes.Contains(b, []byte(`"errorCode":50126`)) {
		t.Errorf("sign-ins file: %v %q", err, b)
	}

	// The fragment merges with a hand-written estate through estate.Load.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "estate.yaml"), []byte("provider:\n  id: msp\n  name: Harbourview IT Services\ntenants:\n  - id: cedar-law\n    name: Cedar Law LLP\n    entra_tenant_id: "+graphtest.TenantGUID(0)+"\nidentities:\n  - {id: tech-01, upn: Tech1@harbourview-it.example, kind: human, home: msp}\n"), 0o644)
	if _, err := collect.WriteFragment(dir, "graph.yaml", "graph", testNow, fr); err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatalf("merged estate does not load: %v", err)
	}
	if len(e.Identities) != len(fr.Identities)+1 || len(e.CollectionGap) != len(fr.CollectionGap) {
		t.Errorf("merged %d identities %d gaps, fragment %d %d", len(e.Identities), len(e.CollectionGap), len(fr.Identities), len(fr.CollectionGap))
	}
	var prov *estate.Provenance
	for _, x := range e.Identities {
		if x.ID == "user0@cedar-law.example" {
			prov = x.Provenance
		}
	}
	if prov == nil || !prov.CollectedAt.Equal(testNow) || prov.Source != "graph:"+graphtest.TenantGUID(0) {
		t.Errorf("provenance after load: %+v", prov)
	}
}

func find[T any](xs []T, ok func(T) bool) *T {
	for i := range xs {
		if ok(xs[i]) {
			return &xs[i]
		}
	}
	return nil
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSecretNeverLogged(t *testing.T) {
	f := graphtest.NewServer(t, mixedTenants()[:3])
	f.ThrottleEvery = 5
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := testClient(t, f, log, 2)
	res, err := Collect(context.Background(), c, Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("config", "credentials", c.cfg.Credentials, "secret", c.cfg.Credentials.Secret)
	js, _ := json.Marshal(res)
	cj, _ := json.Marshal(c.cfg.Credentials)
	out := logs.String() + string(js) + string(cj) + fmt.Sprintf("%v %+v %#v %s", c.cfg, c.cfg.Credentials, c.cfg.Credentials, c.cfg.Credentials.Secret)
	for _, tn := range res.Tenants {
		out += strings.Join(tn.Errors, "\n")
	}
	if strings.Contains(out, f.Secret) {
		t.Fatalf("client secret leaked into logs or output")
	}
	if !strings.Contains(logs.String(), "retrying") || !strings.Contains(out, "[REDACTED]") {
		t.Errorf("expected debug retry logs and redaction marks; logs:\n%s", logs.String())
	}
	// Bearer tokens are not logged either.
	if strings.Contains(logs.String(), "tok-") {
		t.Error("access token leaked into logs")
	}
}

func TestWrongSecret(t *testing.T) {
	f := graphtest.NewServer(t, mixedTenants()[:1])
	c, _ := New(Config{Credentials: Credentials{ClientID: "app-1", TenantID: f.Partner, Secret: "wrong"}, Authority: f.Srv.URL, GraphURL: f.Srv.URL})
	_, err := Collect(context.Background(), c, Options{})
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_client" || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("got %v", err)
	}
}

func selfSigned(t testing.TB) (certPEM, keyPEM []byte, pub *rsa.PublicKey) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "firebreak"}, NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k8, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8}), &key.PublicKey
}

func TestCertificateAuth(t *testing.T) {
	certPEM, keyPEM, pub := selfSigned(t)
	for _, alg := range []string{"RS256", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			f := graphtest.NewServer(t, mixedTenants()[:1])
			f.CertKey = pub
			c, err := New(Config{Credentials: Credentials{ClientID: "app-1", TenantID: f.Partner, CertPEM: certPEM, KeyPEM: Secret(keyPEM), Alg: alg},
				Authority: f.Srv.URL, GraphURL: f.Srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Collect(context.Background(), c, Options{SkipPartner: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Failed() != 0 || res.Tenants[0].Users != 250 {
				t.Errorf("%+v", res.Tenants)
			}
		})
	}
	// A key that does not belong to the certificate is refused up front.
	_, otherKey, _ := selfSigned(t)
	if _, err := New(Config{Credentials: Credentials{ClientID: "a", TenantID: "t", CertPEM: certPEM, KeyPEM: Secret(otherKey)}}); err == nil {
		t.Error("mismatched key accepted")
	}
}

func TestRetryBounded(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/oauth2/") {
			graphtest.WriteJSON(w, 200, map[string]any{"access_token": "t", "expires_in": 3600})
			return
		}
		calls++
		switch r.URL.Path {
		case "/v1.0/always429":
			w.Header().Set("Retry-After", "7")
			graphtest.GraphError(w, 429, "TooManyRequests", "slow down")
		case "/v1.0/always503":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			fmt.Fprint(w, "<html>Service Unavailable</html>")
		case "/v1.0/forbidden":
			graphtest.GraphError(w, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
		case "/v1.0/truncated":
			w.Write([]byte(`{"value":[{"id":"1"},`))
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	c, _ := New(Config{Credentials: Credentials{ClientID: "a", TenantID: "t", Secret: "s"}, Authority: srv.URL, GraphURL: srv.URL, MaxAttempts: 4,
		BaseBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second, Seed: 3,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }})
	var v any
	err := c.Get(context.Background(), "t", "/v1.0/always429", &v)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 429 || calls != 4 {
		t.Fatalf("429: err %v calls %d", err, calls)
	}
	// Retry-After (7 s) is honoured up to MaxBackoff.
	if diff := cmp.Diff(waits, []time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second}); diff != "" {
		t.Errorf("waits (-got +want):\n%s", diff)
	}
	calls, waits = 0, nil
	err = c.Get(context.Background(), "t", "/v1.0/always503", &v)
	if !errors.As(err, &ae) || ae.Status != 503 || ae.Code != "NonJSONError" || calls != 4 {
		t.Fatalf("503: err %v calls %d", err, calls)
	}
	for i, w := range waits { // exponential backoff with full jitter, between 0 and d
		d := 100 * time.Millisecond << i
		if w < 0 || w > d {
			t.Errorf("backoff %d = %v, want in [0,%v]", i, w, d)
		}
	}
	err = c.Get(context.Background(), "t", "/v1.0/forbidden", &v)
	if !errors.As(err, &ae) || !ae.Forbidden() || ae.RequestID != "req-123" {
		t.Fatalf("403: %v", err)
	}
	// Truncated JSON is retried (a cut connection), then reported naming the call.
	calls = 0
	err = c.Get(context.Background(), "t", "/v1.0/truncated", &v)
	if err == nil || !strings.Contains(err.Error(), "/v1.0/truncated") || !strings.Contains(err.Error(), "decoding JSON") || calls != 4 {
		t.Fatalf("truncated: %v (calls %d)", err, calls)
	}
}

func TestConcurrencyBound(t *testing.T) {
	var tenants []graphtest.Tenant
	for i := range 20 {
		tenants = append(tenants, graphtest.Tenant{ID: graphtest.TenantGUID(i), Name: fmt.Sprintf("T%d", i), Slug: fmt.Sprintf("t%d", i), Users: 150})
	}
	f := graphtest.NewServer(t, tenants)
	f.Latency = 2 * time.Millisecond
	f.ThrottleEvery = 11
	c := testClient(t, f, nil, 5)
	res, err := Collect(context.Background(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed() != 0 {
		t.Fatalf("failures: %+v", res.Tenants)
	}
	if got := f.MaxSeen.Load(); got > 5 || res.Stats.MaxInFlight > 5 {
		t.Errorf("max in flight: server saw %d, client %d, bound 5", got, res.Stats.MaxInFlight)
	}
	if res.Stats.MaxInFlight < 2 {
		t.Errorf("no concurrency at all: %d", res.Stats.MaxInFlight)
	}
	if res.Stats.Calls != f.Calls.Load() {
		t.Errorf("client counted %d calls, server %d", res.Stats.Calls, f.Calls.Load())
	}
}

func TestPlan(t *testing.T) {
	p := strings.Join(Plan(Options{SignInDir: "x"}), "\n")
	for _, perm := range []string{PermGDAP, PermAuditLog, PermPolicy, PermRoles, PermApps, PermUsers} {
		if !strings.Contains(p, perm) {
			t.Errorf("plan does not name %s", perm)
		}
	}
}

func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(`{"value":[{"id":"1","accountEnabled":true,"signInActivity":{"lastSignInDateTime":"2026-01-01T00:00:00Z"}}],"@odata.nextLink":"x"}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p page[User]
		if json.Unmarshal(b, &p) == nil {
			for _, u := range p.Value {
				if u.SignInActivity != nil {
					if ts, ok := parseTime(u.SignInActivity.LastSignInDateTime); ok && ts.Year() < 1900 {
						t.Fatalf("accepted %v", ts)
					}
				}
			}
		}
		var ps page[ConditionalAccessPolicy]
		if json.Unmarshal(b, &ps) == nil {
			for _, x := range ps.Value {
				if e, k := mfaRequired([]ConditionalAccessPolicy{x}, caUser{ID: "u", Roles: []string{RoleGlobalAdmin}, RolesOK: true, Groups: &caGroups{members: map[string]map[string]bool{"g": {"u": true}}}}); e && !k {
					t.Fatal("enforced but unknown")
				}
			}
		}
	})
}

// BenchmarkCollect200x500 collects 200 tenants × 500 users from the fake
// server with 50 ms latency per call, a 429 (Retry-After: 1) on every
// 50th request and one 429 without Retry-After on each tenant's CA
// policies, at a concurrency bound of 32. Run with -benchtime=1x:
//
//	go test ./internal/collect/graph -run XXX -bench Collect200 -benchtime=1x
func BenchmarkCollect200x500(b *testing.B) {
	var tenants []graphtest.Tenant
	for i := range 200 {
		// CA's documented 1 request/s per tenant: the first CA call of
		// every tenant is answered 429 without Retry-After.
		tenants = append(tenants, graphtest.Tenant{ID: graphtest.TenantGUID(i), Name: fmt.Sprintf("Customer %03d", i), Slug: fmt.Sprintf("customer-%03d", i), Users: 500, CAThrottleOnce: true})
	}
	f := graphtest.NewServer(b, tenants)
	f.Latency = 50 * time.Millisecond
	f.ThrottleEvery = 50
	f.RetryAfter = "1"
	f.PageSize = 999
	const bound = 32
	for b.Loop() {
		f.Calls.Store(0)
		f.MaxSeen.Store(0)
		c, err := New(Config{Credentials: Credentials{ClientID: "app-1", TenantID: f.Partner, Secret: Secret(f.Secret)},
			Authority: f.Srv.URL, GraphURL: f.Srv.URL, Concurrency: bound})
		if err != nil {
			b.Fatal(err)
		}
		start, cpu0 := time.Now(), connectortest.ProcessCPU()
		res, err := Collect(context.Background(), c, Options{SignInDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		users := 0
		for _, t := range res.Tenants {
			users += t.Users
		}
		if res.Failed() != 0 || users != 200*500+3 {
			b.Fatalf("failed %d users %d", res.Failed(), users)
		}
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric((connectortest.ProcessCPU() - cpu0).Seconds(), "cpu-s(client+fake)")
		b.ReportMetric(float64(res.Stats.Calls), "calls")
		b.ReportMetric(float64(res.Stats.Throttled), "429s")
		b.ReportMetric(float64(res.Stats.MaxInFlight), "max-inflight")
		b.ReportMetric(float64(f.MaxSeen.Load()), "server-max-inflight")
		b.ReportMetric(bound, "bound")
		if res.Stats.MaxInFlight > bound || f.MaxSeen.Load() > bound {
			b.Fatalf("concurrency bound exceeded: %d/%d > %d", res.Stats.MaxInFlight, f.MaxSeen.Load(), bound)
		}
	}
}

func TestTokenRetryAndHints(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/oauth2/") {
			n++
			switch {
			case strings.HasPrefix(r.URL.Path, "/busy/") && n < 3:
				w.Header().Set("Retry-After", "2")
				graphtest.WriteJSON(w, 429, map[string]any{"error": "temporarily_unavailable", "error_description": "AADSTS50196: The server terminated an operation because it encountered a client request loop."})
			case strings.HasPrefix(r.URL.Path, "/noconsent/"):
				graphtest.WriteJSON(w, 400, map[string]any{"error": "unauthorized_client", "error_description": "AADSTS700016: Application with identifier 'a' was not found in the directory 'X'.\r\nTrace ID: 1"})
			case strings.HasPrefix(r.URL.Path, "/html/"):
				w.WriteHeader(502)
				fmt.Fprint(w, "<html>Bad Gateway</html>")
			default:
				graphtest.WriteJSON(w, 200, map[string]any{"access_token": "t", "expires_in": 3600})
			}
			return
		}
		graphtest.WriteJSON(w, 200, map[string]any{"value": []any{}})
	}))
	defer srv.Close()
	var waits []time.Duration
	c, _ := New(Config{Credentials: Credentials{ClientID: "a", TenantID: "p", Secret: "s"}, Authority: srv.URL, GraphURL: srv.URL, MaxAttempts: 3,
		BaseBackoff: time.Millisecond, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }})
	var v any
	if err := c.Get(context.Background(), "busy", "/v1.0/x", &v); err != nil || n != 3 || !slices.Equal(waits, []time.Duration{2 * time.Second, 2 * time.Second}) {
		t.Fatalf("busy: %v calls %d waits %v", err, n, waits)
	}
	n = 0
	err := c.Get(context.Background(), "noconsent", "/v1.0/x", &v)
	var te *TokenError
	if !errors.As(err, &te) || n != 1 || !strings.Contains(err.Error(), "not consented in this tenant") || strings.Contains(err.Error(), "Trace ID") {
		t.Fatalf("noconsent: %v (calls %d)", err, n)
	}
	n = 0
	err = c.Get(context.Background(), "html", "/v1.0/x", &v)
	if !errors.As(err, &te) || te.Code != "non_json_response" || n != 3 {
		t.Fatalf("html: %v (calls %d)", err, n)
	}
}

func TestSignInCap(t *testing.T) {
	f := graphtest.NewServer(t, mixedTenants()[:1])
	c := testClient(t, f, nil, 2)
	dir := t.TempDir()
	res, err := Collect(context.Background(), c, Options{SignInDir: dir, SignInMax: 2, SkipPartner: true, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Tenants[0]
	b, _ := os.ReadFile(filepath.Join(dir, "signins-cedar-law.jsonl"))
	if r.SignIns != 2 || !r.SignInsTruncated || bytes.Count(b, []byte("\n")) != 2 {
		t.Errorf("%+v, %d lines", r, bytes.Count(b, []byte("\n")))
	}
}

func TestTenantIDMapping(t *testing.T) {
	col := &collector{o: Options{Estate: &estate.Estate{Tenants: []estate.Tenant{
		{ID: "cedar-law", Name: "Cedar Law LLP", EntraTenantID: "aaaaaaaa-0000-4000-8000-000000000001"},
		{ID: "oak", Name: "Oakfield School"},
		{ID: "pier-9", Name: "Pier Nine"},
	}}}}
	tests := []struct{ entra, name, want string }{
		{"AAAAAAAA-0000-4000-8000-000000000001", "Anything", "cedar-law"},           // by Entra id
		{"bbbbbbbb-0000-4000-8000-000000000002", "oakfield school", "oak"},          // by name
		{"cccccccc-0000-4000-8000-000000000003", "Cedar Law", "cedar-law-cccccccc"}, // slug taken by another Entra tenant
		{"dddddddd-0000-4000-8000-000000000004", "Pier 9!", "pier-9"},               // slug of an unlinked hand tenant
		{"eeeeeeee-0000-4000-8000-000000000005", "***", "tenant-eeeeeeee-0000-4000-8000-000000000005"},
	}
	for _, tt := range tests {
		if got := col.tenantID(tt.entra, tt.name); got != tt.want {
			t.Errorf("tenantID(%s, %q) = %q, want %q", tt.entra, tt.name, got, tt.want)
		}
	}
}
