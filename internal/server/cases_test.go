package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
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

// The events page counts at most 10,000 matching events and then says
// "more than 10,000" (a full count of a million events took 90–200 ms on
// PostgreSQL); a narrower search is counted exactly.
func TestEventsPageBoundedCount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	batch := make([]store.EventRecord, 0, countEvents+5)
	for i := range countEvents + 5 {
		user := "bulk"
		if i%1000 == 0 {
			user = "rare" // 11 of them
		}
		batch = append(batch, store.EventRecord{Event: event.Event{Timestamp: at.Add(time.Duration(i) * time.Second), Tenant: tenantA,
			Dataset: "test", Category: "authentication", Action: "logon", Outcome: "success", UserName: user}})
	}
	if err := f.st.AppendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.login("analyst1")
	_, all := a.do("GET", "/events", nil, nil)
	if !strings.Contains(all, `data-total="10000" data-more>More than 10,000 matching events</h2>`) || !strings.Contains(all, "Narrow the search") {
		i := strings.Index(all, `id="ehist-h"`)
		t.Errorf("unfiltered events page heading: %.160s", all[max(i, 0):])
	}
	_, rare := a.do("GET", "/events?user=rare", nil, nil)
	if !strings.Contains(rare, `data-total="11">11 matching events</h2>`) {
		i := strings.Index(rare, `id="ehist-h"`)
		t.Errorf("events page for user rare: %.160s", rare[max(i, 0):])
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
