package server

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// A case keyed by a whole tenant (a spray spread over many addresses) is
// not presented as if the tenant were the attacker: the demo's
// distributed spray at riverside-clinic linked "Events from
// riverside-clinic" and "search all events from this attacker", showed the
// tenant's id as the attacker's address in the cases list, and drew no
// chart. Its rows and links now say what they are, and its chart counts
// what its link finds: every event at the tenant during the attack.
func TestWholeTenantCaseWording(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.clk.now().Add(-2 * time.Hour)
	var batch []store.EventRecord
	for i := range 24 {
		batch = append(batch, store.EventRecord{Event: event.Event{Timestamp: first.Add(time.Duration(i) * time.Minute), Tenant: tenantA,
			Dataset: "dspray", Category: "authentication", Action: "logon", Outcome: "failure", UserName: fmt.Sprintf("u%d", i),
			SourceIP: netip.MustParseAddr(fmt.Sprintf("198.51.100.%d", 10+i))}})
	}
	if err := f.st.AppendEvents(ctx, batch); err != nil {
		t.Fatal(err)
	}
	in := store.Incident{ID: "dspray", Tenant: tenantA, Tenants: []string{tenantA}, Rule: "distributed_spray", Title: "Distributed password spray against one tenant",
		Severity: "critical", Key: map[string]string{}, Status: store.StatusOpen, First: first, Last: first.Add(23 * time.Minute), Count: 24}
	if _, _, err := f.st.UpsertIncident(ctx, &in); err != nil {
		t.Fatal(err)
	}
	cs := detect.Cases([]*detect.Incident{{ID: "x", Tenant: tenantA}})
	if len(cs) != 1 || cs[0].Field != "tenant" {
		t.Fatalf("cases %+v, want one keyed by the tenant", cs)
	}
	a := f.client()
	a.login("analyst1")
	_, list := a.do("GET", "/incidents", nil, nil)
	i := strings.Index(list, `href="/cases/`+cs[0].ID+`"`)
	if i < 0 {
		t.Fatalf("cases list does not link the whole-tenant case")
	}
	row, _, _ := strings.Cut(list[i:], "</tr>")
	if strings.Contains(row, "<code>"+tenantA+"</code>") || !strings.Contains(row, "many sources") {
		t.Errorf("cases list row shows the tenant as the attacker: %s", row)
	}
	_, ov := a.do("GET", "/", nil, nil)
	if i := strings.Index(ov, `href="/cases/`+cs[0].ID+`"`); i < 0 {
		t.Errorf("overview does not list the case")
	} else if item, _, _ := strings.Cut(ov[i:], "</li>"); strings.Contains(item, "<code>"+tenantA+"</code>") || !strings.Contains(item, "many sources") {
		t.Errorf("overview item shows the tenant as the attacker: %s", item)
	}
	_, page := a.do("GET", "/cases/"+cs[0].ID, nil, nil)
	for _, bad := range []string{"Events from " + tenantA, "from this attacker", "<code>tenant=" + tenantA + "</code>"} {
		if strings.Contains(page, bad) {
			t.Errorf("case page says %q", bad)
		}
	}
	if !strings.Contains(page, `id="case-events">Events at `+tenantA+` during the attack</a>`) {
		i := strings.Index(page, "case-events")
		t.Errorf("case page's events link: %.200s", page[max(i, 0):])
	}
	if !strings.Contains(page, `id="case-hist" data-total="24"`) || barsTotal(t, page, `id="case-hist"`) != 24 {
		i := strings.Index(page, "case-hist")
		t.Errorf("case chart: %.300s, want the tenant's 24 events", page[max(i, 0):])
	}
}
