package server

import (
	"slices"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/estate/estatetest"
)

// TestAccessIntoOwners: the tenant page's "access into this tenant" lists
// the grants whose target the tenant owns by estate.Owners, on an estate
// whose owners are easy to get wrong. Before, the page had its own rule
// (identities' homes, assets' tenants, GDAP customers) and left out the
// grants into the tenant's group and into the remote-access tool the
// customer owns.
func TestAccessIntoOwners(t *testing.T) {
	e := estatetest.TrickyOwnership()
	for tenant, want := range map[string][]string{
		"t1": {"gr-a-t1", "gr-anydesk-t1", "gr-g-t1", "gr-t1"},
		"t2": {"gr-gdap-t2"},
	} {
		var got []string
		for _, r := range accessInto(e, tenant) {
			got = append(got, r.Grant.ID)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("access into %s: %v, want %v", tenant, got, want)
		}
	}
}
