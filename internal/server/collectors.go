package server

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// collectorRow is one connector run for one tenant on the collectors page.
type collectorRow struct {
	Source, Type, Tenant string
	Finished             time.Time
	Age                  string
	Stale                bool // older than settings.evidence_max_age_days: its evidence is not evaluable
	Errors               []string
	Gaps                 []string
	Counts               string
	Notes                []string
}

type collectorsPage struct {
	pageBase
	MaxAgeDays int
	Rows       []collectorRow
	Failing    []string // sources whose last run failed as a whole
}

// handleCollectorsPage shows every configured collector's last run per
// tenant: when, errors, gaps (the evidence not evaluable, with the
// permission it needs), counts and freshness. MSP staff only.
func (s *Server) handleCollectorsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if !p.Scope.AllTenants {
		return store.ErrNotFound
	}
	now := s.now()
	maxAge := estate.DefaultSettings().EvidenceMaxAgeDays
	if e, _ := s.work.CurrentEstate(); e != nil && e.Settings.EvidenceMaxAgeDays > 0 {
		maxAge = e.Settings.EvidenceMaxAgeDays
	}
	pg := &collectorsPage{pageBase: s.basePage(r.Context(), p, "Collectors", "collectors"), MaxAgeDays: maxAge}
	if s.tools != nil {
		st := s.tools.Status(r.Context())
		for _, src := range st.Sources {
			if src.Error != "" {
				pg.Failing = append(pg.Failing, src.Name+": "+src.Error)
			}
			pg.Rows = append(pg.Rows, collectorRows(src.Name, src.Type, src.Tenants, now, maxAge)...)
			if src.Events != nil {
				if src.Events.Error != "" {
					pg.Failing = append(pg.Failing, src.Events.Name+": "+src.Events.Error)
				}
				pg.Rows = append(pg.Rows, collectorRows(src.Events.Name, src.Type+" events", src.Events.Tenants, now, maxAge)...)
			}
		}
	}
	return s.render(w, r, "collectors", pg)
}

func collectorRows(source, typ string, runs []connector.TenantRun, now time.Time, maxAgeDays int) []collectorRow {
	var out []collectorRow
	for _, t := range runs {
		row := collectorRow{Source: source, Type: typ, Tenant: t.Tenant, Finished: t.Finished, Errors: t.Errors, Notes: t.Notes}
		if !t.Finished.IsZero() {
			age := now.Sub(t.Finished)
			row.Age = age.Round(time.Minute).String()
			row.Stale = age > time.Duration(maxAgeDays)*24*time.Hour
		}
		for _, g := range t.Gaps {
			s := g.Evidence
			if g.Permission != "" {
				s += " (needs " + g.Permission + ")"
			}
			row.Gaps = append(row.Gaps, s)
		}
		var counts []string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range t.Counts {
				if !yield(k) {
					return
				}
			}
		}) {
			counts = append(counts, fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), t.Counts[k]))
		}
		row.Counts = strings.Join(counts, " · ")
		out = append(out, row)
	}
	return out
}
