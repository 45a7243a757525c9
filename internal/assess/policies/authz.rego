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

# FB-AUTH-002: every identity homed outside the tenant (and every vendor)
# reaching it by any path, standing or just in time (the access matrix,
# lib.matrix); the service accounts and tokens among them need an
# accountable owner.
results contains lib.counted(
	{"control": "FB-AUTH-002", "noun": "identities and vendors reaching the tenant (any path)", "fails": "service accounts or API tokens without an accountable owner", "need": "identities (owner)"},
	lib.matrix.reach_n,
	lib.matrix.unowned_n,
	[{"kind": c.kind, "id": c.id, "detail": sprintf("non-human, no owner; %s here via %s", [c.privilege, c.via])} | some c in lib.matrix.unowned],
	0,
	[],
) if lib.tenant

results contains lib.not_evaluable("FB-AUTH-002", "the trust graph was not computed for this assessment", lib.matrix_need) if {
	lib.tenant
	lib.no_matrix
}

# Administrator roles and groups: p.admin_roles are the path's roles that
# make an account privileged (internal/access: directory admin roles,
# Exchange/Security/Hybrid Identity administrators, Account/Backup/Server
# Operators, Domain/Enterprise Admins...). Vendor-held paths count too.
results contains lib.check(
	{"control": "FB-AUTH-003", "noun": "MSP access paths", "fails": "member of an administrator role or group", "need": "grants"},
	count(lib.live_paths),
	[{"kind": p.ev_kind, "id": p.ev_id, "detail": "%s in %s", "args": [p.principal, concat(", ", p.admin_roles)]} | some p in lib.live_paths; count(p.admin_roles) > 0],
	[],
) if lib.tenant

# FB-AUTH-008 — break-glass accounts judged by their own rules:
# phishing-resistant MFA, every sign-in monitored, tested within a year.
# They are unused by design, so they are never "idle" (ACC-001/004).
break_glass := [i | some i in input.identities; i.enabled; i.kind == "break_glass"]

bg(i) := i.break_glass if i.break_glass != null
else := {}

bg_faults(i) := [w[0] | some w in [
	["MFA not phishing-resistant", i.pr_state == "fail"],
	["sign-ins not monitored", object.get(bg(i), "monitored", null) == false],
	[sprintf("last tested %v days ago", [object.get(bg(i), "days_since_tested", null)]), tested_late(i)],
]; w[1]]

tested_late(i) if {
	d := object.get(bg(i), "days_since_tested", null)
	d != null
	d > 365
} else := false

bg_unknown(i) := [w[0] | some w in [
	["MFA methods", i.pr_state == "unknown"],
	["break_glass.monitored", object.get(bg(i), "monitored", null) == null],
	["break_glass.last_tested", object.get(bg(i), "days_since_tested", null) == null],
]; w[1]]

results contains lib.check(
	{"control": "FB-AUTH-008", "noun": "break-glass accounts", "fails": "emergency access not protected by its own rules", "need": "identities[].break_glass (monitored, last_tested) and MFA methods"},
	count(break_glass),
	[{"kind": "identity", "id": i.id, "detail": concat("; ", fs)} | some i in break_glass; fs := bg_faults(i); count(fs) > 0],
	[{"kind": "identity", "id": i.id, "detail": concat(", ", us)} | some i in break_glass; count(bg_faults(i)) == 0; us := bg_unknown(i); count(us) > 0],
)

# FB-AUTH-004 — unexplained failed authentication is monitored, read from
# detection rather than attested: failed-authentication rules are loaded
# and at least one of the subject's log sources delivered authentication
# events to them within the last 7 days (input.auth_monitoring, from
# `firebreak detect --summary-file` or serve's pipeline). No detection
# evidence at all is not evaluable.
monitor_recent_days := 7

mon := input.auth_monitoring

mon_ev(s) := lib.ev("log_source", s.name, sprintf("%d authentication events, %d failed, last %d days ago", [s.events, s.failed, s.days_since_last]))

results contains lib.not_evaluable("FB-AUTH-004", "no detection evidence: which log sources feed failed-authentication detection is unknown", "detection summary (firebreak detect --summary-file, or serve)") if mon == null

results contains lib.result("FB-AUTH-004", "fail", "no failed-authentication detection rule is loaded", []) if {
	mon != null
	count(mon.rules) == 0
}

results contains lib.result("FB-AUTH-004", "fail", "no log source of this subject feeds failed-authentication detection", []) if {
	mon != null
	count(mon.rules) > 0
	count(mon.sources) == 0
}

mon_recent := [s | some s in mon.sources; s.days_since_last >= 0; s.days_since_last <= monitor_recent_days]

results contains lib.result("FB-AUTH-004", "fail", sprintf("no authentication event from the subject's %d log source(s) in the last %d days: detection is not live", [count(mon.sources), monitor_recent_days]), [mon_ev(s) | some s in mon.sources]) if {
	mon != null
	count(mon.rules) > 0
	count(mon.sources) > 0
	count(mon_recent) == 0
}

results contains lib.result("FB-AUTH-004", "pass", sprintf("%d of %d log source(s) feed live failed-authentication detection (%d rules)", [count(mon_recent), count(mon.sources), count(mon.rules)]), [mon_ev(s) | some s in mon_recent]) if {
	mon != null
	count(mon.rules) > 0
	count(mon_recent) > 0
}
