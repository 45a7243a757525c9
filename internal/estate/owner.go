package estate

// Owners answers "who owns this object" for every id of an estate: a
// tenant owns itself; an identity or group belongs to its home; an asset,
// backup, plan or contract to its tenant (party); a tool to its owner, or for a GDAP
// relationship to its customer; anything else (and any unknown id) to the
// MSP. It is the one ownership rule: assess, the access facts, the store's
// snapshots and tenant filters, and so the report and dashboard, use it.
type Owners struct{ m map[string]string }

// NewOwners indexes e's objects by id (ObjectOwner of each).
func NewOwners(e *Estate) *Owners {
	o := &Owners{m: make(map[string]string, len(e.Tenants)+len(e.Identities)+len(e.Groups)+len(e.Tools)+len(e.Assets)+len(e.Backups)+len(e.IRPlans)+len(e.Contracts))}
	for i := range e.Tenants {
		o.m[e.Tenants[i].ID] = ObjectOwner(&e.Tenants[i])
	}
	for i := range e.Identities {
		o.m[e.Identities[i].ID] = ObjectOwner(&e.Identities[i])
	}
	for i := range e.Groups {
		o.m[e.Groups[i].ID] = ObjectOwner(&e.Groups[i])
	}
	for i := range e.Tools {
		o.m[e.Tools[i].ID] = ObjectOwner(&e.Tools[i])
	}
	for i := range e.Assets {
		o.m[e.Assets[i].ID] = ObjectOwner(&e.Assets[i])
	}
	for i := range e.Backups {
		o.m[e.Backups[i].ID] = ObjectOwner(&e.Backups[i])
	}
	for i := range e.IRPlans {
		o.m[e.IRPlans[i].ID] = ObjectOwner(&e.IRPlans[i])
	}
	for i := range e.Contracts {
		o.m[e.Contracts[i].ID] = ObjectOwner(&e.Contracts[i])
	}
	return o
}

// ObjectOwner is the owner of one object (a pointer to a Tenant,
// Identity, Group, Tool, Asset, Backup, IRPlan or Contract; anything else
// is the MSP's): the rule itself, for callers holding the object rather
// than its id (the store's snapshots, where an invalid estate's duplicate
// ids must not borrow another object's owner).
func ObjectOwner(v any) string {
	switch x := v.(type) {
	case *Tenant:
		return x.ID
	case *Identity:
		return orMSP(x.Home)
	case *Group:
		return orMSP(x.Home)
	case *Tool:
		return ToolOwner(x)
	case *Asset:
		return orMSP(x.Tenant)
	case *Backup:
		return orMSP(x.Tenant)
	case *IRPlan:
		return orMSP(x.Party)
	case *Contract:
		return orMSP(x.Tenant)
	}
	return MSP
}

// Of returns the owner of id: "msp" or a tenant id.
func (o *Owners) Of(id string) string {
	if t, ok := o.m[id]; ok {
		return t
	}
	return MSP
}

// ToolOwner is the owner of tool t: a GDAP relationship's customer, else
// its owner field, else the MSP.
func ToolOwner(t *Tool) string {
	if t.GDAP != nil && t.GDAP.Customer != "" {
		return t.GDAP.Customer
	}
	return orMSP(t.Owner)
}

func orMSP(s string) string {
	if s == "" {
		return MSP
	}
	return s
}
