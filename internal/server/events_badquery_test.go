package server

import (
	"net/http"
	"strings"
	"testing"
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
