package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/useragent"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func noSleep(waits *[]time.Duration) func(context.Context, time.Duration) error {
	return func(_ context.Context, d time.Duration) error {
		if waits != nil {
			*waits = append(*waits, d)
		}
		return nil
	}
}

func TestRetryDo(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		errs      []error // returned by successive tries; beyond the end: nil
		wantCalls int
		wantWaits []time.Duration
		wantErr   string
	}{
		{"ok-first", nil, 1, nil, ""},
		{"transient-then-ok", []error{boom, boom}, 3, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, ""},
		{"retry-after-honoured", []error{After(boom, 7*time.Second)}, 2, []time.Duration{7 * time.Second}, ""},
		{"retry-after-capped", []error{After(boom, time.Hour)}, 2, []time.Duration{30 * time.Second}, ""},
		{"permanent", []error{Permanent(boom)}, 1, nil, "boom"},
		{"exhausted", []error{boom, boom, boom}, 3, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, "boom (gave up after 3 attempts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var waits []time.Duration
			r := Retry{Attempts: 3, Sleep: noSleep(&waits), Rand: func() float64 { return 0.5 }}
			calls := 0
			err := r.Do(context.Background(), func(n int) error {
				calls++
				if n != calls {
					t.Errorf("attempt %d on call %d", n, calls)
				}
				if calls-1 < len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if calls != tt.wantCalls {
				t.Errorf("calls %d want %d", calls, tt.wantCalls)
			}
			if diff := cmp.Diff(waits, tt.wantWaits); diff != "" {
				t.Errorf("waits (-got +want):\n%s", diff)
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("err %q want %q", got, tt.wantErr)
			}
		})
	}
}

