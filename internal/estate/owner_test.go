package estate_test

import (
	"testing"

	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/estate/estatetest"
)

// TestOwners: the ownership rule on an estate whose owners are easy to get
// wrong (estatetest.TrickyOwnership): by id (Owners) and by object
// (ObjectOwner) alike.
func TestOwners(t *testing.T) {
	e := estatetest.TrickyOwnership()
	o := estate.NewOwners(e)
	for id, want := range estatetest.TrickyOwners {
		if got := o.Of(id); got != want {
			t.Errorf("Owners.Of(%s) = %s, want %s", id, got, want)
		}
	}
	objs := []any{&e.Tenants[0], &e.Identities[0], &e.Identities[1], &e.Groups[0], &e.Tools[0], &e.Tools[1], &e.Tools[2],
		&e.Assets[0], &e.Backups[0], &e.IRPlans[0], &e.Contracts[0]}
	ids := []string{"t1", "u-msp", "u-t1", "g-t1", "anydesk-t1", "gdap-t2", "rmm", "a-t1", "b-t2", "ir-t2", "c-t1"}
	for i, x := range objs {
		if got, want := estate.ObjectOwner(x), estatetest.TrickyOwners[ids[i]]; got != want {
			t.Errorf("ObjectOwner(%s) = %s, want %s", ids[i], got, want)
		}
	}
}
