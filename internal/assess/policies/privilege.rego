# Heading 5 — least privilege.
package firebreak.checks.privilege

import data.firebreak.lib

results contains lib.check(
	{"control": "FB-PRIV-001", "noun": "access paths into the tenant", "fails": "standing full control", "need": "grants"},
	count(paths),
	[{"kind": p.ev_kind, "id": p.ev_id, "detail": "%s holds standing full control%s", "args": [p.principal, roles_note(p)]} | some p in paths; p.privilege == "full_control"; p.standing],
	[],
) if lib.tenant

# paths are the live paths into the tenant: principals' and tools' own
# grants (an RMM agent as SYSTEM is held by whoever operates the RMM).
paths := array.concat(lib.live_paths, [p | some p in object.get(input, "tool_access", []); p.live])

roles_note(p) := sprintf(" (roles %v)", [p.roles]) if count(p.roles) > 0
else := " (a tool: whoever operates it holds it)" if p.principal_kind == "tool"
else := ""

results contains lib.check(
	{"control": "FB-PRIV-002", "noun": "GDAP relationships", "fails": "Global Administrator granted", "need": "tools.gdap"},
	count(input.gdap),
	[{"kind": "tool", "id": g.id, "detail": "GDAP roles %v", "args": [g.roles]} | some g in input.gdap; g.global_admin],
	[],
) if lib.tenant

ga := [g | some g in input.gdap; g.global_admin]

results contains lib.check(
	{"control": "FB-PRIV-003", "noun": "GDAP relationships with Global Administrator", "fails": "auto-extend enabled", "need": "tools.gdap (auto_extend)"},
	count(ga),
	[{"kind": "tool", "id": g.id, "detail": "Global Administrator with auto_extend on"} | some g in ga; g.auto_extend == true],
	[{"kind": "tool", "id": g.id, "detail": "auto_extend unknown"} | some g in ga; g.auto_extend == null],
) if lib.tenant

# MSP accounts with customer access are privileged (advisory §3), so every
# operator path, not only admin, should be just in time (full control is
# FB-PRIV-001's). Judged per identity on the access matrix: an identity
# holding operate or more by standing access over any path (its own grant,
# a group, GDAP, an RMM it operates) fails, whatever just-in-time access
# it also has.
results contains lib.counted(
	{"control": "FB-PRIV-004", "noun": "identities and vendors with operator or admin access to the tenant (any path)", "fails": "hold it standing rather than just in time", "need": lib.matrix_need},
	lib.matrix.operators_n,
	lib.matrix.standing_ops_n,
	[{"kind": c.kind, "id": c.id, "detail": sprintf("standing %s via %s", [c.standing, c.standing_via])} | some c in lib.matrix.standing_ops],
	0,
	[],
) if lib.tenant

results contains lib.not_evaluable("FB-PRIV-004", "the trust graph was not computed for this assessment", lib.matrix_need) if {
	lib.tenant
	lib.no_matrix
}

# FB-PRIV-008 — MSP accounts with access to customer environments are
# treated as privileged (AA22-131A §3) and disabled when not actively used
# (§12): every person's account reaching the tenant at operate or above,
# by any path (the access matrix), is dedicated to administration, its
# credential vaulted and the account disabled between uses
# (access.AccountState).
results contains lib.counted(
	{"control": "FB-PRIV-008", "noun": "people's accounts with operator or admin access to the tenant (any path)", "fails": "not kept as privileged accounts", "need": "identities.account (dedicated, vaulted, disabled_when_unused)"},
	lib.matrix.accounts_n,
	lib.matrix.not_kept_n,
	[{"kind": c.kind, "id": c.id, "detail": sprintf("%s here via %s: %s", [c.privilege, c.via, c.account])} | some c in lib.matrix.not_kept],
	lib.matrix.account_unknown_n,
	[{"kind": c.kind, "id": c.id, "detail": sprintf("%s here via %s: %s", [c.privilege, c.via, c.account])} | some c in lib.matrix.account_unknown],
) if {
	lib.tenant
	not lib.no_matrix
}

results contains lib.not_evaluable("FB-PRIV-008", "the trust graph was not computed for this assessment", lib.matrix_need) if {
	lib.tenant
	lib.no_matrix
}

results contains lib.check(
	{"control": "FB-PRIV-005", "noun": "access grants with an expiry", "fails": "expired but still present", "need": "grants"},
	count(input.grants),
	[{"kind": "grant", "id": g.id, "detail": "%s → %s expired %d days ago", "args": [g.subject, g.target, 0 - g.days_to_expiry]} | some g in input.grants; g.days_to_expiry != null; g.days_to_expiry < 0],
	[],
)
