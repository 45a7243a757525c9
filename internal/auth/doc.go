// Package auth is who may do what in `firebreak serve`: password hashing
// and the common-password check, TOTP, WebAuthn passkeys and OIDC sign-in
// verification, sessions and bearer tokens, sign-in rate limits and
// lockouts, the owner bootstrap, and role-based access (Principal.Can).
// The HTTP handlers that use it live in internal/server.
package auth
