// Package estate is the model of an MSP's world — the provider, its tenants
// (customers), identities, groups, tools (RMM, remote access, PSA, vault,
// backup console, VPN, jump host, identity provider, SIEM, one GDAP
// relationship per Microsoft 365 customer), access grants, assets, backups,
// incident response plans, contracts, vendors, attestations and exceptions —
// and the strict loader that reads it from files.
//
// Any package may import estate; it imports nothing from firebreak. Engines
// (assess, trust) read an *Estate; collectors produce one.
//
// # Files
//
// Load reads one file or every .yaml, .yml and .json file directly inside a
// directory (not recursive, in name order) and merges them. Each file is a
// mapping whose keys are the Estate sections (provider, settings, tenants,
// identities, groups, tools, grants, assets, backups, ir_plans, contracts,
// vendors, attestations, exceptions, imports, domain_checks, exposures,
// collection_gaps). Lists from several files are concatenated; provider and
// settings may appear once in total. JSON is read by the same decoder, so
// positions are exact for both.
//
// # Strictness and errors
//
// Decoding never stops at the first problem. Load returns a
// *ValidationError listing every problem as a FieldError with the file,
// line and column, the field path (grants[3].target) and what was
// expected. It reports unknown keys, wrong types (a quoted "false" where a
// boolean is meant, a quoted number), bad dates (YYYY-MM-DD or RFC 3339),
// bad ISO 8601 durations (GDAP duration), bad enum values (criticality,
// identity kind, MFA method, tool kind, privilege, grant mode, personnel
// status, contract clause ids, import kind, GDAP status and assignment,
// credential, compensating control, tool capability), duplicate ids,
// dangling references and missing required fields, with a "did you mean"
// suggestion for unknown keys and enum values. Nothing is returned from an
// invalid estate. Every object's Pos is filled, so findings can point at
// file:line. GDAP auto_extend is a boolean; Partner Center's PT0S / P180D
// are read as false / true.
//
// Access the model expresses beyond grants (docs/model.md): GDAP access
// groups with their roles and active or eligible (PIM) assignment
// (tool.gdap.assignments); per-user MFA inside a tool (tool.logins); what a
// management tool can do on its endpoints (tool.capabilities); a non-human
// identity's credential and compensating controls (identity.credential,
// identity.compensating); break-glass safeguards (identity.break_glass);
// how a privileged account is kept (identity.account: dedicated, vaulted,
// disabled_when_unused);
// vendors' domains and staff. Owners is the one "who owns this object"
// rule; Format and FormatPath are `firebreak estate fmt`.
//
// Ids share one namespace across object kinds (a grant's subject or target
// names any of them). References are checked by kind:
//
//	grant.subject            identity, group, tool or vendor
//	grant.target             tenant, tool, asset, identity, group or the provider
//	grant.via                tool
//	identity.home, group.home, asset.tenant, backup.tenant,
//	ir_plan.party, attestation.subject, tool.owner
//	                         "msp" (the provider id) or a tenant
//	identity.groups, tool.gdap.access_groups, tool.gdap.assignments[].group
//	                         group
//	tool.logins[].identity, vendor.staff
//	                         identity
//	group.members            identity or group
//	tool.gdap.customer, contract.tenant
//	                         tenant
//	asset.agents, backup.console, vendor.supplies
//	                         tool
//	exception.subject        "msp", a tenant or any object id
//	exposure.object          tool or asset
//
// # CSV import
//
// The bulky parts people export from their identity provider and RMM can be
// CSV files, declared in any estate file:
//
//	imports:
//	  - kind: assets         # identities | assets | grants | groups | gdap_assignments
//	    file: assets.csv     # relative to the declaring file
//	    home: cedar-law      # default home/tenant for rows that lack one
//	    columns:             # optional: field -> header in this file
//	      hostname: Computer Name
//
// The first row is the header; headers match case-insensitively with
// spaces, dots, slashes and hyphens read as underscores, against the field
// name or one of its aliases; columns: overrides win; unmapped columns are
// ignored. Lists are separated by ";" or "|". Booleans accept true/false,
// yes/no, y/n, 1/0, enabled/disabled. Empty cells leave a field unset.
// A missing required column is reported once, at file:1:1; a bad cell at
// file:line:column with the field and header, e.g.
// assets.csv:12:9: last_patched (column "Last Patched"): invalid value ...
// where column is the 1-based column number.
//
// Identities (required: id or upn; home unless the import sets home):
//
//	id            identity_id, object_id           defaults to upn
//	name          display_name, displayname
//	upn           user_principal_name, userprincipalname, email, username
//	kind          type, account_type               default human
//	home          tenant, tenant_id
//	enabled       account_enabled, accountenabled
//	owner
//	personnel     hr_status, employment_status     active, departed, on_leave
//	created       created_date_time, createddatetime, created_at
//	last_sign_in  last_sign_in_date_time, lastsignindatetime, last_login, last_logon
//	mfa_enforced  mfa, mfa_required
//	mfa_methods   methods_registered, methodsregistered
//	groups, roles
//
// Assets (required: id or hostname; tenant unless the import sets home):
//
//	id              asset_id, device_id            defaults to <tenant>/<hostname>
//	tenant          customer, organization, org, site
//	hostname        host, computer_name, device_name, name
//	kind            type, device_type, role
//	critical
//	software        vendor:product:version entries
//	internet_ports  exposed_ports, public_ports
//	end_of_life     eol
//	last_patched    last_patch, patched
//	agents          tool ids
//	gold_image
//
// Grants (required: subject, target, privilege):
//
//	id         grant_id                            defaults to <file>#<line>
//	subject    who, principal
//	target     what, resource
//	privilege  access, level                       read, operate, admin, full_control
//	mode       standing or jit
//	expires    expiry, end_date
//	scope, roles
//	via        tool id
//
// Groups (required: id; home unless the import sets home). Rows naming the
// same group merge, so a directory export with one member per row works;
// members may be identity ids or UPNs:
//
//	id       group_id, object_id, group
//	name     display_name, group_name
//	home     tenant, tenant_id
//	members  member, user_principal_name, upn, member_upn
//
// GDAP assignments (required: group; relationship, or customer when the
// customer has exactly one relationship), filed under the GDAP tool they
// name:
//
//	relationship  relationship_id, relationship_name   tool id, gdap.relationship_id or tool name
//	customer      customer_tenant_id, tenant_id        tenant id or Entra tenant id
//	group         security_group, group_id, group_name group id or display name
//	roles         role, microsoft_entra_roles           default: the relationship's
//	assignment    assignment_type, access_type, pim     Active or Eligible
//
// CSVColumns returns this mapping programmatically.
//
// # Generated estates
//
// Generate builds a deterministic synthetic estate of any size for
// benchmarks; WriteDir writes it back as YAML with the bulk sections as CSV
// imports (CSV loads several times faster than YAML at 100,000+ rows).
package estate
