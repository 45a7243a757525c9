# Graph controls (FB-TRUST-*): judged on input.trust, the trust graph summary
# built by internal/trust (trust.Facts). Reach is standing access at admin
# or above; limit is settings.max_tenant_share of the tenants.
package firebreak.checks.trust

import data.firebreak.lib

controls := ["FB-TRUST-001", "FB-TRUST-002", "FB-TRUST-003", "FB-TRUST-004", "FB-TRUST-005"]

need := "trust graph (input.trust, built by internal/trust)"

have if input.trust.version

results contains lib.not_evaluable(c, "the trust graph was not computed for this assessment", need) if {
	not have
	some c in controls
}

tr := input.trust

# mine is this tenant's slice of the facts (tenant subjects only).
mine := tr.by_tenant[input.subject.id]

limit_note := sprintf("more than %d of %d tenants (%d%%) at admin or above", [tr.limit, tr.tenants, round(tr.share * 100)])

reach_detail(n) := sprintf("reaches %d of %d tenants at admin or above (mfa %s)%s", [n.tenants_admin, tr.tenants, mfa_of(n), path_note(n)])

mfa_of(n) := n.mfa if n.mfa != ""
else := "n/a"

path_note(n) := sprintf("; e.g. %s", [n.path]) if n.path != ""
else := ""

weak(n) if {
	n.kind in {"identity", "tool"}
	n.mfa != "phishing-resistant"
}

# FB-TRUST-001 — wide reach without phishing-resistant MFA.
results contains lib.check(
	{"control": "FB-TRUST-001", "noun": "identities and tools", "fails": sprintf("reach %s without phishing-resistant MFA", [limit_note]), "need": need},
	object.get(tr.counts, "identity", 0) + object.get(tr.counts, "tool", 0),
	{lib.ev(n.kind, n.id, reach_detail(n)) | some n in tr.over_limit; weak(n)},
	set(),
) if {
	have
	lib.msp
}

# The per-tenant lists of input.trust hold a sample (widest reach first)
# and the full count (the *_n fields); the MSP's result for the same
# control lists every object.
results contains sampled(
	{"control": "FB-TRUST-001", "noun": "objects reaching this tenant and too many others", "fails": sprintf("are identities or tools without phishing-resistant MFA that reach %s", [limit_note])},
	mine.over_limit_n,
	mine.over_limit_weak_n,
	[{"kind": r.kind, "id": r.id, "detail": sprintf("reaches this tenant and %s; mfa %s", [limit_note, mfa_of(r)])} | some r in mine.over_limit_weak],
	"identities or tools without phishing-resistant MFA reach this tenant and too many others",
) if {
	have
	lib.tenant
}

# sampled is lib.check when only a sample of the failing objects is at
# hand: bad of n objects fail; the evidence is the sample plus one item
# (on the tenant) counting the rest.
sampled(spec, n, bad, sample, rest) := lib.check(spec, n, [], []) if bad == 0
else := {
	"control": spec.control,
	"status": "fail",
	"format": "%d of %d %s: %s",
	"args": [bad, n, spec.noun, spec.fails],
	"evidence": array.concat(sample, more(bad - count(sample), rest, spec.control)),
}

more(k, what, control) := [] if k <= 0
else := [{"kind": "tenant", "id": input.subject.id, "detail": sprintf("and %d more %s (the MSP's %s result lists every one)", [k, what, control])}]

# FB-TRUST-002 — entry points with a standing path to tenant admin.
entry_detail(e) := sprintf("%s (%s): reaches %d tenants at admin or above%s", [e.why, e.privilege, e.tenants_admin, kev_note(e)])

kev_note(e) := sprintf("; known exploited: %s", [concat(", ", e.kev)]) if count(object.get(e, "kev", [])) > 0
else := ""

results contains lib.check(
	{"control": "FB-TRUST-002", "noun": "entry points an outsider takes directly", "fails": "lead by a standing path to tenant admin", "need": need},
	count(tr.entry_points),
	{lib.ev(e.kind, e.id, sprintf("%s%s", [entry_detail(e), path_note(e)])) | some e in tr.entry_points; e.tenants_admin > 0},
	set(),
) if {
	have
	lib.msp
}

