package google

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/collect/google/googletest"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/google/go-cmp/cmp"
)

// TestChallengeStrength maps login_challenge_method as the Reports API
// sends it (a multiValue parameter, e.g. {"multiValue":["password"],
// "name":"login_challenge_method"}; values from the login audit appendix,
// developers.google.com/admin-sdk/reports/v1/appendix/activity/login) to a
// per-user strength from the most recent successful login.
func TestChallengeStrength(t *testing.T) {
	act := func(email, at, name string, methods ...string) json.RawMessage {
		b, _ := json.Marshal(map[string]any{
			"id":     map[string]any{"time": at, "uniqueQualifier": at, "applicationName": "login"},
			"actor":  map[string]any{"email": email},
			"events": []any{map[string]any{"type": "login", "name": name, "parameters": []any{map[string]any{"name": "login_challenge_method", "multiValue": methods}}}},
		})
		return b
	}
	var all []json.RawMessage
	all = append(all,
		act("ann@acme.example", "2026-12-01T09:00:00Z", "login_success", "password", "google_prompt"),
		act("ann@acme.example", "2026-12-03T09:00:00Z", "login_success", "password", "security_key"),
		act("bob@acme.example", "2026-12-03T09:00:00Z", "login_success", "passkey"),
		act("bob@acme.example", "2026-12-04T09:00:00Z", "login_success", "password", "idv_preregistered_phone"),
		act("bob@acme.example", "2026-12-05T09:00:00Z", "login_failure", "password"),
		act("cy@acme.example", "2026-12-02T09:00:00Z", "login_success", "password", "backup_code"),
	)
	var flat []event.Event
	for _, raw := range all {
		evs, err := Events("acme", raw)
		if err != nil {
			t.Fatal(err)
		}
		flat = append(flat, evs...)
	}
	got := StrengthByUser(flat)
	want := map[string]string{"ann@acme.example": StrengthPhishingResistant, "bob@acme.example": StrengthOther, "cy@acme.example": StrengthOther}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("strength (-got +want):\n%s", d)
	}
	if s := ChallengeStrength(nil); s != "" {
		t.Errorf("no methods: %q", s)
	}
	if flat[1].Fields["login_challenge_method"] != "password,security_key" {
		t.Errorf("methods field %q", flat[1].Fields["login_challenge_method"])
	}
}

// TestLoginMethod checks every value of the appendix's list: a code typed
// from a security key (security_key_otp) or Google's internal security
// code is a code, not a key or a push; knowledge and location checks are
// no second factor.
func TestLoginMethod(t *testing.T) {
	for v, want := range map[string]estate.MFAMethod{
		"security_key": estate.MFAFIDO2, "passkey": estate.MFAPasskey, "google_prompt": estate.MFAPush,
		"idv_preregistered_phone": estate.MFASMS, "idv_any_phone": estate.MFASMS,
		"google_authenticator": estate.MFATOTP, "offline_otp": estate.MFATOTP, "security_key_otp": estate.MFATOTP, "internal_two_factor": estate.MFATOTP,
	} {
		if m, ok := LoginMethod(v); !ok || m != want {
			t.Errorf("%s: %q %v, want %q", v, m, ok, want)
		}
	}
	for _, v := range []string{"password", "backup_code", "knowledge_employee_id", "knowledge_preregistered_email", "knowledge_preregistered_phone", "login_location", "none", "other"} {
		if m, ok := LoginMethod(v); ok {
			t.Errorf("%s is no MFA method, got %q", v, m)
		}
	}
	if s := ChallengeStrength([]string{"password", "security_key_otp"}); s != StrengthOther {
		t.Errorf("a code from a security key is phishable: %q", s)
	}
}

// TestCollectLoginMethods: the identity collection reads successful
// logins of the last 30 days and records each user's methods from the
// most recent one, so estate judges user0 (security key last) phishing
// resistant and user2 (Google prompt after an older passkey) weak.
func TestCollectLoginMethods(t *testing.T) {
	acme := cust("acme", 4)
	login := func(i int, at time.Time, email string, methods ...string) map[string]any {
		a := googletest.Login(acme, i, at, "login_success", "", email, "203.0.113.9")
		ev := a["events"].([]any)[0].(map[string]any)
		ev["parameters"] = append(ev["parameters"].([]any), map[string]any{"name": "login_challenge_method", "multiValue": methods})
		return a
	}
	acme.Activities = []map[string]any{
		login(1, testNow.Add(-40*24*time.Hour), "user0@acme.example", "password", "google_prompt"),
		login(2, testNow.Add(-2*time.Hour), "user0@acme.example", "password", "security_key"),
		login(3, testNow.Add(-5*time.Hour), "user2@acme.example", "passkey"),
		login(4, testNow.Add(-1*time.Hour), "user2@acme.example", "password", "google_prompt"),
	}
	srv, env, cc := setup(t, acme)
	g, err := New(Config{Customers: cc, APIURL: srv.Srv.URL}, env)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := g.Collect(context.Background(), connector.Request{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]estate.MFAMethod{}
	for _, x := range ev.Fragment.Identities {
		got[x.UPN] = x.MFA.Methods
	}
	want := map[string][]estate.MFAMethod{"user0@acme.example": {estate.MFAFIDO2}, "user1@acme.example": nil, "user2@acme.example": {estate.MFAPush}, "user3@acme.example": nil}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("methods (-got +want):\n%s", d)
	}
}
