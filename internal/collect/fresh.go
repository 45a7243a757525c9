package collect

import (
	"time"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Stale reports whether collected evidence is older than maxAgeDays at
// now (settings.evidence_max_age_days), and its age in whole days. Objects
// without provenance (written by hand) are never stale; maxAgeDays <= 0
// uses the default from estate.DefaultSettings. Assess treats stale
// evidence as not-evaluable, naming its age.
func Stale(p *estate.Provenance, now time.Time, maxAgeDays int) (stale bool, ageDays int) {
	if p == nil || p.CollectedAt.IsZero() {
		return false, 0
	}
	if maxAgeDays <= 0 {
		maxAgeDays = estate.DefaultSettings().EvidenceMaxAgeDays
	}
	ageDays = int(now.Sub(p.CollectedAt).Hours() / 24)
	return ageDays > maxAgeDays, ageDays
}
