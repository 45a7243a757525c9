# Helpers shared by the built-in checks and available to custom policies
# (import data.firebreak.lib).
package firebreak.lib

# msp is true when the subject under evaluation is the MSP itself.
msp if input.subject.type == "msp"

# tenant is true when the subject is a customer tenant.
tenant if input.subject.type == "tenant"

# ev builds one evidence item; the engine adds the object's file:line.
ev(kind, id, detail) := {"kind": kind, "id": id, "detail": detail}

# check is the usual verdict over a population of n objects:
#   fail            when failing is not empty,
#   not_evaluable   when unknown (items lacking evidence) is not empty,
#   pass            when n > 0,
#   not_applicable  otherwise.
# spec: {"control": id, "noun": "what was checked", "fails": "what failing means",
#        "need": "evidence that is missing for unknown items",
#        optional "kind", "detail", "unknown_detail": see below}
# failing and unknown hold evidence items ({"kind", "id", "detail"}, built
# with ev) or, cheaper on large estates, plain object ids: the engine then
# makes the evidence from spec.kind and the detail template (spec.detail,
# spec.unknown_detail), filling {field} from that object's input fields,
# e.g. "{hostname} last patched {days_since_patched} days ago".
check(spec, n, failing, unknown) := r if {
	count(failing) > 0
	r := {
		"control": spec.control,
		"status": "fail",
		"format": "%d of %d %s: %s",
		"args": [count(failing), n, spec.noun, spec.fails],
		"evidence": failing,
		"evidence_kind": object.get(spec, "kind", ""),
		"evidence_detail": object.get(spec, "detail", ""),
	}
} else := r if {
	count(unknown) > 0
	r := {
		"control": spec.control,
		"status": "not_evaluable",
		"format": "%d of %d %s lack %s",
		"args": [count(unknown), n, spec.noun, spec.need],
		"missing": [spec.need],
		"evidence": unknown,
		"evidence_kind": object.get(spec, "kind", ""),
		"evidence_detail": object.get(spec, "unknown_detail", "unknown"),
	}
} else := r if {
	n > 0
	r := {"control": spec.control, "status": "pass", "format": "all %d %s pass", "args": [n, spec.noun]}
} else := {"control": spec.control, "status": "not_applicable", "format": "no %s", "args": [spec.noun]}

# counted is check when only a sample of the failing and unknown objects
# is at hand (the trust graph's per-tenant facts: a technician group
# reaching 2,000 tenants is counted in each, listed in none): bad of n
# objects fail and unknown lack evidence; failing and unknowns are the
# samples, and one item on the subject counts the ones left out.
counted(spec, n, bad, failing, unknown, unknowns) := r if {
	bad > 0
	r := {
		"control": spec.control,
		"status": "fail",
		"format": "%d of %d %s: %s",
		"args": [bad, n, spec.noun, spec.fails],
		"evidence": array.concat(failing, left_out(bad - count(failing), spec)),
	}
} else := r if {
	unknown > 0
	r := {
		"control": spec.control,
		"status": "not_evaluable",
		"format": "%d of %d %s lack %s",
		"args": [unknown, n, spec.noun, spec.need],
		"missing": [spec.need],
		"evidence": array.concat(unknowns, left_out(unknown - count(unknowns), spec)),
	}
} else := r if {
	n > 0
	r := {"control": spec.control, "status": "pass", "format": "all %d %s pass", "args": [n, spec.noun]}
} else := {"control": spec.control, "status": "not_applicable", "format": "no %s", "args": [spec.noun]}

left_out(k, spec) := [] if k <= 0
else := [{"kind": input.subject.type, "id": input.subject.id, "detail": sprintf("and %d more %s", [k, spec.noun])}]

# matrix is the subject tenant's column of the access matrix
# (input.trust.by_tenant[T].access, trust.Graph.Matrix): who reaches the
# tenant by any path, standing and just in time. Controls judging the
# privilege or MFA of the MSP's identities in a tenant read it rather than
# re-deriving reach from the grants.
matrix := input.trust.by_tenant[input.subject.id].access

# no_matrix is true when the trust graph was not computed (--no-trust).
no_matrix if not input.trust.version

# matrix_need names the missing evidence when there is no matrix.
matrix_need := "trust graph (input.trust, built by internal/trust)"

# flag judges a single optional boolean fact: true passes, false fails,
# null is not evaluable.
flag(control, value, kind, id, what, need) := r if {
	value == true
	r := {"control": control, "status": "pass", "message": what, "evidence": [ev(kind, id, concat("", [what, ": yes"]))]}
} else := r if {
	value == false
	r := {"control": control, "status": "fail", "message": concat("", ["not met: ", what]), "evidence": [ev(kind, id, concat("", [what, ": no"]))]}
} else := {"control": control, "status": "not_evaluable", "message": concat("", ["unknown: ", what]), "missing": [need], "evidence": [ev(kind, id, "not recorded")]}

# result builds a fixed verdict.
result(control, status, message, evidence) := {"control": control, "status": status, "message": message, "evidence": evidence}

# not_evaluable builds a verdict naming missing evidence.
not_evaluable(control, message, need) := {"control": control, "status": "not_evaluable", "message": message, "missing": [need]}

# path_ev is the evidence item for an access path into a tenant (its
# grant, or the GDAP relationship it comes through).
path_ev(p, detail) := ev(p.ev_kind, p.ev_id, detail)

# live_paths are access paths usable now (identity enabled, grant not expired).
live_paths := [p | some p in input.access; p.live]

# principal_ev is the evidence for a principal (identity or group) with a
# path into the tenant whose summary lists the member ids at fault.
principal_ev(pid, ids, what) := ev("identity", pid, what) if input.principals[pid].kind == "identity"
else := {"kind": input.principals[pid].kind, "id": pid, "detail": "%d of %d members %s: %v (+%d more)", "args": [count(ids), input.principals[pid].members, what, array.slice(ids, 0, 5), count(ids) - 5]}

# over reports whether a day count exceeds a limit (null never does).
over(days, limit) if {
	days != null
	days > limit
}

# Performance note for policy authors: the built-in checks inline evidence
# objects and compare possibly-null numbers directly (null sorts below every
# number in Rego, so `null > 90` is false) rather than calling ev/over per
# object; function calls per object dominate evaluation time on big estates.

# tool_no_mfa says why a tool counts as without MFA: the logins that have
# none while its tool-wide setting enforces it (its weakest login, as
# internal/access judges it), else the setting itself.
tool_no_mfa(t) := sprintf("no MFA on the login of %s", [concat(", ", t.weak_logins)]) if {
	is_array(t.weak_logins)
	count(t.weak_logins) > 0
} else := "mfa_enforced=false"

# admin_reuse judges admin credential reuse in the subject tenant
# (input.admin_reuse, access.Facts.AdminsByTenant): FB-NET-005 and
# FB-TRUST-004 both call it, so they give one answer with one count.
admin_reuse(control) := counted(
	{"control": control, "noun": "identities with admin in this tenant", "fails": "also hold admin (standing or just in time) in other customers"},
	input.admin_reuse.admins_n,
	input.admin_reuse.reuse_n,
	[ev("identity", r.id, sprintf("admin in %d customer tenants, %d standing", [r.tenants_admin, r.standing])) | some r in input.admin_reuse.reuse],
	0, [],
)
