// Package archtest holds tests of the module's architecture: which
// packages may import which (see ARCHITECTURE.md). It has no code.
package archtest
