# Heading 6 — obsolete accounts and infrastructure.
package firebreak.checks.accounts

import data.firebreak.lib

stale_days := input.settings.stale_days

# Break-glass accounts are unused by design; they are watched, not retired.
active := [i | some i in input.identities; i.enabled; i.kind != "break_glass"]

results contains lib.check(
	{"control": "FB-ACC-001", "noun": "enabled accounts", "fails": "stale (no sign-in within {stale_days} days)", "need": "identities.sign_in (last sign-in date)",
	 "kind": "identity", "detail": "no sign-in for {days_since_sign_in} days", "unknown_detail": "last sign-in unknown"},
	count(active),
	array.concat(
		[i.id | some i in active; i.days_since_sign_in > input.settings.stale_days],
		[{"kind": "identity", "id": i.id, "detail": "never signed in, created %d days ago", "args": [i.days_since_created]} | some i in never; i.days_since_created > input.settings.stale_days],
	),
	[i.id | some i in never; i.days_since_created == null],
)

# Accounts without a recorded sign-in (usually none: one pass to find them).
never := [i | some i in active; i.days_since_sign_in == null]

with_hr := [i | some i in input.identities; i.personnel != ""]

results contains lib.check(
	{"control": "FB-ACC-002", "noun": "accounts with HR status", "fails": "person departed, account still enabled", "need": "identities.personnel",
	 "kind": "identity", "detail": "personnel=departed, enabled"},
	count(with_hr),
	[i.id | some i in with_hr; i.enabled; i.personnel == "departed"],
	[],
) if count(with_hr) > 0

results contains r if {
	count(with_hr) == 0
	count(input.identities) > 0
	r := lib.not_evaluable("FB-ACC-002", "no HR status (personnel) recorded for any account", "identities.personnel (HR leaver status)")
}

results contains lib.result("FB-ACC-002", "not_applicable", "no accounts", []) if count(input.identities) == 0

results contains lib.check(
	{"control": "FB-ACC-003", "noun": "enabled accounts", "fails": "shared account without an accountable owner", "need": "identities",
	 "kind": "identity", "detail": "kind=shared, no owner"},
	count([1 | some i in input.identities; i.enabled]),
	[i.id | some i in input.identities; i.kind == "shared"; i.enabled; i.owner == ""],
	[],
)

# FB-ACC-004: every identity homed outside the tenant and every vendor (by
# its staff) reaching it by any path (the access matrix, lib.matrix) whose
# account is idle or departed (internal/access: no sign-in within
# stale_days, never signed in although created before that, or personnel
# departed), plus disabled accounts still named in a grant. Break-glass
# accounts are FB-AUTH-008's.
current := {p.principal | some p in input.access; not p.expired}

disabled_ev := [lib.principal_ev(pid, ids, "disabled but still granted") | some pid in current; ids := input.principals[pid].disabled; count(ids) > 0]

results contains lib.counted(
	{"control": "FB-ACC-004", "noun": "identities and vendors reaching the tenant (any path), and disabled accounts still granted", "fails": "idle, disabled or departed accounts still reaching the tenant", "need": "identities.sign_in"},
	lib.matrix.reach_n + count(disabled_ev),
	lib.matrix.idle_n + count(disabled_ev),
	array.concat(
		[{"kind": c.kind, "id": c.id, "detail": sprintf("%s here via %s; %s", [c.privilege, c.via, c.idle])} | some c in lib.matrix.idle],
		disabled_ev,
	),
	0,
	[],
) if lib.tenant

results contains lib.not_evaluable("FB-ACC-004", "the trust graph was not computed for this assessment", lib.matrix_need) if {
	lib.tenant
	lib.no_matrix
}

eol_known if {
	some a in input.assets
	a.eol != null
}

results contains lib.check(
	{"control": "FB-ACC-005", "noun": "systems", "fails": "end of life", "need": "assets.eol",
	 "kind": "asset", "detail": "{hostname} ({kind}) is end of life"},
	count(input.assets),
	[a.id | some a in input.assets; a.eol == true],
	[],
) if eol_known

results contains r if {
	not eol_known
	count(input.assets) > 0
	r := lib.not_evaluable("FB-ACC-005", "no end-of-life status recorded for any system", "assets.eol (end-of-life status)")
}

results contains lib.result("FB-ACC-005", "not_applicable", "no systems recorded", []) if count(input.assets) == 0
