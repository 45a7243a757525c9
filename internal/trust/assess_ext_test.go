package trust_test

// These tests run the FB-TRUST controls through the assess engine, which
// imports trust (for its typed input): they live in the external test
// package to keep the import graph acyclic.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// TestGraphControls evaluates the FB-TRUST controls through the assess
// engine, with trust.Facts as input.trust, on the example estate.
func TestGraphControls(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load("../../examples/harbourview")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	g, err := trust.Build(e, trust.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	run := func(e *estate.Estate, extra map[string]any) map[string]assess.Result {
		en, err := assess.New(cat, assess.Options{Clock: func() time.Time { return now }, Extra: extra})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := en.Run(context.Background(), e)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]assess.Result{}
		for _, r := range rep.Results {
			if strings.HasPrefix(r.Control, "FB-TRUST-") {
				out[r.Subject+" "+r.Control] = r
			}
		}
		return out
	}
	got := run(e, map[string]any{"trust": trust.Facts(g)})
	for _, tc := range []struct {
		key    string
		status assess.Status
		ev     string // an evidence id expected among the results
	}{
		{"msp FB-TRUST-001", assess.StatusFail, "rmm"},
		{"msp FB-TRUST-002", assess.StatusFail, "rmm"},
		{"msp FB-TRUST-003", assess.StatusFail, "kaseya"},
		{"msp FB-TRUST-004", assess.StatusFail, "tech-01"},
		{"cedar-law FB-TRUST-001", assess.StatusFail, "rmm"},
		{"cedar-law FB-TRUST-003", assess.StatusFail, "kaseya"},
	} {
		r, ok := got[tc.key]
		if !ok {
			t.Errorf("%s: no result", tc.key)
			continue
		}
		if r.Status != tc.status {
			t.Errorf("%s: status %s (%s), want %s", tc.key, r.Status, r.Message, tc.status)
		}
		found := false
		for _, ev := range r.Evidence {
			if ev.ID == tc.ev {
				found = true
				if ev.Pos.File == "" {
					t.Errorf("%s: evidence %s has no file:line", tc.key, ev.ID)
				}
			}
		}
		if !found {
			t.Errorf("%s: evidence %v lacks %s", tc.key, r.Evidence, tc.ev)
		}
		if testing.Verbose() {
			t.Logf("%s %s: %s", tc.key, r.Status, r.Message)
		}
	}
	// A well-segregated estate passes them all.
	seg := trust.SegregatedEstate(12)
	seg.Provider = estate.Provider{ID: "msp", Name: "Segregated MSP"}
	seg.Vendors = []estate.Vendor{{ID: "ra-vendor", Kind: "software", Supplies: []string{"ra-t01"}}}
	sg := trust.MustBuild(t, seg, trust.Options{})
	segRes := run(seg, map[string]any{"trust": trust.Facts(sg)})
	for k, r := range segRes {
		if r.Status != assess.StatusPass && r.Status != assess.StatusNotApplicable {
			t.Errorf("segregated %s: %s: %s %v", k, r.Status, r.Message, r.Evidence)
		}
	}
	// Passing FB-TRUST-003 still lists the supplier paths.
	if r := segRes["msp FB-TRUST-003"]; len(r.Evidence) != 1 || r.Evidence[0].ID != "ra-vendor" || !strings.Contains(r.Evidence[0].Detail, "reaches 1 of 12") {
		t.Errorf("segregated FB-TRUST-003 evidence: %+v", r.Evidence)
	}
	// A customer's admin account with admin in another customer breaks
	// segregation: FB-TRUST-005 fails for the MSP and both tenants.
	cross := trust.SegregatedEstate(4)
	cross.Provider = estate.Provider{ID: "msp", Name: "Leaky MSP"}
	cross.Identities = append(cross.Identities, estate.Identity{ID: "t01-it", Kind: estate.KindHuman, Home: "t01", Roles: []string{"Global Administrator"}, MFA: trust.MFAOf(estate.MFAFIDO2)})
	cross.Grants = append(cross.Grants, estate.Grant{ID: "leak", Subject: "t01-it", Target: "t02", Privilege: estate.PrivAdmin})
	cg := trust.MustBuild(t, cross, trust.Options{})
	crossRes := run(cross, map[string]any{"trust": trust.Facts(cg)})
	for _, k := range []string{"msp FB-TRUST-005", "t01 FB-TRUST-005", "t02 FB-TRUST-005"} {
		if r := crossRes[k]; r.Status != assess.StatusFail || len(r.Evidence) == 0 || r.Evidence[0].ID != "t01-it" {
			t.Errorf("%s: %s %s %v", k, r.Status, r.Message, r.Evidence)
		}
	}
	if r := crossRes["t03 FB-TRUST-005"]; r.Status != assess.StatusPass {
		t.Errorf("t03 FB-TRUST-005: %s %s", r.Status, r.Message)
	}
	// Without the graph every control is not evaluable, naming what is missing.
	for k, r := range run(e, nil) {
		if r.Status != assess.StatusNotEvaluable || len(r.Missing) == 0 {
			t.Errorf("%s without input.trust: %s %v", k, r.Status, r.Missing)
		}
	}
}

