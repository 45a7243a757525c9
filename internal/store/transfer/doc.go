// Package transfer moves a firebreak store as a whole: online backups of the
// SQLite store into one self-describing file, restores of such a file into
// an empty data directory, and migration of a SQLite store into an empty
// PostgreSQL database. It works on the tables directly (the schema both
// dialects share, internal/store/migrations), below the store.Store
// interface, so it copies every row without decoding it — except the
// secrets sealed at rest, which it re-seals for the target's key.
//
// Imported by cmd/firebreak (backup, restore, migrate, version --data-dir).
package transfer
