// Package connector is the small framework every integration with an
// outside system builds on: identity platforms (Microsoft Graph, Okta,
// Google Workspace), RMM and documentation platforms, and outbound targets
// (PSA tickets, SIEM export).
//
// A connector is a Definition (its Spec plus a constructor) registered in a
// Registry. The Spec is data: the connector's name, what it provides
// (evidence, events, outbound), its configuration schema, the permissions
// or scopes it needs and the calls it makes, so `firebreak collect NAME
// --help`, `--dry-run`, docs/collect.md and the dashboard all print the
// same text. The constructor strictly decodes the connector's own config
// section and returns a value implementing one or more of EvidenceSource,
// EventSource and Target.
//
// Shared behaviour lives here, once:
//   - Retry: one retry/backoff policy (exponential, full jitter, bounded
//     attempts, Retry-After honoured and capped) for every HTTP call, in and
//     out;
//   - Client: a JSON-over-HTTP client with bounded requests in flight,
//     measured statistics, and one classification of answers (401/403 →
//     *APIError naming the missing permission, never a pass; 429/5xx →
//     retried; HTML error pages and truncated JSON → errors naming the
//     call); Pages follows next links and stops on a repeating page;
//   - ForEachTenant: per-tenant error isolation (a failing or panicking
//     tenant is recorded in its own TenantRun, never stops the others);
//   - Secret and SecretRef: secrets come from the environment or a file,
//     never from a flag, and redact themselves in logs, JSON and YAML;
//   - Prov and MissingProvenance: every collected fact carries
//     estate.Provenance (source and time).
//
// To add a connector: write a package with a Definition (see
// internal/collect/okta for an evidence-and-events source), add one line to
// the registry built in cmd/firebreak/connectors.go, and document it in
// docs/collect.md.
//
// Imports estate and event (the values connectors produce) and the
// standard library; never the store, the server or an engine.
package connector
