// Package graph is a Microsoft Graph client and the collector that turns a
// partner's GDAP estate into estate objects.
//
// Access: two models. App-only (client credentials: a secret, or a
// certificate signing a PS256 JWT client assertion with the x5t#S256
// header by default, RS256 + x5t on request) works in a customer tenant
// only once the partner's multi-tenant app is consented there — a GDAP
// relationship alone answers AADSTS700016; Consent performs and verifies
// that consent per customer through a partner admin's GDAP role. Delegated
// (Delegated, the Secure Application Model) exchanges a partner admin's
// refresh token, obtained once by DeviceSignIn and kept encrypted and
// rotated in a RefreshStore, for per-customer tokens bounded by the GDAP
// roles the customer granted.
//
// HTTP goes through the connector framework (internal/connector): one
// concurrency bound for Graph and token requests, one retry policy
// (Retry-After or full-jitter backoff), one classification of answers,
// paging with repeated-page detection. No ConsistencyLevel header is sent.
//
// Collect reads the partner's delegatedAdminRelationships and access
// assignments and, per active customer: users with signInActivity at the
// documented page size of 120 (the last *successful* sign-in; the
// last-attempt fallback is flagged in the provenance; on 403/400 users are
// read without it), userRegistrationDetails, role assignments (tenant-wide,
// administrative-unit scoped, through role-assignable groups, PIM-eligible;
// deleted principals told apart from foreign ones by
// principalOrganizationId), Conditional Access policies (a policy counts
// only if it requires MFA on every sign-in: no OR with a device or app
// control, no excluded apps, locations, platforms, client app types,
// device filters or risk conditions) and security defaults (read on their
// own), MSP tool service principals, verified domains, and sign-in logs in
// windows (JSON lines for the ingest package's Entra parser). users/delta
// makes repeats cheap (Options.Delta). A tenant's failure is recorded in
// its TenantResult and never stops the others; a 403 becomes an
// estate.Gap naming the permission or licence, and the affected values
// stay unknown so controls are not-evaluable rather than failed.
//
// It is imported by cmd/firebreak and the server.
package graph
