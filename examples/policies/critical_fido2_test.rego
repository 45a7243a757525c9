package firebreak.checks.acme_test

import data.firebreak.checks.acme

base := {
	"subject": {"id": "t1", "type": "tenant"},
	"tenant": {"id": "t1", "criticality": "critical"},
	"access": [{"principal": "grp-admins", "live": true}],
}

summary(weak) := {"grp-admins": {
	"kind": "group", "members": 3,
	"not_phishing_resistant": weak, "mfa_methods_unknown": [],
}}

test_fails_when_a_member_lacks_fido2 if {
	some r in acme.results with input as object.union(base, {"principals": summary(["tech-2"])})
	r.control == "ACME-001"
	r.status == "fail"
	r.evidence[0].id == "grp-admins"
}

test_passes_when_all_members_use_fido2 if {
	some r in acme.results with input as object.union(base, {"principals": summary([])})
	r.status == "pass"
}

test_not_applicable_for_other_tenants if {
	doc := object.union(base, {"tenant": {"id": "t1", "criticality": "low"}, "principals": summary(["tech-2"])})
	some r in acme.results with input as doc
	r.status == "not_applicable"
}
