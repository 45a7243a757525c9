package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/intake"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// Tenant B's data carries this marker everywhere; a tenant-A caller must
// never see it.
const (
	tenantA = "alpha-co"
	tenantB = "bravo-co"
	markerB = "bravo"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t      *testing.T
	srv    *Server
	ts     *httptest.Server
	st     store.Store
	clk    *clock
	users  map[string]string // username -> TOTP secret
	pw     map[string]string
	tokenA string
	tokenB string
	incA   string
	incB   string
	incX   string // cross-tenant A+B
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureOn(t, st)
}

// newFixtureOn is newFixture on st (closed when the test ends).
func newFixtureOn(t *testing.T, st store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Ingest.MaxBodyBytes = 64 << 10
	cfg.Auth.LoginRatePerMin = 1000
	cfg.Notify.AllowNetworks = []string{"127.0.0.0/8", "::1/128"} // the tests' webhooks listen on loopback
	srv, err := newServer(Options{Config: cfg, Store: st, Now: clk.now, TLS: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.setReady(true)
	ts := httptest.NewTLSServer(srv.Handler())
	t.Cleanup(ts.Close)
	f := &fixture{t: t, srv: srv, ts: ts, st: st, clk: clk, users: map[string]string{}, pw: map[string]string{}}
	f.seed(ctx)
	return f
}

func (f *fixture) seed(ctx context.Context) {
	t := f.t
	e := &estate.Estate{
		Provider: estate.Provider{ID: "msp", Name: "Test MSP"},
		Tenants: []estate.Tenant{
			{ID: tenantA, Name: "Alpha Company", Criticality: estate.CritHigh},
			{ID: tenantB, Name: "Bravo Company", Criticality: estate.CritHigh},
		},
		Identities: []estate.Identity{
			{ID: "tech-1", Kind: estate.KindHuman, Home: "msp"},
			{ID: "bravo-admin", Kind: estate.KindHuman, Home: tenantB},
			{ID: "alpha-admin", Kind: estate.KindHuman, Home: tenantA},
		},
		Grants: []estate.Grant{
			{ID: "g-a", Subject: "tech-1", Target: tenantA, Privilege: estate.PrivAdmin},
			{ID: "g-bravo", Subject: "tech-1", Target: tenantB, Privilege: estate.PrivAdmin},
		},
	}
	meta, _, err := f.st.PutSnapshot(ctx, e, "test")
	if err != nil {
		t.Fatal(err)
	}
	f.srv.work.SetEstate(e, meta.ID)
	rep := &assess.Report{Version: "1", At: f.clk.now(), Provider: "msp"}
	for _, sub := range []string{"msp", tenantA, tenantB} {
		for _, c := range []string{"MFA-1", "LOG-1"} {
			st := assess.StatusPass
			if sub == tenantB || c == "MFA-1" {
				st = assess.StatusFail
			}
			rep.Results = append(rep.Results, assess.Result{Control: c, Title: "Control " + c, Heading: 3, Severity: "high", Subject: sub, Status: st,
				Message: "finding for " + sub, Remediation: "fix it", Evidence: []assess.Evidence{{Kind: "tenant", ID: sub, Detail: "detail of " + sub}}})
		}
		rep.Scores = append(rep.Scores, assess.Score{Subject: sub, Name: sub + " name", Score: 50, Pass: 1, Fail: 1})
	}
	if _, err := f.st.SaveRun(ctx, meta.ID, "test", rep); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.SaveRun(ctx, meta.ID, "test", rep); err != nil {
		t.Fatal(err)
	}
	b := &store.BlastResult{JSON: json.RawMessage(`{"secret":"bravo-co"}`), Ranking: []store.BlastRank{
		{Rank: 1, Node: "tech-1", Kind: "identity", Score: 9, TenantCount: 2, Tenants: []string{tenantA, tenantB}, Privilege: "admin"},
		{Rank: 2, Node: "bravo-admin", Kind: "identity", Score: 3, TenantCount: 1, Tenants: []string{tenantB}, Privilege: "admin"},
	}}
	if err := f.st.SaveBlast(ctx, b); err != nil {
		t.Fatal(err)
	}
	mk := func(id, tenant string, tenants []string, title string) string {
		inc := &store.Incident{ID: id, Tenant: tenant, Tenants: tenants, Rule: "rule-x", Title: title, Severity: "high", Status: store.StatusOpen,
			First: f.clk.now(), Last: f.clk.now(), Count: 3, Key: map[string]string{"user.name": id + "-user"},
			Detail: json.RawMessage(`{"samples":[{"tenant":"` + tenant + `","user":"u-` + tenant + `"}]}`)}
		if _, _, err := f.st.UpsertIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
		return id
	}
	f.incA = mk("inc-alpha", tenantA, []string{tenantA}, "Brute force at alpha")
	f.incB = mk("inc-bravo", tenantB, []string{tenantB}, "Brute force at bravo")
	f.incX = mk("inc-cross", tenantA, []string{tenantA, tenantB}, "Spray across tenants")
	evs := []store.EventRecord{
		{Event: event.Event{Timestamp: f.clk.now(), Tenant: tenantA, UserName: "alice", Dataset: "sshd", Outcome: "failure"}, Raw: "alpha raw"},
		{Event: event.Event{Timestamp: f.clk.now(), Tenant: tenantB, UserName: "bravo-user", Dataset: "sshd", Outcome: "failure"}, Raw: "bravo raw"},
	}
	if err := f.st.AppendEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	f.srv.audit(ctx, nil, "test.bravo", "bravo-thing", tenantB, nil)
	f.srv.audit(ctx, nil, "test.alpha", "alpha-thing", tenantA, nil)
	for _, u := range []struct {
		name   string
		role   store.Role
		tenant string
	}{{"owner1", store.RoleOwner, ""}, {"analyst1", store.RoleAnalyst, ""}, {"viewer-a", store.RoleTenantViewer, tenantA}, {"viewer-bravo", store.RoleTenantViewer, tenantB}} {
		hash, err := auth.HashPasswordParams("pw-"+u.name, auth.ArgonParams{Time: 1, Memory: 1024, Threads: 1, KeyLen: 32})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.st.CreateUser(ctx, &store.User{Username: u.name, Role: u.role, Tenant: u.tenant, PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
		f.pw[u.name] = "pw-" + u.name
	}
	tok := func(tenant string) string {
		tc, err := f.srv.createToken(ctx, &auth.Principal{Scope: store.AllTenants()}, tokenRequest{Name: "tok-" + tenant, Tenant: tenant, Permissions: []string{store.PermRead, store.PermReadHeavy, store.PermIngest}})
		if err != nil {
			t.Fatal(err)
		}
		return tc.Token
	}
	f.tokenA, f.tokenB = tok(tenantA), tok(tenantB)
}

// client is a browser-like client with its own cookie jar.
type client struct {
	f    *fixture
	c    *http.Client
	csrf string
	hdr  map[string]string // sent with every request (X-Forwarded-For of a client address)
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	hc := f.ts.Client()
	c := &http.Client{Transport: hc.Transport, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &client{f: f, c: c}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(method, path string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	c.f.t.Helper()
	req, err := http.NewRequest(method, c.f.ts.URL+path, body)
	if err != nil {
		c.f.t.Fatal(err)
	}
	for k, v := range c.hdr {
		req.Header.Set(k, v)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.f.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp, string(b)
}

func (c *client) form(path string, v url.Values) (*http.Response, string) {
	if v.Get("csrf") == "" {
		v.Set("csrf", c.csrf)
	}
	return c.do("POST", path, strings.NewReader(v.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

// login signs in with password and TOTP (enrolling on first use).
func (c *client) login(user string) {
	t := c.f.t
	t.Helper()
	c.do("GET", "/login", nil, nil)
	resp, _ := c.form("/login", url.Values{"username": {user}, "password": {c.f.pw[user]}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login/totp" {
		t.Fatalf("login %s: status %d location %q", user, resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page := c.do("GET", "/login/totp", nil, nil)
	sec := c.f.users[user]
	if m := regexp.MustCompile(`id="secret" class="mono" readonly value="([A-Z2-7]+)"`).FindStringSubmatch(page); m != nil {
		sec = m[1]
		c.f.users[user] = sec
	}
	if sec == "" {
		t.Fatalf("no TOTP secret for %s", user)
	}
	c.f.clk.add(31 * time.Second) // a fresh step, never a replay
	code, _ := auth.TOTPCode(sec, c.f.clk.now())
	resp, body := c.form("/login/totp", url.Values{"code": {code}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("totp %s: status %d: %s", user, resp.StatusCode, body)
	}
	c.do("GET", "/", nil, nil) // picks up the new session's CSRF token
}

func TestLoginFlow(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("owner1")
	resp, body := c.do("GET", "/", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "Estate overview") {
		t.Fatalf("overview: %d", resp.StatusCode)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Strict-Transport-Security"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("missing header %s", h)
		}
	}
	for _, ck := range resp.Request.Header.Values("Cookie") {
		_ = ck
	}

	// A second login: wrong code, then the code just used (replay), then a fresh one.
	c2 := f.client()
	c2.do("GET", "/login", nil, nil)
	c2.form("/login", url.Values{"username": {"owner1"}, "password": {f.pw["owner1"]}})
	c2.do("GET", "/login/totp", nil, nil)
	resp, _ = c2.form("/login/totp", url.Values{"code": {"000000"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong code: status %d", resp.StatusCode)
	}
	used, _ := auth.TOTPCode(f.users["owner1"], f.clk.now())
	resp, _ = c2.form("/login/totp", url.Values{"code": {used}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("replayed code: status %d", resp.StatusCode)
	}
	u, _ := f.st.GetUser(context.Background(), "owner1")
	if u.FailedLogins != 2 {
		t.Errorf("failed logins counted = %d, want 2", u.FailedLogins)
	}
	// Wrong password five times locks the account.
	c3 := f.client()
	c3.do("GET", "/login", nil, nil)
	for range 5 {
		c3.form("/login", url.Values{"username": {"analyst1"}, "password": {"nope"}})
	}
	resp, _ = c3.form("/login", url.Values{"username": {"analyst1"}, "password": {f.pw["analyst1"]}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("locked account signed in: %d", resp.StatusCode)
	}
	// Failures were fed to detection's event stream (dataset firebreak.auth).
	n, err := f.st.CountEvents(context.Background(), store.AllTenants(), store.EventQuery{Dataset: datasetAuth, Outcome: event.OutcomeFailure})
	if err != nil || n < 7 {
		t.Errorf("auth failure events = %d, %v; want >= 7", n, err)
	}
	// Idle sessions expire.
	f.clk.add(31 * time.Minute)
	resp, _ = c.do("GET", "/", nil, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("expired session: status %d location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, _ = c.do("GET", "/api/v1/me", nil, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired session API: status %d", resp.StatusCode)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("owner1")
	resp, _ := c.do("POST", "/incidents/"+f.incA, strings.NewReader("action=acknowledge"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("form without CSRF token: %d", resp.StatusCode)
	}
	resp, _ = c.do("POST", "/incidents/"+f.incA, strings.NewReader("action=acknowledge&csrf="+c.csrf), map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site form: %d", resp.StatusCode)
	}
	resp, _ = c.form("/incidents/"+f.incA, url.Values{"action": {"acknowledge"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("acknowledge: %d", resp.StatusCode)
	}
	inc, _ := f.st.GetIncident(context.Background(), store.AllTenants(), f.incA)
	if inc.Status != store.StatusAcknowledged || inc.StatusBy != "owner1" {
		t.Errorf("incident after ack: %s by %s", inc.Status, inc.StatusBy)
	}
}

// TestTenantIsolation walks every registered route as a tenant viewer of
// tenant A (session) and as an API token bound to tenant A, with path
// parameters naming tenant B's objects and A's, and asserts no response
// contains anything of tenant B.
func TestTenantIsolation(t *testing.T) {
	f := newFixture(t)
	f.srv.cfg.Auth.MaxFailures = 1 << 20 // the walk posts wrong passwords to /account/password
	viewer := f.client()
	viewer.login("viewer-a")
	params := map[string][]string{
		"id":       {tenantB, f.incB, f.incA, f.incX, tenantA, "1", "0"},
		"username": {"viewer-bravo", "owner1"},
		"format":   {"json", "html", "csv", "sarif", "oscal"},
		"pid":      {"1", "2", "1.intoto.json"},
		"cid":      {"1", "2"},
	}
	paramRE := regexp.MustCompile(`\{(\w+)\}`)
	expand := func(pattern string) []string {
		pattern = strings.ReplaceAll(pattern, "{$}", "")
		m := paramRE.FindStringSubmatch(pattern)
		if m == nil {
			return []string{pattern}
		}
		var out []string
		for _, v := range params[m[1]] {
			out = append(out, strings.Replace(pattern, m[0], url.PathEscape(v), 1))
		}
		return out
	}
	queries := []string{"", "?tenant=" + tenantB, "?tenant=" + tenantB + "&status=all", "?node=bravo-admin", "?node=tech-1", "?subject=" + tenantB}
	bodies := map[string]string{
		"/api/v1/events": `{"organization":{"id":"bravo-co"}}`,
	}
	checked := 0
	for _, rt := range f.srv.Routes() {
		if rt.Pattern == "/logout" {
			continue // would end the walk's session; logging out shows nothing anyway
		}
		for _, path := range expand(rt.Pattern) {
			for _, q := range queries {
				for _, who := range []string{"session", "token"} {
					body := bodies[rt.Pattern]
					hdr := map[string]string{"Content-Type": "application/json"}
					var resp *http.Response
					var got string
					if who == "session" {
						hdr["X-CSRF-Token"] = viewer.csrf
						resp, got = viewer.do(rt.Method, path+q, strings.NewReader(body), hdr)
						if me, _ := viewer.do("GET", "/api/v1/me", nil, nil); me.StatusCode != http.StatusOK {
							t.Fatalf("%s %s%s ended the viewer's session (status %d)", rt.Method, path, q, resp.StatusCode)
						}
					} else {
						hdr["Authorization"] = "Bearer " + f.tokenA
						resp, got = f.client().do(rt.Method, path+q, strings.NewReader(body), hdr)
					}
					checked++
					if strings.Contains(strings.ToLower(got), markerB) {
						i := strings.Index(strings.ToLower(got), markerB)
						t.Errorf("%s %s%s as %s: status %d leaks tenant B: …%s…", rt.Method, path, q, who, resp.StatusCode, got[max(0, i-80):min(len(got), i+40)])
					}
				}
			}
		}
	}
	if checked < 200 {
		t.Errorf("only %d requests checked", checked)
	}
	// And the positive control: the viewer does see its own tenant.
	_, got := viewer.do("GET", "/tenants/"+tenantA, nil, nil)
	if !strings.Contains(got, "Alpha Company") {
		t.Error("viewer cannot see its own tenant")
	}
	resp, _ := viewer.do("GET", "/tenants/"+tenantB, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("viewer opening tenant B: %d, want 404", resp.StatusCode)
	}
}

func TestIngest(t *testing.T) {
	f := newFixture(t)
	post := func(token, body, query string) (*http.Response, intake.Response) {
		resp, got := f.client().do("POST", "/api/v1/events"+query, strings.NewReader(body), map[string]string{"Authorization": "Bearer " + token})
		var ir intake.Response
		_ = json.Unmarshal([]byte(got), &ir)
		return resp, ir
	}
	good := "Nov 26 06:30:11 srv01.alpha-co.example sshd[4200]: Failed password for root from 198.51.100.7 port 50022 ssh2\n"
	bad := "\x00\x01 binary garbage \xff\n"
	body := good + bad + good + "Nov 26 06:25:01 srv01 CRON[4121]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n"
	resp, ir := post(f.tokenA, body, "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("mixed batch: status %d %+v", resp.StatusCode, ir)
	}
	if ir.Accepted != 2 || len(ir.Rejected) != 1 || ir.Rejected[0].Line != 2 {
		t.Errorf("mixed batch: %+v", ir)
	}
	n, _ := f.st.CountEvents(context.Background(), store.TenantScope(tenantA), store.EventQuery{Dataset: "sshd", User: "root"})
	if n != 2 {
		t.Errorf("stored %d good events, want 2", n)
	}
	resp, ir = post(f.tokenA, good, "")
	if resp.StatusCode != 200 || ir.Accepted != 1 {
		t.Errorf("good batch: %d %+v", resp.StatusCode, ir)
	}
	// A tenant-A token cannot write into B.
	resp, _ = post(f.tokenA, good, "?tenant="+tenantB)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("token A writing to B: %d", resp.StatusCode)
	}
	// An MSP-wide caller naming an unknown tenant.
	c := f.client()
	c.login("owner1")
	resp, got := c.do("POST", "/api/v1/events?tenant=nope-co", strings.NewReader(good), map[string]string{"X-CSRF-Token": c.csrf})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "unknown tenant") {
		t.Errorf("unknown tenant: %d %s", resp.StatusCode, got)
	}
	// Oversized body.
	resp, _ = post(f.tokenA, strings.Repeat(good, 1000), "")
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: %d", resp.StatusCode)
	}
	// No token, bad token.
	resp, _ = f.client().do("POST", "/api/v1/events", strings.NewReader(good), nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: %d", resp.StatusCode)
	}
	resp, _ = post("fbk_not-a-token", good, "")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("bad token: %d", resp.StatusCode)
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	for _, rt := range f.srv.Routes() {
		if !strings.HasPrefix(rt.Pattern, "/api/") {
			continue
		}
		ops, ok := doc.Paths[rt.Pattern]
		if !ok {
			t.Errorf("%s %s: path not in openapi.json", rt.Method, rt.Pattern)
			continue
		}
		if _, ok := ops[strings.ToLower(rt.Method)]; !ok {
			t.Errorf("%s %s: method not in openapi.json", rt.Method, rt.Pattern)
		}
	}
}

func TestMetacharacters(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("owner1")
	evil := `<script>alert(1)</script>'; DROP TABLE users; --"`
	// Notes are stored verbatim and rendered escaped.
	resp, _ := c.form("/incidents/"+f.incA, url.Values{"action": {"note"}, "text": {evil}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("note: %d", resp.StatusCode)
	}
	_, page := c.do("GET", "/incidents/"+f.incA, nil, nil)
	if strings.Contains(page, "<script>alert(1)") || !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("note not escaped in page")
	}
	// Every query parameter of the search and filter endpoints.
	q := url.QueryEscape(evil)
	for _, p := range []string{"/api/v1/events?user=" + q + "&tenant=" + q + "&source_ip=" + q + "&source=" + q,
		"/api/v1/incidents?status=" + q + "&tenant=" + q + "&severity=" + q, "/api/v1/findings?tenant=" + q + "&control=" + q + "&status=" + q,
		"/events?user=" + q, "/incidents?tenant=" + q, "/blast?node=" + q, "/audit?actor=" + q, "/api/v1/audit?action=" + q} {
		resp, body := c.do("GET", p, nil, nil)
		if resp.StatusCode >= 500 || strings.Contains(body, "<script>alert(1)") {
			t.Errorf("GET %s: %d (or unescaped)", p, resp.StatusCode)
		}
	}
	// Usernames with metacharacters are refused; the users table survives.
	resp, _ = c.do("POST", "/api/v1/users", strings.NewReader(`{"username":"x'; DROP TABLE users; --","role":"analyst"}`), map[string]string{"X-CSRF-Token": c.csrf})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("evil username: %d", resp.StatusCode)
	}
	resp, body := c.do("POST", "/api/v1/tokens", bytes.NewReader([]byte(fmt.Sprintf(`{"name":%q,"permissions":["read"]}`, evil))), map[string]string{"X-CSRF-Token": c.csrf})
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("token with evil name: %d %s", resp.StatusCode, body)
	}
	_, page = c.do("GET", "/settings", nil, nil)
	if strings.Contains(page, "<script>alert(1)") {
		t.Error("token name not escaped on settings page")
	}
	if us, err := f.st.ListUsers(context.Background(), store.AllTenants()); err != nil || len(us) != 4 {
		t.Errorf("users after injection attempts: %d %v", len(us), err)
	}
	// Unknown JSON fields and malformed JSON.
	resp, _ = c.do("POST", "/api/v1/users", strings.NewReader(`{"username":"ok-user","role":"analyst","admin":true}`), map[string]string{"X-CSRF-Token": c.csrf})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown field: %d", resp.StatusCode)
	}
	resp, _ = c.do("POST", "/api/v1/incidents/"+f.incA+"/notes", strings.NewReader(`{"text":`), map[string]string{"X-CSRF-Token": c.csrf})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed JSON: %d", resp.StatusCode)
	}
}

func TestRolesAndHealth(t *testing.T) {
	f := newFixture(t)
	an := f.client()
	an.login("analyst1")
	resp, _ := an.do("GET", "/settings", nil, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("analyst on settings: %d", resp.StatusCode)
	}
	resp, _ = an.do("POST", "/api/v1/incidents/"+f.incB+"/resolve", nil, map[string]string{"X-CSRF-Token": an.csrf})
	if resp.StatusCode != 200 {
		t.Errorf("analyst resolving: %d", resp.StatusCode)
	}
	v := f.client()
	v.login("viewer-a")
	resp, _ = v.do("POST", "/api/v1/incidents/"+f.incA+"/acknowledge", nil, map[string]string{"X-CSRF-Token": v.csrf})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer acknowledging: %d", resp.StatusCode)
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"} {
		resp, _ := f.client().do("GET", p, nil, nil)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	resp, got := f.client().do("GET", "/api/v1/incidents", nil, nil)
	if resp.StatusCode != 401 || !strings.Contains(got, `"error"`) {
		t.Errorf("anonymous API: %d %s", resp.StatusCode, got)
	}
}

func TestEstateValidateUpload(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("owner1")
	bad := "tenants:\n  - id: x\n    name: X\n    criticality: extreme\ngrants:\n  - id: g\n    subject: nobody\n    target: x\n    privilege: admin\n"
	resp, body := c.do("POST", "/api/v1/estate/validate", strings.NewReader(bad), map[string]string{"X-CSRF-Token": c.csrf})
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"line"`) {
		t.Errorf("invalid estate: %d %s", resp.StatusCode, body)
	}
	good := "provider:\n  id: msp\n  name: Test MSP\ntenants:\n  - id: alpha-co\n    name: Alpha Company\n  - id: new-co\n    name: New Co\n"
	resp, body = c.do("POST", "/api/v1/estate/validate", strings.NewReader(good), map[string]string{"X-CSRF-Token": c.csrf})
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"valid":true`) {
		t.Errorf("valid estate: %d %s", resp.StatusCode, body)
	}
	resp, body = c.do("POST", "/api/v1/estate?assess=false", strings.NewReader(good), map[string]string{"X-CSRF-Token": c.csrf})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	_, body = c.do("GET", "/api/v1/tenants", nil, nil)
	if !strings.Contains(body, "new-co") || strings.Contains(body, tenantB) {
		t.Errorf("tenants after upload: %s", body)
	}
	resp, body = c.do("GET", "/api/v1/estate/diff?from=1&to=2", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "new-co") {
		t.Errorf("diff: %d %.300s", resp.StatusCode, body)
	}
	// Uploads are owner-only.
	a := f.client()
	a.login("analyst1")
	resp, _ = a.do("POST", "/api/v1/estate", strings.NewReader(good), map[string]string{"X-CSRF-Token": a.csrf})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("analyst upload: %d", resp.StatusCode)
	}
	// Validation is an owner/analyst action: not a tenant viewer's, not a
	// token's, whatever it may read.
	resp, _ = a.do("POST", "/api/v1/estate/validate", strings.NewReader(good), map[string]string{"X-CSRF-Token": a.csrf})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("analyst validation: %d", resp.StatusCode)
	}
	v := f.client()
	v.login("viewer-a")
	resp, _ = v.do("POST", "/api/v1/estate/validate", strings.NewReader(good), map[string]string{"X-CSRF-Token": v.csrf})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("tenant viewer validation: %d, want 403", resp.StatusCode)
	}
	resp, _ = f.client().do("POST", "/api/v1/estate/validate", strings.NewReader(good), map[string]string{"Authorization": "Bearer " + f.tokenA})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("token validation: %d, want 403", resp.StatusCode)
	}
	// With every slot taken, a further validation waits its turn (429).
	for range maxEstateJobs {
		f.srv.estateSlots <- struct{}{}
	}
	resp, _ = a.do("POST", "/api/v1/estate/validate", strings.NewReader(good), map[string]string{"X-CSRF-Token": a.csrf})
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("validation with every slot taken: %d, want 429 with Retry-After", resp.StatusCode)
	}
	for range maxEstateJobs {
		<-f.srv.estateSlots
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("analyst1")
	other := f.client()
	other.login("analyst1")
	resp, _ := c.form("/account/password", url.Values{"current": {"wrong"}, "new": {"velvet harbour quietly ninety lamps"}, "again": {"velvet harbour quietly ninety lamps"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("wrong current password: %d", resp.StatusCode)
	}
	for _, weak := range []string{"short", "aaaaaaaaaaaa", "password1234", "123456789012", "analyst1analyst1"} {
		resp, body := c.form("/account/password", url.Values{"current": {f.pw["analyst1"]}, "new": {weak}, "again": {weak}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "cannot be used") {
			t.Errorf("weak password %q: %d", weak, resp.StatusCode)
		}
	}
	resp, _ = c.form("/account/password", url.Values{"current": {f.pw["analyst1"]}, "new": {"velvet harbour quietly ninety lamps"}, "again": {"velvet harbour quietly ninety lamps"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/account", nil, nil); resp.StatusCode != 200 {
		t.Errorf("this session after change: %d", resp.StatusCode)
	}
	if resp, _ := other.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("other session after change: %d", resp.StatusCode)
	}
	f.pw["analyst1"] = "velvet harbour quietly ninety lamps"
	f.client().login("analyst1")
}
