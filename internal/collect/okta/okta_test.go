package okta

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/okta/oktatest"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/connector/connectortest"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"go.yaml.in/yaml/v3"
)

var testNow = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func fastEnv(vars map[string]string) connector.Env {
	return connector.Env{Getenv: func(k string) string { return vars[k] }, Now: func() time.Time { return testNow }, Concurrency: 16,
		Retry: connector.Retry{Attempts: 4, Sleep: func(context.Context, time.Duration) error { return nil }}}
}

func events(n int) []map[string]any {
	var out []map[string]any
	for i := range n {
		outcome := "FAILURE"
		if i%5 == 4 {
			outcome = "SUCCESS"
		}
		out = append(out, oktatest.Event(fmt.Sprintf("e%03d", i), testNow.Add(time.Duration(i-n)*time.Minute).Format("2006-01-02T15:04:05.000Z"),
			"user.session.start", outcome, fmt.Sprintf("user%d@acme.example", i%7), "198.51.100.7"))
	}
	return out
}

// TestCollect covers users (status, last login), factors, admin roles and
// per-org isolation: a 403 on factors is a named gap, an HTML page on
// users loses only that org, a revoked token only that org.
func TestCollect(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))})
	srv := oktatest.NewServer(t,
		&oktatest.Org{Slug: "acme", Users: 250, Token: "ssws-acme"},
		&oktatest.Org{Slug: "beta", Users: 30, ClientID: "0oaservice", Key: &key.PublicKey},
		&oktatest.Org{Slug: "gamma", Users: 20, Token: "ssws-gamma", Forbid: []string{"/api/v1/users/00u", "/api/v1/iam", "/api/v1/logs"}},
		&oktatest.Org{Slug: "delta", Users: 20, Token: "ssws-delta", HTML: true},
		&oktatest.Org{Slug: "revoked", Users: 20, Token: "ssws-other"},
	)
	srv.ThrottleEvery = 9
	cfgYAML := fmt.Sprintf(`orgs:
  - {tenant: acme, org_url: %s, token: {env: OKTA_ACME}}
  - {tenant: beta, org_url: %s, client_id: 0oaservice, private_key: {file: /keys/beta.pem}}
  - {tenant: gamma, org_url: %s, token: {env: OKTA_GAMMA}}
  - {tenant: delta, org_url: %s, token: {env: OKTA_DELTA}}
  - {tenant: revoked, org_url: %s, token: {env: OKTA_REVOKED}}
`, srv.URL("acme"), srv.URL("beta"), srv.URL("gamma"), srv.URL("delta"), srv.URL("revoked"))
	env := fastEnv(map[string]string{"OKTA_ACME": "ssws-acme", "OKTA_GAMMA": "ssws-gamma", "OKTA_DELTA": "ssws-delta", "OKTA_REVOKED": "ssws-revoked"})
	var logs bytes.Buffer
	env.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	env.ReadFile = func(p string) ([]byte, error) {
		if p == "/keys/beta.pem" {
			return keyPEM, nil
		}
		return nil, os.ErrNotExist
	}
	inst, err := Definition.New(strictYAML(cfgYAML), env)
	if err != nil {
		t.Fatal(err)
	}
	k := inst.(*Connector)
	ev, err := k.Collect(context.Background(), connector.Request{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	type sum struct {
		Users, Admins, MFA int
		Gaps               []string
		Failed             bool
	}
	got := map[string]sum{}
	for _, r := range ev.Tenants {
		s := sum{Users: r.Counts["users"], Admins: r.Counts["admins"], MFA: r.Counts["mfa_enrolled"], Failed: !r.OK()}
		for _, g := range r.Gaps {
			s.Gaps = append(s.Gaps, g.Evidence+"|"+g.Permission)
		}
		got[r.Tenant] = s
	}
	want := map[string]sum{
		// MFA: users with i%4 != 3 (the fake's factor pattern), among
		// enabled ones (i%50 of 48 and 49 are deprovisioned and suspended):
		// acme 188 - 8, beta 23.
		"acme":    {Users: 250, Admins: 2, MFA: 180},
		"beta":    {Users: 30, Admins: 2, MFA: 23},
		"gamma":   {Users: 20, Gaps: []string{"identities.mfa|okta.users.read", "identities.roles|okta.roles.read", "tools.logging|okta.logs.read"}},
		"delta":   {Gaps: []string{"identities|"}, Failed: true},
		"revoked": {Gaps: []string{"identities|"}, Failed: true}, // a 401 refuses the token: a failed tenant, no scope named
	}
	for id, w := range want {
		if g := got[id]; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%s: got %+v want %+v", id, g, w)
		}
	}
	fr := ev.Fragment
	find := func(id string) *estate.Identity {
		for i := range fr.Identities {
			if fr.Identities[i].ID == id {
				return &fr.Identities[i]
			}
		}
		return nil
	}
	admin := find("acme/okta/user0@acme.example")
	if admin == nil || !slices.Equal(admin.Roles, []string{"Super Administrator"}) || !slices.Equal(admin.MFA.Methods, []estate.MFAMethod{estate.MFAPush, estate.MFATOTP}) ||
		admin.LastSignIn.Format(time.DateOnly) != "2026-11-25" || admin.MFA.Enforced == nil || *admin.MFA.Enforced {
		// Okta's default policies ask no second factor: enrolled, not enforced.
		t.Errorf("admin %+v", admin)
	}
	if u := find("acme/okta/user3@acme.example"); u == nil || len(u.MFA.Methods) != 0 { // a security question and a pending push are no MFA
		t.Errorf("user3 %+v", u)
	}
	if u := find("acme/okta/user49@acme.example"); u == nil || u.IsEnabled() {
		t.Errorf("suspended user %+v", u)
	}
	if u := find("acme/okta/user5@acme.example"); u == nil || u.LastSignIn != nil {
		t.Errorf("never signed in %+v", u)
	}
	if u := find("gamma/okta/user0@gamma.example"); u == nil || u.MFA.Methods != nil || u.Roles != nil {
		t.Errorf("gamma without permission must stay unknown: %+v", u)
	}
	if m := connector.MissingProvenance(fr); len(m) != 0 {
		t.Errorf("no provenance: %v", m)
	}
	// The System Log as evidence: on, kept 90 days; unknown where unreadable.
	for _, tl := range fr.Tools {
		on := tl.Logging.Enabled != nil && *tl.Logging.Enabled
		switch tl.ID {
		case "okta-acme", "okta-beta":
			if !on || tl.Logging.RetentionDays != 90 {
				t.Errorf("%s logging %+v", tl.ID, tl.Logging)
			}
		case "okta-gamma":
			if tl.Logging.Enabled != nil {
				t.Errorf("gamma logging must stay unknown: %+v", tl.Logging)
			}
		}
	}
	if st := k.Stats(); st.Throttled == 0 || st.Retries == 0 {
		t.Errorf("throttling not exercised: %+v", st)
	}
	if strings.Contains(logs.String(), "ssws-") {
		t.Error("token in logs")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func strictYAML(s string) func(any) error {
	return func(v any) error {
		dec := yaml.NewDecoder(strings.NewReader(s))
		dec.KnownFields(true)
		return dec.Decode(v)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct{ yaml, want string }{
		{"orgs: []", "at least one org"},
		{"orgs: [{tenant: a, org_url: https://a.okta.com}]", "either token"},
		{"orgs: [{tenant: a, org_url: https://a.okta.com, token: literal}]", "not as a literal"},
		{"orgs: [{tenant: a, org_url: a.okta.com, token: {env: X}}]", "expected https://"},
		{"orgs: [{tenant: a, org_url: https://a.okta.com, token: {env: X}, extra: 1}]", "field extra not found"},
		{"orgs: [{tenant: a, org_url: https://a.okta.com, token: {env: UNSET}}]", "env UNSET"},
	} {
		_, err := Definition.New(strictYAML(tt.yaml), fastEnv(nil))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.yaml, err, tt.want)
		}
	}
}

// TestPollSystemLog: polling follows Link next until an empty page, the
// cursor resumes exactly after the last event, and the JSON lines read
// back through the ingest package's okta parser as the same events.
func TestPollSystemLog(t *testing.T) {
	org := &oktatest.Org{Slug: "acme", Users: 1, Token: "t", Events: events(25)}
	srv := oktatest.NewServer(t, org)
	dir := t.TempDir()
	k, err := New(Config{Orgs: []OrgConfig{{Tenant: "acme", OrgURL: srv.URL("acme"), Token: connector.SecretRef{Env: "T"}}}, LogDir: dir, LogSince: time.Hour},
		fastEnv(map[string]string{"T": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	// Pages of 1000 are the default; the fake's events fit one page, so poll
	// with small pages by starting from a cursor.
	var recs []connector.Record
	emit := func(r connector.Record) error { recs = append(recs, r); return nil }
	cur := connector.Cursor{"acme": srv.URL("acme") + "/api/v1/logs?after=0&limit=10"}
	cur, runs, err := k.Poll(context.Background(), connector.Request{Now: testNow}, cur, emit)
	if err != nil || !runs[0].OK() || len(recs) != 25 || runs[0].Counts["events"] != 25 {
		t.Fatalf("poll: %v %+v %d records", err, runs, len(recs))
	}
	// Nothing new: no events, same cursor.
	before := cur["acme"]
	cur, _, _ = k.Poll(context.Background(), connector.Request{Now: testNow}, cur, emit)
	if len(recs) != 25 || cur["acme"] != before {
		t.Errorf("idle poll: %d records, cursor %q → %q", len(recs), before, cur["acme"])
	}
	// New events arrive: only those are read.
	org.Events = append(org.Events, events(3)...)
	k.Poll(context.Background(), connector.Request{Now: testNow}, cur, emit)
	if len(recs) != 28 {
		t.Errorf("after new events: %d records", len(recs))
	}
	// The file reads back through ingest's okta parser.
	f, err := os.Open(filepath.Join(dir, "okta-acme.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := ingest.NewReader("okta-acme.jsonl", f, ingest.Options{Format: ingest.FormatOkta, Tenant: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var got []event.Event
	for {
		var ev event.Event
		if err := rd.Next(&ev); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	fails := 0
	for _, e := range got {
		if e.Outcome == event.OutcomeFailure {
			fails++
		}
	}
	if len(got) != 28 || fails != 20+3 || got[0].UserName != "user0@acme.example" || got[0].Tenant != "acme" {
		t.Errorf("parsed %d events, %d failures, first %+v", len(got), fails, got[0])
	}
}

// TestPollFirstRunSince: the first poll starts at now - log_since.
func TestPollFirstRunSince(t *testing.T) {
	srv := oktatest.NewServer(t, &oktatest.Org{Slug: "acme", Users: 1, Token: "t", Events: events(120)})
	k, _ := New(Config{Orgs: []OrgConfig{{Tenant: "acme", OrgURL: srv.URL("acme"), Token: connector.SecretRef{Env: "T"}}}, LogSince: 30 * time.Minute},
		fastEnv(map[string]string{"T": "t"}))
	n := 0
	k.Poll(context.Background(), connector.Request{Now: testNow}, nil, func(connector.Record) error { n++; return nil })
	if n != 30 {
		t.Errorf("first poll read %d events, want the last 30 minutes (30)", n)
	}
}

// BenchmarkCollect200x500 collects 200 orgs × 500 users (one factor call
// per active user) with 50 ms latency per call and Okta's concurrent rate
// limit (429 E0000047 above 15 in flight per org), with at most 8 factor
// requests per org and 1024 overall in flight:
//
//	go test ./internal/collect/okta -run XXX -bench Collect200 -benchtime=1x
func BenchmarkCollect200x500(b *testing.B) {
	var orgs []*oktatest.Org
	var oc []OrgConfig
	vars := map[string]string{}
	for i := range 200 {
		slug := fmt.Sprintf("c%03d", i)
		orgs = append(orgs, &oktatest.Org{Slug: slug, Users: 500, Token: "t" + slug, MaxConcurrent: 15})
		vars["T"+slug] = "t" + slug
	}
	srv := oktatest.NewServer(b, orgs...)
	srv.Latency = 50 * time.Millisecond
	for _, o := range orgs {
		oc = append(oc, OrgConfig{Tenant: o.Slug, OrgURL: srv.URL(o.Slug), Token: connector.SecretRef{Env: "T" + o.Slug}})
	}
	env := connector.Env{Getenv: func(k string) string { return vars[k] }, Concurrency: 1024}
	for b.Loop() {
		k, err := New(Config{Orgs: oc}, env)
		if err != nil {
			b.Fatal(err)
		}
		start, cpu0 := time.Now(), connectortest.ProcessCPU()
		ev, _ := k.Collect(context.Background(), connector.Request{})
		users := 0
		for _, r := range ev.Tenants {
			if !r.OK() {
				b.Fatalf("%s: %v", r.Tenant, r.Errors)
			}
			users += r.Counts["users"]
		}
		st := k.Stats()
		b.ReportMetric(time.Since(start).Seconds(), "s/run")
		b.ReportMetric((connectortest.ProcessCPU() - cpu0).Seconds(), "cpu-s(client+fake)")
		b.ReportMetric(float64(st.Calls), "calls")
		b.ReportMetric(float64(st.Throttled), "throttled")
		b.ReportMetric(float64(st.MaxInFlight), "max-in-flight")
		if users != 100000 {
			b.Fatalf("users %d", users)
		}
	}
}

// TestFactorRepeat: with a factor state file, a repeat reads factors only
// for the users the System Log shows changed; the others keep theirs.
func TestFactorRepeat(t *testing.T) {
	org := &oktatest.Org{Slug: "acme", Users: 60, Token: "t"}
	srv := oktatest.NewServer(t, org)
	state := filepath.Join(t.TempDir(), "okta-factors.json")
	cfg := Config{Orgs: []OrgConfig{{Tenant: "acme", OrgURL: srv.URL("acme"), Token: connector.SecretRef{Env: "T"}}}, FactorStateFile: state}
	env := fastEnv(map[string]string{"T": "t"})
	k, _ := New(cfg, env)
	if _, err := k.Collect(context.Background(), connector.Request{Now: testNow}); err != nil {
		t.Fatal(err)
	}
	full := org.FactorCalls.Load()
	if full != 58 { // 60 users, two of them disabled
		t.Fatalf("first run read %d factor lists", full)
	}
	// User 3 enrols a push factor (a security question before: no MFA).
	org.FactorTypes = map[int][]string{3: {"push"}}
	ev := oktatest.Event("f1", testNow.Add(30*time.Minute).Format("2006-01-02T15:04:05.000Z"), "user.mfa.factor.activate", "SUCCESS", "user3@acme.example", "198.51.100.7")
	ev["target"] = []any{map[string]any{"id": oktatest.UserID("acme", 3), "type": "User", "alternateId": "user3@acme.example"}}
	org.Events = append(org.Events, ev)
	k2, _ := New(cfg, env)
	res, err := k2.Collect(context.Background(), connector.Request{Now: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if n := org.FactorCalls.Load() - full; n != 1 {
		t.Errorf("repeat read %d factor lists, want 1", n)
	}
	var u3, u0 *estate.Identity
	for i := range res.Fragment.Identities {
		switch res.Fragment.Identities[i].ID {
		case "acme/okta/user3@acme.example":
			u3 = &res.Fragment.Identities[i]
		case "acme/okta/user0@acme.example":
			u0 = &res.Fragment.Identities[i]
		}
	}
	if u3 == nil || !slices.Equal(u3.MFA.Methods, []estate.MFAMethod{estate.MFAPush}) || u0 == nil || len(u0.MFA.Methods) != 2 {
		t.Errorf("after the repeat: user3 %+v user0 %+v", u3, u0)
	}
	if res.Tenants[0].Counts["factors_kept"] != 57 {
		t.Errorf("counts %v", res.Tenants[0].Counts)
	}
}

// BenchmarkRepeat200x500 is a repeat run over 200 orgs × 500 users with a
// factor state file (after one full run, not timed): users and roles are
// read again, factors only for users with user.mfa.factor.* events (none
// here), 50 ms latency per call.
//
//	go test ./internal/collect/okta -run XXX -bench Repeat200 -benchtime=1x
func BenchmarkRepeat200x500(b *testing.B) {
	var orgs []*oktatest.Org
	var oc []OrgConfig
	vars := map[string]string{}
	for i := range 200 {
		slug := fmt.Sprintf("c%03d", i)
		orgs = append(orgs, &oktatest.Org{Slug: slug, Users: 500, Token: "t" + slug, MaxConcurrent: 15})
		vars["T"+slug] = "t" + slug
	}
	srv := oktatest.NewServer(b, orgs...)
	srv.Latency = 50 * time.Millisecond
	for _, o := range orgs {
		oc = append(oc, OrgConfig{Tenant: o.Slug, OrgURL: srv.URL(o.Slug), Token: connector.SecretRef{Env: "T" + o.Slug}})
	}
	cfg := Config{Orgs: oc, FactorStateFile: filepath.Join(b.TempDir(), "factors.json")}
	env := connector.Env{Getenv: func(k string) string { return vars[k] }, Concurrency: 1024}
	k, _ := New(cfg, env)
	if _, err := k.Collect(context.Background(), connector.Request{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		k, _ := New(cfg, env)
		start := time.Now()
		ev, err := k.Collect(context.Background(), connector.Request{})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range ev.Tenants {
			if !r.OK() || r.Counts["users"] != 500 {
				b.Fatalf("%s: %+v", r.Tenant, r)
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/run")
		b.ReportMetric(float64(k.Stats().Calls), "calls")
	}
}

// TestMFAPolicies judges MFA enforcement from the org's policies
// (oktatest documents the shapes, from developer.okta.com/docs/api/resources/policy):
// a global session policy demanding a factor covers the user unless a
// group excludes it to a rule that does not; a rule limited to some
// networks that asks no factor leaves sign-ins without one; an
// authentication policy demanding 2FA of a group (members read over
// several pages) covers its members; a user with no factor enrolled is
// not protected; unreadable policies leave the answer unknown with a gap.
func TestMFAPolicies(t *testing.T) {
	session := func(rules ...map[string]any) (map[string][]map[string]any, map[string][]map[string]any) {
		return map[string][]map[string]any{
				"OKTA_SIGN_ON": {{"id": "00psession", "type": "OKTA_SIGN_ON", "name": "Staff", "status": "ACTIVE", "priority": 1, "system": false,
					"conditions": map[string]any{"people": map[string]any{"groups": map[string]any{"include": []string{"everyone"}}}}}},
				"ACCESS_POLICY": {}, "MFA_ENROLL": oktatest.DefaultPolicies["MFA_ENROLL"]},
			map[string][]map[string]any{"00psession": rules}
	}
	bgPol, bgRules := session(
		oktatest.SignOnRule("0pr1", "MFA everywhere", 1, "ANYWHERE", true, []string{"breakglass"}),
		oktatest.SignOnRule("0pr2", "Break-glass", 2, "ANYWHERE", false, nil))
	zonePol, zoneRules := session(
		oktatest.SignOnRule("0pr1", "Office: password only", 1, "ZONE", false, nil),
		oktatest.SignOnRule("0pr2", "Elsewhere: MFA", 2, "ANYWHERE", true, nil))
	zonePol["ACCESS_POLICY"] = []map[string]any{{"id": "00papp", "type": "ACCESS_POLICY", "name": "Apps", "status": "ACTIVE", "priority": 1, "system": false}}
	zoneRules["00papp"] = []map[string]any{
		oktatest.AccessRule("0pra", "Staff: two factors", 1, "ANYWHERE", "2FA", []string{"staff"}),
		oktatest.AccessRule("0prz", "Catch-all Rule", 99, "ANYWHERE", "1FA", nil)}
	staff := make([]int, 0, 240)
	for i := 1; i <= 240; i++ {
		staff = append(staff, i)
	}
	srv := oktatest.NewServer(t,
		&oktatest.Org{Slug: "bg", Users: 10, Token: "t", Policies: bgPol, Rules: bgRules, Groups: map[string][]int{"breakglass": {0}}, Apps: []map[string]any{}},
		&oktatest.Org{Slug: "zone", Users: 250, Token: "t", Policies: zonePol, Rules: zoneRules, Groups: map[string][]int{"staff": staff},
			Apps: []map[string]any{oktatest.App("0oadash", "Okta Dashboard", "00papp")}},
		&oktatest.Org{Slug: "nopol", Users: 4, Token: "t", Forbid: []string{"/api/v1/policies"}},
	)
	cfg := fmt.Sprintf("orgs:\n  - {tenant: bg, org_url: %s, token: {env: T}}\n  - {tenant: zone, org_url: %s, token: {env: T}}\n  - {tenant: nopol, org_url: %s, token: {env: T}}\n",
		srv.URL("bg"), srv.URL("zone"), srv.URL("nopol"))
	inst, err := Definition.New(strictYAML(cfg), fastEnv(map[string]string{"T": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := inst.(*Connector).Collect(t.Context(), connector.Request{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	got := enforcedByUPN(ev.Fragment.Identities)
	for upn, want := range map[string]string{
		"user0@bg.example":     "no",  // excluded through the break-glass group to a password-only rule
		"user1@bg.example":     "yes", // SMS enrolled, session policy demands MFA
		"user3@bg.example":     "no",  // no factor enrolled: whoever has the password enrols one
		"user1@zone.example":   "yes", // the office rule asks no factor, but every app demands 2FA of staff
		"user230@zone.example": "yes", // staff member on the second page of members
		"user245@zone.example": "no",  // not staff: office sign-ins on a password, apps on 1FA
		"user1@nopol.example":  "unknown",
	} {
		if got[upn] != want {
			t.Errorf("%s: MFA enforced %q, want %q", upn, got[upn], want)
		}
	}
	for _, r := range ev.Tenants {
		gap := slices.ContainsFunc(r.Gaps, func(g estate.Gap) bool { return g.Evidence == EvMFAEnforced })
		if gap != (r.Tenant == "nopol") {
			t.Errorf("%s: policy gap %v %+v", r.Tenant, gap, r.Gaps)
		}
	}
}

// TestMFAPerApp judges each app by the authentication policy it is mapped
// to (its _links.accessPolicy, Identity Engine): an app that lets its
// users in on a password is an MFA gap for them (assignments read over
// several pages), the Admin Console for administrators only; one factor
// that verifies the user (possession.userVerification REQUIRED) counts;
// a verification method this code does not know, unreadable apps and
// Classic Engine orgs (whose app sign-on rules have no API) leave the
// answer unknown with a named gap unless the global session policy
// demands MFA; an inactive app is nobody's gap.
func TestMFAPerApp(t *testing.T) {
	access := func(id string) map[string]any {
		return map[string]any{"id": id, "type": "ACCESS_POLICY", "name": id, "status": "ACTIVE", "priority": 1, "system": false}
	}
	rule := func(id string, vm map[string]any) []map[string]any {
		r := oktatest.AccessRule(id+"r", "Catch-all Rule", 99, "ANYWHERE", "1FA", nil)
		r["actions"].(map[string]any)["appSignOn"].(map[string]any)["verificationMethod"] = vm
		return []map[string]any{r}
	}
	twoFA := map[string]any{"type": "ASSURANCE", "factorMode": "2FA", "constraints": []any{map[string]any{"knowledge": map[string]any{"types": []string{"password"}}}}, "reauthenticateIn": "PT2H"}
	password := map[string]any{"type": "ASSURANCE", "factorMode": "1FA", "constraints": []any{map[string]any{"knowledge": map[string]any{"types": []string{"password"}}}}, "reauthenticateIn": "PT2H"}
	passwordless := map[string]any{"type": "ASSURANCE", "factorMode": "1FA", "reauthenticateIn": "PT2H",
		"constraints": []any{map[string]any{"possession": map[string]any{"methods": []string{"WEBAUTHN", "SIGNED_NONCE"}, "userVerification": "REQUIRED", "phishingResistant": "REQUIRED"}}}}
	chain := map[string]any{"type": "AUTH_METHOD_CHAIN", "chains": []any{}}
	pols := map[string][]map[string]any{
		"OKTA_SIGN_ON":  oktatest.DefaultPolicies["OKTA_SIGN_ON"],
		"MFA_ENROLL":    oktatest.DefaultPolicies["MFA_ENROLL"],
		"ACCESS_POLICY": {access("rststrict"), access("rstweak"), access("rstpwless"), access("rstchain")},
	}
	rules := map[string][]map[string]any{"rststrict": rule("rststrict", twoFA), "rstweak": rule("rstweak", password), "rstpwless": rule("rstpwless", passwordless),
		"rstchain": rule("rstchain", chain), "00pdefaultsignon": oktatest.DefaultRules["00pdefaultsignon"]}
	inactive := oktatest.App("0oaold", "Old CRM", "rstweak")
	inactive["status"] = "INACTIVE"
	payroll := []int{6}
	for i := 100; i < 700; i++ { // more than one page of assignments
		payroll = append(payroll, i)
	}
	apps := &oktatest.Org{Slug: "apps", Users: 800, Token: "t", Policies: pols, Rules: rules,
		Apps: []map[string]any{
			oktatest.App("0oadash", "Okta Dashboard", "rststrict"), oktatest.App("0oaadmin", "Okta Admin Console", "rstweak"),
			oktatest.App("0oapayroll", "Payroll", "rstweak"), oktatest.App("0oawiki", "Wiki", "rstpwless"), oktatest.App("0oalegacy", "Legacy", "rstchain"), inactive},
		AppUsers: map[string][]int{"0oapayroll": payroll, "0oawiki": {8}, "0oalegacy": {9}, "0oaold": {10}, "0oadash": {}, "0oaadmin": {}}}
	mfaSession, mfaRules := map[string][]map[string]any{"OKTA_SIGN_ON": oktatest.DefaultPolicies["OKTA_SIGN_ON"], "MFA_ENROLL": {}},
		map[string][]map[string]any{"00pdefaultsignon": {oktatest.SignOnRule("0prmfa", "MFA", 1, "ANYWHERE", true, nil)}}
	srv := oktatest.NewServer(t, apps,
		&oktatest.Org{Slug: "classic", Users: 4, Token: "t", Classic: true},
		&oktatest.Org{Slug: "classicmfa", Users: 4, Token: "t", Classic: true, Policies: mfaSession, Rules: mfaRules},
		&oktatest.Org{Slug: "noapps", Users: 4, Token: "t", Forbid: []string{"/api/v1/apps"}},
	)
	var cfg Config
	for _, o := range []string{"apps", "classic", "classicmfa", "noapps"} {
		cfg.Orgs = append(cfg.Orgs, OrgConfig{Tenant: o, OrgURL: srv.URL(o), Token: connector.SecretRef{Env: "T"}})
	}
	k, err := New(cfg, fastEnv(map[string]string{"T": "t"}))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := k.Collect(t.Context(), connector.Request{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	got := enforcedByUPN(ev.Fragment.Identities)
	for upn, want := range map[string]string{
		"user0@apps.example":       "no",      // administrator: the Admin Console takes a password alone
		"user2@apps.example":       "yes",     // the Dashboard demands two factors
		"user6@apps.example":       "no",      // assigned to Payroll, password only
		"user600@apps.example":     "no",      // Payroll, on the second page of its assignments
		"user8@apps.example":       "yes",     // Wiki: one factor, but one that verifies the user
		"user9@apps.example":       "unknown", // Legacy: a verification method not judged
		"user10@apps.example":      "yes",     // only an inactive app takes a password
		"user1@classic.example":    "unknown", // Classic: app sign-on rules have no API
		"user1@classicmfa.example": "yes",     // Classic, but the Okta sign-on policy demands MFA
		"user1@noapps.example":     "unknown", // the apps are not readable
	} {
		if got[upn] != want {
			t.Errorf("%s: MFA enforced %q, want %q", upn, got[upn], want)
		}
	}
	gaps := map[string]string{}
	for _, r := range ev.Tenants {
		for _, g := range r.Gaps {
			if g.Evidence == EvMFAEnforced {
				gaps[r.Tenant] += g.Permission + "|" + g.Reason
			}
		}
	}
	for tenant, want := range map[string]string{"apps": `app "Legacy"`, "classic": "Classic Engine", "noapps": ScopeApps} {
		if !strings.Contains(gaps[tenant], want) {
			t.Errorf("%s: gap %q, want it to name %q", tenant, gaps[tenant], want)
		}
	}
	if g, ok := gaps["classicmfa"]; ok {
		t.Errorf("classicmfa: gap %q, want none", g)
	}
}

// enforcedByUPN gives each collected identity's MFA verdict: yes, no or
// unknown.
func enforcedByUPN(ids []estate.Identity) map[string]string {
	got := map[string]string{}
	for _, x := range ids {
		switch {
		case x.MFA.Enforced == nil:
			got[x.UPN] = "unknown"
		case *x.MFA.Enforced:
			got[x.UPN] = "yes"
		default:
			got[x.UPN] = "no"
		}
	}
	return got
}
