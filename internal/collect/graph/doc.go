// Package graph is a Microsoft Graph client on net/http and the collector
// that turns a partner's GDAP estate into estate objects.
//
// The client authenticates as a multi-tenant app registration with client
// credentials (a secret, or a certificate signing an RS256/PS256 JWT client
// assertion with x5t headers), keeps one app-only token per tenant (the
// partner tenant and every customer reached through GDAP), follows
// @odata.nextLink, retries 429/503/5xx honouring Retry-After or with
// exponential backoff and jitter up to a bounded number of attempts,
// refreshes a token once on 401, and bounds requests in flight with one
// semaphore (Stats.MaxInFlight is measured, not assumed).
//
// Collect reads the partner's delegatedAdminRelationships and access
// assignments and, per active customer, users (signInActivity),
// userRegistrationDetails, directory role assignments including foreign
// principals, Conditional Access policies and security defaults, MSP tool
// service principals, verified domains and sign-in logs (JSON lines for
// the ingest package's Entra parser). A tenant's failure is recorded in its
// TenantResult and never stops the others; a 403 becomes an estate.Gap that
// names the missing permission, and the affected values stay unknown so
// controls are not-evaluable rather than failed. Secrets are redacted in
// logs and output (Secret.LogValue).
//
// It is imported by cmd/firebreak and the server.
package graph
