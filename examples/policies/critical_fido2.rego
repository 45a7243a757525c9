# An example custom policy: run it with
#
#   firebreak assess examples/harbourview --policy examples/policies
#
# Custom policies see the same input document as the built-in checks (see
# the assess package documentation and README "Custom policies"), live under
# package firebreak.checks.<name>, and add objects to a `results` set:
# {"control", "status": pass|fail|not_evaluable|not_applicable, "message",
#  "evidence": [...], "missing": [...]} plus, for controls that are not in
# the built-in catalog, "title", "severity", "heading" and "remediation".
# The helpers in data.firebreak.lib (check, ev, principal_ev, live_paths...)
# are available. Test it with `opa test examples/policies internal/assess/policies`
# (the Go test in internal/assess runs this file's tests too).
package firebreak.checks.acme

import data.firebreak.lib

meta := {
	"title": "Critical tenants are reached only with phishing-resistant MFA",
	"severity": "high",
	"heading": 3,
	"remediation": "Register FIDO2 keys or passkeys for every member of the groups and identities that reach critical tenants, or remove their access.",
}

# Principals (identities or groups) with a usable path into this tenant.
reaching := {p.principal | some p in lib.live_paths}

critical if input.tenant.criticality == "critical"

results contains object.union(meta, lib.check(
	{"control": "ACME-001", "noun": "principals reaching this critical tenant", "fails": "members without phishing-resistant MFA", "need": "identities.mfa (registered methods)"},
	count(reaching),
	[lib.principal_ev(pid, ids, "without phishing-resistant MFA") | some pid in reaching; ids := input.principals[pid].not_phishing_resistant; count(ids) > 0],
	[lib.principal_ev(pid, ids, "MFA methods unknown") | some pid in reaching; ids := input.principals[pid].mfa_methods_unknown; count(ids) > 0],
)) if {
	lib.tenant
	critical
}

results contains object.union(meta, lib.result("ACME-001", "not_applicable", "tenant is not critical", [])) if {
	lib.tenant
	not critical
}
