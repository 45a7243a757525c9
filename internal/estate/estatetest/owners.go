// Package estatetest holds estate fixtures shared by the tests of several
// packages: TrickyOwnership, an estate whose owners are easy to get wrong,
// for the table test that every consumer of the ownership rule agrees.
package estatetest

import "github.com/firebreak-msp/firebreak/internal/estate"

// TrickyOwnership is an estate whose owners are easy to get wrong: an
// identity with no home (the MSP's), a group homed in a customer, a
// remote-access tool the customer owns, a GDAP relationship with no owner
// but a customer, a backup, a contract and an IR plan of a customer, and
// grants into each.
func TrickyOwnership() *estate.Estate {
	return &estate.Estate{
		Tenants:    []estate.Tenant{{ID: "t1"}, {ID: "t2"}},
		Identities: []estate.Identity{{ID: "u-msp"}, {ID: "u-t1", Home: "t1"}},
		Groups:     []estate.Group{{ID: "g-t1", Home: "t1"}, {ID: "g-msp"}},
		Tools: []estate.Tool{{ID: "anydesk-t1", Kind: estate.ToolRemoteAccess, Owner: "t1"}, {ID: "gdap-t2", Kind: estate.ToolGDAP, GDAP: &estate.GDAP{Customer: "t2"}},
			{ID: "rmm", Kind: estate.ToolRMM}},
		Assets:    []estate.Asset{{ID: "a-t1", Tenant: "t1"}},
		Backups:   []estate.Backup{{ID: "b-t2", Tenant: "t2"}},
		IRPlans:   []estate.IRPlan{{ID: "ir-t2", Party: "t2"}},
		Contracts: []estate.Contract{{ID: "c-t1", Tenant: "t1"}},
		Grants: []estate.Grant{
			{ID: "gr-t1", Subject: "u-msp", Target: "t1", Privilege: estate.PrivAdmin},
			{ID: "gr-g-t1", Subject: "u-msp", Target: "g-t1", Privilege: estate.PrivAdmin},
			{ID: "gr-anydesk-t1", Subject: "u-msp", Target: "anydesk-t1", Privilege: estate.PrivOperate},
			{ID: "gr-a-t1", Subject: "rmm", Target: "a-t1", Privilege: estate.PrivFull},
			{ID: "gr-gdap-t2", Subject: "g-msp", Target: "gdap-t2", Privilege: estate.PrivAdmin},
			{ID: "gr-rmm", Subject: "u-t1", Target: "rmm", Privilege: estate.PrivRead},
		},
	}
}

// TrickyOwners is who owns each object of TrickyOwnership.
var TrickyOwners = map[string]string{
	"t1": "t1", "t2": "t2", "u-msp": estate.MSP, "u-t1": "t1", "g-t1": "t1", "g-msp": estate.MSP,
	"anydesk-t1": "t1", "gdap-t2": "t2", "rmm": estate.MSP, "a-t1": "t1", "b-t2": "t2", "ir-t2": "t2", "c-t1": "t1",
	"no-such-id": estate.MSP,
}