// TestTenantSamples checks the per-tenant graph controls on the example
// estate: the message counts every failing object, the evidence names the
// sample and one item on the tenant counts the rest.
func TestTenantSamples(t *testing.T) {
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load("../../examples/harbourview")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	g := trust.MustBuild(t, e, trust.Options{Now: now})
	doc := trust.FactsOf(g)
	en, err := assess.New(cat, assess.Options{Clock: func() time.Time { return now }, Extra: map[string]any{"trust": trust.Facts(g)}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	// FB-TRUST-004 counts, per tenant, the access facts' identities with
	// admin there (FB-NET-005's population).
	admins := map[string]int{}
	for ti, ta := range g.Access.AdminsByTenant(e) {
		admins[e.Tenants[ti].ID] = ta.N
	}
	checked := 0
	for _, r := range rep.Results {
		ft := doc.ByTenant[r.Subject]
		if ft == nil {
			continue
		}
		var bad, n int
		var want string
		switch r.Control {
		case "FB-TRUST-001":
			bad, n = ft.OverLimitWeakN, ft.OverLimitN
			want = fmt.Sprintf("%d of %d ", bad, n)
		case "FB-TRUST-002":
			bad, n = ft.EntriesN, ft.EntriesN
			want = fmt.Sprintf("entry points an outsider takes directly that give admin or more over this tenant: %d", bad)
		case "FB-TRUST-004":
			bad, n = ft.AdminIdentityN, admins[r.Subject]
			want = fmt.Sprintf("%d of %d ", bad, n)
		default:
			continue
		}
		if bad == 0 {
			// A count, never a made-up one: nothing to judge is not applicable.
			wantSt := assess.StatusPass
			if n == 0 && r.Control != "FB-TRUST-002" {
				wantSt = assess.StatusNotApplicable
			}
			if r.Status != wantSt || strings.Contains(r.Message, "all 1 ") && n != 1 {
				t.Errorf("%s %s: %s %s, want %s", r.Subject, r.Control, r.Status, r.Message, wantSt)
			}
			continue
		}
		checked++
		if r.Status != assess.StatusFail || !strings.HasPrefix(r.Message, want) {
			t.Errorf("%s %s: %s %q, want fail %q…", r.Subject, r.Control, r.Status, r.Message, want)
		}
		wantEv, more := min(bad, trust.TenantCap), 0
		if bad > trust.TenantCap {
			wantEv++
		}
		for _, ev := range r.Evidence {
			if ev.Kind == "tenant" {
				more++
				if ev.ID != r.Subject || ev.Pos.File == "" || !strings.Contains(ev.Detail, fmt.Sprintf("and %d more", bad-trust.TenantCap)) {
					t.Errorf("%s %s: summary evidence %+v", r.Subject, r.Control, ev)
				}
			}
		}
		if len(r.Evidence) != wantEv || (bad > trust.TenantCap) != (more == 1) {
			t.Errorf("%s %s: %d evidence items (%d summaries) for %d failing, want %d", r.Subject, r.Control, len(r.Evidence), more, bad, wantEv)
		}
	}
	if checked < 25 {
		t.Errorf("only %d failing per-tenant graph results checked", checked)
	}
}
