package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// The tenants list (/tenants): every tenant in scope, riskiest first (the
// overview's order: score gap weighted by criticality), with search and
// filters.

type tenantsPage struct {
	pageBase
	Tenants  []tenantRow
	All      int
	Query    string
	Crit     string
	Failing  bool
	Incident bool
	RunAt    time.Time
}

func (s *Server) handleTenants(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	q := r.URL.Query()
	pg := &tenantsPage{pageBase: s.basePage(ctx, p, "Tenants", "tenants"), Query: strings.TrimSpace(q.Get("q")), Crit: q.Get("criticality"),
		Failing: q.Get("failing") == "1", Incident: q.Get("incidents") == "1"}
	tenants, err := s.st.ListTenants(ctx, p.Scope)
	if err != nil {
		return err
	}
	open, err := s.st.ListIncidents(ctx, p.Scope, store.IncidentFilter{Status: store.StatusOpen, Limit: 1000})
	if err != nil {
		return err
	}
	var run *store.Run
	if runs, err := s.st.ListRuns(ctx, p.Scope, 1); err != nil && !isNotFound(err) {
		return err
	} else if len(runs) > 0 {
		run = &runs[0]
		pg.RunAt = run.At
	}
	rows := tenantRows(run, tenants, openByTenant(open))
	pg.All = len(rows)
	needle := strings.ToLower(pg.Query)
	for _, t := range rows {
		switch {
		case needle != "" && !strings.Contains(strings.ToLower(t.ID+" "+t.Name+" "+t.Sector), needle):
		case pg.Crit != "" && t.Criticality != pg.Crit:
		case pg.Failing && t.Fail == 0:
		case pg.Incident && t.OpenIncidents == 0:
		default:
			pg.Tenants = append(pg.Tenants, t)
		}
	}
	return s.render(w, r, "tenants", pg)
}
