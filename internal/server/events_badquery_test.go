package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// TestEventsPageBadFilter: an unparseable filter on the events search is a
// 400 with the reason on the page, not a 200.
func TestEventsPageBadFilter(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("owner1")
	for _, q := range []string{"from=notadate", "to=-5", "limit=-3", "before_id=x"} {
		resp, body := c.do("GET", "/events?"+q, nil, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
			t.Errorf("/events?%s: HTTP %d, alert shown %v", q, resp.StatusCode, strings.Contains(body, `role="alert"`))
		}
	}
}

// TestListPagesBadFilter: a filter value the cases, tenants or events pages
// do not know (a status, severity, criticality, source address) is a 400
// with the reason, not a filter silently ignored (old code: 200, every row).
func TestListPagesBadFilter(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("owner1")
	for _, u := range []string{"/incidents?status=bogus", "/incidents?severity=urgent", "/tenants?criticality=extreme",
		"/tenants?failing=yes", "/tenants?incidents=true", "/tenants?crit=high", "/tenants?q=a&sort=score", "/events?usr=ann",
		"/events?source_ip=not-an-ip", "/api/v1/incidents?status=bogus", "/api/v1/cases?severity=x"} {
		resp, body := c.do("GET", u, nil, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "expected") {
			t.Errorf("%s: HTTP %d, reason shown %v", u, resp.StatusCode, strings.Contains(body, "expected"))
		}
	}
	for _, u := range []string{"/incidents?status=all&severity=high", "/incidents?status=resolved", "/tenants?criticality=high", "/events?source_ip=192.0.2.7",
		"/tenants?q=alpha&criticality=high&failing=1&incidents=1", "/tenants?failing=", "/events?tenant=&user=&source_ip=&source=&host=&outcome=&from=&to="} {
		if resp, _ := c.do("GET", u, nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: HTTP %d, want 200", u, resp.StatusCode)
		}
	}
}

// TestEventsBadQueryNamesParameter: every events search request the search
// cannot answer as asked (an outcome it does not know, to before from, an
// unparsable time, a limit out of range, a parameter it does not read or
// reads once given twice) is a 400 whose message names the parameter, on
// the page and in the API (issue 15: /events?outcome=maybe and a reversed
// range were 200 with no events, and the API ignored unknown parameters).
func TestEventsBadQueryNamesParameter(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("owner1")
	for _, tc := range []struct{ query, param string }{
		{"outcome=maybe", "outcome"},
		{"outcome=Failure", "outcome"},
		{"from=2026-11-26T12:00:00Z&to=2026-11-26T11:00:00Z", "to"},
		{"from=2026-11-26T12:00:00Z&to=2026-11-26T12:00:00Z", "to"},
		{"from=notadate", "from"},
		{"from=2026-11-26T12:00", "from"},
		{"to=-5", "to"},
		{"limit=-3", "limit"},
		{"limit=0", "limit"},
		{"limit=10001", "limit"},
		{"limit=ten", "limit"},
		{"before_id=x", "before_id"},
		{"before_id=-1", "before_id"},
		{"source_ip=not-an-ip", "source_ip"},
		{"usr=ann", "usr"},
		{"outcome=failure&outcome=success", "outcome"},
		{"source=sshd&dataset=entra.signin", "dataset"},
	} {
		t.Run(tc.param, func(t *testing.T) {
			resp, body := c.do("GET", "/events?"+tc.query, nil, nil)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `role="alert">`+tc.param+": ") {
				t.Errorf("/events?%s: HTTP %d, want 400 with an alert naming %s", tc.query, resp.StatusCode, tc.param)
			}
			resp, body = c.do("GET", "/api/v1/events?"+tc.query, nil, nil)
			var e apiError
			if err := json.Unmarshal([]byte(body), &e); err != nil || resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(e.Error, tc.param+": ") {
				t.Errorf("/api/v1/events?%s: HTTP %d %q, want 400 naming %s", tc.query, resp.StatusCode, body, tc.param)
			}
		})
	}
	for _, q := range []string{"outcome=failure", "outcome=success", "outcome=unknown", "outcome=", "from=2026-11-26T11:00:00Z&to=2026-11-26T12:00:01Z",
		"source=sshd&dataset=sshd", "dataset=sshd", "limit=1&before_id=0"} {
		for _, path := range []string{"/events?", "/api/v1/events?"} {
			if resp, body := c.do("GET", path+q, nil, nil); resp.StatusCode != http.StatusOK {
				t.Errorf("%s%s: HTTP %d, want 200: %.200s", path, q, resp.StatusCode, body)
			}
		}
	}
	// The page offers the outcomes it takes, the asked one selected.
	if _, body := c.do("GET", "/events?outcome=failure", nil, nil); !strings.Contains(body, `<option selected>failure</option><option>unknown</option>`) {
		t.Error("/events?outcome=failure: the outcome filter does not offer the outcomes with failure selected")
	}
	// Still filtered: every event returned has the outcome asked for, and
	// the fixture's two failures are there.
	for _, outcome := range eventOutcomes {
		_, body := c.do("GET", "/api/v1/events?outcome="+outcome, nil, nil)
		var got struct {
			Events []struct {
				Event struct { // the record's ECS document
					Event struct{ Outcome string } `json:"event"`
				} `json:"event"`
			}
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		for _, e := range got.Events {
			if e.Event.Event.Outcome != outcome {
				t.Errorf("outcome=%s returned an event with outcome %q", outcome, e.Event.Event.Outcome)
			}
		}
		if outcome == event.OutcomeFailure && len(got.Events) < 2 {
			t.Errorf("outcome=failure: %d events, want the fixture's 2", len(got.Events))
		}
	}
}

