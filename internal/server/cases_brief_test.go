package server

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// listingStore records the incident listings a page asks for.
type listingStore struct {
	store.Store
	mu    sync.Mutex
	whole [][]string // the IDs filter of each listing read with details ("*": every incident the filter selects)
	brief int
}

func (l *listingStore) ListIncidents(ctx context.Context, scope store.Scope, f store.IncidentFilter) ([]store.Incident, error) {
	l.mu.Lock()
	if f.Brief {
		l.brief++
	} else if len(f.IDs) > 0 {
		l.whole = append(l.whole, slices.Clone(f.IDs))
	} else {
		l.whole = append(l.whole, []string{"*"})
	}
	l.mu.Unlock()
	return l.Store.ListIncidents(ctx, scope, f)
}

func (l *listingStore) reads() (brief int, whole [][]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	brief, whole = l.brief, l.whole
	l.brief, l.whole = 0, nil
	return brief, whole
}

// The cases pages list the open incidents briefly (without their samples)
// and read whole only the incidents written since their details were
// decoded: none on a repeat, the one that changed after a write. The cases
// are the ones a whole listing gives, the changed detail included; a
// tenant's listing is read whole (redacted by the store).
func TestCasesListBriefly(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ls := &listingStore{Store: f.srv.st}
	f.srv.st = ls
	put := func(id, tenant, ip, rule string) {
		t.Helper()
		d := &detect.Incident{ID: id, Rule: "password_spray_source", RuleName: rule, Title: "Password spray from one source", Severity: "high", Level: "high",
			Tenant: tenant, Tenants: []string{tenant}, Key: map[string]string{"source.ip": ip}, First: f.clk.now(), Last: f.clk.now(), Count: 5,
			Samples: []detect.Sample{{Time: f.clk.now(), User: "bob", SourceIP: ip, Tenant: tenant, Outcome: "failure"}}}
		in := pipeline.Stored(d)
		if _, _, err := f.st.UpsertIncident(ctx, &in); err != nil {
			t.Fatal(err)
		}
	}
	put("brief-1", tenantA, "203.0.113.10", "spray-v1")
	put("brief-2", tenantB, "203.0.113.11", "spray-v1")
	all := store.AllTenants()
	open := store.IncidentFilter{Status: store.StatusOpen, Limit: 1000}
	// want is the cases of a whole listing, each detail decoded afresh.
	want := func(scope store.Scope) []caseRow {
		t.Helper()
		incs, err := f.st.ListIncidents(ctx, scope, open)
		if err != nil {
			t.Fatal(err)
		}
		dets := make([]*detect.Incident, len(incs))
		for i := range incs {
			dets[i] = pipeline.Detection(&incs[i])
		}
		return f.srv.caseRows(incs, dets)
	}
	check := func(what string, scope store.Scope, wantBrief int, wantWhole [][]string) {
		t.Helper()
		ls.reads()
		_, got, err := f.srv.listCases(ctx, scope, open)
		if err != nil {
			t.Fatal(err)
		}
		brief, whole := ls.reads()
		for _, w := range whole {
			slices.Sort(w)
		}
		if brief != wantBrief || !cmp.Equal(whole, wantWhole) {
			t.Errorf("%s: %d brief listings and whole reads %v, want %d and %v", what, brief, whole, wantBrief, wantWhole)
		}
		if diff := cmp.Diff(want(scope), got, cmp.Comparer(func(a, b *detect.Incident) bool { return cmp.Equal(*a, *b, cmp.AllowUnexported(detect.Incident{})) })); diff != "" {
			t.Errorf("%s: cases differ from a whole listing (-want +got):\n%s", what, diff)
		}
	}
	var ids []string // the fixture's open incidents and these two
	for _, c := range want(all) {
		ids = append(ids, c.IncidentIDs...)
	}
	slices.Sort(ids)
	if !slices.Contains(ids, "brief-1") || !slices.Contains(ids, "brief-2") {
		t.Fatalf("open incidents %v", ids)
	}
	check("first", all, 1, [][]string{ids})
	check("repeat", all, 1, nil)
	put("brief-2", tenantB, "203.0.113.11", "spray-v2") // the detail changes (same clock)
	check("after a write", all, 1, [][]string{{"brief-2"}})
	if _, rows, _ := f.srv.listCases(ctx, all, open); !slices.ContainsFunc(rows, func(c caseRow) bool { return slices.Contains(c.Case.Rules, "spray-v2") }) {
		t.Errorf("the changed detail's rule name is not in the cases: %+v", rows)
	}
	if _, err := f.st.SetIncidentStatus(ctx, all, "brief-1", store.StatusAcknowledged, "alice"); err != nil {
		t.Fatal(err)
	}
	check("after a status change", all, 1, nil) // brief-1 is no longer open
	check("a tenant", store.TenantScope(tenantB), 0, [][]string{{"*"}})
}
