// Package export sends firebreak's ECS documents (events, incidents,
// findings, cases) to SIEMs: Microsoft Sentinel through the Azure Monitor
// Logs Ingestion API, and Splunk's HTTP Event Collector. Documents go
// through a bounded on-disk Spool first, so a SIEM that is down for an hour
// loses nothing until the bound, and what the bound refuses is counted and
// shown (Stats).
//
// Builds on internal/connector (client, retry, secrets, token source,
// registry definitions). Imported by the server and the CLI; imports no
// engine, store or server package.
package export
