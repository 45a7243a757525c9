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
	"no_mfa": [m.id | some m in p.members; m.enabled; m.human; m.mfa_enforced == false],
	"mfa_unknown": [m.id | some m in p.members; m.enabled; m.human; m.mfa_enforced == null],
	"not_phishing_resistant": [m.id | some m in p.members; m.enabled; m.human; m.mfa in {"none", "weak"}],
	"mfa_methods_unknown": [m.id | some m in p.members; m.enabled; m.human; m.mfa == "unknown"],
	"multi_admin": [m.id | some m in p.members; m.enabled; m.admin_tenants > 1],
	"max_admin_tenants": max(array.concat([0], [m.admin_tenants | some m in p.members])),
	"idle": [sprintf("%s (%s)", [m.id, why]) | some m in p.members; why := idle(m)],
	"non_human_unowned": [m.id | some m in p.members; m.enabled; not m.human; m.owner == ""],
}

idle(m) := "disabled but still granted" if not m.enabled
else := "personnel departed" if m.personnel == "departed"
else := sprintf("no sign-in for %d days", [m.days_since_sign_in]) if m.days_since_sign_in > stale_days
