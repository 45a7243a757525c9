package store

import (
	"testing"

	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/estate/estatetest"
)

// TestSnapshotOwnersAreTheRule: the store's snapshot objects (what a
// tenant scope may see, diffs, FilterEstate) carry the owner estate.Owners
// gives, on an estate whose owners are easy to get wrong; a grant belongs
// to its target's owner, else its subject's.
func TestSnapshotOwnersAreTheRule(t *testing.T) {
	e := estatetest.TrickyOwnership()
	o := estate.NewOwners(e)
	grants := map[string]string{"gr-t1": "t1", "gr-g-t1": "t1", "gr-anydesk-t1": "t1", "gr-a-t1": "t1", "gr-gdap-t2": "t2", "gr-rmm": "t1"}
	seen := 0
	for _, x := range EstateObjects(e) {
		want, ok := estatetest.TrickyOwners[x.ID]
		if x.Kind == "grants" {
			want, ok = grants[x.ID], true
		}
		if !ok {
			continue
		}
		seen++
		if x.Tenant != want {
			t.Errorf("%s %s: snapshot owner %s, want %s", x.Kind, x.ID, x.Tenant, want)
		}
		if x.Kind != "grants" && x.Tenant != o.Of(x.ID) {
			t.Errorf("%s %s: snapshot owner %s, estate.Owners %s", x.Kind, x.ID, x.Tenant, o.Of(x.ID))
		}
	}
	if want := len(estatetest.TrickyOwners) - 1 + len(grants); seen != want {
		t.Errorf("%d objects checked, want %d", seen, want)
	}
}
