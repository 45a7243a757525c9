package google

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/google/googletest"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/connector/connectortest"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
)

var testNow = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

const saEmail = "firebreak@msp-project.iam.gserviceaccount.com"

// setup starts the fake and returns the connector config pieces.
func setup(t testing.TB, cs ...*googletest.Customer) (*googletest.Server, connector.Env, []CustomerConfig) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := googletest.NewServer(t, &key.PublicKey, saEmail, cs...)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyJSON, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": "msp-project", "private_key_id": "k1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "client_email": saEmail,
		"client_id": "1", "token_uri": srv.Srv.URL + "/token"})
	env := connector.Env{Now: func() time.Time { return testNow }, Concurrency: 16,
		ReadFile: func(string) ([]byte, error) { return keyJSON, nil },
		Retry:    connector.Retry{Attempts: 4, Sleep: func(context.Context, time.Duration) error { return nil }}}
	var cc []CustomerConfig
	for _, c := range cs {
		cc = append(cc, CustomerConfig{Tenant: strings.Split(c.Domain, ".")[0], CustomerID: c.ID, AdminEmail: c.Admin, ServiceAccountKey: connector.SecretRef{File: "/keys/sa.json"}})
	}
	return srv, env, cc
}

func cust(name string, users int) *googletest.Customer {
	return &googletest.Customer{ID: "C0" + name, Domain: name + ".example", Admin: "admin@" + name + ".example", Users: users}
}