// TestTruncRunes: a request's text quoted back in an error message is cut
// between runes, never inside one (old code cut bytes: half a multi-byte
// character, invalid UTF-8 in the page).
func TestTruncRunes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 40, "short"},
		{"", 3, ""},
		{"abcdef", 3, "abc…"},
		{"abc", 3, "abc"},
		{"日本語テキスト", 3, "日本語…"},
		{"ééééé", 4, "éééé…"},
		{"a🙂b🙂c", 2, "a🙂…"},
		{strings.Repeat("x", 39) + "é" + "yz", 40, strings.Repeat("x", 39) + "é…"},
	} {
		if got := truncRunes(tc.in, tc.n); got != tc.want {
			t.Errorf("truncRunes(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// FuzzOnlyParams: whatever the unknown parameter's name, the 400's message
// is valid UTF-8 when the name is, names at most 40 of its runes, and
// starts with them.
func FuzzOnlyParams(f *testing.F) {
	for _, s := range []string{"usr", strings.Repeat("é", 41), strings.Repeat("x", 39) + "日本", "🙂🙂🙂", strings.Repeat("a", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if !utf8.ValidString(name) || slices.Contains(eventQueryParams, name) {
			return
		}
		err := onlyParams(url.Values{name: {"1"}}, eventQueryParams...)
		_, msg := classify(err)
		head, _, ok := strings.Cut(msg, ": not a filter of this page")
		if !ok || !utf8.ValidString(msg) {
			t.Fatalf("onlyParams(%q): %q", name, msg)
		}
		kept := strings.TrimSuffix(head, "…")
		if utf8.RuneCountInString(kept) > 40 || !strings.HasPrefix(name, kept) || (kept == head) != (utf8.RuneCountInString(name) <= 40) {
			t.Errorf("onlyParams(%q) quotes %q", name, head)
		}
	})
}

// TestOpenAPIDescribesEventSearch: the OpenAPI document's GET
// /api/v1/events takes exactly the parameters eventQuery reads, its
// outcome enum is eventOutcomes, and it declares the 400 eventQuery
// answers a bad search with.
func TestOpenAPIDescribesEventSearch(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string
				In     string
				Schema struct{ Enum []string }
			}
			Responses map[string]struct {
				Ref string `json:"$ref"`
			}
		}
		Components struct {
			Responses map[string]json.RawMessage
		}
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	op := doc.Paths["/api/v1/events"]["get"]
	var names []string
	for _, p := range op.Parameters {
		if p.In == "query" {
			names = append(names, p.Name)
		}
		if p.Name == "outcome" && !slices.Equal(p.Schema.Enum, eventOutcomes) {
			t.Errorf("outcome's enum is %v, the server takes %v", p.Schema.Enum, eventOutcomes)
		}
	}
	if !slices.Equal(names, eventQueryParams) {
		t.Errorf("GET /api/v1/events documents %v, the server reads %v", names, eventQueryParams)
	}
	ref := op.Responses["400"].Ref
	if _, ok := doc.Components.Responses[strings.TrimPrefix(ref, "#/components/responses/")]; !ok || ref == "" {
		t.Errorf("GET /api/v1/events: 400 is not documented (%q)", ref)
	}
}
