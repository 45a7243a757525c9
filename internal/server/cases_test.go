package server

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// GET /api/v1/cases groups the incidents a caller may see by attacker, with
// the CLI's derivation (detect.Cases): one source that sprayed and then
// signed in is one case over two incidents; a tenant's token never sees a
// case built from another tenant's incidents.
func TestAPICases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, in := range []store.Incident{
		{ID: "case-spray", Tenant: tenantA, Tenants: []string{tenantA}, Rule: "password_spray_source", Title: "Password spray from one source", Severity: "high",
			Key: map[string]string{"source.ip": "203.0.113.66"}},
		{ID: "case-success", Tenant: tenantA, Tenants: []string{tenantA}, Rule: "success_after_spray", Title: "Successful sign-in from a source that was password spraying", Severity: "critical",
			Key: map[string]string{"source.ip": "203.0.113.66"}},
		{ID: "case-bravo", Tenant: tenantB, Tenants: []string{tenantB}, Rule: "password_spray_source", Title: "Password spray from one source", Severity: "high",
			Key: map[string]string{"source.ip": "203.0.113.66"}},
	} {
		in.Status, in.First, in.Last, in.Count = store.StatusOpen, f.clk.now(), f.clk.now(), 5
		if _, _, err := f.st.UpsertIncident(ctx, &in); err != nil {
			t.Fatal(err)
		}
	}
	get := func(auth map[string]string) []detect.Case {
		t.Helper()
		resp, body := f.client().do("GET", "/api/v1/cases", nil, auth)
		if resp.StatusCode != 200 {
			t.Fatalf("GET /api/v1/cases: %d %s", resp.StatusCode, body)
		}
		var doc struct {
			Cases []detect.Case `json:"cases"`
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		return doc.Cases
	}
	find := func(cs []detect.Case, attacker string) *detect.Case {
		for i := range cs {
			if cs[i].Attacker == attacker {
				return &cs[i]
			}
		}
		return nil
	}
	a := get(map[string]string{"Authorization": "Bearer " + f.tokenA})
	c := find(a, "source.ip=203.0.113.66")
	if c == nil || c.Severity != "critical" || len(c.IncidentIDs) != 2 || slices.Contains(c.IncidentIDs, "case-bravo") || slices.Contains(c.Tenants, tenantB) {
		t.Errorf("tenant A's view: %+v", c)
	}
	for _, x := range a {
		if slices.Contains(x.IncidentIDs, "case-bravo") || slices.Contains(x.IncidentIDs, "inc-bravo") {
			t.Errorf("tenant A's token sees case %s built from tenant B's incidents", x.Attacker)
		}
	}
	owner := f.client()
	owner.login("analyst1")
	resp, body := owner.do("GET", "/api/v1/cases", nil, nil)
	var all struct {
		Cases []detect.Case `json:"cases"`
	}
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &all) != nil {
		t.Fatalf("MSP GET /api/v1/cases: %d %s", resp.StatusCode, body)
	}
	if c := find(all.Cases, "source.ip=203.0.113.66"); c == nil || len(c.IncidentIDs) != 3 || len(c.Tenants) != 2 {
		t.Errorf("MSP view of the attacker: %+v", c)
	}
}

