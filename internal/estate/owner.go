package estate

// Owners answers "who owns this object" for every id of an estate: a
// tenant owns itself; an identity or group belongs to its home; an asset,
// backup or plan to its tenant; a tool to its owner, or for a GDAP
// relationship to its customer; anything else (and any unknown id) to the
// MSP. It is the one ownership rule: assess, the access facts, the store's
// snapshots and tenant filters, and so the report and dashboard, use it.
type Owners struct{ m map[string]string }

// NewOwners indexes e's objects by id.
func NewOwners(e *Estate) *Owners {
	o := &Owners{m: make(map[string]string, len(e.Tenants)+len(e.Identities)+len(e.Groups)+len(e.Tools)+len(e.Assets))}
	for i := range e.Tenants {
		o.m[e.Tenants[i].ID] = e.Tenants[i].ID
	}
	for i := range e.Identities {
		o.m[e.Identities[i].ID] = orMSP(e.Identities[i].Home)
	}
	for i := range e.Groups {
		o.m[e.Groups[i].ID] = orMSP(e.Groups[i].Home)
	}
	for i := range e.Tools {
		o.m[e.Tools[i].ID] = ToolOwner(&e.Tools[i])
	}
	for i := range e.Assets {
		o.m[e.Assets[i].ID] = orMSP(e.Assets[i].Tenant)
	}
	return o
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
