// Package server is firebreak's service: the HTTP API under /api/v1, the
// server-rendered dashboard, authentication (argon2id passwords, mandatory
// TOTP), sessions, role-based access with tenant isolation, event intake
// (HTTP and syslog), continuous detection, scheduled assessments with drift
// alerts, health and Prometheus metrics.
//
// It composes the engines (assess, trust, detect), the ingest parsers and the
// store; it holds no tenant filtering of its own: every read goes through a
// store.Scope derived from the caller (see principal.scope).
//
// Imported only by cmd/firebreak.
package server
