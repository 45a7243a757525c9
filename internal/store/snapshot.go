package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// EstateObject is one object of an estate in a position-free canonical form,
// the unit of snapshot hashing and diffing.
type EstateObject struct {
	Kind   string // estate collection: provider, tenants, identities, ...
	ID     string // object id (or a composite key for id-less objects)
	Tenant string // owner: "msp" or a tenant id
	JSON   []byte // canonical JSON without file positions
}

// EstateObjects lists every object of e with its owner, sorted by kind and id.
// Ownership decides what a tenant scope may see: a tenant owns itself, its
// identities, groups, assets, backups, plans, contracts, domain checks and
// exposures, its GDAP relationship tool, and every grant whose target it
// owns (the access the MSP holds into it).
func EstateObjects(e *estate.Estate) []EstateObject { return walkEstate(e, true) }

// CountObjects is len(EstateObjects(e)) without the JSON encoding.
func CountObjects(e *estate.Estate) int { return len(walkEstate(e, false)) }

func walkEstate(e *estate.Estate, withJSON bool) []EstateObject {
	var out []EstateObject
	visitEstate(e, withJSON, func(o EstateObject, _ any) { out = append(out, o) })
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// visitEstate calls fn with every object of e, its owner and the object
// itself, in estate order (kind by kind). It is the one place that decides
// objects' keys and owners: snapshots, diffs and FilterEstate all use it.
func visitEstate(e *estate.Estate, withJSON bool, fn func(o EstateObject, v any)) {
	norm := func(t string) string {
		if t == "" {
			return estate.MSP
		}
		return t
	}
	ownerOf := estate.NewOwners(e).Of
	seen := map[string]int{}
	add := func(kind, id, tenant string, v any) {
		key := kind + "\x00" + id
		seen[key]++
		if n := seen[key]; n > 1 {
			id = id + "#" + strconv.Itoa(n)
		}
		o := EstateObject{Kind: kind, ID: id, Tenant: norm(tenant)}
		if withJSON {
			o.JSON = canonicalJSON(v)
		}
		fn(o, v)
	}
	p := e.Provider
	add("provider", p.ID, estate.MSP, p)
	add("settings", "settings", estate.MSP, e.Settings)
	for _, x := range e.Tenants {
		add("tenants", x.ID, estate.ObjectOwner(&x), x)
	}
	for _, x := range e.Identities {
		add("identities", x.ID, estate.ObjectOwner(&x), x)
	}
	for _, x := range e.Groups {
		add("groups", x.ID, estate.ObjectOwner(&x), x)
	}
	for _, x := range e.Tools {
		add("tools", x.ID, estate.ObjectOwner(&x), x)
	}
	for _, x := range e.Grants {
		t := ownerOf(x.Target)
		if t == estate.MSP {
			t = ownerOf(x.Subject)
		}
		add("grants", x.ID, t, x)
	}
	for _, x := range e.Assets {
		add("assets", x.ID, estate.ObjectOwner(&x), x)
	}
	for _, x := range e.Backups {
		add("backups", x.ID, estate.ObjectOwner(&x), x)
	}
	for _, x := range e.IRPlans {
		add("ir_plans", x.ID, estate.ObjectOwner(&x), x)
	}
	for _, x := range e.Contracts {
		add("contracts", x.ID, estate.ObjectOwner(&x), x)
	}
	for _, x := range e.Vendors {
		add("vendors", x.ID, estate.MSP, x)
	}
	for _, x := range e.Attestations {
		add("attestations", x.Control+"/"+x.Subject, ownerOf(x.Subject), x)
	}
	for _, x := range e.Exceptions {
		add("exceptions", x.Control+"/"+x.Subject, ownerOf(x.Subject), x)
	}
	for _, x := range e.DomainChecks {
		add("domain_checks", x.Tenant+"/"+x.Domain, x.Tenant, x)
	}
	for _, x := range e.Exposures {
		t := x.Tenant
		if t == "" {
			t = ownerOf(x.Object)
		}
		add("exposures", fmt.Sprintf("%s/%s:%d", x.Object, x.Host, x.Port), t, x)
	}
	for _, x := range e.CollectionGap {
		add("collection_gaps", x.Tenant+"/"+x.Evidence, x.Tenant, x)
	}
	for _, x := range e.Imports {
		add("imports", x.Kind+"/"+x.File, x.Home, x)
	}
}

// canonicalJSON marshals v with its Pos field (if any) zeroed, so moving an
// object within a file does not change its hash.
func canonicalJSON(v any) []byte {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Struct {
		if f := rv.FieldByName("Pos"); f.IsValid() {
			cp := reflect.New(rv.Type()).Elem()
			cp.Set(rv)
			cp.FieldByName("Pos").Set(reflect.Zero(f.Type()))
			v = cp.Interface()
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprintf("%q", err.Error()))
	}
	return b
}

// EstateHash is the hex SHA-256 of the estate's objects in canonical form.
func EstateHash(objs []EstateObject) string {
	h := sha256.New()
	for _, o := range objs {
		fmt.Fprintf(h, "%d:%s%d:%s%d:%s\n", len(o.Kind), o.Kind, len(o.ID), o.ID, len(o.JSON), o.JSON)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DiffObjects compares two object lists (as returned by EstateObjects),
// keeping only objects whose owner the scope allows (on either side).
func DiffObjects(scope Scope, from, to []EstateObject) []ObjectChange {
	type key struct{ kind, id string }
	a := make(map[key]EstateObject, len(from))
	for _, o := range from {
		a[key{o.Kind, o.ID}] = o
	}
	changes := []ObjectChange{}
	seen := make(map[key]bool, len(to))
	for _, o := range to {
		k := key{o.Kind, o.ID}
		seen[k] = true
		old, ok := a[k]
		switch {
		case !ok:
			if scope.Allows(o.Tenant) {
				changes = append(changes, ObjectChange{Kind: o.Kind, ID: o.ID, Tenant: o.Tenant, Change: ChangeAdded, After: o.JSON})
			}
		case string(old.JSON) != string(o.JSON):
			if scope.Allows(o.Tenant) || scope.Allows(old.Tenant) {
				c := ObjectChange{Kind: o.Kind, ID: o.ID, Tenant: o.Tenant, Change: ChangeChanged}
				if scope.Allows(old.Tenant) {
					c.Before = old.JSON
				}
				if scope.Allows(o.Tenant) {
					c.After = o.JSON
				} else {
					c.Tenant = old.Tenant
				}
				changes = append(changes, c)
			}
		}
	}
	for _, o := range from {
		if !seen[key{o.Kind, o.ID}] && scope.Allows(o.Tenant) {
			changes = append(changes, ObjectChange{Kind: o.Kind, ID: o.ID, Tenant: o.Tenant, Change: ChangeRemoved, Before: o.JSON})
		}
	}
	sort.SliceStable(changes, func(i, j int) bool {
		if changes[i].Kind != changes[j].Kind {
			return changes[i].Kind < changes[j].Kind
		}
		return changes[i].ID < changes[j].ID
	})
	return changes
}

// FilterEstate returns the part of e the scope may see. For AllTenants it is
// e itself; for a tenant it holds the provider's id and name, the settings,
// and only the objects that tenant owns (see EstateObjects).
func FilterEstate(scope Scope, e *estate.Estate) *estate.Estate {
	if scope.AllTenants {
		return e
	}
	out := &estate.Estate{
		Provider: estate.Provider{ID: e.Provider.ID, Name: e.Provider.Name},
		Settings: e.Settings,
	}
	if !scope.Valid() {
		return out
	}
	// The provider, settings, vendors and CSV import declarations are the
	// MSP's (or carry no tenant data) and are never handed to a tenant.
	visitEstate(e, false, func(o EstateObject, v any) {
		if o.Tenant != scope.Tenant {
			return
		}
		switch x := v.(type) {
		case estate.Tenant:
			out.Tenants = append(out.Tenants, x)
		case estate.Identity:
			out.Identities = append(out.Identities, x)
		case estate.Group:
			out.Groups = append(out.Groups, x)
		case estate.Tool:
			out.Tools = append(out.Tools, x)
		case estate.Grant:
			out.Grants = append(out.Grants, x)
		case estate.Asset:
			out.Assets = append(out.Assets, x)
		case estate.Backup:
			out.Backups = append(out.Backups, x)
		case estate.IRPlan:
			out.IRPlans = append(out.IRPlans, x)
		case estate.Contract:
			out.Contracts = append(out.Contracts, x)
		case estate.Attestation:
			out.Attestations = append(out.Attestations, x)
		case estate.Exception:
			out.Exceptions = append(out.Exceptions, x)
		case estate.DomainCheck:
			out.DomainChecks = append(out.DomainChecks, x)
		case estate.Exposure:
			out.Exposures = append(out.Exposures, x)
		case estate.Gap:
			out.CollectionGap = append(out.CollectionGap, x)
		}
	})
	return out
}
