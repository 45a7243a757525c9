package trust

import (
	"testing"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Exported for the external tests (assess_ext_test.go).
var (
	SegregatedEstate = segregatedEstate
	MFAOf            = mfa
)

// TenantCap is tenantCap.
const TenantCap = tenantCap

// MustBuild is mustBuild.
func MustBuild(t testing.TB, e *estate.Estate, o Options) *Graph { return mustBuild(t, e, o) }
