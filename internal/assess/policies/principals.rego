# The principals phase: evaluated ONCE per run over every identity or group
# that has a path into some tenant (input.principals[_].members are identity
# records as in the tenant documents). Its summary is handed to every
# tenant's evaluation as input.principals[<id>], so a GDAP access group of
# 2,000 technicians is judged once, not once per customer.
package firebreak.principals

stale_days := input.settings.stale_days

summary[p.id] := s if {
	some p in input.principals
	s := summarise(p)
}

summarise(p) := {
	"kind": p.kind,
	"members": count(p.members),
	"enabled": count([m | some m in p.members; m.enabled]),
	# Every member is judged, people and non-human identities alike: a
	# service account or token passes on MFA or a recorded compensating
	# control (certificate, workload identity, IP restriction), see
	# internal/access. A vendor with no staff recorded cannot be judged.
	"no_mfa": [m.id | some m in p.members; m.enabled; m.mfa_state == "none"],
	"mfa_unknown": array.concat([m.id | some m in p.members; m.enabled; m.mfa_state == "unknown"], unjudged(p)),
	"not_phishing_resistant": [m.id | some m in p.members; m.enabled; m.pr_state == "fail"],
	"mfa_methods_unknown": array.concat([m.id | some m in p.members; m.enabled; m.pr_state == "unknown"], unjudged(p)),
	"multi_admin": [m.id | some m in p.members; m.enabled; m.admin_tenants > 1],
	"max_admin_tenants": max(array.concat([0], [m.admin_tenants | some m in p.members])),
	"idle": [sprintf("%s (%s)", [m.id, why]) | some m in p.members; why := idle(m)],
	"disabled": [m.id | some m in p.members; not m.enabled],
}

unjudged(p) := [sprintf("%s (no staff recorded: vendors[].staff or domains)", [p.id])] if {
	p.kind == "vendor"
	count(p.members) == 0
} else := []

# Idle accounts (internal/access): departed, no sign-in within the window,
# or never signed in although created before it. Break-glass accounts are
# unused by design and judged by their own rules (FB-AUTH-008).
idle(m) := "disabled but still granted" if not m.enabled
else := m.idle if {
	m.idle != ""
	m.kind != "break_glass"
}
