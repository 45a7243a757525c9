# Heading 7 — apply updates: CISA KEV and patch age.
package firebreak.checks.updates

import data.firebreak.lib

kev_detail(vs) := concat("; ", [sprintf("%s %s%s%s", [v.cve, v.name, ransom(v), overdue(v)]) | some v in vs])

ransom(v) := " [ransomware]" if v.ransomware
else := ""

overdue(v) := sprintf(" [due %s]", [v.due]) if v.overdue
else := ""

tools := [t | some t in input.tools; t.kind != "gdap"]

products := [t | some t in tools; t.product != ""]

results contains lib.not_evaluable("FB-UPD-001", "no KEV catalog loaded", input.kev.missing) if {
	lib.msp
	not input.kev.loaded
}

results contains lib.check(
	{"control": "FB-UPD-001", "noun": "MSP tools", "fails": "known-exploited vulnerability open", "need": "tools.software (vendor/product/version)"},
	count(tools),
	[{"kind": "tool", "id": t.id, "detail": "%s %s %s: %s", "args": [t.vendor, t.product, t.version, kev_detail(t.kev)]} | some t in products; count(t.kev) > 0],
	[{"kind": "tool", "id": t.id, "detail": "vendor/product not recorded"} | some t in tools; t.product == ""],
) if {
	lib.msp
	input.kev.loaded
}

with_sw := [a | some a in input.assets; a.software > 0]

results contains lib.not_evaluable("FB-UPD-002", "no KEV catalog loaded", input.kev.missing) if {
	not input.kev.loaded
	count(input.assets) > 0
}

results contains lib.check(
	{"control": "FB-UPD-002", "noun": "systems with a software inventory", "fails": "known-exploited vulnerability open", "need": "assets.software",
	 "kind": "asset", "detail": "{hostname}: {kev}"},
	count(with_sw),
	[a.id | some a in with_sw; a.kev != []],
	[],
) if {
	input.kev.loaded
	count(with_sw) > 0
}

results contains lib.not_evaluable("FB-UPD-002", "no software inventory recorded for any system", "assets.software (installed software)") if {
	input.kev.loaded
	count(input.assets) > 0
	count(with_sw) == 0
}

results contains lib.result("FB-UPD-002", "not_applicable", "no systems recorded", []) if count(input.assets) == 0

patch_days := input.settings.patch_days

results contains lib.check(
	{"control": "FB-UPD-003", "noun": "MSP tools", "fails": "not patched within {patch_days} days", "need": "tools.patch (last_patched)"},
	count(tools),
	[{"kind": "tool", "id": t.id, "detail": "last patched %d days ago", "args": [t.days_since_patched]} | some t in tools; t.days_since_patched > input.settings.patch_days],
	[{"kind": "tool", "id": t.id, "detail": "last_patched unknown"} | some t in tools; t.days_since_patched == null],
) if lib.msp

results contains lib.check(
	{"control": "FB-UPD-004", "noun": "systems", "fails": "not patched within {patch_days} days", "need": "assets.patch (last_patched)",
	 "kind": "asset", "detail": "{hostname} last patched {days_since_patched} days ago", "unknown_detail": "{hostname}: last_patched unknown"},
	count(input.assets),
	[a.id | some a in input.assets; a.days_since_patched > input.settings.patch_days],
	[a.id | some a in input.assets; a.days_since_patched == null],
)
