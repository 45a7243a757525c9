package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// testAttest: postures keep history per tenant and stay inside their
// tenant; claims are listed newest first, filter by activity, keep their
// evidence, and revoke once.
func testAttest(t *testing.T, s store.Store, _ func(string) error) {
	ctx := Ctx(t)
	alpha, bravo := store.TenantScope(Alpha), store.TenantScope(Bravo)
	for i, tenant := range []string{Alpha, Alpha, Bravo} {
		p := store.Posture{Tenant: tenant, RunID: int64(i + 1), KeyID: "SHA256:k", Issued: T0, Expires: T0.Add(30 * 24 * time.Hour),
			Envelope: []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`)}
		must(t, s.SavePosture(ctx, &p))
		if p.ID == 0 || p.Created.IsZero() {
			t.Fatalf("SavePosture left id/created unset: %+v", p)
		}
	}
	if err := s.SavePosture(ctx, &store.Posture{Tenant: Alpha}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("posture without envelope: %v", err)
	}
	ps, err := s.ListPostures(ctx, alpha, Alpha, 0)
	must(t, err)
	if len(ps) != 2 || ps[0].RunID != 2 || ps[1].RunID != 1 || !ps[0].Issued.Equal(T0) || ps[0].Envelope != nil {
		t.Fatalf("alpha's postures: %+v", ps)
	}
	if other, _ := s.ListPostures(ctx, bravo, Alpha, 0); len(other) != 0 {
		t.Errorf("bravo's scope lists alpha's postures: %+v", other)
	}
	got, err := s.GetPosture(ctx, alpha, ps[0].ID)
	must(t, err)
	if string(got.Envelope) == "" || got.Tenant != Alpha {
		t.Errorf("GetPosture: %+v", got)
	}
	if _, err := s.GetPosture(ctx, bravo, ps[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bravo reads alpha's posture: %v", err)
	}

	put := func(c store.Claim) store.Claim {
		t.Helper()
		must(t, s.PutClaim(ctx, &c))
		return c
	}
	a := put(store.Claim{Kind: store.ClaimAttestation, Tenant: Alpha, Control: "FB-LOG-007", Body: "we log", By: "alice",
		Expires: T0.Add(90 * 24 * time.Hour), EvidenceName: "siem.pdf", EvidenceSHA256: "ab", Evidence: []byte{0, 1, 2, 0xff}})
	x := put(store.Claim{Kind: store.ClaimException, Tenant: Alpha, Control: "FB-MFA-001", Body: "legacy app", By: "bob", Owner: "bob", Expires: T0.Add(-time.Hour)})
	put(store.Claim{Kind: store.ClaimContract, Tenant: Bravo, Body: `{"clauses":["patching"]}`, By: "carol"})
	if err := s.PutClaim(ctx, &store.Claim{Kind: "opinion", Tenant: Alpha, By: "x"}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("unknown kind: %v", err)
	}
	cs, err := s.ListClaims(ctx, alpha, store.ClaimFilter{})
	must(t, err)
	if len(cs) != 2 || cs[0].ID != x.ID || cs[1].ID != a.ID || cs[1].Evidence != nil || cs[1].EvidenceName != "siem.pdf" {
		t.Fatalf("alpha's claims: %+v", cs)
	}
	active, err := s.ListClaims(ctx, store.AllTenants(), store.ClaimFilter{ActiveAt: T0})
	must(t, err)
	if len(active) != 2 { // the exception expired an hour before T0
		t.Fatalf("active at T0: %+v", active)
	}
	if k, _ := s.ListClaims(ctx, store.AllTenants(), store.ClaimFilter{Kind: store.ClaimContract, Tenant: Bravo}); len(k) != 1 || k[0].By != "carol" {
		t.Errorf("by kind and tenant: %+v", k)
	}
	full, err := s.GetClaim(ctx, alpha, a.ID)
	must(t, err)
	if string(full.Evidence) != string([]byte{0, 1, 2, 0xff}) || !full.Expires.Equal(a.Expires) {
		t.Errorf("GetClaim: %+v", full)
	}
	if _, err := s.GetClaim(ctx, bravo, a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bravo reads alpha's claim: %v", err)
	}
	if err := s.RevokeClaim(ctx, bravo, a.ID, "mallory", T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bravo revokes alpha's claim: %v", err)
	}
	must(t, s.RevokeClaim(ctx, alpha, a.ID, "alice", T0))
	if err := s.RevokeClaim(ctx, alpha, a.ID, "alice", T0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second revoke: %v", err)
	}
	if active, _ := s.ListClaims(ctx, alpha, store.ClaimFilter{ActiveAt: T0}); len(active) != 0 {
		t.Errorf("revoked claim still active: %+v", active)
	}
	r, _ := s.GetClaim(ctx, alpha, a.ID)
	if r.RevokedBy != "alice" || !r.Revoked.Equal(T0) || r.Active(T0) {
		t.Errorf("revoked claim: %+v", r)
	}
}
