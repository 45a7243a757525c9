package ninjaone

import (
	"bytes"
	"context"
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
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// fake is a NinjaOne instance built from the API v2 reference: the token
// endpoint (form grant_type=client_credentials, client_id, client_secret,
// scope), lists paged with pageSize and after=<last id> (plain JSON
// arrays), and /v2/activities answering {lastActivityId, activities}
// newest first between newerThan and olderThan.
type fake struct {
	mu         sync.Mutex
	orgs       []org
	devices    map[int][]device // by organisation
	users      []user
	activities []activity // ascending ids
	latency    time.Duration
	calls      int
	inFlight   int
	maxFlight  int
	fault      func(r *http.Request) (int, string, http.Header) // status 0: go on
	repeat     bool                                             // lists ignore after= (a server that repeats pages)
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls++
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	fault := f.fault
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	if f.latency > 0 {
		time.Sleep(f.latency)
	}
	if fault != nil {
		if st, body, h := fault(r); st != 0 {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(st)
			io.WriteString(w, body)
			return
		}
	}
	if r.URL.Path == "/ws/oauth/token" {
		r.ParseForm()
		if r.Form.Get("grant_type") != "client_credentials" || r.Form.Get("client_secret") != "ninja-secret" || !strings.Contains(r.Form.Get("scope"), "monitoring") {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		io.WriteString(w, `{"access_token":"ninja-tok","token_type":"Bearer","expires_in":3600}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer ninja-tok" {
		w.WriteHeader(401)
		return
	}
	q := r.URL.Query()
	size, _ := strconv.Atoi(q.Get("pageSize"))
	if size <= 0 {
		size = 1000
	}
	after, _ := strconv.Atoi(q.Get("after"))
	if f.repeat {
		after = 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.URL.Path == "/v2/organizations":
		json.NewEncoder(w).Encode(page(f.orgs, after, size, func(o org) int { return o.ID }))
	case r.URL.Path == "/v2/users":
		json.NewEncoder(w).Encode(page(f.users, after, size, func(u user) int { return u.ID }))
	case strings.HasPrefix(r.URL.Path, "/v2/organization/") && strings.HasSuffix(r.URL.Path, "/devices"):
		id, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/organization/"), "/devices"))
		json.NewEncoder(w).Encode(page(f.devices[id], after, size, func(d device) int { return d.ID }))
	case strings.HasPrefix(r.URL.Path, "/v2/organization/"):
		id, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/v2/organization/"))
		for _, o := range f.orgs {
			if o.ID == id {
				json.NewEncoder(w).Encode(o)
				return
			}
		}
		w.WriteHeader(404)
	case strings.HasPrefix(r.URL.Path, "/v2/device/"):
		id, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/v2/device/"))
		for _, ds := range f.devices {
			for _, d := range ds {
				if d.ID == id {
					json.NewEncoder(w).Encode(d)
					return
				}
			}
		}
		w.WriteHeader(404)
	case r.URL.Path == "/v2/activities":
		newer, _ := strconv.ParseInt(q.Get("newerThan"), 10, 64)
		older, _ := strconv.ParseInt(q.Get("olderThan"), 10, 64)
		var out []activity
		for i := len(f.activities) - 1; i >= 0 && len(out) < size; i-- {
			a := f.activities[i]
			if a.ID > newer && (older == 0 || a.ID < older) {
				out = append(out, a)
			}
		}
		var last int64
		if len(f.activities) > 0 {
			last = f.activities[len(f.activities)-1].ID
		}
		json.NewEncoder(w).Encode(activityPage{LastActivityID: last, Activities: out})
	default:
		w.WriteHeader(404)
	}
}

func page[T any](all []T, after, size int, id func(T) int) []T {
	out := []T{}
	for _, v := range all {
		if id(v) > after && len(out) < size {
			out = append(out, v)
		}
	}
	return out
}

// estateOf builds orgs × devs per org, three technicians and no activity.
func newFake(orgs, devs int) *fake {
	f := &fake{devices: map[int][]device{}}
	id := 1
	for o := 1; o <= orgs; o++ {
		f.orgs = append(f.orgs, org{ID: o, Name: fmt.Sprintf("Customer %03d Ltd", o)})
		for d := 0; d < devs; d++ {
			class := "WINDOWS_WORKSTATION"
			if d == 0 {
				class = "WINDOWS_SERVER"
			}
			f.devices[o] = append(f.devices[o], device{ID: id, OrganizationID: o, NodeClass: class, SystemName: fmt.Sprintf("C%03d-PC-%04d", o, d), LastContact: 1.7e9})
			id++
		}
	}
	yes, no := true, false
	f.users = []user{
		{ID: 1, FirstName: "Sam", LastName: "Carter", Email: "sam@msp.example", UserType: "TECHNICIAN", Administrator: true, PermitAllClients: true, MFAConfigured: &yes},
		{ID: 2, FirstName: "Umar", LastName: "Farouk", Email: "umar@msp.example", UserType: "TECHNICIAN", PermitAllClients: false, MFAConfigured: &no},
		{ID: 3, FirstName: "End", LastName: "User", Email: "someone@customer.example", UserType: "END_USER"},
	}
	return f
}

var env = connector.Env{Getenv: func(string) string { return "ninja-secret" }, Retry: connector.Retry{Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }}}

func newConn(t testing.TB, url string, e connector.Env) *Connector {
	t.Helper()
	c, err := New(Config{URL: url, ClientID: "fb", ClientSecret: connector.SecretRef{Env: "NINJA"}, PageSize: 100}, e)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCollect(t *testing.T) {
	f := newFake(3, 250)
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newConn(t, srv.URL, env)
	ev, err := c.Collect(t.Context(), connector.Request{Now: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	fr := ev.Fragment
	if len(fr.Tenants) != 3 || fr.Tenants[0].ID != "customer-001-ltd" || fr.Tenants[0].Endpoints != 250 || len(fr.Assets) != 750 {
		t.Fatalf("tenants %+v, %d assets", fr.Tenants, len(fr.Assets))
	}
	if a := fr.Assets[0]; a.Agents[0] != "ninjaone" || a.Provenance == nil || a.Provenance.Source == "" {
		t.Errorf("asset %+v", a)
	}
	if len(fr.Identities) != 2 {
		t.Fatalf("identities %+v (end users must not be technicians)", fr.Identities)
	}
	grants := map[string]estate.Grant{}
	for _, g := range fr.Grants {
		grants[g.ID] = g
	}
	if g := grants["ninjaone-sam-msp-example-console"]; g.Privilege != estate.PrivAdmin {
		t.Errorf("admin technician grant %+v", g)
	}
	if g := grants["ninjaone-agents-customer-002-ltd"]; g.Privilege != estate.PrivFull || g.Subject != "ninjaone" {
		t.Errorf("agent grant %+v", g)
	}
	if err := estate.Validate(mergeInto(fr)); err != nil {
		t.Errorf("fragment does not validate: %v", err)
	}
}

// mergeInto makes a minimal estate around a fragment for validation.
func mergeInto(fr *estate.Estate) *estate.Estate {
	e := *fr
	e.Provider = estate.Provider{ID: "msp", Name: "MSP"}
	return &e
}

func TestBadAnswers(t *testing.T) {
	cases := []struct {
		name  string
		fault func(r *http.Request) (int, string, http.Header)
		check func(t *testing.T, ev *connector.Evidence, err error, f *fake)
	}{
		{"users-forbidden-is-a-gap", func(r *http.Request) (int, string, http.Header) {
			if r.URL.Path == "/v2/users" {
				return 403, `{"error":"insufficient_scope"}`, nil
			}
			return 0, "", nil
		}, func(t *testing.T, ev *connector.Evidence, err error, f *fake) {
			if err != nil || len(ev.Fragment.Identities) != 0 || len(ev.Fragment.Assets) != 20 {
				t.Fatalf("%v %+v", err, ev)
			}
			g := ev.Fragment.CollectionGap
			if len(g) != 1 || g[0].Permission != permManagement || !strings.Contains(g[0].Reason, "403") {
				t.Errorf("gaps %+v", g)
			}
		}},
		{"one-org-5xx-isolated", func(r *http.Request) (int, string, http.Header) {
			if r.URL.Path == "/v2/organization/2/devices" {
				return 502, "<html><body>Bad gateway</body></html>", nil
			}
			return 0, "", nil
		}, func(t *testing.T, ev *connector.Evidence, err error, f *fake) {
			if err != nil || len(ev.Fragment.Assets) != 10 {
				t.Fatalf("%v, %d assets", err, len(ev.Fragment.Assets))
			}
			var bad *connector.TenantRun
			for i := range ev.Tenants {
				if ev.Tenants[i].Tenant == "customer-002-ltd" {
					bad = &ev.Tenants[i]
				}
			}
			if bad == nil || bad.OK() || !strings.Contains(strings.Join(bad.Errors, ""), "502") {
				t.Errorf("run %+v", bad)
			}
		}},
		{"429-then-ok", func() func(r *http.Request) (int, string, http.Header) {
			n := 0
			return func(r *http.Request) (int, string, http.Header) {
				if r.URL.Path == "/v2/organizations" && n < 2 {
					n++
					if n == 1 {
						return 429, `{"error":"rate limited"}`, http.Header{"Retry-After": {"1"}}
					}
					return 429, `{"error":"rate limited"}`, nil
				}
				return 0, "", nil
			}
		}(), func(t *testing.T, ev *connector.Evidence, err error, f *fake) {
			if err != nil || len(ev.Fragment.Tenants) != 2 || ev.Stats.Throttled != 2 {
				t.Fatalf("%v %+v", err, ev.Stats)
			}
		}},
		{"truncated-json", func(r *http.Request) (int, string, http.Header) {
			if r.URL.Path == "/v2/organizations" {
				return 200, `[{"id":1,"name":"Cust`, nil
			}
			return 0, "", nil
		}, func(t *testing.T, ev *connector.Evidence, err error, f *fake) {
			if err == nil || !strings.Contains(err.Error(), "decoding JSON") {
				t.Errorf("err = %v", err)
			}
		}},
		{"html-login-page", func(r *http.Request) (int, string, http.Header) {
			if r.URL.Path == "/v2/organizations" {
				return 200, `<!DOCTYPE html><html><title>NinjaOne login</title></html>`, http.Header{"Content-Type": {"text/html"}}
			}
			return 0, "", nil
		}, func(t *testing.T, ev *connector.Evidence, err error, f *fake) {
			if err == nil || !strings.Contains(err.Error(), "not JSON") {
				t.Errorf("err = %v", err)
			}
		}},
		{"bad-secret", func(r *http.Request) (int, string, http.Header) {
			if r.URL.Path == "/ws/oauth/token" {
				return 401, `{"error":"invalid_client","error_description":"Invalid client credentials"}`, nil
			}
			return 0, "", nil
		}, func(t *testing.T, ev *connector.Evidence, err error, f *fake) {
			if err != nil || len(ev.Fragment.CollectionGap) != 1 || !strings.Contains(ev.Fragment.CollectionGap[0].Reason, "401") {
				t.Errorf("%v %+v", err, ev)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(2, 10)
			f.fault = tc.fault
			srv := httptest.NewServer(f)
			defer srv.Close()
			ev, err := newConn(t, srv.URL, env).Collect(t.Context(), connector.Request{Now: time.Now()})
			tc.check(t, ev, err, f)
		})
	}
	t.Run("repeating-pages", func(t *testing.T) {
		f := newFake(1, 300) // 3 pages of 100
		f.repeat = true
		srv := httptest.NewServer(f)
		defer srv.Close()
		ev, err := newConn(t, srv.URL, env).Collect(t.Context(), connector.Request{Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		run := ev.Tenants[1]
		if run.OK() || !strings.Contains(strings.Join(run.Errors, ""), "repeats") || f.calls > 10 {
			t.Errorf("run %+v after %d calls", run, f.calls)
		}
	})
}

// TestActivitiesFeedDetection: one technician runs a script on endpoints
// of six customers within five minutes; the poll emits RMM audit records,
// ingest reads them with the built-in "rmm" format, and the built-in
// fan-out rule raises its incident.
func TestActivitiesFeedDetection(t *testing.T) {
	f := newFake(8, 3)
	base := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	id := int64(5000)
	add := func(at time.Time, dev, user int, typ, code, res string) {
		id++
		f.activities = append(f.activities, activity{ID: id, ActivityTime: float64(at.Unix()), DeviceID: dev, UserID: user, ActivityType: typ, StatusCode: code, ActivityResult: res, SourceName: "Encrypt-Files.ps1"})
	}
	for o := 0; o < 6; o++ {
		add(base.Add(time.Duration(o)*40*time.Second), o*3+1, 2, "SCRIPTING", "SCRIPT_RUN", "SUCCESS")
	}
	for i := 0; i < 250; i++ { // routine noise: one customer
		add(base.Add(-time.Duration(i)*time.Second), 1, 1, "CONDITION", "TRIGGERED", "")
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newConn(t, srv.URL, env)
	now := base.Add(10 * time.Minute)
	if _, err := c.Collect(t.Context(), connector.Request{Now: now}); err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	cur, runs, err := c.Poll(t.Context(), connector.Request{Now: now}, nil, func(r connector.Record) error {
		if r.Format != "rmm" {
			t.Fatalf("format %s", r.Format)
		}
		raw.Write(r.Raw)
		raw.WriteByte('\n')
		return nil
	})
	if err != nil || runs[0].Counts["events"] != 256 || cur["activities"] != strconv.FormatInt(id, 10) {
		t.Fatalf("poll: %v %+v cursor %v", err, runs, cur)
	}
	// A second poll reads nothing new.
	n := 0
	cur2, _, _ := c.Poll(t.Context(), connector.Request{Now: now}, cur, func(connector.Record) error { n++; return nil })
	if n != 0 || cur2["activities"] != cur["activities"] {
		t.Errorf("second poll emitted %d, cursor %v", n, cur2)
	}
	rules, err := detect.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := detect.NewEngine(rules, detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ingest.NewReader("ninjaone", &raw, ingest.Options{Format: "rmm"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		var ev event.Event
		if err := rd.Next(&ev); err != nil {
			break
		}
		eng.Process(&ev)
	}
	eng.Flush()
	var got []string
	for _, inc := range eng.Incidents() {
		got = append(got, inc.RuleName)
		if inc.RuleName == "rmm_fanout_operator" && (inc.Key["user.name"] != "umar@msp.example" || len(inc.Tenants) != 6) {
			t.Errorf("incident %+v", inc)
		}
	}
	if !slices.Contains(got, "rmm_fanout_operator") {
		t.Errorf("incidents %v, want rmm_fanout_operator", got)
	}
}

// BenchmarkCollect200x500: 200 organisations × 500 devices, every call
// answered after 50 ms, with the default concurrency bound (16). The
// issue's target: ≤ 15 s.
func BenchmarkCollect200x500(b *testing.B) {
	f := newFake(200, 500)
	f.latency = 50 * time.Millisecond
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := New(Config{URL: srv.URL, ClientID: "fb", ClientSecret: connector.SecretRef{Env: "NINJA"}}, env)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ev, err := c.Collect(context.Background(), connector.Request{Now: time.Now()})
		if err != nil || len(ev.Fragment.Assets) != 100000 {
			b.Fatalf("%v", err)
		}
	}
	b.ReportMetric(float64(f.maxFlight), "max-in-flight")
}
