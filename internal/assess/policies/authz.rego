# Heading 12 — account authentication and authorization.
package firebreak.checks.authz

import data.firebreak.lib

unscoped := {"", "*", "all", "tenant", "/"}

scoped_paths := [p | some p in lib.live_paths; p.grant != ""; p.privilege_rank >= 3]

results contains lib.check(
	{"control": "FB-AUTH-001", "noun": "admin-level MSP grants", "fails": "not scoped to the systems the MSP manages", "need": "grants (scope)"},
	count(scoped_paths),
	[{"kind": "grant", "id": p.grant, "detail": "%s holds %s with no scope", "args": [p.principal, p.privilege]} | some p in scoped_paths; p.scope in unscoped],
	[],
) if lib.tenant

live := {p.principal | some p in lib.live_paths}

results contains lib.check(
	{"control": "FB-AUTH-002", "noun": "principals with access", "fails": "service accounts or API tokens without an accountable owner", "need": "identities (owner)"},
	count(live),
	[lib.principal_ev(pid, ids, "non-human, no owner") | some pid in live; ids := input.principals[pid].non_human_unowned; count(ids) > 0],
	[],
) if lib.tenant

# Tenant-wide administrator roles and groups.
admin_roles := {
	"global administrator", "company administrator", "privileged role administrator",
	"privileged authentication administrator", "domain admins", "enterprise admins",
	"administrators", "schema admins",
}

admin_roles_of(p) := [r | some r in p.roles; lower(r) in admin_roles]

results contains lib.check(
	{"control": "FB-AUTH-003", "noun": "MSP access paths", "fails": "member of a tenant-wide administrator role", "need": "grants"},
	count(lib.live_paths),
	[{"kind": p.ev_kind, "id": p.ev_id, "detail": "%s in %s", "args": [p.principal, concat(", ", rs)]} | some p in lib.live_paths; rs := admin_roles_of(p); count(rs) > 0],
	[],
) if lib.tenant