// The incidents page lists cases (detect.Cases): the two incidents of one
// attacker are one row linking to its case page; bulk acknowledge ticks a
// case and acknowledges each of its open incidents; the case page offers
// the users who may handle incidents as assignees (a select) and assigns
// every incident of the case.
func TestCasesPageAndBulkAcknowledge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, id := range []string{"spray-1", "success-1"} {
		in := store.Incident{ID: id, Tenant: tenantA, Tenants: []string{tenantA}, Rule: "r-" + id, Title: "Title " + id, Severity: map[string]string{"spray-1": "high", "success-1": "critical"}[id],
			Key: map[string]string{"source.ip": "198.51.100.7"}, Status: store.StatusOpen, First: f.clk.now(), Last: f.clk.now(), Count: 4}
		if _, _, err := f.st.UpsertIncident(ctx, &in); err != nil {
			t.Fatal(err)
		}
	}
	var caseID string
	for _, c := range detect.Cases([]*detect.Incident{{ID: "x", Key: map[string]string{"source.ip": "198.51.100.7"}}}) {
		caseID = c.ID
	}
	a := f.client()
	a.login("analyst1")
	_, page := a.do("GET", "/incidents", nil, nil)
	if n := strings.Count(page, `href="/cases/`+caseID+`"`); n != 1 {
		t.Fatalf("incidents page links case %s %d times, want 1 row", caseID, n)
	}
	for _, want := range []string{"198.51.100.7", "source address", `href="/incidents/spray-1"`, `href="/incidents/success-1"`} {
		if !strings.Contains(page, want) {
			t.Errorf("cases list lacks %q", want)
		}
	}
	// The overview's card lists cases too: the attacker once, not a row per incident.
	_, ov := a.do("GET", "/", nil, nil)
	if n := strings.Count(ov, `href="/cases/`+caseID+`"`); n != 1 || strings.Contains(ov, `href="/incidents/spray-1"`) {
		t.Errorf("overview links case %s %d times (want 1) or lists incident rows", caseID, n)
	}
	// The incident page's assignee is a select of handlers; another name is refused.
	_, ip := a.do("GET", "/incidents/spray-1", nil, nil)
	if !strings.Contains(ip, `<select id="assignee"`) || !strings.Contains(ip, `<option value="analyst1"`) || strings.Contains(ip, `<option value="viewer-a"`) {
		t.Errorf("incident page assignee select: want handlers (analyst1), not viewers")
	}
	if resp, _ := a.form("/incidents/spray-1", url.Values{"action": {"assign"}, "assignee": {"viewer-a"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("assigning a viewer: %d, want 400", resp.StatusCode)
	}
	// Tenant filters are selects of the tenants in scope.
	_, ep := a.do("GET", "/events?tenant="+tenantA, nil, nil)
	if !strings.Contains(ep, `<select id="e-tenant"`) || !strings.Contains(ep, `<option value="`+tenantA+`" selected>`) || !strings.Contains(ep, "matching event") {
		t.Errorf("events page: want a tenant select with %s selected and a result count", tenantA)
	}
	_, cp := a.do("GET", "/cases/"+caseID, nil, nil)
	if !strings.Contains(cp, `<select id="assignee"`) || !strings.Contains(cp, `<option value="analyst1"`) || strings.Contains(cp, `<option value="viewer-a"`) {
		t.Errorf("case page assignee select: want handlers (analyst1), not viewers")
	}
	if resp, body := a.form("/cases/"+caseID, url.Values{"action": {"assign"}, "assignee": {"analyst1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign: %d %s", resp.StatusCode, body)
	}
	if resp, body := a.form("/incidents/acknowledge", url.Values{"case": {caseID}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bulk acknowledge: %d %s", resp.StatusCode, body)
	}
	for _, id := range []string{"spray-1", "success-1"} {
		inc, err := f.st.GetIncident(ctx, store.AllTenants(), id)
		if err != nil || inc.Status != store.StatusAcknowledged || inc.Assignee != "analyst1" {
			t.Errorf("%s after assign and bulk acknowledge: %+v %v", id, inc, err)
		}
	}
	if inc, _ := f.st.GetIncident(ctx, store.AllTenants(), f.incA); inc.Status != store.StatusOpen {
		t.Errorf("bulk acknowledge touched another case's incident: %s", inc.Status)
	}
	if resp, _ := a.form("/incidents/acknowledge", url.Values{"case": {"nope"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bulk acknowledge of an unknown case: %d, want 404", resp.StatusCode)
	}
}

// The cases page lists the most pressing cases first and stops at
// casesShown, saying how many there are and linking the full list; the
// live refresh keeps to the same rows.
func TestCasesPageListsTheFirstCases(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := casesShown + 20
	for i := range n {
		sev := "medium"
		if i == n-1 {
			sev = "critical" // the last one stored is the most pressing
		}
		in := store.Incident{ID: fmt.Sprintf("many-%03d", i), Tenant: tenantA, Tenants: []string{tenantA}, Rule: "r", Title: "Spray", Severity: sev,
			Key: map[string]string{"source.ip": fmt.Sprintf("198.51.%d.%d", 100+i/200, 1+i%200)}, Status: store.StatusOpen, First: f.clk.now(), Last: f.clk.now(), Count: 4}
		if _, _, err := f.st.UpsertIncident(ctx, &in); err != nil {
			t.Fatal(err)
		}
	}
	a := f.client()
	a.login("analyst1")
	_, page := a.do("GET", "/incidents", nil, nil)
	if got := strings.Count(page, `<tr data-sev=`); got != casesShown {
		t.Errorf("cases page lists %d rows, want %d", got, casesShown)
	}
	_, all := a.do("GET", "/incidents?show=all", nil, nil)
	total := strings.Count(all, `<tr data-sev=`) // the fixture's own incidents and these
	if total < n || strings.Contains(all, "List all") {
		t.Errorf("show=all lists %d rows, want at least %d and no link", total, n)
	}
	if !strings.Contains(page, fmt.Sprintf(">%d cases <", total)) || !strings.Contains(page, fmt.Sprintf("List all %d", total)) ||
		strings.Index(page, `data-sev="critical"`) > strings.Index(page, `data-sev="medium"`) {
		t.Errorf("cases page: want the total %d, a link to list all and the critical case first", total)
	}
	_, rows := a.do("GET", "/incidents/rows?status=open", nil, nil)
	if got := strings.Count(rows, `<tr data-sev=`); got != casesShown {
		t.Errorf("live rows: %d, want %d", got, casesShown)
	}
}

// barsTotal adds up the counts of a page's histogram bars (the first chart
// after marker).
func barsTotal(t *testing.T, page, marker string) int64 {
	t.Helper()
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatalf("no %q on the page", marker)
	}
	svg := page[i:]
	svg = svg[:strings.Index(svg, "</svg>")]
	var sum int64
	for _, m := range regexp.MustCompile(`: (\d+)</title></rect>`).FindAllStringSubmatch(svg, -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		sum += n
	}
	return sum
}

// The events page's histogram counts every event the search matches, per
// hour over the search's range (the week up to the assessment when the
// request names no from, through the newest event), and its total is the
// page's count. It charted the newest 2,000 of them before.
func TestEventsPageHistogramCountsEveryEvent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	asOf := f.clk.now() // the fixture's assessment
	var batch []store.EventRecord
	add := func(at time.Time, user string) {
		batch = append(batch, store.EventRecord{Event: event.Event{Timestamp: at, Tenant: tenantA,
			Dataset: "hist", Category: "authentication", Action: "logon", Outcome: "success", UserName: user}})
	}
	for i := range 2500 {
		user := "bulk"
		if i%500 == 0 {
			user = "rare" // 5 of them
		}
		add(asOf.Add(-6*24*time.Hour+time.Duration(i)*37*time.Second), user)
	}
	for i := range 3 {
		add(asOf.Add(-10*24*time.Hour+time.Duration(i)*time.Minute), "old") // before the default week
	}
	add(asOf.Add(26*time.Hour), "late") // after the assessment
	add(asOf.Add(27*time.Hour), "late")
	if err := f.st.AppendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.login("analyst1")
	for _, tc := range []struct {
		name, query string
		want        int64
	}{
		{"default_week", "source=hist", 2502},
		{"user", "source=hist&user=rare", 5},
		{"from", "source=hist&from=2026-11-01T00:00:00Z", 2505},
		{"from_to", "source=hist&from=2026-11-01T00:00:00Z&to=2026-11-21T00:00:00Z", 1171},
		{"to_before_the_week", "source=hist&to=2026-11-17T00:00:00Z", 3},
		{"none_in_the_week", "source=hist&user=old", 3}, // the week up to the newest match
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, page := a.do("GET", "/events?"+tc.query, nil, nil)
			if !strings.Contains(page, fmt.Sprintf(`data-total="%d">%s matching event`, tc.want, thousands(tc.want))) {
				i := strings.Index(page, `id="ehist-h"`)
				t.Errorf("heading: %.200s, want %d", page[max(i, 0):], tc.want)
			}
			if got := barsTotal(t, page, `id="ehist-h"`); got != tc.want {
				t.Errorf("histogram bars add up to %d, want the page's count %d", got, tc.want)
			}
			if !strings.Contains(page, thousands(tc.want)+" in ") {
				t.Errorf("histogram summary does not state the total %d", tc.want)
			}
		})
	}
	_, page := a.do("GET", "/events?source=hist", nil, nil)
	if !strings.Contains(page, `name="from" value="2026-11-19T12:00:00Z"`) {
		t.Errorf("the default range's from is not in the form")
	}
	if resp, page := a.do("GET", "/events?source=hist&user=nobody", nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, `data-total="0"`) {
		t.Errorf("no match: HTTP %d, want 200 and a count of 0", resp.StatusCode)
	}
}

// A case page charts every stored event of its attacker (what its events
// search finds), not the rules' samples; the two totals agree.
func TestCasePageHistogramMatchesEventsSearch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.clk.now().Add(-3 * time.Hour)
	var batch []store.EventRecord
	for i := range 40 {
		ip := "198.51.100.77"
		if i%4 == 0 {
			ip = "198.51.100.78" // another source: not the case's
		}
		batch = append(batch, store.EventRecord{Event: event.Event{Timestamp: first.Add(time.Duration(i) * 4 * time.Minute), Tenant: tenantA,
			Dataset: "hist", Category: "authentication", Action: "logon", Outcome: "failure", UserName: fmt.Sprintf("u%d", i),
			SourceIP: netip.MustParseAddr(ip)}})
	}
	if err := f.st.AppendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	in := store.Incident{ID: "hist-spray", Tenant: tenantA, Tenants: []string{tenantA}, Rule: "r", Title: "Spray", Severity: "high",
		Key: map[string]string{"source.ip": "198.51.100.77"}, Status: store.StatusOpen, First: first, Last: first.Add(156 * time.Minute), Count: 30}
	if _, _, err := f.st.UpsertIncident(ctx, &in); err != nil {
		t.Fatal(err)
	}
	var c detect.Case
	for _, x := range detect.Cases([]*detect.Incident{{ID: "x", Key: in.Key}}) {
		c = x
	}
	a := f.client()
	a.login("analyst1")
	_, cp := a.do("GET", "/cases/"+c.ID, nil, nil)
	if !strings.Contains(cp, `id="case-hist" data-total="30"`) {
		i := strings.Index(cp, "case-hist")
		t.Errorf("case histogram: %.200s, want 30 events", cp[max(i, 0):])
	}
	if got := barsTotal(t, cp, `id="case-hist"`); got != 30 {
		t.Errorf("case histogram bars add up to %d, want 30", got)
	}
	i := strings.Index(cp, `<a href="/events?`)
	if i < 0 {
		t.Fatal("case page links no events search")
	}
	link := cp[i+len(`<a href="`):]
	link = html.UnescapeString(link[:strings.Index(link, `"`)])
	_, ep := a.do("GET", link, nil, nil)
	if got := barsTotal(t, ep, `id="ehist-h"`); got != 30 || !strings.Contains(ep, `data-total="30"`) {
		t.Errorf("the case's events search %s counts %d, want 30 as the case page", link, got)
	}
}

