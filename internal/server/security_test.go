package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/estate"
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

// Notification targets are requests the server makes on an owner's behalf:
// by default they may not reach loopback, private, link-local (cloud
// metadata) or unspecified addresses, neither when saved nor when sent
// (a name that resolves inward is refused at connect time), unless the
// operator's configuration allows the network.
func TestNotifyTargetSSRF(t *testing.T) {
	f := newFixture(t)
	f.srv.work.Notifier().SetAllowNetworks(nil) // the fixture allows loopback for the other tests' hooks
	ctx := context.Background()
	hits := make(chan string, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits <- r.URL.Path }))
	defer hook.Close()
	owner := f.client()
	owner.login("owner1")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(hook.URL, "http://"))
	for _, tc := range []struct{ kind, cfg string }{
		{"webhook", `{"url":"` + hook.URL + `/x","secret":"s3cret-s3cret-s3cret"}`},
		{"webhook", `{"url":"http://localhost:` + port + `/x","secret":"s3cret-s3cret-s3cret"}`},
		{"webhook", `{"url":"http://169.254.169.254/latest/meta-data/","secret":"s3cret-s3cret-s3cret"}`},
		{"webhook", `{"url":"http://[::ffff:127.0.0.1]:` + port + `/","secret":"s3cret-s3cret-s3cret"}`},
		{"slack", `{"url":"http://10.1.2.3/hook"}`},
		{"teams", `{"url":"https://[fd00:ec2::254]/"}`},
		{"syslog", `{"address":"127.0.0.1:6379","network":"tcp"}`},
		{"smtp", `{"address":"192.168.1.5:25","from":"fb@msp.example","to":["soc@msp.example"]}`},
	} {
		body := `{"name":"t","kind":"` + tc.kind + `","config":` + tc.cfg + `}`
		resp, got := owner.do("POST", "/api/v1/notify-targets", strings.NewReader(body), map[string]string{"Content-Type": "application/json", "X-CSRF-Token": owner.csrf})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "allow_networks") {
			t.Errorf("%s %s: status %d %s, want 400 naming notify.allow_networks", tc.kind, tc.cfg, resp.StatusCode, got)
		}
	}
	// A target stored before the policy (or whose name later resolves
	// inward) is refused when it connects.
	cfg, _ := json.Marshal(map[string]any{"url": "http://localhost:" + port + "/old", "secret": "s3cret-s3cret-s3cret"})
	if err := f.st.PutNotifyTarget(ctx, store.AllTenants(), &store.NotifyTarget{ID: "nt_old", Name: "old", Kind: store.TargetWebhook, Enabled: true, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	f.srv.work.Notifier().NotifyIncident(ctx, &store.Incident{ID: "inc-ssrf", Tenant: tenantA, Tenants: []string{tenantA}, Title: "x", Severity: "critical", Status: store.StatusOpen}, true)
	f.srv.work.Notifier().Wait(10 * time.Second)
	select {
	case p := <-hits:
		t.Errorf("notification reached the loopback hook (%s)", p)
	default:
	}
	// The operator can allow a network explicitly.
	f.srv.work.Notifier().SetAllowNetworks([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	body := `{"name":"ok","kind":"webhook","config":{"url":"` + hook.URL + `/ok","secret":"s3cret-s3cret-s3cret"}}`
	if resp, got := owner.do("POST", "/api/v1/notify-targets", strings.NewReader(body), map[string]string{"Content-Type": "application/json", "X-CSRF-Token": owner.csrf}); resp.StatusCode/100 != 2 {
		t.Fatalf("allowed network refused: %d %s", resp.StatusCode, got)
	}
	f.srv.work.Notifier().NotifyIncident(ctx, &store.Incident{ID: "inc-ok", Tenant: tenantA, Tenants: []string{tenantA}, Title: "x", Severity: "critical", Status: store.StatusOpen}, true)
	select {
	case <-hits:
	case <-time.After(10 * time.Second):
		t.Error("allowed target not delivered")
	}
	f.srv.work.Notifier().Wait(10 * time.Second)
}

// Form and JSON bodies of ordinary routes are small: an unauthenticated
// client cannot make the server read megabytes (or spool multipart files to
// disk) for a sign-in form.
func TestOversizedFormBodies(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.do("GET", "/login", nil, nil)
	big := url.Values{"username": {"owner1"}, "password": {"x"}, "pad": {strings.Repeat("a", 2<<20)}}
	if resp, _ := c.form("/login", big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB sign-in form: status %d, want 413", resp.StatusCode)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("csrf", c.csrf)
	fw, _ := mw.CreateFormFile("f", "f.bin")
	_, _ = fw.Write(bytes.Repeat([]byte("z"), 3<<20))
	_ = mw.Close()
	if resp, _ := c.do("POST", "/login", &mp, map[string]string{"Content-Type": mw.FormDataContentType()}); resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("3 MiB multipart sign-in: status %d, want 413 or 415", resp.StatusCode)
	}
	// Ingest keeps its own, larger limit.
	body := strings.Repeat(`{"@timestamp":"2026-11-26T12:00:00Z","event":{"category":"authentication","outcome":"failure"},"user":{"name":"u"}}`+"\n", 10)
	if resp, got := f.client().do("POST", "/api/v1/events", strings.NewReader(body), map[string]string{"Authorization": "Bearer " + f.tokenA}); resp.StatusCode/100 == 4 && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("ingest: %d %s", resp.StatusCode, got)
	}
	// A normal sign-in still works.
	c2 := f.client()
	c2.login("analyst1")
}

// The isolation walk's queries carry no snapshot or run ids; this walks the
// diff and history routes with real ids after tenant B changed.
func TestTenantIsolationDiffs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e, _ := f.srv.work.CurrentEstate()
	e2 := *e
	e2.Identities = append(slices.Clone(e.Identities), estate.Identity{ID: "bravo-newadmin", Kind: estate.KindHuman, Home: tenantB})
	e2.Grants = append(slices.Clone(e.Grants), estate.Grant{ID: "g-bravo2", Subject: "tech-1", Target: tenantB, Privilege: estate.PrivRead})
	meta, _, err := f.st.PutSnapshot(ctx, &e2, "test")
	if err != nil {
		t.Fatal(err)
	}
	rep := &assess.Report{Version: "1", At: f.clk.now(), Provider: "msp", Results: []assess.Result{
		{Control: "MFA-1", Title: "Control MFA-1", Severity: "high", Subject: tenantB, Status: assess.StatusPass, Message: "bravo now passes"},
		{Control: "MFA-1", Title: "Control MFA-1", Severity: "high", Subject: tenantA, Status: assess.StatusPass, Message: "alpha now passes"},
	}}
	run, err := f.st.SaveRun(ctx, meta.ID, "test", rep)
	if err != nil {
		t.Fatal(err)
	}
	viewer := f.client()
	viewer.login("viewer-a")
	r := strconv.FormatInt(run.ID, 10)
	s := strconv.FormatInt(meta.ID, 10)
	for _, path := range []string{
		"/api/v1/estate/diff?from=1&to=" + s, "/api/v1/estate?snapshot=" + s, "/api/v1/estate?snapshot=1",
		"/api/v1/assessments/diff?from=1&to=" + r, "/api/v1/assessments/" + r, "/api/v1/findings?run=" + r,
		"/api/v1/findings?run=" + r + "&subject=" + tenantB, "/api/v1/assessments", "/reports/json?run=" + r, "/reports/csv?run=" + r + "&tenant=" + tenantB,
		"/api/v1/reports/oscal?run=" + r, "/api/v1/reports/sarif?run=" + r, "/api/v1/reports/html?run=" + r, "/matrix", "/", "/tenants/" + tenantA,
	} {
		for _, who := range []string{"session", "token"} {
			var resp *http.Response
			var got string
			if who == "session" {
				resp, got = viewer.do("GET", path, nil, nil)
			} else {
				resp, got = f.client().do("GET", path, nil, map[string]string{"Authorization": "Bearer " + f.tokenA})
			}
			if i := strings.Index(strings.ToLower(got), markerB); i >= 0 {
				t.Errorf("GET %s as %s: status %d leaks tenant B: …%s…", path, who, resp.StatusCode, got[max(0, i-80):min(len(got), i+40)])
			}
		}
	}
}

// Every route walked by callers who may not use it: anonymous, a session
// that passed only the password step, a tenant viewer and a tenant token
// on mutating routes, an analyst on owner routes. None gets a 2xx or sees
// any tenant's data, and the store's users, tokens and targets stay as they
// were.
func TestRouteAccessWalk(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.srv.cfg.Auth.MaxFailures = 1 << 20
	snapshot := func() string {
		us, _ := f.st.ListUsers(ctx, store.AllTenants())
		ts, _ := f.st.ListAPITokens(ctx, store.AllTenants())
		ns, _ := f.st.ListNotifyTargets(ctx, store.AllTenants())
		inc, _ := f.st.GetIncident(ctx, store.AllTenants(), f.incA)
		var out []string
		for _, u := range us {
			out = append(out, fmt.Sprintf("user %s %s %s disabled=%v", u.Username, u.Role, u.Tenant, u.Disabled))
		}
		for _, x := range ts {
			out = append(out, fmt.Sprintf("token %s %s revoked=%v", x.ID, x.Tenant, !x.Revoked.IsZero()))
		}
		out = append(out, fmt.Sprintf("targets %d; incident %s %q notes %d", len(ns), inc.Status, inc.Assignee, len(inc.Notes)))
		return strings.Join(out, "\n")
	}
	before := snapshot()
	viewer := f.client()
	viewer.login("viewer-a")
	analyst := f.client()
	analyst.login("analyst1")
	pre := f.client()
	pre.do("GET", "/login", nil, nil)
	if resp, _ := pre.form("/login", url.Values{"username": {"owner1"}, "password": {f.pw["owner1"]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password step: %d", resp.StatusCode)
	}
	expand := func(p string) string {
		p = strings.ReplaceAll(p, "{$}", "")
		for _, k := range []string{"{id}", "{username}", "{format}"} {
			v := map[string]string{"{id}": f.incA, "{username}": "viewer-bravo", "{format}": "json"}[k]
			p = strings.ReplaceAll(p, k, v)
		}
		return p
	}
	bodies := map[string]string{
		"/api/v1/users":            `{"username":"mallory","role":"owner"}`,
		"/api/v1/users/{username}": `{"username":"viewer-bravo","role":"owner"}`,
		"/api/v1/tokens":           `{"name":"x","permissions":["read"]}`,
		"/api/v1/notify-targets":   `{"name":"x","kind":"webhook","config":{"url":"https://example.com/","secret":"s3cret-s3cret-s3cret"}}`,
		"/settings/users":          "username=mallory&role=owner",
		"/settings/tokens":         "name=x&permissions=read",
		"/incidents/{id}":          "action=resolve",
	}
	for _, rt := range f.srv.Routes() {
		if rt.Access == "public" || rt.Pattern == "/logout" {
			continue
		}
		path := expand(rt.Pattern)
		type caller struct {
			name string
			do   func(body string) (*http.Response, string)
		}
		send := func(c *client, hdr map[string]string, body string) (*http.Response, string) {
			h := map[string]string{"Content-Type": "application/json"}
			if !strings.HasPrefix(rt.Pattern, "/api/") {
				h["Content-Type"] = "application/x-www-form-urlencoded"
				if c != nil && c.csrf != "" && body != "" {
					body += "&csrf=" + url.QueryEscape(c.csrf)
				}
			}
			if c != nil {
				h["X-CSRF-Token"] = c.csrf
			} else {
				c = f.client()
			}
			for k, v := range hdr {
				h[k] = v
			}
			return c.do(rt.Method, path, strings.NewReader(body), h)
		}
		callers := []caller{
			{"anonymous", func(b string) (*http.Response, string) { return send(nil, nil, b) }},
		}
		if rt.Access != "pre-mfa" {
			callers = append(callers, caller{"password-only session", func(b string) (*http.Response, string) { return send(pre, nil, b) }})
		}
		switch rt.Access {
		case "admin":
			callers = append(callers,
				caller{"analyst", func(b string) (*http.Response, string) { return send(analyst, nil, b) }},
				caller{"viewer", func(b string) (*http.Response, string) { return send(viewer, nil, b) }},
				caller{"tenant token", func(b string) (*http.Response, string) {
					return send(nil, map[string]string{"Authorization": "Bearer " + f.tokenA}, b)
				}})
		case "incident":
			callers = append(callers,
				caller{"viewer", func(b string) (*http.Response, string) { return send(viewer, nil, b) }},
				caller{"tenant token", func(b string) (*http.Response, string) {
					return send(nil, map[string]string{"Authorization": "Bearer " + f.tokenA}, b)
				}})
		case "ingest":
			callers = append(callers, caller{"viewer", func(b string) (*http.Response, string) { return send(viewer, nil, b) }})
		}
		for _, c := range callers {
			resp, got := c.do(bodies[rt.Pattern])
			ok := resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
				(resp.StatusCode == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login"))
			if !ok {
				t.Errorf("%s %s as %s: status %d, want 401, 403 or a redirect to sign-in", rt.Method, path, c.name, resp.StatusCode)
			}
			if c.name == "anonymous" || c.name == "password-only session" {
				if l := strings.ToLower(got); strings.Contains(l, "alpha") || strings.Contains(l, markerB) {
					t.Errorf("%s %s as %s shows tenant data", rt.Method, path, c.name)
				}
			}
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("store changed by refused callers:\nbefore %s\nafter  %s", before, after)
	}
}

// Every state-changing route refuses a signed-in owner's request that lacks
// the session's CSRF token (a forged form from another site would), and
// POST /login refuses one without the pre-login token.
func TestCSRFEveryRoute(t *testing.T) {
	f := newFixture(t)
	owner := f.client()
	owner.login("owner1")
	pre := f.client()
	pre.do("GET", "/login", nil, nil)
	pre.form("/login", url.Values{"username": {"analyst1"}, "password": {f.pw["analyst1"]}})
	r := strings.NewReplacer("{$}", "", "{id}", f.incA, "{username}", "viewer-bravo", "{format}", "json")
	n := 0
	for _, rt := range f.srv.Routes() {
		if rt.Method == "GET" {
			continue
		}
		path := r.Replace(rt.Pattern)
		c := owner
		if rt.Access == "pre-mfa" {
			c = pre
		}
		for _, ct := range []string{"application/x-www-form-urlencoded", "application/json", "text/plain"} {
			body := "action=resolve&username=x&code=123456"
			if ct == "application/json" {
				body = `{}`
			}
			resp, _ := c.do(rt.Method, path, strings.NewReader(body), map[string]string{"Content-Type": ct})
			n++
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s (%s) without a CSRF token: status %d, want 403", rt.Method, path, ct, resp.StatusCode)
			}
		}
	}
	if resp, _ := owner.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("owner session ended by forged requests: %d", resp.StatusCode)
	}
	if n < 60 {
		t.Errorf("only %d requests", n)
	}
}

// Attacker-controlled text reaches the pages through logs (user and host
// names, raw lines), detection (incident keys) and the sign-in form (the
// audit log's target): every page escapes it.
func TestInjectedTextEscaped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	evil := `<svg/onload=alert(1)>"'` + "`"
	c := f.client()
	c.do("GET", "/login", nil, nil)
	c.form("/login", url.Values{"username": {evil}, "password": {"x"}})
	line := []byte("Nov 26 11:59:00 h" + evil + " sshd[1]: Failed password for invalid user " + evil + " from 198.51.100.9 port 5 ssh2\n")
	if resp, got := f.client().do("POST", "/api/v1/events", bytes.NewReader(line), map[string]string{"Authorization": "Bearer " + f.tokenA}); resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d %s", resp.StatusCode, got)
	}
	inc := &store.Incident{ID: "inc-evil", Tenant: tenantA, Tenants: []string{tenantA}, Rule: evil, Title: evil, Severity: "high", Status: store.StatusOpen,
		First: f.clk.now(), Last: f.clk.now(), Count: 1, Key: map[string]string{evil: evil}, Assignee: evil}
	if _, _, err := f.st.UpsertIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"owner1", "viewer-a"} {
		u := f.client()
		u.login(who)
		for _, p := range []string{"/", "/incidents", "/incidents/rows", "/incidents/inc-evil", "/events", "/events?user=" + url.QueryEscape(evil), "/audit", "/tenants/" + tenantA, "/blast?node=" + url.QueryEscape(evil)} {
			resp, body := u.do("GET", p, nil, nil)
			if strings.Contains(body, "<svg/onload") {
				t.Errorf("%s GET %s: status %d renders the injected markup unescaped", who, p, resp.StatusCode)
			}
			if p == "/events" && !strings.Contains(body, "&lt;svg/onload") {
				t.Errorf("%s GET /events: the injected event is not shown (escaped)", who)
			}
		}
	}
}

