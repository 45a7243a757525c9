package estate_test

import (
	"os"
	"path/filepath"
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

// TestProviderIDIsMSP: validate accepts the provider's own id wherever "msp"
// may be written (identity and group homes, asset and backup tenants, grant
// subjects and targets). Before, Load kept it as written, so `validate`
// said valid while the trust graph refused every such identity ("home
// \"tide\" is neither \"msp\" nor a known tenant") and the ownership rule
// answered "tide", neither the MSP nor a tenant.
func TestProviderIDIsMSP(t *testing.T) {
	dir := t.TempDir()
	body := `provider: {id: tide, name: Tidewater}
tenants: [{id: t1}]
identities: [{id: sam, kind: human, home: tide}]
groups: [{id: ops, home: tide, members: [sam]}]
tools: [{id: vsa, kind: rmm, owner: tide}]
assets: [{id: fw1, tenant: tide}]
backups: [{id: b1, tenant: tide}]
grants: [{id: g1, subject: sam, target: tide, privilege: admin}]
`
	if err := os.WriteFile(filepath.Join(dir, "e.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	o := estate.NewOwners(e)
	for _, id := range []string{"sam", "ops", "vsa", "fw1", "b1"} {
		if got := o.Of(id); got != estate.MSP {
			t.Errorf("owner of %s = %q, want %q", id, got, estate.MSP)
		}
	}
	if g := e.Grants[0]; g.Target != estate.MSP {
		t.Errorf("grant target %q, want %q", g.Target, estate.MSP)
	}
	if e.Provider.ID != "tide" {
		t.Errorf("provider id %q, want it kept", e.Provider.ID)
	}
}
