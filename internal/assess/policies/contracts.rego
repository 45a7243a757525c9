# Headings 2, 3, 5–11 — the MSP–customer contract and its required clauses.
package firebreak.checks.contracts

import data.firebreak.lib

clauses := {
	"FB-CTR-001": "mfa_msp_accounts",
	"FB-CTR-002": "mfa_delivered_services",
	"FB-CTR-003": "least_privilege",
	"FB-CTR-004": "logging_retention",
	"FB-CTR-005": "customer_log_access",
	"FB-CTR-006": "incident_notification",
	"FB-CTR-007": "patching",
	"FB-CTR-008": "backups_rpo_rto",
	"FB-CTR-009": "incident_response",
	"FB-CTR-010": "supply_chain",
	"FB-CTR-011": "network_security",
	"FB-CTR-012": "account_deprovisioning",
	"FB-CTR-013": "security_roles",
}

results contains clause(id, name) if {
	lib.tenant
	some id, name in clauses
}

clause(id, name) := lib.result(id, "fail", "no contract recorded for the tenant", []) if input.contract == null
else := lib.result(id, "pass", sprintf("clause %s present", [name]), [{"kind": "contract", "id": input.contract.id, "detail": name}]) if input.contract.clauses[name]
else := lib.result(id, "fail", sprintf("clause %s missing", [name]), [{"kind": "contract", "id": input.contract.id, "detail": "missing clause %s", "args": [name]}])

review := input.settings.contract_review_days

results contains r if {
	lib.tenant
	r := reviewed
}

reviewed := lib.result("FB-TR-001", "fail", "no contract recorded for the tenant", []) if input.contract == null
else := lib.result("FB-TR-001", "fail", "contract has no review date", [{"kind": "contract", "id": input.contract.id, "detail": "reviewed not recorded"}]) if input.contract.days_since_review == null
else := lib.result("FB-TR-001", "fail", sprintf("contract last reviewed %d days ago (policy %d)", [input.contract.days_since_review, review]), [{"kind": "contract", "id": input.contract.id, "detail": "reviewed %d days ago", "args": [input.contract.days_since_review]}]) if input.contract.days_since_review > review
else := lib.result("FB-TR-001", "pass", sprintf("contract reviewed %d days ago", [input.contract.days_since_review]), [{"kind": "contract", "id": input.contract.id, "detail": "reviewed"}])

max_hours := input.settings.notification_max_hours

results contains r if {
	lib.tenant
	r := notification
}

notification := lib.result("FB-TR-002", "fail", "no contract recorded for the tenant", []) if input.contract == null
else := lib.result("FB-TR-002", "fail", "contract sets no incident notification window", [{"kind": "contract", "id": input.contract.id, "detail": "notification_hours not set"}]) if input.contract.notification_hours == null
else := lib.result("FB-TR-002", "fail", sprintf("notification within %d hours exceeds policy %d", [input.contract.notification_hours, max_hours]), [{"kind": "contract", "id": input.contract.id, "detail": "notification_hours=%d", "args": [input.contract.notification_hours]}]) if input.contract.notification_hours > max_hours
else := lib.result("FB-TR-002", "pass", sprintf("notification within %d hours", [input.contract.notification_hours]), [{"kind": "contract", "id": input.contract.id, "detail": "notification_hours=%d", "args": [input.contract.notification_hours]}])