// A case on the MSP's own tenant ("msp") names it as the dashboard does,
// by the MSP's display name (the estate's provider), in the cases list,
// on the overview and on the case page; never the raw id.
func TestCasesNameTheMSPTenant(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := store.Incident{ID: "msp-spray", Tenant: "msp", Tenants: []string{"msp", tenantA}, Rule: "r-msp", Title: "Spray on the MSP", Severity: "critical",
		Key: map[string]string{"source.ip": "198.51.100.99"}, Status: store.StatusOpen, First: f.clk.now(), Last: f.clk.now(), Count: 4}
	if _, _, err := f.st.UpsertIncident(ctx, &in); err != nil {
		t.Fatal(err)
	}
	var caseID string
	for _, c := range detect.Cases([]*detect.Incident{{ID: "x", Key: map[string]string{"source.ip": "198.51.100.99"}}}) {
		caseID = c.ID
	}
	a := f.client()
	a.login("analyst1")
	_, page := a.do("GET", "/incidents", nil, nil)
	row := page[strings.Index(page, `href="/cases/`+caseID+`"`):]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, "<td>"+tenantA+", Test MSP</td>") || strings.Contains(row, "msp</td>") {
		t.Errorf("cases list: the MSP's tenant is not named Test MSP: %s", row)
	}
	_, ov := a.do("GET", "/", nil, nil)
	if !strings.Contains(ov, tenantA+", Test MSP") {
		t.Errorf("overview's cases do not name the MSP's tenant Test MSP")
	}
	_, cp := a.do("GET", "/cases/"+caseID, nil, nil)
	if !strings.Contains(cp, "· "+tenantA+", Test MSP ·") {
		t.Errorf("case page does not name the MSP's tenant Test MSP")
	}
}
