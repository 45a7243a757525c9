# Heading 3 — multifactor authentication.
package firebreak.checks.mfa

import data.firebreak.lib

# Principals (identities homed elsewhere, or groups of them) with a live
# path into this tenant; their members were summarised once per run
# (principals.rego), so a 2,000-member GDAP group costs one lookup here.
principals := {p.principal | some p in lib.live_paths}

reaching_tools := [t | some t in input.tools; t.management]

results contains lib.check(
	{"control": "FB-MFA-001", "noun": "principals and tools reaching the tenant", "fails": "MFA not enforced", "need": "identities.mfa (MFA enforcement state)"},
	count(principals) + count(reaching_tools),
	array.concat(
		[lib.principal_ev(pid, ids, "without MFA or a compensating control") | some pid in principals; ids := input.principals[pid].no_mfa; count(ids) > 0],
		[{"kind": "tool", "id": t.id, "detail": "%s reaches the tenant, mfa_enforced=false", "args": [t.kind]} | some t in reaching_tools; t.mfa_enforced == false],
	),
	array.concat(
		[lib.principal_ev(pid, ids, "mfa.enforced unknown") | some pid in principals; ids := input.principals[pid].mfa_unknown; count(ids) > 0],
		[{"kind": "tool", "id": t.id, "detail": "mfa_enforced unknown"} | some t in reaching_tools; t.mfa_enforced == null],
	),
) if lib.tenant

# Every identity homed outside the tenant (and every vendor, judged by its
# staff) that reaches it at admin or more,
# by any path (a grant, a group, GDAP, a tool it operates, a vault holding
# its credential), standing or just in time: the access matrix's column.
results contains lib.counted(
	{"control": "FB-MFA-002", "noun": "identities and vendors with admin or full control of the tenant (any path, standing or just in time)", "fails": "sign-in not phishing-resistant", "need": "identities.mfa (registered methods)"},
	lib.matrix.admin_identities_n,
	lib.matrix.no_pr_n,
	[{"kind": c.kind, "id": c.id, "detail": sprintf("%s here via %s (standing %s); mfa %s", [c.privilege, c.via, c.standing, object.get(c, "mfa", "of its staff: not phishing-resistant")])} | some c in lib.matrix.no_pr],
	lib.matrix.pr_unknown_n,
	[{"kind": c.kind, "id": c.id, "detail": sprintf("%s here via %s; %s", [c.privilege, c.via, pr_unknown_why(c)])} | some c in lib.matrix.pr_unknown],
) if lib.tenant

pr_unknown_why(c) := "MFA methods unknown" if c.kind == "identity"
else := "its staff's MFA is unknown (or no staff recorded: vendors[].staff or domains)"

results contains lib.not_evaluable("FB-MFA-002", "the trust graph was not computed for this assessment", lib.matrix_need) if {
	lib.tenant
	lib.no_matrix
}

# Every MSP identity with customer access: people, service accounts and
# tokens (these pass on a recorded compensating control).
msp_people := [i | some i in input.identities; i.enabled; i.customer_access]

results contains lib.check(
	{"control": "FB-MFA-003", "noun": "MSP identities with customer access", "fails": "no MFA and no compensating control", "need": "identities.mfa (MFA enforcement state)"},
	count(msp_people),
	[{"kind": "identity", "id": i.id, "detail": "%s without MFA or a compensating control, reaches customers (%d as admin; tools %v)", "args": [i.kind, i.admin_tenants, i.access_tools]} | some i in msp_people; i.mfa_state == "none"],
	[{"kind": "identity", "id": i.id, "detail": "mfa.enforced unknown"} | some i in msp_people; i.mfa_state == "unknown"],
) if lib.msp

mgmt := [t | some t in input.tools; t.management]

results contains lib.check(
	{"control": "FB-MFA-004", "noun": "MSP management tools", "fails": "MFA not enforced", "need": "tools.mfa (mfa_enforced)"},
	count(mgmt),
	[{"kind": "tool", "id": t.id, "detail": "%s, mfa_enforced=false, reaches %d customers", "args": [t.kind, t.customers]} | some t in mgmt; t.mfa_enforced == false],
	[{"kind": "tool", "id": t.id, "detail": "mfa_enforced unknown"} | some t in mgmt; t.mfa_enforced == null],
) if lib.msp

delivered := [t | some t in input.tools; t.delivered]

results contains lib.check(
	{"control": "FB-MFA-005", "noun": "services delivered to customers", "fails": "MFA not enforced", "need": "tools.mfa (mfa_enforced)"},
	count(delivered),
	[{"kind": "tool", "id": t.id, "detail": "delivered, mfa_enforced=false"} | some t in delivered; t.mfa_enforced == false],
	[{"kind": "tool", "id": t.id, "detail": "mfa_enforced unknown"} | some t in delivered; t.mfa_enforced == null],
) if lib.msp

tenant_admins := [i | some i in input.identities; i.enabled; i.admin; i.human]

results contains lib.check(
	{"control": "FB-MFA-006", "noun": "tenant administrator accounts", "fails": "MFA not enforced", "need": "identities.mfa (MFA enforcement state)",
	 "kind": "identity", "detail": "roles {roles}, mfa.enforced=false", "unknown_detail": "mfa.enforced unknown"},
	count(tenant_admins),
	[i.id | some i in tenant_admins; i.mfa_enforced == false],
	[i.id | some i in tenant_admins; i.mfa_enforced == null],
) if lib.tenant

tenant_users := [i | some i in input.identities; i.enabled; i.kind in {"human", "shared"}]

results contains lib.check(
	{"control": "FB-MFA-007", "noun": "tenant user accounts", "fails": "MFA not enforced", "need": "identities.mfa (MFA enforcement state)",
	 "kind": "identity", "detail": "mfa.enforced=false", "unknown_detail": "mfa.enforced unknown"},
	count(tenant_users),
	[i.id | some i in tenant_users; i.mfa_enforced == false],
	[i.id | some i in tenant_users; i.mfa_enforced == null],
) if lib.tenant
