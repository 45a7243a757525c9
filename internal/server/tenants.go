package server

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/trust"
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
	if err := onlyParams(q, "q", "criticality", "failing", "incidents"); err != nil {
		return err
	}
	pg := &tenantsPage{pageBase: s.basePage(ctx, p, "Tenants", "tenants"), Query: strings.TrimSpace(q.Get("q")), Crit: q.Get("criticality")}
	if pg.Crit != "" && !estate.Criticality(pg.Crit).Known() {
		return errBadRequest("criticality: expected low, medium, high or critical")
	}
	var err error
	if pg.Failing, err = flagParam(q, "failing"); err != nil {
		return err
	}
	if pg.Incident, err = flagParam(q, "incidents"); err != nil {
		return err
	}
	tenants, err := s.st.ListTenants(ctx, p.Scope)
	if err != nil {
		return err
	}
	openBy, err := s.openIncidentsByTenant(ctx, p.Scope)
	if err != nil {
		return err
	}
	run, err := s.pageRun(ctx, &pg.pageBase, p.Scope)
	if err != nil {
		return err
	}
	if run != nil {
		pg.RunAt = run.At
	}
	rows := tenantRows(run, tenants, openBy)
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

// tenantAccess is the MSP's access into one tenant as `firebreak blast
// --tenant` computes it: trust.TenantAccess on the engines' trust graph of
// the current estate (the graph the explorer and the assessment use), one
// derivation with the CLI. Summary is the CLI's sentence ("3 at ≥ admin (1
// standing)"), widest privilege first.
type tenantAccess struct {
	Principals []trust.AccessRowView
	Summary    []accessCount
}

// accessShown is how many principals the tenant page lists before "all N".
const accessShown = 10

// Top and Rest split the principals for the page: the widest first, the
// others behind a disclosure (a tenant reached by 60 principals would
// otherwise be a page of them).
func (a *tenantAccess) Top() []trust.AccessRowView {
	return a.Principals[:min(len(a.Principals), accessShown)]
}

func (a *tenantAccess) Rest() []trust.AccessRowView {
	return a.Principals[min(len(a.Principals), accessShown):]
}

// accessCount is the number of principals reaching the tenant at or above
// one privilege, eligible (just-in-time activated) and standing.
type accessCount struct {
	Priv               string
	Eligible, Standing int
}

// accessViews keeps the access view per tenant for one trust graph (the
// engines build one per estate): a page view is a map read, not a matrix
// column walk.
type accessViews struct {
	mu sync.Mutex
	g  *trust.Graph
	m  map[string]*tenantAccess
}

// tenantAccessOf returns the access view of tenant id (nil: no engines,
// no estate, or the tenant is not in the trust graph). A tenant-scoped
// caller sees a principal homed in another customer without its name.
func (s *Server) tenantAccessOf(p *auth.Principal, id string) (*tenantAccess, error) {
	eng := s.work.Engines()
	if eng == nil || eng.Graph == nil {
		return nil, nil
	}
	e, _ := s.work.CurrentEstate()
	if e == nil {
		return nil, nil
	}
	g, err := eng.Graph(e)
	if err != nil || g == nil {
		return nil, err
	}
	c := &s.accessViews
	c.mu.Lock()
	if c.g != g {
		c.g, c.m = g, map[string]*tenantAccess{}
	}
	v, ok := c.m[id]
	c.mu.Unlock()
	if !ok {
		av, err := trust.TenantAccess(g, id)
		if err != nil {
			v = nil // not a tenant of the graph (no objects, no grants)
		} else {
			v = &tenantAccess{Principals: av.Principals}
			for _, pr := range []trust.Priv{trust.Full, trust.Admin, trust.Operate, trust.Read} {
				if n := av.Eligible[pr.String()]; n > 0 {
					v.Summary = append(v.Summary, accessCount{Priv: pr.String(), Eligible: n, Standing: av.Standing[pr.String()]})
				}
			}
		}
		c.mu.Lock()
		if c.g == g {
			c.m[id] = v
		}
		c.mu.Unlock()
	}
	if v == nil || p.Scope.AllTenants {
		return v, nil
	}
	out := &tenantAccess{Summary: v.Summary, Principals: make([]trust.AccessRowView, len(v.Principals))}
	for i, r := range v.Principals {
		if r.Home != "" && r.Home != id && r.Home != estate.MSP {
			r.ID, r.Home = "(another customer's "+r.Kind+")", ""
		}
		out.Principals[i] = r
	}
	return out, nil
}