func TestBackoffBounded(t *testing.T) {
	r := Retry{Base: time.Second, Max: 10 * time.Second, Rand: func() float64 { return 0.999999 }}
	for n := 1; n < 80; n++ {
		d := r.Backoff(n)
		ceil := min(time.Second<<min(n-1, 30), 10*time.Second)
		if d < 0 || d > ceil {
			t.Fatalf("Backoff(%d)=%v outside [0,%v]", n, d, ceil)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"3", 3 * time.Second, true}, {" 0 ", 0, true}, {"-1", 0, false}, {"soon", 0, false},
		{"Sun, 06 Dec 2026 12:00:10 GMT", 10 * time.Second, true}, {"Sun, 06 Dec 2026 11:00:00 GMT", 0, true},
	} {
		d, ok := ParseRetryAfter(tt.in, now)
		if d != tt.want || ok != tt.ok {
			t.Errorf("%q: %v,%v want %v,%v", tt.in, d, ok, tt.want, tt.ok)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	s := Secret("hunter2-token")
	var buf bytes.Buffer
	lg := slog.New(slog.NewJSONHandler(&buf, nil))
	lg.Info("x", "tok", s, "struct", struct{ T Secret }{s})
	j, _ := json.Marshal(map[string]any{"t": s})
	y, _ := yaml.Marshal(map[string]any{"t": s})
	all := buf.String() + string(j) + string(y) + fmt.Sprintf("%v %s %q %+v %#v", s, s, s, struct{ T Secret }{s}, s)
	if strings.Contains(all, "hunter2") {
		t.Fatalf("secret leaked: %s", all)
	}
}

func TestSecretRef(t *testing.T) {
	var cfg struct {
		Token SecretRef `yaml:"token"`
	}
	if err := yaml.Unmarshal([]byte("token: literal-secret\n"), &cfg); !errors.Is(err, ErrSecretInConfig) {
		t.Fatalf("literal secret accepted: %v", err)
	}
	if err := yaml.Unmarshal([]byte("token: {env: A, file: b}\n"), &cfg); err == nil {
		t.Fatal("both env and file accepted")
	}
	if err := yaml.Unmarshal([]byte("token: {env: OKTA_TOKEN}\n"), &cfg); err != nil {
		t.Fatal(err)
	}
	env := Env{Getenv: func(k string) string { return map[string]string{"OKTA_TOKEN": "s3cret"}[k] },
		ReadFile: func(p string) ([]byte, error) { return []byte(" from-file\n"), nil }}
	s, err := cfg.Token.Resolve(env)
	if err != nil || string(s) != "s3cret" {
		t.Fatalf("resolve env: %q %v", string(s), err)
	}
	s, err = SecretRef{File: "/x"}.Resolve(env)
	if err != nil || string(s) != "from-file" {
		t.Fatalf("resolve file: %q %v", string(s), err)
	}
	_, err = SecretRef{Env: "UNSET"}.Resolve(env)
	if err == nil || !strings.Contains(err.Error(), "env UNSET") {
		t.Fatalf("unset env: %v", err)
	}
}

func TestLinkNext(t *testing.T) {
	h := http.Header{}
	h.Add("Link", `<https://acme.okta.com/api/v1/users?limit=200>; rel="self"`)
	h.Add("Link", `<https://acme.okta.com/api/v1/users?after=00u1&limit=200>; rel="next"`)
	if got := LinkNext(h); got != "https://acme.okta.com/api/v1/users?after=00u1&limit=200" {
		t.Errorf("LinkNext = %q", got)
	}
	h2 := http.Header{"Link": {`<https://a/x?after=1>; rel="self", <https://a/x?after=2>; rel=next`}}
	if got := LinkNext(h2); got != "https://a/x?after=2" {
		t.Errorf("LinkNext combined = %q", got)
	}
	if got := LinkNext(http.Header{}); got != "" {
		t.Errorf("LinkNext empty = %q", got)
	}
}

func TestParseAPIError(t *testing.T) {
	for _, tt := range []struct{ body, code, msg string }{
		{`{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"request-id":"r1"}}}`, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."},
		{`{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorLink":"E0000006","errorId":"oae1","errorCauses":[]}`, "E0000006", "You do not have permission to perform the requested action"},
		{`{"error":{"code":403,"message":"Not Authorized to access this resource/api","errors":[{"message":"Not Authorized to access this resource/api","domain":"global","reason":"forbidden"}]}}`, "forbidden", "Not Authorized to access this resource/api"},
		{`{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity."}`, "invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity."},
		{"<html><body><h1>502 Bad Gateway</h1></body></html>", "NonJSONError", "<html><body><h1>502 Bad Gateway</h1></body></html>"},
		{`{"code":"InvalidObject","message":"ticket object is invalid","errors":[{"code":"InvalidField","message":"The company was not found.","resource":"ticket","field":"company"}]}`, "InvalidObject", "ticket object is invalid; The company was not found. (field company)"},
	} {
		e := ParseAPIError([]byte(tt.body))
		if e.Code != tt.code || e.Message != tt.msg {
			t.Errorf("%.40s: got %q %q", tt.body, e.Code, e.Message)
		}
	}
}

// scripted is an httptest server answering successive requests from a script.
func scripted(t *testing.T, steps ...func(w http.ResponseWriter, r *http.Request)) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i >= len(steps) {
			i = len(steps) - 1
		}
		steps[i](w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func status(code int, body string, hdr ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

func TestClientJSONClassification(t *testing.T) {
	ok := status(200, `{"v":1}`)
	tests := []struct {
		name      string
		steps     []func(http.ResponseWriter, *http.Request)
		wantCalls int32
		wantWaits []time.Duration
		forbidden bool
		wantErr   string // substring; "" = success
	}{
		{"ok", []func(http.ResponseWriter, *http.Request){ok}, 1, nil, false, ""},
		{"429-retry-after", []func(http.ResponseWriter, *http.Request){status(429, `{"error":{"code":"TooManyRequests","message":"slow down"}}`, "Retry-After", "2"), ok}, 2, []time.Duration{2 * time.Second}, false, ""},
		{"429-no-retry-after", []func(http.ResponseWriter, *http.Request){status(429, `{}`), ok}, 2, []time.Duration{250 * time.Millisecond}, false, ""},
		{"okta-rate-limit-reset", []func(http.ResponseWriter, *http.Request){status(429, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`, "X-Rate-Limit-Reset", "1796558405"), ok}, 2, []time.Duration{5 * time.Second}, false, ""},
		{"504-then-ok", []func(http.ResponseWriter, *http.Request){status(504, "<html>Gateway Timeout</html>"), ok}, 2, []time.Duration{250 * time.Millisecond}, false, ""},
		{"5xx-exhausted", []func(http.ResponseWriter, *http.Request){status(503, `{"error":{"code":"ServiceUnavailable","message":"down"}}`)}, 3, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, false, "HTTP 503 ServiceUnavailable: down (gave up after 3 attempts)"},
		{"403-named", []func(http.ResponseWriter, *http.Request){status(403, `{"errorCode":"E0000006","errorSummary":"You do not have permission"}`)}, 1, nil, true, "HTTP 403 E0000006"},
		{"401-refresh-then-ok", []func(http.ResponseWriter, *http.Request){status(401, `{}`), ok}, 2, nil, false, ""},
		{"401-twice", []func(http.ResponseWriter, *http.Request){status(401, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`)}, 2, nil, true, "HTTP 401 E0000011"},
		{"400-not-retried", []func(http.ResponseWriter, *http.Request){status(400, `{"error":{"code":"Request_UnsupportedQuery","message":"bad $top"}}`)}, 1, nil, false, "HTTP 400 Request_UnsupportedQuery"},
		{"html-200", []func(http.ResponseWriter, *http.Request){status(200, "<!DOCTYPE html><html>Sign in</html>", "Content-Type", "text/html")}, 3, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, false, "response is not JSON"},
		{"truncated-json-then-ok", []func(http.ResponseWriter, *http.Request){status(200, `{"v":`), ok}, 2, []time.Duration{250 * time.Millisecond}, false, ""},
		{"truncated-json", []func(http.ResponseWriter, *http.Request){status(200, `{"value":[{"id":"1"`)}, 3, []time.Duration{250 * time.Millisecond, 500 * time.Millisecond}, false, "decoding JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, n := scripted(t, tt.steps...)
			var waits []time.Duration
			now := time.Unix(1796558400, 0)
			c := NewClient("test", Env{Now: func() time.Time { return now }, Retry: Retry{Attempts: 3, Sleep: noSleep(&waits), Rand: func() float64 { return 0.5 }}})
			var refreshes []bool
			auth := func(_ context.Context, r *http.Request, refresh bool) error {
				refreshes = append(refreshes, refresh)
				r.Header.Set("Authorization", "SSWS x")
				return nil
			}
			var v struct{ V int }
			_, err := c.JSON(context.Background(), CallSpec{Tenant: "t1", URL: srv.URL + "/api/v1/users", Auth: auth, Permission: "okta.users.read"}, &v)
			if n.Load() != tt.wantCalls {
				t.Errorf("calls %d want %d", n.Load(), tt.wantCalls)
			}
			if diff := cmp.Diff(waits, tt.wantWaits); diff != "" {
				t.Errorf("waits (-got +want):\n%s", diff)
			}
			if tt.wantErr == "" {
				if err != nil || v.V != 1 {
					t.Fatalf("err %v v %d", err, v.V)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want containing %q", err, tt.wantErr)
			}
			var ae *APIError
			if got := errors.As(err, &ae) && ae.Forbidden(); got != tt.forbidden {
				t.Errorf("forbidden %v want %v (%v)", got, tt.forbidden, err)
			}
			if tt.forbidden && ae.Permission != "okta.users.read" {
				t.Errorf("permission %q", ae.Permission)
			}
			if strings.HasPrefix(tt.name, "401") && (len(refreshes) < 2 || refreshes[0] || !refreshes[1]) {
				t.Errorf("refresh flags %v", refreshes)
			}
		})
	}
}

func TestPagesStopsOnRepeat(t *testing.T) {
	var srvURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after := r.URL.Query().Get("after")
		next := map[string]string{"": "a", "a": "b", "b": "a"}[after]
		w.Header().Set("Link", fmt.Sprintf(`<%s/x?after=%s>; rel="next"`, srvURL, next))
		fmt.Fprintf(w, `[{"id":%q}]`, after)
	}))
	defer srv.Close()
	srvURL = srv.URL
	c := NewClient("test", Env{Retry: Retry{Sleep: noSleep(nil)}})
	var ids []string
	err := Pages(context.Background(), c, CallSpec{Tenant: "t", URL: srv.URL + "/x"},
		func(h http.Header, _ *[]struct{ ID string }) string { return LinkNext(h) },
		func(p *[]struct{ ID string }) error {
			for _, x := range *p {
				ids = append(ids, x.ID)
			}
			return nil
		})
	if !errors.Is(err, ErrRepeatingPage) {
		t.Fatalf("err %v, want ErrRepeatingPage", err)
	}
	if diff := cmp.Diff(ids, []string{"", "a", "b"}); diff != "" {
		t.Errorf("pages read (-got +want):\n%s", diff)
	}
}

func TestForEachTenantIsolation(t *testing.T) {
	tenants := []string{"a", "b", "c", "d"}
	runs := ForEachTenant(context.Background(), "test", tenants, 2, func(ctx context.Context, r *TenantRun) {
		switch r.Tenant {
		case "b":
			panic("bad tenant")
		case "c":
			r.Gap("identities", "okta.users.read", &APIError{Status: 403, Code: "E0000006"}, time.Time{})
		case "d":
			r.Gap("identities", "okta.users.read", errors.New("connection reset"), time.Time{})
		}
		r.Count("users", 1)
	})
	if len(runs) != 4 || runs[0].Tenant != "a" || !runs[0].OK() || runs[0].Counts["users"] != 1 {
		t.Fatalf("a: %+v", runs[0])
	}
	if runs[1].OK() || !strings.Contains(runs[1].Errors[0], "panic: bad tenant") {
		t.Errorf("b: %+v", runs[1])
	}
	if !runs[2].OK() || runs[2].Gaps[0].Permission != "okta.users.read" {
		t.Errorf("c (403 is a gap, not an error): %+v", runs[2])
	}
	if runs[3].OK() || runs[3].Gaps[0].Permission != "" {
		t.Errorf("d (network error is an error and an unnamed gap): %+v", runs[3])
	}
	if got := len(Gaps(runs)); got != 2 {
		t.Errorf("Gaps = %d", got)
	}
}

func TestRegistry(t *testing.T) {
	mk := func(name string, caps ...Capability) Definition {
		return Definition{Spec: Spec{Name: name, Capabilities: caps}, New: func(func(any) error, Env) (any, error) { return nil, nil }}
	}
	r := NewRegistry(mk("okta", CapEvidence, CapEvents), mk("psa", CapOutbound), mk("graph", CapEvidence))
	if diff := cmp.Diff(r.Names(), []string{"graph", "okta", "psa"}); diff != "" {
		t.Error(diff)
	}
	var ev []string
	for _, d := range r.With(CapEvidence) {
		ev = append(ev, d.Spec.Name)
	}
	if diff := cmp.Diff(ev, []string{"graph", "okta"}); diff != "" {
		t.Error(diff)
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate registration accepted")
		}
	}()
	NewRegistry(mk("x"), mk("x"))
}

func TestGroupAndOnly(t *testing.T) {
	type item struct {
		tenant string
		bad    bool
	}
	runs := Group("x", []item{{"b", false}, {"a", true}, {"b", true}}, time.Time{}, func(i item) string { return i.tenant }, func(i item, r *TenantRun) {
		r.Count("n", 1)
		if i.bad {
			r.Errors = append(r.Errors, "bad")
		}
	})
	if len(runs) != 2 || runs[0].Tenant != "b" || runs[0].Counts["n"] != 2 || len(runs[0].Errors) != 1 || runs[1].Tenant != "a" {
		t.Errorf("%+v", runs)
	}
	if diff := cmp.Diff(Only([]string{"a", "b", "c"}, []string{"c", "a"}), []string{"a", "c"}); diff != "" {
		t.Error(diff)
	}
	if got := Only([]string{"a"}, nil); len(got) != 1 {
		t.Error(got)
	}
}

func TestTokenCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var c TokenCache
	n := 0
	auth := c.Auth(func() time.Time { return now }, func(context.Context, time.Time) (Secret, time.Time, error) {
		n++
		return Secret(fmt.Sprint("t", n)), now.Add(time.Hour), nil
	})
	req, _ := http.NewRequest("GET", "http://x", nil)
	auth(context.Background(), req, false)
	auth(context.Background(), req, false)
	if n != 1 || req.Header.Get("Authorization") != "Bearer t1" {
		t.Fatalf("cached: %d %q", n, req.Header.Get("Authorization"))
	}
	auth(context.Background(), req, true) // after a 401
	now = now.Add(58 * time.Minute)       // within five minutes of expiry
	auth(context.Background(), req, false)
	if n != 3 || req.Header.Get("Authorization") != "Bearer t3" {
		t.Fatalf("renewed: %d %q", n, req.Header.Get("Authorization"))
	}
}

