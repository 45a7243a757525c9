package kev

import (
	"fmt"
	"strconv"
)

// Used is the one line stating which catalog KEV-derived numbers used,
// printed by `assess` and `blast` and shown on the dashboard (issue 15:
// the demo and the CLI used different catalogs silently): "KEV: stored
// catalog of 2025-08-25 (1,400 entries)". what names the catalog (stored
// catalog, catalog FILE, built-in snapshot); hint, when not empty, follows
// after " — ". A nil c is "KEV: none — hint".
func Used(what string, c *Catalog, hint string) string {
	if c == nil {
		if hint == "" {
			return "KEV: none"
		}
		return "KEV: none — " + hint
	}
	s := fmt.Sprintf("KEV: %s of %s (%s entries)", what, c.DateReleased.UTC().Format("2006-01-02"), thousands(len(c.Vulns)))
	if hint != "" {
		s += " — " + hint
	}
	return s
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Builtin names the snapshot built into the binary in Used's line, with
// the hint to get today's; StoredWhat the catalog `kev update` stored.
const (
	BuiltinWhat = "built-in snapshot"
	BuiltinHint = "run `firebreak kev update` for today's"
	StoredWhat  = "stored catalog"
)

// FileWhat names a catalog given as a file (--kev FILE, assess.kev) in
// Used's line.
func FileWhat(path string) string { return "catalog " + path }
