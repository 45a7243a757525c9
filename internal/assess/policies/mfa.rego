# Heading 3 — multifactor authentication.
package firebreak.checks.mfa

import data.firebreak.lib

# Every identity homed outside the tenant (and every vendor, judged by its
# staff) that reaches it at all, by any path and standing or just in time:
# the access matrix's column (lib.matrix), the reach blast --tenant shows.
# A password-only service account passes only on a recorded compensating
# control (access.MFAStates). Tools reaching the tenant are judged by their
# console's sign-in (the weakest of their per-user logins).
reaching_tools := [t | some t in input.tools; t.management]

tools_no_mfa := [{"kind": "tool", "id": t.id, "detail": sprintf("%s reaches the tenant, %s", [t.kind, lib.tool_no_mfa(t)])} | some t in reaching_tools; t.mfa_enforced == false]

tools_mfa_unknown := [{"kind": "tool", "id": t.id, "detail": "mfa_enforced unknown"} | some t in reaching_tools; t.mfa_enforced == null]

results contains lib.counted(
	{"control": "FB-MFA-001", "noun": "identities, vendors and tools reaching the tenant (any path, standing or just in time)", "fails": "MFA not enforced", "need": "identities.mfa (MFA enforcement state)"},
	lib.matrix.reach_n + count(reaching_tools),
	lib.matrix.no_mfa_n + count(tools_no_mfa),
	array.concat(
		[{"kind": c.kind, "id": c.id, "detail": sprintf("%s here via %s; %s", [c.privilege, c.via, no_mfa_why(c)])} | some c in lib.matrix.no_mfa],
		tools_no_mfa,
	),
	lib.matrix.mfa_unknown_n + count(tools_mfa_unknown),
	array.concat(
		[{"kind": c.kind, "id": c.id, "detail": sprintf("%s here via %s; %s", [c.privilege, c.via, mfa_unknown_why(c)])} | some c in lib.matrix.mfa_unknown],
		tools_mfa_unknown,
	),
) if lib.tenant

no_mfa_why(c) := "without MFA or a compensating control" if c.kind == "identity"
else := sprintf("its staff without MFA or a compensating control: %v", [ids]) if {
	ids := object.get(input.principals, [c.id, "no_mfa"], [])
	count(ids) > 0
} else := "a member of its staff without MFA or a compensating control"

mfa_unknown_why(c) := "mfa.enforced unknown" if c.kind == "identity"
else := sprintf("its staff's MFA is unknown: %v", [ids]) if {
	ids := object.get(input.principals, [c.id, "mfa_unknown"], [])
	count(ids) > 0
} else := "its staff's MFA is unknown (or no staff recorded: vendors[].staff or domains)"

results contains lib.not_evaluable("FB-MFA-001", "the trust graph was not computed for this assessment", lib.matrix_need) if {
	lib.tenant
	lib.no_matrix
}

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
# tokens (these pass on a recorded compensating control). Customer access
# is the access matrix's: a customer reached by any path, standing or just
# in time, at any privilege (input.trust.customer_reach; break-glass
# accounts are FB-AUTH-008's).
customer_reach := {id | some id in input.trust.customer_reach}

msp_people := [i | some i in input.identities; i.enabled; customer_reach[i.id]]

# customer_via is the first hops of an identity's paths into customers
# (the access matrix's, input.trust.customer_via).
customer_via(id) := v if v := input.trust.customer_via[id]
else := []

results contains lib.check(
	{"control": "FB-MFA-003", "noun": "MSP identities with customer access", "fails": "no MFA and no compensating control", "need": "identities.mfa (MFA enforcement state)"},
	count(msp_people),
	[{"kind": "identity", "id": i.id, "detail": "%s without MFA or a compensating control, reaches customers via %v (its own credentials admin in %d)", "args": [i.kind, customer_via(i.id), i.admin_tenants]} | some i in msp_people; i.mfa_state == "none"],
	[{"kind": "identity", "id": i.id, "detail": "mfa.enforced unknown"} | some i in msp_people; i.mfa_state == "unknown"],
) if {
	lib.msp
	not lib.no_matrix
}

results contains lib.not_evaluable("FB-MFA-003", "the trust graph was not computed for this assessment", lib.matrix_need) if {
	lib.msp
	lib.no_matrix
}

mgmt := [t | some t in input.tools; t.management]

results contains lib.check(
	{"control": "FB-MFA-004", "noun": "MSP management tools", "fails": "MFA not enforced", "need": "tools.mfa (mfa_enforced)"},
	count(mgmt),
	[{"kind": "tool", "id": t.id, "detail": "%s, %s, reaches %d customers", "args": [t.kind, lib.tool_no_mfa(t), t.customers]} | some t in mgmt; t.mfa_enforced == false],
	[{"kind": "tool", "id": t.id, "detail": "mfa_enforced unknown"} | some t in mgmt; t.mfa_enforced == null],
) if lib.msp

delivered := [t | some t in input.tools; t.delivered]

results contains lib.check(
	{"control": "FB-MFA-005", "noun": "services delivered to customers", "fails": "MFA not enforced", "need": "tools.mfa (mfa_enforced)"},
	count(delivered),
	[{"kind": "tool", "id": t.id, "detail": "delivered, %s", "args": [lib.tool_no_mfa(t)]} | some t in delivered; t.mfa_enforced == false],
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