// Behind a proxy that appends the peer to X-Forwarded-For, the client's own
// leading entries are forged at will: the per-address sign-in limit and the
// audit log must use the address the proxy appended (the last one).
func TestProxyHeaderNotSpoofable(t *testing.T) {
	f := newFixture(t)
	f.srv.cfg.Auth.TrustProxyHeader = "X-Forwarded-For"
	f.srv.sess.LoginIP = auth.NewLimiter(3, time.Minute, 1000)
	c := f.client()
	c.do("GET", "/login", nil, nil)
	limited := false
	for i := range 6 {
		v := url.Values{"username": {fmt.Sprintf("nobody-%d", i)}, "password": {"x"}, "csrf": {c.csrf}}
		resp, _ := c.do("POST", "/login", strings.NewReader(v.Encode()), map[string]string{
			"Content-Type":    "application/x-www-form-urlencoded",
			"X-Forwarded-For": fmt.Sprintf("192.0.2.%d, 203.0.113.7", i+1),
		})
		if resp.StatusCode == http.StatusTooManyRequests {
			limited = true
		}
	}
	if !limited {
		t.Error("six sign-ins from one client behind the proxy were not rate limited (forged X-Forwarded-For entries counted as clients)")
	}
	es, err := f.st.ListAudit(context.Background(), store.AllTenants(), store.AuditFilter{Action: "login.failure", Limit: 10})
	if err != nil || len(es) == 0 {
		t.Fatalf("audit: %v %d", err, len(es))
	}
	for _, e := range es {
		if e.IP != "203.0.113.7" {
			t.Errorf("audit entry records IP %q, want the proxy-appended 203.0.113.7", e.IP)
		}
	}
}

