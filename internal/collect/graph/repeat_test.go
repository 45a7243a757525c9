package graph

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// pathRecorder records the paths of the requests a client sends and can
// answer some itself.
type pathRecorder struct {
	mu    sync.Mutex
	paths []string
	base  http.RoundTripper
	// answer, when it returns a response, is sent instead of the server's.
	answer func(r *http.Request) *http.Response
}

func (p *pathRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	p.paths = append(p.paths, r.Method+" "+r.URL.Path)
	p.mu.Unlock()
	if p.answer != nil {
		if resp := p.answer(r); resp != nil {
			return resp, nil
		}
	}
	return p.base.RoundTrip(r)
}

func (p *pathRecorder) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.paths
	p.paths = nil
	return out
}

// TestRepeatReadsGroupsInBatch: a delta repeat reads the members of the
// groups that held roles (or that CA policies named) last time inside
// its first $batch, not one dependent call per group after it; roles
// through the group are still given.
func TestRepeatReadsGroupsInBatch(t *testing.T) {
	f := graphtest.NewServer(t, []graphtest.Tenant{{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 20,
		DeltaChanges: map[int]string{7: "disabled"}}})
	rec := &pathRecorder{base: http.DefaultTransport}
	newClient := func() *Client {
		c, err := New(Config{Credentials: Credentials{ClientID: "app-1", TenantID: f.Partner, Secret: Secret(f.Secret)},
			Authority: f.Srv.URL, GraphURL: f.Srv.URL, Concurrency: 4, HTTP: &http.Client{Transport: rec},
			Now: func() time.Time { return testNow }, Sleep: func(context.Context, time.Duration) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	st := &DeltaState{}
	o := Options{Delta: true, DeltaState: st, SkipPartner: true, Now: func() time.Time { return testNow }}
	if res, err := Collect(context.Background(), newClient(), o); err != nil || res.Failed() != 0 {
		t.Fatalf("full round: %v %+v", err, res)
	}
	full := rec.take()
	if !slices.ContainsFunc(full, func(p string) bool { return strings.HasSuffix(p, "/transitiveMembers") }) {
		t.Fatalf("the full round read no group members: %v", full)
	}
	if g := st.Tenants[graphtest.TenantGUID(0)].Groups; !slices.Contains(g, "grp-admins") {
		t.Fatalf("groups kept for the repeat: %v", g)
	}
	res, err := Collect(context.Background(), newClient(), o)
	if err != nil || res.Failed() != 0 {
		t.Fatalf("repeat: %v %+v", err, res)
	}
	repeat := rec.take()
	for _, p := range repeat {
		if strings.Contains(p, "/groups/") {
			t.Errorf("repeat read %s outside the $batch (all: %v)", p, repeat)
		}
	}
	// The customer costs a token and one $batch (the partner's GDAP
	// reads aside).
	var customer []string
	for _, p := range repeat {
		if !strings.Contains(p, "tenantRelationships") && !strings.Contains(p, f.Partner) {
			customer = append(customer, p)
		}
	}
	if want := []string{"POST /" + graphtest.TenantGUID(0) + "/oauth2/v2.0/token", "POST /v1.0/$batch"}; !slices.Equal(customer, want) {
		t.Errorf("repeat calls for the customer %v, want %v", customer, want)
	}
	if r := identity(res.Fragment, "user3@cedar-law.example"); r == nil || !slices.Contains(r.Roles, "Global Administrator") {
		t.Errorf("group-based role lost on the repeat: %+v", r)
	}
}

// TestBatchItemRetryAfter: an item of a $batch answered 429 with
// Retry-After is read again on its own only after that wait (Graph's
// throttling guidance for batches); a 200 body written before its id and
// status is still used.
func TestBatchItemRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var events []string
	log := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/oauth2/"):
			graphtest.WriteJSON(w, 200, map[string]any{"access_token": "t", "expires_in": 3600})
		case r.URL.Path == "/v1.0/$batch":
			log("batch")
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"responses":[
 {"body":{"value":[{"id":"d1","isVerified":true}]},"id":"1","status":200,"headers":{}},
 {"id":"0","status":429,"headers":{"retry-after":"3"},"body":{"error":{"code":"TooManyRequests","message":"slow down"}}}]}`)
		default:
			log("GET " + r.URL.Path)
			graphtest.WriteJSON(w, 200, map[string]any{"value": []any{map[string]any{"id": "u1"}}})
		}
	}))
	defer srv.Close()
	c, err := New(Config{Credentials: Credentials{ClientID: "a", TenantID: "p", Secret: "s"}, Authority: srv.URL, GraphURL: srv.URL,
		Sleep: func(_ context.Context, d time.Duration) error { log(fmt.Sprintf("sleep %v", d)); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pre := c.batch(ctx, "T", []batchItem{pageItem[DirectoryObject]("/v1.0/users"), pageItem[Domain]("/v1.0/domains")})
	var users, domains []string
	if _, err := listPre(ctx, c, "T", "/v1.0/users", pre, func(o DirectoryObject) error { users = append(users, o.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := listPre(ctx, c, "T", "/v1.0/domains", pre, func(d Domain) error { domains = append(domains, d.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"batch", "sleep 3s", "GET /v1.0/users"}; !slices.Equal(events, want) {
		t.Errorf("events %v, want %v", events, want)
	}
	if !slices.Equal(users, []string{"u1"}) || !slices.Equal(domains, []string{"d1"}) {
		t.Errorf("users %v domains %v", users, domains)
	}
	if st := c.Stats(); st.Throttled != 1 {
		t.Errorf("throttled %d, want the batch item counted", st.Throttled)
	}
}

// TestAccessAssignmentsDoNotHoldCustomers: a throttled GDAP access
// assignment read (waiting on its Retry-After) does not hold back the
// customers' collection: their $batch calls are made while it waits.
func TestAccessAssignmentsDoNotHoldCustomers(t *testing.T) {
	var tenants []graphtest.Tenant
	for i := range 3 {
		tenants = append(tenants, graphtest.Tenant{ID: graphtest.TenantGUID(i), Name: fmt.Sprintf("Customer %d", i), Slug: fmt.Sprintf("customer-%d", i), Users: 3})
	}
	f := graphtest.NewServer(t, tenants)
	var once sync.Once
	rec := &pathRecorder{base: http.DefaultTransport, answer: func(r *http.Request) *http.Response {
		var resp *http.Response
		if strings.HasSuffix(r.URL.Path, "/accessAssignments") {
			once.Do(func() {
				resp = &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"1"}, "Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(`{"error":{"code":"TooManyRequests","message":"x"}}`)), Request: r}
			})
		}
		return resp
	}}
	sawBatches := false
	c, err := New(Config{Credentials: Credentials{ClientID: "app-1", TenantID: f.Partner, Secret: Secret(f.Secret)},
		Authority: f.Srv.URL, GraphURL: f.Srv.URL, Concurrency: 4, HTTP: &http.Client{Transport: rec}, Now: func() time.Time { return testNow },
		Sleep: func(ctx context.Context, _ time.Duration) error {
			// The access-assignment retry waits until every customer's
			// batch was sent (a guard ends the wait if they never are).
			for range 1000 {
				if f.Batches.Load() >= int64(len(tenants)) {
					sawBatches = true
					return nil
				}
				time.Sleep(10 * time.Millisecond)
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Collect(context.Background(), c, Options{SkipPartner: true, Now: func() time.Time { return testNow }})
	if err != nil || res.Failed() != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	if !sawBatches {
		t.Errorf("customers waited for the access assignments (%d batches while one was throttled)", f.Batches.Load())
	}
	if len(res.Fragment.Grants) == 0 {
		t.Errorf("no GDAP grants after the retried access assignments")
	}
}

// TestBatchAnswerDecode: the $batch envelope is decoded in one pass; a
// body of another shape leaves only its item to be read on its own;
// truncated JSON fails the whole answer (every item is then read on its
// own, with retries).
func TestBatchAnswerDecode(t *testing.T) {
	items := []batchItem{pageItem[Domain]("/a"), getItem[SecurityDefaults]("/b"), pageItem[Domain]("/c")}
	a := &batchAnswer{chunk: items}
	err := a.DecodeJSONBody([]byte(`{"responses":[
 {"id":"2","status":200,"headers":{"Content-Type":"application/json"},"body":"<html>not a page</html>"},
 {"id":"1","status":200,"body":{"isEnabled":true,"id":"00000000-0000-0000-0000-000000000005"}},
 {"id":"0","status":200,"body":{"value":[{"id":"a.example","isVerified":true}],"@odata.nextLink":"/a?$skiptoken=1"}},
 {"id":"9","status":200,"body":{}}],"@odata.context":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := a.parts[0].dst.(*page[Domain]); !ok || len(p.Value) != 1 || p.Value[0].ID != "a.example" || p.NextLink != "/a?$skiptoken=1" {
		t.Errorf("page %+v", a.parts[0])
	}
	if sd, ok := a.parts[1].dst.(*SecurityDefaults); !ok || !sd.IsEnabled {
		t.Errorf("object %+v", a.parts[1])
	}
	if !a.parts[2].seen || a.parts[2].dst != nil {
		t.Errorf("a string body decoded into a page: %+v", a.parts[2])
	}
	for _, bad := range []string{`{"responses":[{"id":"0","status":200,"body":{"value":[`, `{"responses":[]} x`, `[]`} {
		if err := (&batchAnswer{chunk: items}).DecodeJSONBody([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// TestRepeatingPagesPerTenant: a tenant whose users' next link keeps
// pointing at a page already read stops with ErrRepeatingPage, reported
// for that tenant as an identities gap; the other tenant is collected in
// full.
func TestRepeatingPagesPerTenant(t *testing.T) {
	looping, fine := graphtest.TenantGUID(0), graphtest.TenantGUID(1)
	f := graphtest.NewServer(t, []graphtest.Tenant{{ID: looping, Name: "Loop Inc", Slug: "loop-inc", Users: 300},
		{ID: fine, Name: "Fine Ltd", Slug: "fine-ltd", Users: 300}})
	rec := &pathRecorder{base: http.DefaultTransport}
	rec.answer = func(r *http.Request) *http.Response {
		// The fake's tokens name their tenant: the looping tenant's later
		// users pages all link back to the second page.
		if r.URL.Path != "/v1.0/users" || r.URL.Query().Get("$skiptoken") == "" || !strings.Contains(r.Header.Get("Authorization"), looping) {
			return nil
		}
		self := f.Srv.URL + "/v1.0/users?$skiptoken=120&$sia=1"
		body := fmt.Sprintf(`{"value":[{"id":"x-%s","userPrincipalName":"x@loop-inc.example"}],"@odata.nextLink":%q}`, r.URL.Query().Get("$skiptoken"), self)
		return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}
	}
	c, err := New(Config{Credentials: Credentials{ClientID: "app-1", TenantID: f.Partner, Secret: Secret(f.Secret)},
		Authority: f.Srv.URL, GraphURL: f.Srv.URL, Concurrency: 4, HTTP: &http.Client{Transport: rec}, Now: func() time.Time { return testNow },
		Sleep: func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Collect(context.Background(), c, Options{SkipPartner: true, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]TenantResult{}
	for _, r := range res.Tenants {
		by[r.Tenant] = r
	}
	lr := by["loop-inc"]
	if !slices.ContainsFunc(lr.Gaps, func(g estate.Gap) bool {
		return g.Evidence == EvIdentities && strings.Contains(g.Reason, connector.ErrRepeatingPage.Error())
	}) {
		t.Errorf("looping tenant: %+v", lr)
	}
	if fr := by["fine-ltd"]; fr.Users != 300 || len(fr.Errors) != 0 {
		t.Errorf("the other tenant lost: %+v", fr)
	}
}

// TestDeltaFullReadDaily: with Delta, runs read only the users/delta
// changes until the last full read is FullEvery (24h) old; then users are
// read in full again (signInActivity, which delta cannot give), so last
// sign-ins do not age into "stale" under repeated delta runs.
func TestDeltaFullReadDaily(t *testing.T) {
	f := graphtest.NewServer(t, []graphtest.Tenant{{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 20,
		DeltaChanges: map[int]string{7: "disabled"}}})
	st := &DeltaState{}
	run := func(at time.Time) *Result {
		t.Helper()
		res, err := Collect(context.Background(), testClient(t, f, nil, 4), Options{Delta: true, DeltaState: st, SkipPartner: true, Now: func() time.Time { return at }})
		if err != nil || res.Failed() != 0 {
			t.Fatalf("run at %v: %v %+v", at, err, res)
		}
		return res
	}
	run(testNow)
	run(testNow.Add(time.Hour))
	if n := f.DeltaRounds.Load(); n != 1 {
		t.Fatalf("delta rounds after a repeat within a day: %d", n)
	}
	if u := identity(run(testNow.Add(2*time.Hour)).Fragment, "user0@cedar-law.example"); u == nil || !strings.Contains(u.Provenance.Source, "users/delta") {
		t.Fatalf("repeat within a day: %+v", u)
	}
	later := testNow.Add(25 * time.Hour)
	res := run(later)
	if n := f.DeltaRounds.Load(); n != 2 {
		t.Errorf("the run a day later read users/delta changes (%d rounds) instead of a full read", n)
	}
	if u := identity(res.Fragment, "user0@cedar-law.example"); u == nil || strings.Contains(u.Provenance.Source, "users/delta") || !u.Provenance.CollectedAt.Equal(later) {
		t.Errorf("after a day: %+v", u)
	}
	if d := st.Tenants[graphtest.TenantGUID(0)]; d == nil || !d.FullAt.Equal(later) || d.Link == "" {
		t.Errorf("delta state after the full read: %+v", d)
	}
}