func TestCollect(t *testing.T) {
	acme, nodel, forb, trunc := cust("acme", 1200), cust("nodel", 5), cust("forb", 10), cust("trunc", 10)
	nodel.NoDelegation = true
	forb.Forbid = []string{"/admin/directory/v1/customer"}
	trunc.Truncate = true
	srv, env, cc := setup(t, acme, nodel, forb, trunc)
	srv.ThrottleEvery = 5
	g, err := New(Config{Customers: cc, APIURL: srv.Srv.URL}, env)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := g.Collect(context.Background(), connector.Request{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	runs := map[string]connector.TenantRun{}
	for _, r := range ev.Tenants {
		runs[r.Tenant] = r
	}
	// acme: 1200 users over three pages; 2SV enrolled where i%3 != 2 (800),
	// enforced where i%2 == 0 (600).
	if r := runs["acme"]; !r.OK() || r.Counts["users"] != 1200 || r.Counts["2sv_enrolled"] != 800 || r.Counts["2sv_enforced"] != 600 || len(r.Gaps) != 0 {
		t.Errorf("acme %+v", r)
	}
	// unauthorized_client: delegation not granted, not a missing scope: a
	// failed tenant, no permission named.
	if r := runs["nodel"]; r.OK() || len(r.Gaps) != 1 || r.Gaps[0].Permission != "" || !strings.Contains(r.Gaps[0].Reason, "domain-wide delegation is not granted") {
		t.Errorf("nodel %+v", r)
	}
	if r := runs["forb"]; !r.OK() || r.Counts["users"] != 10 || len(r.Gaps) != 1 || r.Gaps[0].Permission != ScopeRoles {
		t.Errorf("forb: a roles 403 is a named gap, users kept: %+v", r)
	}
	if r := runs["trunc"]; r.OK() || !strings.Contains(strings.Join(r.Errors, ""), "decoding JSON") {
		t.Errorf("trunc %+v", r)
	}
	find := func(id string) *estate.Identity {
		for i := range ev.Fragment.Identities {
			if ev.Fragment.Identities[i].ID == id {
				return &ev.Fragment.Identities[i]
			}
		}
		return nil
	}
	u0 := find("acme/google/user0@acme.example")
	if u0 == nil || !slices.Equal(u0.Roles, []string{"_SEED_ADMIN_ROLE", "Super Admin"}) || u0.MFA.Enforced == nil || !*u0.MFA.Enforced || u0.LastSignIn.Format(time.DateOnly) != "2026-11-25" {
		t.Errorf("user0 %+v", u0)
	}
	// Enforced but not enrolled (user2): the password alone still signs
	// in during the enrollment period, so no "MFA enforced".
	if u2 := find("acme/google/user2@acme.example"); u2 == nil || u2.MFA.Enforced == nil || *u2.MFA.Enforced || runs["acme"].Counts["2sv_enforced_not_enrolled"] != 200 {
		t.Errorf("enforced, not enrolled: %+v %v", u2, runs["acme"].Counts)
	}
	if u1 := find("acme/google/user1@acme.example"); u1 == nil || !slices.Equal(u1.Roles, []string{"_HELP_DESK_ADMIN_ROLE (org unit 03ph8a2z1)"}) || *u1.MFA.Enforced {
		t.Errorf("user1 %+v", u1)
	}
	if u := find("acme/google/user5@acme.example"); u == nil || u.LastSignIn != nil {
		t.Errorf("never logged in (1970) %+v", u)
	}
	if u48, u49 := find("acme/google/user48@acme.example"), find("acme/google/user49@acme.example"); u48.IsEnabled() || u49.IsEnabled() {
		t.Error("archived or suspended user enabled")
	}
	// Without the roles scope, isAdmin (users scope) still names super admins.
	if u := find("forb/google/user0@forb.example"); u == nil || !slices.Equal(u.Roles, []string{"Super Admin"}) {
		t.Errorf("forb user0 %+v", u)
	}
	if m := connector.MissingProvenance(ev.Fragment); len(m) != 0 {
		t.Errorf("no provenance: %v", m)
	}
	for _, tl := range ev.Fragment.Tools {
		if tl.ID == "google-acme" && (tl.Logging.Enabled == nil || !*tl.Logging.Enabled || tl.Logging.RetentionDays != 180) {
			t.Errorf("login audit as evidence: %+v", tl.Logging)
		}
	}
	if st := g.Stats(); st.Throttled == 0 {
		t.Errorf("429 without Retry-After not exercised: %+v", st)
	}
}

func TestPollLogins(t *testing.T) {
	c := cust("acme", 1)
	for i := range 30 {
		name, ft := "login_failure", "login_failure_invalid_password"
		if i%6 == 5 {
			name, ft = "login_success", ""
		}
		c.Activities = append(c.Activities, googletest.Login(c, i, testNow.Add(time.Duration(i-30)*time.Minute), name, ft, fmt.Sprintf("user%d@acme.example", i%4), "203.0.113.9"))
	}
	srv, env, cc := setup(t, c)
	g, _ := New(Config{Customers: cc, APIURL: srv.Srv.URL, LoginSince: 20 * time.Minute}, env)
	var got []event.Event
	emit := func(r connector.Record) error { got = append(got, *r.Event); return nil }
	cur, runs, _ := g.Poll(context.Background(), connector.Request{Now: testNow}, nil, emit)
	if len(got) != 20 || !runs[0].OK() {
		t.Fatalf("first poll (20 minutes): %d events %+v", len(got), runs)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Timestamp.Before(got[i-1].Timestamp) {
			t.Fatal("events not oldest first")
		}
	}
	if e := got[0]; e.Outcome != event.OutcomeFailure || e.Reason != "bad_password" || e.UserName == "" || e.SourceIP.String() != "203.0.113.9" || e.Tenant != "acme" {
		t.Errorf("event %+v", e)
	}
	// Nothing new: nothing emitted (the newest activity's id is remembered).
	cur, _, _ = g.Poll(context.Background(), connector.Request{Now: testNow}, cur, emit)
	if len(got) != 20 {
		t.Errorf("repeat poll emitted %d", len(got)-20)
	}
	c.Activities = append(c.Activities, googletest.Login(c, 99, testNow.Add(time.Minute), "login_success", "", "user1@acme.example", "203.0.113.9"))
	g.Poll(context.Background(), connector.Request{Now: testNow}, cur, emit)
	if len(got) != 21 || got[20].Outcome != event.OutcomeSuccess {
		t.Errorf("new activity: %d events", len(got))
	}
}

func FuzzEvents(f *testing.F) {
	c := cust("acme", 1)
	b, _ := json.Marshal(googletest.Login(c, 1, testNow, "login_failure", "login_failure_invalid_password", "a@acme.example", "203.0.113.9"))
	f.Add(b)
	f.Add([]byte(`{"id":{"time":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := Events("t", b)
		if err == nil {
			for _, e := range evs {
				if e.Timestamp.IsZero() || e.Tenant != "t" {
					t.Fatalf("%+v", e)
				}
			}
		}
	})
}

// BenchmarkCollect200x500 collects 200 customers × 500 users with 50 ms
// latency per call and a 429 (no Retry-After) every 100th request:
//
//	go test ./internal/collect/google -run XXX -bench Collect200 -benchtime=1x
func BenchmarkCollect200x500(b *testing.B) {
	var cs []*googletest.Customer
	for i := range 200 {
		cs = append(cs, cust(fmt.Sprintf("c%03d", i), 500))
	}
	srv, env, cc := setup(b, cs...)
	srv.Latency = 50 * time.Millisecond
	srv.ThrottleEvery = 100
	env.Now, env.Retry, env.Concurrency = nil, connector.Retry{Base: 100 * time.Millisecond}, 64
	for b.Loop() {
		g, err := New(Config{Customers: cc, APIURL: srv.Srv.URL}, env)
		if err != nil {
			b.Fatal(err)
		}
		start, cpu0 := time.Now(), connectortest.ProcessCPU()
		ev, _ := g.Collect(context.Background(), connector.Request{})
		users := 0
		for _, r := range ev.Tenants {
			if !r.OK() {
				b.Fatalf("%s: %v", r.Tenant, r.Errors)
			}
			users += r.Counts["users"]
		}
		if users != 100000 {
			b.Fatalf("users %d", users)
		}
		st := g.Stats()
		b.ReportMetric(time.Since(start).Seconds(), "s/run")
		b.ReportMetric((connectortest.ProcessCPU() - cpu0).Seconds(), "cpu-s(client+fake)")
		b.ReportMetric(float64(st.Calls), "calls")
		b.ReportMetric(float64(st.Throttled), "throttled")
	}
}