# Per tenant the graph counts only the entry points that lead to admin or
# more over the tenant (what fails); with none the tenant passes.
results contains {
	"control": "FB-TRUST-002",
	"status": "fail",
	"format": "entry points an outsider takes directly that give admin or more over this tenant: %d",
	"args": [mine.entry_points_n],
	"evidence": array.concat(
		[{"kind": r.kind, "id": r.id, "detail": "an outsider takes it directly and it reaches this tenant at admin or above"} | some r in mine.entry_points],
		more(mine.entry_points_n - count(mine.entry_points), "entry points give an outsider admin or more over this tenant", "FB-TRUST-002"),
	),
} if {
	have
	lib.tenant
	mine.entry_points_n > 0
}

results contains lib.result("FB-TRUST-002", "pass", "no entry point an outsider takes directly gives admin or more over this tenant", []) if {
	have
	lib.tenant
	mine.entry_points_n == 0
}

# FB-TRUST-003 — vendor and subcontractor paths, bounded.
vendor_detail(v) := sprintf("%s %s: reaches %d of %d tenants at admin or above, %d at any privilege%s", [object.get(v, "sub", "vendor"), v.id, v.tenants_admin, tr.tenants, v.tenants_any, path_note(v)])

vendor_failing := {lib.ev("vendor", v.id, vendor_detail(v)) | some v in tr.vendors; v.tenants_admin > tr.limit}

results contains lib.check(
	{"control": "FB-TRUST-003", "noun": "vendors and subcontractors", "fails": sprintf("reach %s", [limit_note]), "need": need},
	count(tr.vendors),
	vendor_failing,
	set(),
) if {
	have
	lib.msp
	not listed_pass
}

listed_pass if {
	count(vendor_failing) == 0
	count(tr.vendors) > 0
}

# Passing still lists every supplier path, so the inventory is on record.
results contains {
	"control": "FB-TRUST-003",
	"status": "pass",
	"message": sprintf("%d vendors and subcontractors, %d with a path into tenants; none reaches %s", [count(tr.vendors), count(listed), limit_note]),
	"evidence": listed,
} if {
	have
	lib.msp
	listed_pass
}

listed := [lib.ev("vendor", v.id, vendor_detail(v)) | some v in tr.vendors; v.tenants_any > 0]

wide_vendor := {v.id | some v in tr.vendors; v.tenants_admin > tr.limit}

results contains lib.check(
	{"control": "FB-TRUST-003", "noun": "vendors and subcontractors reaching this tenant", "fails": sprintf("also reach %s", [limit_note]), "need": need},
	count(mine.vendors),
	{lib.ev("vendor", r.id, "supplies or holds a path to this tenant at admin or above, and to too many others") | some r in mine.vendors; wide_vendor[r.id]},
	set(),
) if {
	have
	lib.tenant
}

# FB-TRUST-004 — one identity's credentials are admin in several customers
# (standing or just in time: internal/access, the list FB-NET-005 uses).
results contains lib.check(
	{"control": "FB-TRUST-004", "noun": "identities with admin in a customer", "fails": "hold admin or more (standing or just in time) in two or more customers", "need": need},
	tr.identities_with_admin,
	{lib.ev("identity", n.id, sprintf("admin in %d customer tenants, %d standing (mfa %s)", [n.tenants_admin, object.get(n, "standing", 0), mfa_of(n)])) | some n in tr.admin_identities},
	set(),
) if {
	have
	lib.msp
}

# Per tenant: the same population, count and list as FB-NET-005.
results contains lib.admin_reuse("FB-TRUST-004") if {
	have
	lib.tenant
}

# FB-TRUST-005 — cross-customer paths.
results contains lib.check(
	{"control": "FB-TRUST-005", "noun": "tenants", "fails": "have an object that reaches admin over another tenant", "need": need},
	tr.tenants,
	{lib.ev(c.kind, c.via, sprintf("belongs to %s and reaches %s at admin or above%s", [c.tenant, concat(", ", c.reaches), path_note(c)])) | some c in tr.cross_tenant},
	set(),
) if {
	have
	lib.msp
}

crossing := {lib.ev(c.kind, c.via, sprintf("belongs to %s and reaches %s at admin or above", [c.tenant, concat(", ", c.reaches)])) |
	some c in tr.cross_tenant
	crosses(c)
}

results contains lib.result("FB-TRUST-005", "fail", sprintf("%d paths cross between this tenant and another at admin or above", [count(crossing)]), crossing) if {
	have
	lib.tenant
	count(crossing) > 0
}

results contains lib.result("FB-TRUST-005", "pass", "no object of this tenant reaches another tenant at admin or above, and no other tenant's object reaches this one", []) if {
	have
	lib.tenant
	count(crossing) == 0
}

crosses(c) if c.tenant == input.subject.id

crosses(c) if input.subject.id in c.reaches
