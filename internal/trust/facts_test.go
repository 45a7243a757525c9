package trust

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// TestFactsPlain checks that Facts, built directly as maps and slices, is
// what a JSON round trip of FactsOf gives (the assess input must not depend
// on which way it was made).
func TestFactsPlain(t *testing.T) {
	hv, err := estate.Load("../../examples/harbourview")
	if err != nil {
		t.Fatal(err)
	}
	cross := segregatedEstate(4)
	cross.Identities = append(cross.Identities, estate.Identity{ID: "t01-it", Kind: estate.KindHuman, Home: "t01", Roles: []string{"Global Administrator"}, MFA: mfa(estate.MFAFIDO2)})
	cross.Grants = append(cross.Grants, estate.Grant{ID: "leak", Subject: "t01-it", Target: "t02", Privilege: estate.PrivAdmin})
	for _, tc := range []struct {
		name string
		e    *estate.Estate
	}{
		{"harbourview", hv},
		{"generated", estate.Generate(estate.GenOptions{Tenants: 40, Identities: 400, Grants: 800, Assets: 400, Seed: 3})},
		{"cross", cross},
		{"empty", &estate.Estate{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := mustBuild(t, tc.e, Options{Now: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)})
			doc := FactsOf(g)
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			var want any
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			b, err = json.Marshal(Facts(g))
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Facts differs from FactsOf's JSON (-want +got):\n%s", d)
			}
			// Samples are bounded and counted in full.
			for id, ft := range doc.ByTenant {
				if len(ft.OverLimitWeak) > tenantCap || len(ft.OverLimitWeak) > ft.OverLimitWeakN || ft.OverLimitWeakN > ft.OverLimitN {
					t.Errorf("%s: over_limit_weak %d of %d (over_limit_n %d)", id, len(ft.OverLimitWeak), ft.OverLimitWeakN, ft.OverLimitN)
				}
				if len(ft.OverLimitWeak) < min(tenantCap, ft.OverLimitWeakN) {
					t.Errorf("%s: over_limit_weak sample %d, want %d", id, len(ft.OverLimitWeak), min(tenantCap, ft.OverLimitWeakN))
				}
			}
		})
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
	g := mustBuild(t, e, Options{Now: now})
	doc := FactsOf(g)
	en, err := assess.New(cat, assess.Options{Clock: func() time.Time { return now }, Extra: map[string]any{"trust": Facts(g)}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, r := range rep.Results {
		ft := doc.ByTenant[r.Subject]
		if ft == nil {
			continue
		}
		var bad, n int
		switch r.Control {
		case "FB-TRUST-001":
			bad, n = ft.OverLimitWeakN, ft.OverLimitN
		case "FB-TRUST-002":
			bad, n = ft.EntriesN, ft.EntriesN
		case "FB-TRUST-004":
			bad, n = ft.AdminIdentityN, ft.AdminIdentityN
		default:
			continue
		}
		if bad == 0 {
			if r.Status != assess.StatusPass {
				t.Errorf("%s %s: %s %s, want pass", r.Subject, r.Control, r.Status, r.Message)
			}
			continue
		}
		checked++
		if want := fmt.Sprintf("%d of %d ", bad, n); r.Status != assess.StatusFail || !strings.HasPrefix(r.Message, want) {
			t.Errorf("%s %s: %s %q, want fail %q…", r.Subject, r.Control, r.Status, r.Message, want)
		}
		wantEv, more := min(bad, tenantCap), 0
		if bad > tenantCap {
			wantEv++
		}
		for _, ev := range r.Evidence {
			if ev.Kind == "tenant" {
				more++
				if ev.ID != r.Subject || ev.Pos.File == "" || !strings.Contains(ev.Detail, fmt.Sprintf("and %d more", bad-tenantCap)) {
					t.Errorf("%s %s: summary evidence %+v", r.Subject, r.Control, ev)
				}
			}
		}
		if len(r.Evidence) != wantEv || (bad > tenantCap) != (more == 1) {
			t.Errorf("%s %s: %d evidence items (%d summaries) for %d failing, want %d", r.Subject, r.Control, len(r.Evidence), more, bad, wantEv)
		}
	}
	if checked < 25 {
		t.Errorf("only %d failing per-tenant graph results checked", checked)
	}
}

// TestRankingOrder checks the ranking's sort (on copied keys) against
// compareRank.
func TestRankingOrder(t *testing.T) {
	g := mustBuild(t, estate.Generate(estate.GenOptions{Tenants: 60, Identities: 600, Grants: 1200, Assets: 1200, Seed: 5}), Options{})
	rk := g.Ranking()
	if len(rk.Ranks) < 1000 {
		t.Fatalf("only %d ranks", len(rk.Ranks))
	}
	for i := 1; i < len(rk.Ranks); i++ {
		if compareRank(&rk.Ranks[i-1], &rk.Ranks[i]) > 0 {
			t.Fatalf("ranks %d (%s) and %d (%s) out of order", i-1, rk.Ranks[i-1].ID, i, rk.Ranks[i].ID)
		}
	}
}
