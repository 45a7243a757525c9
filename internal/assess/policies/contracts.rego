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

c := input.contract

# One result per required clause (rule bodies rather than a function per
# clause: cheaper to evaluate for thousands of tenants).
results contains lib.result(id, "fail", "no contract recorded for the tenant", []) if {
	lib.tenant
	c == null
	some id, _ in clauses
}

results contains {"control": id, "status": "pass", "format": "clause %s present", "args": [name], "evidence": [{"kind": "contract", "id": c.id, "detail": name}]} if {
	lib.tenant
	c != null
	some id, name in clauses
	id != "FB-CTR-004"
	c.clauses[name]
}

# The logging clause carries its period, judged against the floor.
results contains r if {
	lib.tenant
	c != null
	c.clauses.logging_retention
	r := retention_clause
}

retention_clause := lib.not_evaluable("FB-CTR-004", "clause logging_retention present, its period not recorded", "contracts (log_retention_days)") if c.log_retention_days == null
else := {"control": "FB-CTR-004", "status": "fail", "format": "clause logging_retention keeps logs %d days, under {log_retention_days}", "args": [c.log_retention_days], "evidence": [{"kind": "contract", "id": c.id, "detail": "log_retention_days=%d", "args": [c.log_retention_days]}]} if c.log_retention_days < input.settings.log_retention_days
else := {"control": "FB-CTR-004", "status": "pass", "format": "clause logging_retention keeps logs %d days", "args": [c.log_retention_days], "evidence": [{"kind": "contract", "id": c.id, "detail": "log_retention_days=%d", "args": [c.log_retention_days]}]}

results contains {"control": id, "status": "fail", "format": "clause %s missing", "args": [name], "evidence": [{"kind": "contract", "id": c.id, "detail": "missing clause %s", "args": [name]}]} if {
	lib.tenant
	c != null
	some id, name in clauses
	not c.clauses[name]
}

review := input.settings.contract_review_days

results contains r if {
	lib.tenant
	r := reviewed
}

reviewed := lib.result("FB-TR-001", "fail", "no contract recorded for the tenant", []) if c == null
else := lib.result("FB-TR-001", "fail", "contract has no review date", [lib.ev("contract", c.id, "reviewed not recorded")]) if c.days_since_review == null
else := {"control": "FB-TR-001", "status": "fail", "format": "contract last reviewed %d days ago (policy {contract_review_days})", "args": [c.days_since_review], "evidence": [{"kind": "contract", "id": c.id, "detail": "reviewed %d days ago", "args": [c.days_since_review]}]} if c.days_since_review > review
else := {"control": "FB-TR-001", "status": "pass", "format": "contract reviewed %d days ago", "args": [c.days_since_review], "evidence": [lib.ev("contract", c.id, "reviewed")]}

max_hours := input.settings.notification_max_hours

results contains r if {
	lib.tenant
	r := notification
}

notification := lib.result("FB-TR-002", "fail", "no contract recorded for the tenant", []) if c == null
else := lib.result("FB-TR-002", "fail", "contract sets no incident notification window", [lib.ev("contract", c.id, "notification_hours not set")]) if c.notification_hours == null
else := {"control": "FB-TR-002", "status": "fail", "format": "notification within %d hours exceeds policy {notification_max_hours}", "args": [c.notification_hours], "evidence": [{"kind": "contract", "id": c.id, "detail": "notification_hours=%d", "args": [c.notification_hours]}]} if c.notification_hours > max_hours
else := {"control": "FB-TR-002", "status": "pass", "format": "notification within %d hours", "args": [c.notification_hours], "evidence": [{"kind": "contract", "id": c.id, "detail": "notification_hours=%d", "args": [c.notification_hours]}]}