// The event search's paging cursor is an event id: a tenant viewer naming
// another tenant's event learns nothing (not even that it exists or when it
// happened) — the same answer as for an id that does not exist.
func TestEventCursorScoped(t *testing.T) {
	f := newFixture(t)
	recs, err := f.st.SearchEvents(context.Background(), store.AllTenants(), store.EventQuery{Tenant: tenantB, Limit: 1})
	if err != nil || len(recs) != 1 {
		t.Fatalf("tenant B event: %v %d", err, len(recs))
	}
	viewer := f.client()
	viewer.login("viewer-a")
	cursor := strconv.FormatInt(recs[0].ID, 10)
	resp, body := viewer.do("GET", "/api/v1/events?before_id="+cursor, nil, nil)
	none, noneBody := viewer.do("GET", "/api/v1/events?before_id=999999", nil, nil)
	if resp.StatusCode != none.StatusCode || body != noneBody {
		t.Errorf("cursor at tenant B's event: %d %s; at a missing event: %d %s", resp.StatusCode, body, none.StatusCode, noneBody)
	}
}

// Pages and API answers with tenant data are not kept by browsers or
// shared caches (the back button after sign-out, a proxy in between).
func TestNoStoreOnAuthenticatedResponses(t *testing.T) {
	f := newFixture(t)
	v := f.client()
	v.login("viewer-a")
	for _, p := range []string{"/", "/incidents", "/incidents/" + f.incA, "/events", "/api/v1/incidents", "/api/v1/events", "/tenants/" + tenantA} {
		resp, _ := v.do("GET", p, nil, nil)
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			t.Errorf("GET %s: Cache-Control %q, want no-store", p, cc)
		}
	}
	resp, _ := f.client().do("GET", "/api/v1/incidents", nil, map[string]string{"Authorization": "Bearer " + f.tokenA})
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("token GET /api/v1/incidents: Cache-Control %q, want no-store", cc)
	}
}

