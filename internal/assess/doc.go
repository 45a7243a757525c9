// Package assess judges an estate against the control catalog: the logic of
// automated controls is Rego (policies/*.rego, embedded; users add their own
// with Options.PolicyDirs), evaluated in-process with OPA's Go library and
// prepared once in New. Attested controls are judged from the estate's
// attestations; exceptions, collection gaps and scores are applied in Go.
// Only the CLI and the server import it; it imports estate, catalog and kev,
// never the store or the server.
//
// # How a run works
//
// Run builds an index of the estate once (joins that naive Rego would redo
// per object: which tenant each grant, asset or tool belongs to, which
// identities and groups reach each tenant and with what privilege, how many
// tenants each identity administers, KEV matches per product), then
//
//  1. evaluates data.firebreak.principals.summary ONCE over every identity
//     or group that has a path into some tenant (its members' MFA, sign-in,
//     HR and admin-reuse facts), and
//  2. evaluates data.firebreak.checks[_].results once per subject (the MSP,
//     then each tenant, in parallel) over a compact, pre-joined document
//     built directly as ast values (rego.EvalParsedInput), sharing the
//     principals summary, settings and Options.Extra across subjects.
//
// A GDAP access group of 2,000 technicians is therefore judged once, not
// once per customer it reaches.
//
// # The input document (one per subject)
//
// Dates are pre-computed as whole days before the evaluation time ("days
// since"); unknown values are null. Numbers compare with null as smaller,
// so `x.days_since_patched > 30` is false when unknown.
//
//	now          RFC 3339 evaluation time
//	subject      {id, type: "msp"|"tenant", name, criticality}
//	settings     {stale_days, patch_days, log_retention_days, restore_test_days,
//	              ir_exercise_days, contract_review_days, vendor_review_days,
//	              evidence_max_age_days, notification_max_hours}
//	provider     {id, name, domains, customer_data_segregated, admin_network_separate}
//	tenant       tenant subjects: {id, name, criticality, endpoints, data_segregated,
//	             dedicated_connection}; null for the MSP
//	kev          {loaded, version, source, count} or {loaded: false, missing}
//	identities   identities homed in the subject: {id, name, kind, human, home,
//	             enabled, personnel, owner, mfa_enforced, mfa ("none"|"weak"|
//	             "phishing-resistant"|"unknown"), roles, admin, days_since_sign_in,
//	             days_since_created, admin_tenants} (who reaches a customer, and
//	             through what, is the access matrix's: input.trust.customer_reach
//	             and customer_via)
//	access       tenant subjects: paths into the tenant from principals homed
//	             elsewhere: {id, principal, principal_kind ("identity"|"group"),
//	             privilege, privilege_rank (1 read .. 4 full_control), standing,
//	             expired, live, grant, via, roles, scope, ev_kind, ev_id}
//	tool_access  tenant subjects: grants held by tools into the tenant (an RMM
//	             agent as SYSTEM): the same fields as access, principal_kind
//	             "tool" (whoever operates the tool holds them)
//	admin_reuse  tenant subjects (null for the MSP): admin credential reuse
//	             (access.Facts.AdminsByTenant), what FB-NET-005 and
//	             FB-TRUST-004 judge: {admins_n (identities whose own
//	             credentials hold admin here, standing or just in time),
//	             reuse_n (those also admin in another customer), reuse (a
//	             sample of 10: {id, tenants_admin, standing})}
//	principals   principal id → summary of its members (principals.rego):
//	             {kind, members, enabled, no_mfa, mfa_unknown,
//	             not_phishing_resistant, mfa_methods_unknown, multi_admin,
//	             max_admin_tenants, idle, disabled} (lists of ids)
//	tools        MSP: its tools; tenant: tools reaching it (grants, agents,
//	             GDAP): {id, name, kind, management, vendor, product, version,
//	             host, ports, internet_exposed, mfa_enforced, mfa, logging_enabled,
//	             retention_days, segregated, days_since_patched, delivered,
//	             customers, vendor_listed, kev}
//	gdap         tenant subjects: {id, customer, roles, global_admin, auto_extend,
//	             duration, status, days_to_end, access_groups}
//	assets       {id, hostname, kind, critical, internet_ports, eol,
//	             days_since_patched, gold_image, software (count), kev}
//	kev (items)  open KEV matches: {cve, name, ransomware, overdue, due, added,
//	             confirmed, required_action}; "open" = version inside the
//	             affected range, or (KEV rarely gives a comparable range) the
//	             entry was added after the object was last patched
//	backups      {id, scope, rpo_hours, hours_since_success, offline, immutable,
//	             keys_separate, days_since_restore_test, gold_images}
//	ir_plans     {id, executive, technical, procurement, days_since_exercised,
//	             hard_copy, includes_msp}
//	contract     tenant subjects: {id, clauses: {clause: true}, notification_hours,
//	             days_since_review} or null
//	vendors      MSP: all; tenant: those with grants into it: {id, name, kind,
//	             supplies, days_since_assessed, access: [{grant, target, privilege}]}
//	domains      {id, domain, spf, spf_all, spf_valid, dmarc, dmarc_policy,
//	             dmarc_pct, error}
//	exposures    {id ("host:port"), object, host, port, open, service,
//	             tls_version, cert_days_left, error}
//	grants       grants with an expiry date whose target lies in the subject:
//	             {id, subject, target, privilege, standing, days_to_expiry, scope}
//	             (who reaches the tenant, and how, is in access)
//	gaps         collection gaps for the subject: {evidence, permission, reason}
//	<extra>      each Options.Extra entry under its key (input.trust: the trust
//	             graph facts, trust.FactsDoc; input.trust.by_tenant[T].access
//	             is tenant T's column of the access matrix (access.Matrix):
//	             {standing: {read, operate, admin, full_control},
//	             eligible: {…same}, admins: [{id, kind, privilege, standing,
//	             via}], admins_n} — how many principals reach T at ≥ each
//	             privilege over standing edges and with just-in-time access,
//	             and the first 10 at ≥ admin with their first hop; then, of
//	             the identities homed elsewhere and vendors reaching T (break-
//	             glass accounts aside), reach_n and the samples + counts
//	             idle/idle_n, unowned/unowned_n, no_mfa/no_mfa_n,
//	             mfa_unknown/mfa_unknown_n (FB-ACC-004, FB-AUTH-002,
//	             FB-MFA-001), admin_identities_n, no_pr/no_pr_n,
//	             pr_unknown/pr_unknown_n (FB-MFA-002), operators_n,
//	             standing_ops/standing_ops_n (FB-PRIV-004); and
//	             input.trust.customer_reach, the identities reaching any
//	             customer (FB-MFA-003))
//
// # The result shape
//
// Each package under firebreak.checks adds objects to its `results` set:
//
//	{"control": id, "status": "pass"|"fail"|"not_evaluable"|"not_applicable",
//	 "message": text, "missing": [evidence names], "evidence": items}
//
// Evidence items are {"kind", "id", "detail"} objects, or plain ids with
// "evidence_kind" and "evidence_detail" (a template whose {field}s are
// filled from that object's input fields) — lib.check does this for you.
// The engine adds each evidence object's file:line. Controls missing from the
// catalog may carry "title", "severity", "heading" and "remediation".
//
// # Statuses
//
// Attested controls: a valid attestation → attested; expired → fail (the
// re-attestation cadence lapsed); none → not_evaluable. A valid attestation
// also stands in for an automated control that is not evaluable. Exceptions
// (owner, reason, expiry) turn a fail into excepted, for the subject or for
// every failing object; an expired exception leaves the fail and says so.
// A collection gap makes the subject's controls whose catalog evidence
// overlaps the gap's not_evaluable, naming the permission; collector
// evidence names are translated to catalog ones by the gapAffects table
// (fresh.go), so e.g. a refused token ("tenant") reaches every identity,
// group and domain control of that tenant. Gaps in the partner tenant
// (subject msp) also reach every tenant's controls that judge the paths
// into it (evidence grants, groups or tools.gdap): those paths start at
// the MSP.
//
// # Stale evidence
//
// Collected objects (identities, tools, grants, assets, domain checks,
// exposures) carry Provenance{Source, CollectedAt}. After gaps, a pass or
// fail whose evidence was collected more than settings.evidence_max_age_days
// before the evaluation time becomes not_evaluable, giving the age and the
// collector to re-run ("identities.mfa evidence collected 45 days ago (max
// 30) by graph; re-run firebreak collect graph (would be fail: ...)"), with
// the stale objects, oldest first, in Missing. The evidence examined is the
// result's own evidence objects (group evidence: its members) plus the
// subject's objects in each category of the control's catalog evidence:
// identities → identities homed in the subject; grants, groups, tools.gdap
// → the access paths into it (principals, group members, grants, GDAP
// tools); tools, assets, domains, exposures → the subject's. Objects
// without provenance (hand-written) are never stale, and an estate with no
// collected objects skips the check.
package assess
