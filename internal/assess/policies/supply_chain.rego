# Heading 10 — supply chain.
package firebreak.checks.supply_chain

import data.firebreak.lib

supplied := [t | some t in input.tools; t.kind != "gdap"; t.vendor != ""]

results contains lib.check(
	{"control": "FB-SC-001", "noun": "MSP tools with a supplier", "fails": "supplier missing from the vendor inventory", "need": "vendors"},
	count(supplied),
	[{"kind": "tool", "id": t.id, "detail": "%s %s: no vendor entry supplies it", "args": [t.vendor, t.product]} | some t in supplied; not t.vendor_listed],
	[],
) if lib.msp

review := input.settings.vendor_review_days

unreviewed(v) := "never risk-assessed" if v.days_since_assessed == null
else := sprintf("last assessed %d days ago", [v.days_since_assessed]) if v.days_since_assessed > review

results contains lib.check(
	{"control": "FB-SC-002", "noun": "vendors and subcontractors", "fails": "not risk-assessed within {vendor_review_days} days", "need": "vendors (assessed)"},
	count(input.vendors),
	[{"kind": "vendor", "id": v.id, "detail": msg} | some v in input.vendors; msg := unreviewed(v)],
	[],
) if lib.msp

access_note(v) := concat(", ", [sprintf("%s on %s", [a.privilege, a.target]) | some a in v.access])

results contains lib.check(
	{"control": "FB-SC-003", "noun": "subcontractors with access to the tenant", "fails": "not reviewed within {vendor_review_days} days", "need": "vendors"},
	count(input.vendors),
	[{"kind": "vendor", "id": v.id, "detail": "%s (access: %s)", "args": [msg, access_note(v)]} | some v in input.vendors; msg := unreviewed(v)],
	[],
) if lib.tenant