// Signing out ends the session on the server: a copy of the cookie taken
// before is worthless. So is one past its absolute lifetime, however active.
func TestSessionEnds(t *testing.T) {
	f := newFixture(t)
	u, _ := url.Parse(f.ts.URL)
	c2 := f.client()
	c2.login("owner1")
	stolen := c2.c.Jar.Cookies(u)
	replay := func(cs []*http.Cookie) int {
		x := f.client()
		x.c.Jar.SetCookies(u, cs)
		resp, _ := x.do("GET", "/api/v1/me", nil, nil)
		return resp.StatusCode
	}
	if st := replay(stolen); st != http.StatusOK {
		t.Fatalf("copied cookie before sign-out: %d", st)
	}
	c2.form("/logout", url.Values{})
	if st := replay(stolen); st != http.StatusUnauthorized {
		t.Errorf("copied cookie after sign-out: %d, want 401", st)
	}
	c3 := f.client()
	c3.login("analyst1")
	for range 30 { // active every 25 minutes, 12.5 hours in all
		f.clk.add(25 * time.Minute)
		c3.do("GET", "/api/v1/me", nil, nil)
	}
	if resp, _ := c3.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("session past its 12h lifetime: %d", resp.StatusCode)
	}
}

// A refused sign-in is recorded (audit log, detection event), but an
// anonymous client cannot make each refusal store an arbitrarily long
// username: once rate limited, every request would write it again.
func TestRefusedSignInRecordsBoundedUsername(t *testing.T) {
	f := newFixture(t)
	f.srv.sess.LoginIP = auth.NewLimiter(1, time.Minute, 1000)
	c := f.client()
	c.do("GET", "/login", nil, nil)
	long := strings.Repeat("u", 500<<10)
	for range 3 {
		c.form("/login", url.Values{"username": {long}, "password": {"x"}, "csrf": {c.csrf}})
	}
	ctx := context.Background()
	es, err := f.st.ListAudit(ctx, store.AllTenants(), store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if len(e.Target) > 256 {
			t.Errorf("audit %s stores a %d-byte username", e.Action, len(e.Target))
		}
	}
	recs, err := f.st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Dataset: datasetAuth, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if len(r.Event.UserName) > 256 {
			t.Errorf("auth event stores a %d-byte username", len(r.Event.UserName))
		}
	}
}

