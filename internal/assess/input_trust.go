package assess

import (
	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/firebreak-msp/firebreak/internal/trust"
)

// trustTerm is input.trust: the trust graph's facts (trust.FactsDoc) as
// ast values, built directly (no map[string]any, no JSON round trip), with
// the same keys and omissions as the document's JSON. Per-tenant
// references are shared between tenants.
func trustTerm(d *trust.FactsDoc) *ast.Term {
	refs := map[trust.FactRef]*ast.Term{}
	ref := func(r trust.FactRef) *ast.Term {
		if t, ok := refs[r]; ok {
			return t
		}
		items := []kv{f("id", str(r.ID)), f("kind", str(r.Kind))}
		if r.MFA != "" {
			items = append(items, f("mfa", str(r.MFA)))
		}
		t := obj(items...)
		refs[r] = t
		return t
	}
	refList := func(rs []trust.FactRef) *ast.Term {
		ts := make([]*ast.Term, len(rs))
		for i, r := range rs {
			ts[i] = ref(r)
		}
		return ast.ArrayTerm(ts...)
	}
	node := func(n *trust.FactNode) *ast.Term {
		items := []kv{f("id", str(n.ID)), f("kind", str(n.Kind)), f("tenants_admin", num(n.TenantsAdmin)), f("tenants_any", num(n.TenantsAny))}
		if n.Sub != "" {
			items = append(items, f("sub", str(n.Sub)))
		}
		if n.MFA != "" {
			items = append(items, f("mfa", str(n.MFA)))
		}
		if len(n.Tenants) > 0 {
			items = append(items, f("tenants", strs(n.Tenants)))
		}
		if n.Path != "" {
			items = append(items, f("path", str(n.Path)))
		}
		if n.Standing != 0 {
			items = append(items, f("standing", num(n.Standing)))
		}
		return obj(items...)
	}
	nodes := func(ns []trust.FactNode) *ast.Term {
		return terms(len(ns), func(i int) *ast.Term { return node(&ns[i]) })
	}
	entries := terms(len(d.EntryPoints), func(i int) *ast.Term {
		e := &d.EntryPoints[i]
		items := []kv{f("id", str(e.ID)), f("kind", str(e.Kind)), f("why", str(e.Why)), f("privilege", str(e.Privilege)),
			f("tenants_admin", num(e.TenantsAdmin)), f("tenants_any", num(e.TenantsAny))}
		if len(e.KEV) > 0 {
			items = append(items, f("kev", strs(e.KEV)))
		}
		if e.Path != "" {
			items = append(items, f("path", str(e.Path)))
		}
		return obj(items...)
	})
	cross := terms(len(d.CrossTenant), func(i int) *ast.Term {
		c := &d.CrossTenant[i]
		items := []kv{f("tenant", str(c.Tenant)), f("via", str(c.Via)), f("kind", str(c.Kind)), f("reaches", strs(c.Reaches))}
		if c.Path != "" {
			items = append(items, f("path", str(c.Path)))
		}
		return obj(items...)
	})
	counts := make([]kv, 0, len(d.Counts))
	for k, v := range d.Counts {
		counts = append(counts, f(k, num(v)))
	}
	byTenant := make([]kv, 0, len(d.ByTenant))
	for id, t := range d.ByTenant {
		byTenant = append(byTenant, f(id, obj(
			f("over_limit", refList(t.OverLimit)),
			f("over_limit_n", num(t.OverLimitN)),
			f("over_limit_weak", refList(t.OverLimitWeak)),
			f("over_limit_weak_n", num(t.OverLimitWeakN)),
			f("entry_points", refList(t.Entries)),
			f("entry_points_n", num(t.EntriesN)),
			f("vendors", refList(t.Vendors)),
			f("admin_identities", refList(t.AdminIdentities)),
			f("admin_identities_n", num(t.AdminIdentityN)),
			f("cross_in", refList(t.CrossIn)),
			f("access", accessTerm(&t.Access)),
		)))
	}
	via := make([]kv, 0, len(d.CustomerReach))
	for _, id := range d.CustomerReach {
		via = append(via, f(id, strs(d.CustomerVia[id])))
	}
	return obj(
		f("version", num(d.Version)),
		f("tenants", num(d.Tenants)),
		f("share", ast.FloatNumberTerm(d.Share)),
		f("limit", num(d.Limit)),
		f("counts", obj(counts...)),
		f("over_limit", nodes(d.OverLimit)),
		f("entry_points", entries),
		f("outsider_admin", strs(d.OutsiderAdmin)),
		f("vendors", nodes(d.Vendors)),
		f("admin_identities", nodes(d.AdminIdentities)),
		f("identities_with_admin", num(d.IdentitiesWithAdmin)),
		f("customer_reach", strs(d.CustomerReach)),
		f("customer_via", obj(via...)),
		f("cross_tenant", cross),
		f("by_tenant", obj(byTenant...)),
	)
}

func levelsTerm(l trust.FactLevels) *ast.Term {
	return obj(f("read", num(l.Read)), f("operate", num(l.Operate)), f("admin", num(l.Admin)), f("full_control", num(l.Full)))
}

// accessTerm is input.trust.by_tenant[T].access (trust.FactAccess).
func accessTerm(a *trust.FactAccess) *ast.Term {
	return obj(f("standing", levelsTerm(a.Standing)), f("eligible", levelsTerm(a.Eligible)),
		f("admins", cellTerms(a.Admins)), f("admins_n", num(a.AdminsN)),
		f("admin_identities_n", num(a.AdminsIDN)),
		f("no_pr", cellTerms(a.NoPR)), f("no_pr_n", num(a.NoPRN)),
		f("pr_unknown", cellTerms(a.PRUnknown)), f("pr_unknown_n", num(a.PRUnknownN)),
		f("reach_n", num(a.ReachN)),
		f("idle", cellTerms(a.Idle)), f("idle_n", num(a.IdleN)),
		f("unowned", cellTerms(a.Unowned)), f("unowned_n", num(a.UnownedN)),
		f("no_mfa", cellTerms(a.NoMFA)), f("no_mfa_n", num(a.NoMFAN)),
		f("mfa_unknown", cellTerms(a.MFAUnknown)), f("mfa_unknown_n", num(a.MFAUnknownN)),
		f("operators_n", num(a.OperatorsN)),
		f("standing_ops", cellTerms(a.StandingOps)), f("standing_ops_n", num(a.StandingOpsN)),
		f("accounts_n", num(a.AccountsN)), f("not_kept", cellTerms(a.NotKept)), f("not_kept_n", num(a.NotKeptN)),
		f("account_unknown", cellTerms(a.AccountUnknown)), f("account_unknown_n", num(a.AccountUnknownN)))
}

// cellTerms is a list of trust.FactAccessCell (omitted fields left out, as
// encoding/json does).
func cellTerms(cs []trust.FactAccessCell) *ast.Term {
	return terms(len(cs), func(i int) *ast.Term {
		c := &cs[i]
		items := []kv{f("id", str(c.ID)), f("kind", str(c.Kind)), f("privilege", str(c.Privilege)), f("standing", str(c.Standing)), f("via", str(c.Via))}
		if c.StandingVia != "" {
			items = append(items, f("standing_via", str(c.StandingVia)))
		}
		if c.MFA != "" {
			items = append(items, f("mfa", str(c.MFA)))
		}
		if c.Idle != "" {
			items = append(items, f("idle", str(c.Idle)))
		}
		if c.Account != "" {
			items = append(items, f("account", str(c.Account)))
		}
		return obj(items...)
	})
}
