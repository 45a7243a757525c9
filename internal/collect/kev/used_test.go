package kev

import (
	"testing"
	"time"
)

func TestUsed(t *testing.T) {
	c := &Catalog{DateReleased: time.Date(2025, 8, 25, 14, 0, 0, 0, time.UTC), Vulns: make([]Vuln, 1400)}
	for _, tc := range []struct {
		name, what, hint string
		c                *Catalog
		want             string
	}{
		{"stored", "stored catalog", "", c, "KEV: stored catalog of 2025-08-25 (1,400 entries)"},
		{"builtin", BuiltinWhat, BuiltinHint, c, "KEV: built-in snapshot of 2025-08-25 (1,400 entries) — run `firebreak kev update` for today's"},
		{"none", "", "--no-kev", nil, "KEV: none — --no-kev"},
		{"none-bare", "", "", nil, "KEV: none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Used(tc.what, tc.c, tc.hint); got != tc.want {
				t.Errorf("Used = %q, want %q", got, tc.want)
			}
		})
	}
}