// Every connector request names the build, also through a client the caller
// injected (issue 16).
func TestClientNamesTheBuild(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.UserAgent()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, hc := range []*http.Client{nil, {Timeout: 5 * time.Second}} {
		c := NewClient("test", Env{HTTP: hc})
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		if _, _, _, err := c.Do(req); err != nil {
			t.Fatal(err)
		}
		if ua := <-got; ua != useragent.String() {
			t.Errorf("injected client %v: User-Agent %q, want %q", hc != nil, ua, useragent.String())
		}
	}
}

// countingDecoder is a BodyDecoder that counts its calls.
type countingDecoder struct {
	calls int
	got   string
	fail  bool
}

func (d *countingDecoder) DecodeJSONBody(b []byte) error {
	d.calls++
	d.got = string(b)
	if d.fail {
		return errors.New("cut short")
	}
	return nil
}

// TestBodyDecoder: a destination that decodes the body itself gets the
// raw 2xx body (no json.Unmarshal pass before it); its error is a
// decoding error, retried like truncated JSON.
func TestBodyDecoder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"responses":[`) // truncated: json.Unmarshal would fail first
	}))
	defer srv.Close()
	c := NewClient("test", Env{Retry: Retry{Attempts: 2, Sleep: func(context.Context, time.Duration) error { return nil }}})
	d := &countingDecoder{}
	if _, err := c.JSON(context.Background(), CallSpec{URL: srv.URL}, d); err != nil || d.calls != 1 || d.got != `{"responses":[` {
		t.Fatalf("err %v calls %d got %q", err, d.calls, d.got)
	}
	d = &countingDecoder{fail: true}
	_, err := c.JSON(context.Background(), CallSpec{URL: srv.URL}, d)
	if err == nil || !strings.Contains(err.Error(), "decoding JSON: cut short") || d.calls != 2 {
		t.Fatalf("err %v calls %d", err, d.calls)
	}
}

// TestGapCredentialRefused: Okta's 401 (invalid token) and Google's
// unauthorized_client (domain-wide delegation not granted) refuse the
// credential, not one scope: no permission is named and the tenant's run
// fails. A 403 stays a missing-scope gap.
func TestGapCredentialRefused(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"okta-401", &APIError{Status: 401, Code: "E0000011", Message: "Invalid token provided"}},
		{"google-unauthorized-client", fmt.Errorf("google token for acme: %w (domain-wide delegation is not granted)", &APIError{Status: 401, Code: "unauthorized_client"})},
		{"google-unauthorized-client-400", &APIError{Status: 400, Code: "unauthorized_client"}},
	} {
		r := &TenantRun{Tenant: "t"}
		r.Gap("identities", "okta.users.read", tt.err, time.Time{})
		if r.OK() || len(r.Gaps) != 1 || r.Gaps[0].Permission != "" || !strings.Contains(r.Gaps[0].Reason, "credential or delegation refused") {
			t.Errorf("%s: run %+v, want a failed tenant and a gap naming no permission", tt.name, r)
		}
	}
	r := &TenantRun{Tenant: "t"}
	r.Gap("identities", "okta.users.read", &APIError{Status: 403, Code: "E0000006"}, time.Time{})
	if !r.OK() || r.Gaps[0].Permission != "okta.users.read" {
		t.Errorf("403: %+v, want a missing-scope gap", r)
	}
}
