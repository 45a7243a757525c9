package assess

import (
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// A tenant reached only through a tool's own grant (an RMM agent running as
// SYSTEM) has an access path: FB-PRIV-001 judges it instead of reporting
// "no access paths into the tenant" (issue 15).
func TestToolGrantIsAccessPath(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	build := func(mode string) *estate.Estate {
		return &estate.Estate{
			Provider: estate.Provider{ID: "msp", Name: "MSP"},
			Tenants:  []estate.Tenant{{ID: "t1", Name: "T1"}},
			Tools:    []estate.Tool{{ID: "rmm", Name: "RMM", Kind: "rmm", Owner: estate.MSP}},
			Grants:   []estate.Grant{{ID: "g-rmm-t1", Subject: "rmm", Target: "t1", Privilege: estate.PrivFull, Mode: mode}},
		}
	}
	tests := []struct {
		name, mode string
		status     Status
		message    string
	}{
		{"standing", estate.ModeStanding, StatusFail, "1 of 1 access paths into the tenant: standing full control"},
		{"just-in-time", estate.ModeJIT, StatusPass, "all 1 access paths into the tenant pass"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runAt(t, build(tc.mode), now)["t1 FB-PRIV-001"]
			if got.Status != tc.status || !strings.Contains(got.Message, tc.message) {
				t.Fatalf("FB-PRIV-001: %s %q, want %s containing %q", got.Status, got.Message, tc.status, tc.message)
			}
		})
	}
}
