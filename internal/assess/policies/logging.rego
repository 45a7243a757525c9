# Heading 2 — monitoring and logging of the MSP's tools.
package firebreak.checks.logging

import data.firebreak.lib

# GDAP relationships are not tools with their own log settings. On the
# MSP, its own tools; customers' tools are FB-LOG-008's.
tools := [t | some t in input.tools; t.kind != "gdap"; t.owner == "msp"]

results contains lib.check(
	{"control": "FB-LOG-001", "noun": "MSP tools", "fails": "logging disabled", "need": "tools.logging (logging.enabled)"},
	count(tools),
	[{"kind": "tool", "id": t.id, "detail": "logging.enabled=false"} | some t in tools; t.logging_enabled == false],
	[{"kind": "tool", "id": t.id, "detail": "logging.enabled unknown"} | some t in tools; t.logging_enabled == null],
) if lib.msp

logged := [t | some t in tools; t.logging_enabled != false]

results contains lib.check(
	{"control": "FB-LOG-002", "noun": "logging MSP tools", "fails": "retention under {log_retention_days} days", "need": "tools.logging (logging.retention_days)"},
	count(logged),
	[{"kind": "tool", "id": t.id, "detail": "retention %d days", "args": [t.retention_days]} | some t in logged; t.retention_days != null; t.retention_days < input.settings.log_retention_days],
	[{"kind": "tool", "id": t.id, "detail": "retention unknown"} | some t in logged; t.retention_days == null],
) if lib.msp

results contains lib.check(
	{"control": "FB-LOG-003", "noun": "logging MSP tools", "fails": "logs not in a segregated destination", "need": "tools.logging (logging.segregated)"},
	count(logged),
	[{"kind": "tool", "id": t.id, "detail": "logging.segregated=false"} | some t in logged; t.segregated == false],
	[{"kind": "tool", "id": t.id, "detail": "logging.segregated unknown"} | some t in logged; t.segregated == null],
) if lib.msp

siems := [t | some t in input.tools; t.kind == "siem"]

results contains r if {
	lib.msp
	count(siems) > 0
	r := lib.result("FB-LOG-004", "pass", sprintf("%d SIEM tool(s) recorded", [count(siems)]), [{"kind": "tool", "id": t.id, "detail": "kind=siem"} | some t in siems])
}

results contains r if {
	lib.msp
	count(siems) == 0
	r := lib.result("FB-LOG-004", "fail", "no SIEM or central log platform (tool kind siem) in the estate", [])
}

# FB-LOG-008 — the customer's own systems keep their logs six months too
# (the advisory's retention applies to all organisations).
own := [t | some t in input.tools; t.kind != "gdap"; t.owner == input.subject.id]

results contains lib.check(
	{"control": "FB-LOG-008", "noun": "the customer's own tools", "fails": "logs not kept {log_retention_days} days", "need": "tools.logging (logging.enabled, logging.retention_days)"},
	count(own),
	array.concat(
		[{"kind": "tool", "id": t.id, "detail": "logging.enabled=false"} | some t in own; t.logging_enabled == false],
		[{"kind": "tool", "id": t.id, "detail": "retention %d days", "args": [t.retention_days]} | some t in own; t.logging_enabled != false; t.retention_days != null; t.retention_days < input.settings.log_retention_days],
	),
	[{"kind": "tool", "id": t.id, "detail": "logging or retention unknown"} | some t in own; t.logging_enabled != false; t.retention_days == null],
) if {
	lib.tenant
	count(own) > 0
}

results contains lib.not_evaluable("FB-LOG-008", "none of the customer's own systems recorded (tools with owner: the tenant)", "tools owned by the tenant, with logging") if {
	lib.tenant
	count(own) == 0
}
