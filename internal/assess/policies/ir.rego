# Heading 9 — incident response and recovery plans.
package firebreak.checks.ir

import data.firebreak.lib

none := count(input.ir_plans) == 0

results contains lib.result("FB-IR-001", "fail", "no incident response plan recorded", []) if none

results contains lib.result(id, "not_applicable", "no incident response plan (see FB-IR-001)", []) if {
	none
	some id in {"FB-IR-002", "FB-IR-003"}
}

results contains lib.result("FB-IR-004", "not_applicable", "no incident response plan (see FB-IR-001)", []) if {
	none
	lib.tenant
}

missing_roles(p) := [r | some r in ["executive", "technical", "procurement"]; p[r] == ""]

results contains lib.check(
	{"control": "FB-IR-001", "noun": "incident response plans", "fails": "roles not named", "need": "ir_plans"},
	count(input.ir_plans),
	[{"kind": "ir_plan", "id": p.id, "detail": "no %s named", "args": [concat(", ", m)]} | some p in input.ir_plans; m := missing_roles(p); count(m) > 0],
	[],
) if not none

stale(p) := "never exercised" if p.days_since_exercised == null
else := sprintf("last exercised %d days ago", [p.days_since_exercised]) if p.days_since_exercised > input.settings.ir_exercise_days

results contains lib.check(
	{"control": "FB-IR-002", "noun": "incident response plans", "fails": "not exercised within {ir_exercise_days} days", "need": "ir_plans"},
	count(input.ir_plans),
	[{"kind": "ir_plan", "id": p.id, "detail": msg} | some p in input.ir_plans; msg := stale(p)],
	[],
) if not none

results contains lib.check(
	{"control": "FB-IR-003", "noun": "incident response plans", "fails": "no current hard copy kept (none, or older than the plan)", "need": "ir_plans (hard_copy)"},
	count(input.ir_plans),
	array.concat(
		[{"kind": "ir_plan", "id": p.id, "detail": "hard_copy=false"} | some p in input.ir_plans; p.hard_copy == false],
		[{"kind": "ir_plan", "id": p.id, "detail": "hard copy updated %d days ago, the plan was exercised since", "args": [p.days_since_hard_copy]} | some p in input.ir_plans; p.hard_copy == true; stale_copy(p)],
	),
	array.concat(
		[{"kind": "ir_plan", "id": p.id, "detail": "hard_copy unknown"} | some p in input.ir_plans; p.hard_copy == null],
		[{"kind": "ir_plan", "id": p.id, "detail": "hard copy kept, date of its last update not recorded"} | some p in input.ir_plans; p.hard_copy == true; p.days_since_hard_copy == null],
	),
) if not none

results contains lib.check(
	{"control": "FB-IR-004", "noun": "incident response plans", "fails": "no MSP-compromise scenario", "need": "ir_plans (includes_msp)"},
	count(input.ir_plans),
	[{"kind": "ir_plan", "id": p.id, "detail": "includes_msp=false"} | some p in input.ir_plans; p.includes_msp == false],
	[{"kind": "ir_plan", "id": p.id, "detail": "includes_msp unknown"} | some p in input.ir_plans; p.includes_msp == null],
) if {
	lib.tenant
	not none
}

# A hard copy is current when it was updated no earlier than the plan's
# last exercise, and within the exercise interval.
stale_copy(p) if {
	p.days_since_hard_copy != null
	p.days_since_exercised != null
	p.days_since_hard_copy > p.days_since_exercised
}

stale_copy(p) if p.days_since_hard_copy > input.settings.ir_exercise_days
