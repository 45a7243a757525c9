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