// Guessing TOTP codes from several password-step sessions from one address
// counts against that address: it is locked out after auth.max_failures,
// and then even the right code is refused; the account's existing session
// (perhaps the owner's, elsewhere) is not ended by someone's failures.
func TestTOTPGuessingAcrossSessionsLocks(t *testing.T) {
	f := newFixture(t)
	f.users["analyst1"] = ""
	first := f.client()
	first.login("analyst1") // enrols TOTP
	secret := f.users["analyst1"]
	guess := 0
	for range 3 {
		c := f.client()
		c.do("GET", "/login", nil, nil)
		if resp, _ := c.form("/login", url.Values{"username": {"analyst1"}, "password": {f.pw["analyst1"]}}); resp.StatusCode != http.StatusSeeOther {
			break // locked: the password step is refused too
		}
		c.do("GET", "/login/totp", nil, nil)
		for range 2 {
			guess++
			c.form("/login/totp", url.Values{"code": {fmt.Sprintf("%06d", guess)}})
		}
	}
	if !f.srv.sess.PairLocked(context.Background(), "analyst1", "127.0.0.1", f.clk.now()) {
		t.Fatalf("after %d wrong codes over 3 sessions the address is not locked out", guess)
	}
	c := f.client()
	c.do("GET", "/login", nil, nil)
	resp, _ := c.form("/login", url.Values{"username": {"analyst1"}, "password": {f.pw["analyst1"]}})
	if resp.StatusCode == http.StatusSeeOther {
		f.clk.add(31 * time.Second)
		code, _ := auth.TOTPCode(secret, f.clk.now())
		c.do("GET", "/login/totp", nil, nil)
		if resp, _ := c.form("/login/totp", url.Values{"code": {code}}); resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/" {
			t.Error("locked-out address completed sign-in with the right code")
		}
	}
	if resp, _ := first.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("failed attempts ended the account's existing session: %d", resp.StatusCode)
	}
}

