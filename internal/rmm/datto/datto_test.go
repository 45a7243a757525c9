package datto

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// fake is a Datto RMM platform built from the API v2 page: the token
// exchange (password grant, Basic public-client:public), lists answering
// {pageDetails:{count,nextPageUrl}, <items>} with at most 250 items (page
// numbers in nextPageUrl), activity logs in ascending order with a
// searchAfter cursor in nextPageUrl, and the 600-reads-per-60-seconds
// limit (429 beyond), counted on the fake's clock.
type fake struct {
	mu        sync.Mutex
	url       string
	sites     []site
	devices   map[string][]device
	users     []user
	acts      []activity
	latency   time.Duration
	limit     int
	clock     func() time.Time
	reads     []time.Time
	throttled int
	calls     int
	fault     func(r *http.Request) (int, string)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fault != nil {
		if st, body := f.fault(r); st != 0 {
			w.WriteHeader(st)
			io.WriteString(w, body)
			return
		}
	}
	if r.URL.Path == "/auth/oauth/token" {
		r.ParseForm()
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("public-client:public"))
		if r.Header.Get("Authorization") != basic || r.Form.Get("grant_type") != "password" || r.Form.Get("username") != "KEY" || r.Form.Get("password") != "datto-secret" {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":"unauthorized","error_description":"Bad credentials"}`)
			return
		}
		io.WriteString(w, `{"access_token":"datto-tok","token_type":"bearer","expires_in":359999}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer datto-tok" {
		w.WriteHeader(401)
		return
	}
	if f.limit > 0 {
		now := f.clock()
		f.reads = slices.DeleteFunc(f.reads, func(t time.Time) bool { return now.Sub(t) >= time.Minute })
		if len(f.reads) >= f.limit {
			f.throttled++
			w.WriteHeader(429)
			return
		}
		f.reads = append(f.reads, now)
	}
	q := r.URL.Query()
	pageNo, _ := strconv.Atoi(q.Get("page"))
	max, _ := strconv.Atoi(q.Get("max"))
	if max <= 0 || max > 250 {
		max = 250
	}
	nextURL := func(more bool) string {
		if !more {
			return ""
		}
		q2 := r.URL.Query()
		q2.Set("page", strconv.Itoa(pageNo+1))
		return f.url + r.URL.Path + "?" + q2.Encode()
	}
	switch {
	case r.URL.Path == "/api/v2/account/sites":
		lo, hi := min(pageNo*max, len(f.sites)), min((pageNo+1)*max, len(f.sites))
		json.NewEncoder(w).Encode(sitesPage{PageDetails: pageDetails{Count: hi - lo, NextPageURL: nextURL(hi < len(f.sites))}, Sites: f.sites[lo:hi]})
	case r.URL.Path == "/api/v2/account/users":
		json.NewEncoder(w).Encode(usersPage{Users: f.users})
	case strings.HasPrefix(r.URL.Path, "/api/v2/site/") && strings.HasSuffix(r.URL.Path, "/devices"):
		uid := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v2/site/"), "/devices")
		all := f.devices[uid]
		lo, hi := min(pageNo*max, len(all)), min((pageNo+1)*max, len(all))
		json.NewEncoder(w).Encode(devicesPage{PageDetails: pageDetails{Count: hi - lo, NextPageURL: nextURL(hi < len(all))}, Devices: all[lo:hi]})
	case r.URL.Path == "/api/v2/activity-logs":
		from, err1 := time.Parse(time.RFC3339Nano, q.Get("from"))
		until, err2 := time.Parse(time.RFC3339Nano, q.Get("until"))
		if err1 != nil || err2 != nil || q.Get("order") != "asc" {
			w.WriteHeader(400)
			return
		}
		after, _ := strconv.Atoi(q.Get("searchAfter"))
		var out []activity
		last := after
		for i := after; i < len(f.acts) && len(out) < 250; i++ {
			ts := time.Unix(0, int64(f.acts[i].Date*1e9))
			if !ts.Before(from) && ts.Before(until) {
				out = append(out, f.acts[i])
			}
			last = i + 1
		}
		next := ""
		if last < len(f.acts) {
			q2 := r.URL.Query()
			q2.Set("searchAfter", strconv.Itoa(last))
			next = f.url + r.URL.Path + "?" + q2.Encode()
		}
		json.NewEncoder(w).Encode(activitiesPage{PageDetails: pageDetails{Count: len(out), NextPageURL: next}, Activities: out})
	default:
		w.WriteHeader(404)
	}
}

func newFake(sites, devs int) *fake {
	f := &fake{devices: map[string][]device{}, clock: time.Now}
	for s := 1; s <= sites; s++ {
		uid := fmt.Sprintf("site-%04d", s)
		f.sites = append(f.sites, site{ID: s, UID: uid, Name: fmt.Sprintf("Client %03d", s)})
		for d := 0; d < devs; d++ {
			dv := device{ID: s*100000 + d, UID: fmt.Sprintf("%s-dev-%05d", uid, d), SiteUID: uid, Hostname: fmt.Sprintf("CL%03d-%05d", s, d), Online: d%7 != 0}
			dv.DeviceType.Category = "Desktop"
			f.devices[uid] = append(f.devices[uid], dv)
		}
	}
	f.users = []user{{Username: "sam", Email: "sam@msp.example", FirstName: "Sam", LastName: "Carter", LastAccess: 1.76e12}, {Username: "old", Email: "old@msp.example", Disabled: true}}
	return f
}

func start(t testing.TB, f *fake) *httptest.Server {
	srv := httptest.NewServer(f)
	f.url = srv.URL
	t.Cleanup(srv.Close)
	return srv
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func newConn(t testing.TB, url string, perMinute int, clk *clock) *Connector {
	env := connector.Env{Getenv: func(string) string { return "datto-secret" }}
	if clk != nil {
		env.Now, env.Retry.Sleep = clk.Now, clk.Sleep
	}
	c, err := New(Config{URL: url, APIKey: "KEY", APISecret: connector.SecretRef{Env: "DATTO_SECRET"}, RequestsPerMinute: perMinute}, env)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCollect(t *testing.T) {
	f := newFake(3, 260) // two device pages a site
	srv := start(t, f)
	ev, err := newConn(t, srv.URL, 0, nil).Collect(t.Context(), connector.Request{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	fr := ev.Fragment
	if len(fr.Tenants) != 3 || fr.Tenants[2].ID != "client-003" || fr.Tenants[2].Endpoints != 260 || len(fr.Assets) != 780 {
		t.Fatalf("tenants %+v, %d assets", fr.Tenants, len(fr.Assets))
	}
	if len(fr.Identities) != 2 || *fr.Identities[0].Enabled {
		t.Errorf("identities %+v (the disabled user first, sorted)", fr.Identities)
	}
	for _, r := range ev.Tenants[1:] {
		if r.Counts["devices"] != 260 || r.Counts["offline"] != 38 {
			t.Errorf("run %+v", r)
		}
	}
	e := *fr
	e.Provider = estate.Provider{ID: "msp", Name: "MSP"}
	if err := estate.Validate(&e); err != nil {
		t.Errorf("fragment does not validate: %v", err)
	}
}

// TestRateLimitKept: with a budget of 5 reads a minute the connector
// waits (on the injected clock) instead of drawing 429s.
func TestRateLimitKept(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	f := newFake(12, 3)
	f.limit, f.clock = 5, clk.Now
	srv := start(t, f)
	c := newConn(t, srv.URL, 5, clk)
	c.limit = 1 // one site at a time, so the window is exercised in order
	ev, err := c.Collect(t.Context(), connector.Request{Now: clk.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if f.throttled != 0 || len(ev.Fragment.Assets) != 36 {
		t.Errorf("%d answers 429, %d assets", f.throttled, len(ev.Fragment.Assets))
	}
	if el := clk.Now().Sub(time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)); el < 2*time.Minute {
		t.Errorf("14 reads at 5 a minute took %v of clock", el)
	}
}

func TestPollCursor(t *testing.T) {
	f := newFake(6, 2)
	base := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 600; i++ {
		a := activity{ID: fmt.Sprintf("a%04d", i), Entity: "DEVICE", Category: "device", Action: "status", Date: float64(base.Add(time.Duration(i) * time.Second).Unix())}
		a.Site.UID, a.Site.Name = f.sites[i%6].UID, f.sites[i%6].Name
		f.acts = append(f.acts, a)
	}
	// One operator's jobs on six sites, two at the same second.
	for s := 0; s < 6; s++ {
		a := activity{ID: fmt.Sprintf("j%d", s), Entity: "DEVICE", Category: "job", Action: "deployment", Date: float64(base.Add(700*time.Second + time.Duration(s/2)*time.Second).Unix()), Hostname: "HOST"}
		a.Site.UID, a.Site.Name, a.User.UserName = f.sites[s].UID, f.sites[s].Name, "mallory"
		f.acts = append(f.acts, a)
	}
	srv := start(t, f)
	c := newConn(t, srv.URL, 0, nil)
	var got []string
	poll := func(cur connector.Cursor, now time.Time) connector.Cursor {
		next, runs, err := c.Poll(t.Context(), connector.Request{Now: now}, cur, func(r connector.Record) error {
			var a struct{ ActivityID, Action, Tenant, Operator string }
			json.Unmarshal(r.Raw, &a)
			var m map[string]string
			json.Unmarshal(r.Raw, &m)
			got = append(got, m["activity_id"]+" "+m["action"]+" "+m["tenant"])
			return nil
		})
		if err != nil || !runs[0].OK() {
			t.Fatalf("%v %+v", err, runs)
		}
		return next
	}
	// First poll up to just after the fourth job (two jobs a second).
	cur := poll(nil, base.Add(701*time.Second+500*time.Millisecond))
	if len(got) != 604 || !strings.HasPrefix(got[600], "j0 job.run client-001") {
		t.Fatalf("first poll: %d, %v", len(got), got[598:])
	}
	// The next poll starts at the last second and skips what it emitted.
	cur = poll(cur, base.Add(time.Hour))
	if len(got) != 606 || got[604] != "j4 job.run client-005" {
		t.Fatalf("second poll: %v (cursor %v)", got[600:], cur)
	}
	seen := map[string]bool{}
	for _, g := range got {
		if seen[g] {
			t.Errorf("emitted twice: %s", g)
		}
		seen[g] = true
	}
}

func TestBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(r *http.Request) (int, string)
		check func(t *testing.T, ev *connector.Evidence, err error)
	}{
		{"bad-credentials-gap", func(r *http.Request) (int, string) {
			if r.URL.Path == "/auth/oauth/token" {
				return 401, `{"error":"unauthorized","error_description":"Bad credentials"}`
			}
			return 0, ""
		}, func(t *testing.T, ev *connector.Evidence, err error) {
			if err != nil || len(ev.Fragment.CollectionGap) != 1 || !strings.Contains(ev.Fragment.CollectionGap[0].Reason, "401") {
				t.Errorf("%v %+v", err, ev)
			}
		}},
		{"users-forbidden", func(r *http.Request) (int, string) {
			if r.URL.Path == "/api/v2/account/users" {
				return 403, `{"message":"Access denied"}`
			}
			return 0, ""
		}, func(t *testing.T, ev *connector.Evidence, err error) {
			if err != nil || len(ev.Fragment.Identities) != 0 || len(ev.Fragment.Assets) != 4 || len(ev.Fragment.CollectionGap) != 1 {
				t.Errorf("%v %+v", err, ev.Fragment.CollectionGap)
			}
		}},
		{"truncated-site-devices", func(r *http.Request) (int, string) {
			if strings.Contains(r.URL.Path, "site-0001/devices") {
				return 200, `{"pageDetails":{"count":2},"devices":[{"uid":"x"`
			}
			return 0, ""
		}, func(t *testing.T, ev *connector.Evidence, err error) {
			if err != nil || len(ev.Fragment.Assets) != 2 || ev.Tenants[1].OK() {
				t.Errorf("%v %+v", err, ev.Tenants)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(2, 2)
			f.fault = tc.fault
			srv := start(t, f)
			clk := &clock{now: time.Now()}
			ev, err := newConn(t, srv.URL, 0, clk).Collect(t.Context(), connector.Request{Now: time.Now()})
			tc.check(t, ev, err)
		})
	}
}

// BenchmarkCollect200x500: 200 sites × 500 devices (two pages a site,
// 403 calls), every call answered after 50 ms, Datto's read budget kept.
// Target ≤ 15 s. Back-to-back collections in one minute would wait for
// the budget (600 reads a rolling minute), as they must.
func BenchmarkCollect200x500(b *testing.B) {
	f := newFake(200, 500)
	f.latency = 50 * time.Millisecond
	srv := start(b, f)
	for b.Loop() {
		// A fresh connector each time: one collection a schedule period
		// (15 min), each with Datto's whole 600-a-minute read budget.
		c := newConn(b, srv.URL, 0, nil)
		ev, err := c.Collect(context.Background(), connector.Request{Now: time.Now()})
		if err != nil || len(ev.Fragment.Assets) != 100000 {
			b.Fatalf("%v", err)
		}
	}
	b.ReportMetric(float64(f.calls)/float64(b.N), "calls/op")
}
