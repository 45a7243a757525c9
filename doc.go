// Package firebreak is the module root. It holds no code of its own, only
// repository-wide tests (such as the package-documentation check); the
// program is cmd/firebreak and everything else lives under internal/ (see
// ARCHITECTURE.md for the map of folders and the main data flow).
package firebreak