// A password-step session opened before its address was locked out of the
// account cannot finish with the right code afterwards.
func TestTOTPRefusedAfterLockoutSincePasswordStep(t *testing.T) {
	f := newFixture(t)
	f.users["analyst1"] = ""
	f.client().login("analyst1") // enrols TOTP
	secret := f.users["analyst1"]
	c := f.client()
	c.do("GET", "/login", nil, nil)
	if resp, _ := c.form("/login", url.Values{"username": {"analyst1"}, "password": {f.pw["analyst1"]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("password step: %d", resp.StatusCode)
	}
	for range f.srv.cfg.Auth.MaxFailures {
		if _, _, err := f.srv.sess.RecordFailure(context.Background(), "analyst1", "127.0.0.1", f.clk.now()); err != nil {
			t.Fatal(err)
		}
	}
	f.clk.add(31 * time.Second)
	code, _ := auth.TOTPCode(secret, f.clk.now())
	c.do("GET", "/login/totp", nil, nil)
	if resp, _ := c.form("/login/totp", url.Values{"code": {code}}); resp.StatusCode == http.StatusSeeOther && resp.Header.Get("Location") == "/" {
		t.Error("a locked-out address completed sign-in with the right code")
	}
	if resp, _ := c.do("GET", "/api/v1/me", nil, nil); resp.StatusCode == http.StatusOK {
		t.Error("signed in from a locked-out address")
	}
}

// An estate kept as one file per customer names every customer in its
// source paths: a tenant scope sees none of them (runs, reports, snapshots).
func TestEstateSourcesHiddenFromTenants(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e, _ := f.srv.work.CurrentEstate()
	e2 := *e
	e2.Sources = []string{"/srv/estate/tenants/alpha-co.yaml", "/srv/estate/tenants/bravo-co.yaml"}
	meta, _, err := f.st.PutSnapshot(ctx, &e2, "/srv/estate/tenants/bravo-co.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rep := &assess.Report{Version: "1", At: f.clk.now(), Provider: "msp", Sources: e2.Sources, Results: []assess.Result{
		{Control: "MFA-1", Title: "Control MFA-1", Severity: "high", Subject: tenantA, Status: assess.StatusPass},
	}}
	run, err := f.st.SaveRun(ctx, meta.ID, "test", rep)
	if err != nil {
		t.Fatal(err)
	}
	r := strconv.FormatInt(run.ID, 10)
	v := f.client()
	v.login("viewer-a")
	for _, p := range []string{"/api/v1/assessments/" + r, "/api/v1/assessments", "/reports/json?run=" + r, "/api/v1/reports/sarif?run=" + r,
		"/api/v1/reports/oscal?run=" + r, "/api/v1/reports/html?run=" + r, "/api/v1/reports/csv?run=" + r, "/api/v1/estate", "/api/v1/estate?snapshot=" + strconv.FormatInt(meta.ID, 10)} {
		for _, who := range []string{"session", "token"} {
			var resp *http.Response
			var got string
			if who == "session" {
				resp, got = v.do("GET", p, nil, nil)
			} else {
				resp, got = f.client().do("GET", p, nil, map[string]string{"Authorization": "Bearer " + f.tokenA})
			}
			if i := strings.Index(got, markerB); i >= 0 {
				t.Errorf("GET %s as %s: %d names tenant B's estate file: …%s…", p, who, resp.StatusCode, got[max(0, i-60):min(len(got), i+30)])
			}
		}
	}
	o := f.client()
	o.login("analyst1")
	if _, got := o.do("GET", "/api/v1/assessments/"+r, nil, nil); !strings.Contains(got, "bravo-co.yaml") {
		t.Error("the MSP no longer sees the run's sources")
	}
}

// /metrics counts sign-in failures and incidents opened: from outside, an
// attacker would watch whether a spray raised an incident. Only loopback
// scrapers and MSP-wide callers (owner or analyst session, MSP-wide token)
// read it; /healthz and /readyz stay open.
func TestMetricsNotPublic(t *testing.T) {
	f := newFixture(t)
	f.srv.cfg.Auth.TrustProxyHeader = "X-Forwarded-For"
	remote := map[string]string{"X-Forwarded-For": "203.0.113.9"}
	msp, err := f.srv.createToken(context.Background(), &auth.Principal{Scope: store.AllTenants()}, tokenRequest{Name: "prometheus", Permissions: []string{store.PermRead}})
	if err != nil {
		t.Fatal(err)
	}
	with := func(h map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	if resp, got := f.client().do("GET", "/metrics", nil, remote); resp.StatusCode/100 == 2 || strings.Contains(got, "firebreak_") {
		t.Errorf("anonymous remote /metrics: %d", resp.StatusCode)
	}
	if resp, _ := f.client().do("GET", "/metrics", nil, with(remote, "Authorization", "Bearer "+f.tokenA)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("tenant token /metrics: %d, want 403", resp.StatusCode)
	}
	if resp, got := f.client().do("GET", "/metrics", nil, with(remote, "Authorization", "Bearer "+msp.Token)); resp.StatusCode != http.StatusOK || !strings.Contains(got, "firebreak_http_requests_total") {
		t.Errorf("MSP-wide token /metrics: %d", resp.StatusCode)
	}
	a := f.client()
	a.login("analyst1")
	if resp, _ := a.do("GET", "/metrics", nil, remote); resp.StatusCode != http.StatusOK {
		t.Errorf("analyst /metrics: %d", resp.StatusCode)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if resp, _ := f.client().do("GET", p, nil, remote); resp.StatusCode != http.StatusOK {
			t.Errorf("remote %s: %d", p, resp.StatusCode)
		}
	}
	f.srv.cfg.Auth.TrustProxyHeader = ""
	if resp, _ := f.client().do("GET", "/metrics", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("loopback scraper /metrics: %d", resp.StatusCode)
	}
}

// A failed sign-in records the username only when an account has it:
// people type passwords into the username box, so an unknown name is kept
// only as a keyed hash, in the audit log and in detection's events alike,
// and the same text always gives the same hash.
func TestFailedSignInRecordsNoUnknownUsername(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.do("GET", "/login", nil, nil)
	typed := "Correct-Horse-typed-as-a-username"
	for _, name := range []string{typed, typed, "analyst1"} {
		v := url.Values{"username": {name}, "password": {"wrong-password"}, "csrf": {c.csrf}}
		c.do("POST", "/login", strings.NewReader(v.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	}
	ctx := context.Background()
	es, err := f.st.ListAudit(ctx, store.AllTenants(), store.AuditFilter{Action: "login.failure", Limit: 10})
	if err != nil || len(es) != 3 {
		t.Fatalf("audit: %v %d entries, want 3", err, len(es))
	}
	var targets []string
	for _, e := range es {
		targets = append(targets, e.Target)
	}
	slices.Sort(targets)
	if targets[0] != "analyst1" || !strings.HasPrefix(targets[1], "unknown-") || targets[1] != targets[2] {
		t.Errorf("audit targets %q, want analyst1 and one repeated keyed hash", targets)
	}
	evs, err := f.st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Dataset: "firebreak.auth", Limit: 100})
	if err != nil || len(evs) < 3 {
		t.Fatalf("auth events: %v %d, want the three failures", err, len(evs))
	}
	for _, e := range evs {
		if strings.Contains(e.Event.UserName, "Horse") || strings.Contains(e.Raw, "Horse") {
			t.Errorf("detection event keeps the typed text: %+v", e.Event)
		}
	}
}

// A password someone else set (an administrator's create or reset, the
// bootstrap owner's printed one) is changed before anything else: pages
// send the user to the account page, the API refuses, and the change
// lifts both.
func TestOneTimePasswordMustBeChanged(t *testing.T) {
	f := newFixture(t)
	o := f.client()
	o.login("owner1")
	resp, body := o.do("POST", "/api/v1/users", strings.NewReader(`{"username":"newbie","role":"analyst"}`), map[string]string{"X-CSRF-Token": o.csrf, "Content-Type": "application/json"})
	var created struct{ Password string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal([]byte(body), &created) != nil || created.Password == "" {
		t.Fatalf("creating newbie: %d %s", resp.StatusCode, body)
	}
	f.pw["newbie"] = created.Password
	n := f.client()
	n.login("newbie")
	if resp, _ := n.do("GET", "/incidents", nil, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/account?change=1" {
		t.Errorf("page before the change: %d %q, want a redirect to the account page", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := n.do("GET", "/api/v1/me", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("API before the change: %d, want 403", resp.StatusCode)
	}
	if resp, body := n.do("GET", "/account", nil, nil); resp.StatusCode != 200 || !strings.Contains(body, "one-time password") {
		t.Errorf("account page: %d, want it to ask for a new password", resp.StatusCode)
	}
	nw := "velvet harbour quietly ninety lamps"
	if resp, _ := n.form("/account/password", url.Values{"current": {created.Password}, "new": {nw}, "again": {nw}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("change: %d", resp.StatusCode)
	}
	if resp, _ := n.do("GET", "/incidents", nil, nil); resp.StatusCode != 200 {
		t.Errorf("page after the change: %d", resp.StatusCode)
	}
	// An administrator's reset makes it one-time again.
	if u, err := f.st.GetUser(context.Background(), "newbie"); err != nil || u.MustChangePassword {
		t.Fatalf("after the change: %+v %v", u, err)
	}
	if _, err := f.srv.resetUser(context.Background(), &auth.Principal{Scope: store.AllTenants()}, "newbie"); err != nil {
		t.Fatal(err)
	}
	if u, _ := f.st.GetUser(context.Background(), "newbie"); !u.MustChangePassword {
		t.Error("a reset password is not one-time")
	}
}
