// Package server is firebreak's HTTP front: the API under /api/v1, the
// server-rendered dashboard, the sign-in handlers (password, TOTP,
// passkeys, OIDC), health and Prometheus metrics.
//
// It holds no authentication primitives (internal/auth), no listeners or
// parsers (internal/intake), no detection loop (internal/pipeline) and no
// schedules (internal/worker), and it composes none of them: internal/roles
// builds the parts for a process's roles and runs their background work,
// cmd/firebreak hands them to New, and Run serves HTTP only
// (internal/archtest checks that the server constructs no part).
// It holds no tenant filtering of its own: every read goes through a
// store.Scope derived from the caller (auth.Principal).
//
// Imported only by cmd/firebreak.
package server
