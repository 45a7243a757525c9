package trust

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
