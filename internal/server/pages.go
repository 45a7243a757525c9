package server

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// basePage fills the layout fields for an authenticated page.
func (s *Server) basePage(ctx context.Context, p *auth.Principal, title, nav string) pageBase {
	b := pageBase{Title: title, Nav: nav}
	if p == nil || p.User == nil {
		return b
	}
	u := p.User
	b.User = &viewUser{
		Name: u.Username, Role: string(u.Role), Tenant: u.Tenant,
		TenantOnly: u.Role.TenantBound(),
		CanAdmin:   u.Role == store.RoleOwner,
		CanHandle:  u.Role == store.RoleOwner || u.Role == store.RoleAnalyst,
	}
	switch u.Role {
	case store.RoleOwner:
		b.User.RoleLabel = "Owner"
	case store.RoleAnalyst:
		b.User.RoleLabel = "Analyst"
	case store.RoleTenantViewer:
		b.User.RoleLabel = "Viewer · " + u.Tenant
	case store.RoleTenantAttester:
		b.User.RoleLabel = "Attester · " + u.Tenant
	}
	if p.Session != nil {
		b.CSRF = p.Session.CSRF.Reveal()
	}
	b.OpenIncidents = s.openCount(ctx, p.Scope)
	b.run, b.runErr = s.latestRun(ctx, p.Scope)
	b.read = true
	if b.runErr == nil && b.run != nil {
		b.AsOf, b.AsOfRun = b.run.At, b.run.ID
	}
	if e := s.work.Engines(); e != nil && e.KEV != nil {
		b.KEV = e.KEV()
	}
	return b
}

// pageRun is latestRun of the principal's scope for a page whose base
// basePage built: the run it read for the page's "as of", not a second
// read of the same.
func (s *Server) pageRun(ctx context.Context, b *pageBase, scope store.Scope) (*store.Run, error) {
	if b.read {
		return b.run, b.runErr
	}
	return s.latestRun(ctx, scope)
}

// latestRun is the latest assessment run in scope (nil: none yet): the one
// clock every page states ("as of the assessment of …") and judges by.
func (s *Server) latestRun(ctx context.Context, scope store.Scope) (*store.Run, error) {
	runs, err := s.st.ListRuns(ctx, scope, 1)
	if isNotFound(err) || (err == nil && len(runs) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &runs[0], nil
}

// openIncidentsByTenant counts the open incidents in scope per tenant
// involved: the one count the tenants list, the overview and a tenant page
// show. It reads them briefly (no notes or samples): it only counts them.
func (s *Server) openIncidentsByTenant(ctx context.Context, scope store.Scope) (map[string]int, error) {
	open, err := s.st.ListIncidents(ctx, scope, store.IncidentFilter{Status: store.StatusOpen, Limit: 1000, Brief: true})
	if err != nil {
		return nil, err
	}
	return openByTenant(open), nil
}

// openCount is the number of open incidents in scope for the navigation
// badge, cached for a few seconds per scope.
func (s *Server) openCount(ctx context.Context, scope store.Scope) int {
	key := scope.String()
	now := time.Now()
	s.badgeMu.Lock()
	if c, ok := s.badge[key]; ok && now.Sub(c.at) < 3*time.Second {
		s.badgeMu.Unlock()
		return c.n
	}
	s.badgeMu.Unlock()
	open, err := s.st.ListIncidents(ctx, scope, store.IncidentFilter{Status: store.StatusOpen, Limit: 1000, Brief: true})
	if err != nil {
		return 0
	}
	s.badgeMu.Lock()
	if s.badge == nil || len(s.badge) > 10000 {
		s.badge = map[string]badgeCount{}
	}
	s.badge[key] = badgeCount{n: len(open), at: now}
	s.badgeMu.Unlock()
	return len(open)
}

type badgeCount struct {
	n  int
	at time.Time
}

// ---------------------------------------------------------------------------
// Overview

type tenantRow struct {
	ID, Name, Criticality, Sector string
	Score                         float64
	Pass, Fail, Other             int
	OpenIncidents                 int
	Assessed                      bool
	Risk                          float64 // (100 − score) × the criticality's weight (estate.Criticality.Weight)
}

// openByTenant counts open incidents per tenant involved.
func openByTenant(open []store.Incident) map[string]int {
	openBy := map[string]int{}
	for _, inc := range open {
		seen := map[string]bool{}
		for _, t := range append([]string{inc.Tenant}, inc.Tenants...) {
			if t != "" && !seen[t] {
				seen[t] = true
				openBy[t]++
			}
		}
	}
	return openBy
}

// tenantRows are the tenants with their latest scores (run nil: none yet),
// riskiest first: the score's gap to 100 weighted by criticality (a
// critical tenant at 70 ranks above a low one at 50), then open incidents.
func tenantRows(run *store.Run, tenants []store.Tenant, openBy map[string]int) []tenantRow {
	byID := map[string]store.Tenant{}
	for _, t := range tenants {
		byID[t.ID] = t
	}
	var out []tenantRow
	assessed := map[string]bool{}
	if run != nil {
		for _, sc := range run.Scores {
			if sc.Subject == estate.MSP {
				continue
			}
			t := byID[sc.Subject]
			assessed[sc.Subject] = true
			out = append(out, tenantRow{ID: sc.Subject, Name: cmp.Or(t.Name, sc.Name, sc.Subject), Criticality: t.Criticality, Sector: t.Sector,
				Score: sc.Score, Pass: sc.Pass, Fail: sc.Fail, Other: sc.Other, OpenIncidents: openBy[sc.Subject], Assessed: true,
				Risk: (100 - sc.Score) * estate.Criticality(t.Criticality).Weight()})
		}
	}
	for _, t := range tenants {
		if !assessed[t.ID] {
			out = append(out, tenantRow{ID: t.ID, Name: t.Name, Criticality: t.Criticality, Sector: t.Sector, OpenIncidents: openBy[t.ID]})
		}
	}
	slices.SortStableFunc(out, func(a, b tenantRow) int {
		if a.Assessed != b.Assessed {
			if a.Assessed {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(b.Risk, a.Risk), cmp.Compare(b.OpenIncidents, a.OpenIncidents), cmp.Compare(a.ID, b.ID))
	})
	return out
}

type sparkline struct {
	Points string // SVG polyline points
	Last   float64
	Delta  float64
	N      int
}

type overviewPage struct {
	pageBase
	Scope        string
	HeadScore    float64
	HeadName     string
	HasRun       bool
	RunAt        time.Time
	RunID        int64
	Trend        sparkline
	ScoreChart   *svgChart
	Tenants      []tenantRow
	Cases        []caseRow // the first open cases, most severe first
	CaseCount    int
	SPOFs        []store.BlastRank
	FailCount    int
	TenantCount  int
	OpenCount    int
	CritCount    int
	TenantOnly   bool
	TenantTarget string
	// Fix first: the first steps of the blast plan (MSP-wide users).
	Fix      []fixStep
	Queue    map[int]store.Remediation // the stored queue's open steps of the latest plan by rank
	Kept     []store.Remediation       // open steps the latest plan dropped: their controls still fail
	Done     []store.Remediation       // the steps done most recently
	Handlers []string                  // who may own a step
	FixTotal int
	Plan     *fixPlan
	Headings []headingBar
}

func makeSparkline(pts []store.ScorePoint) sparkline {
	sp := sparkline{N: len(pts)}
	if len(pts) == 0 {
		return sp
	}
	const w, h = 240.0, 48.0
	var b strings.Builder
	for i, p := range pts {
		x := 0.0
		if len(pts) > 1 {
			x = w * float64(i) / float64(len(pts)-1)
		}
		y := h - (p.Score.Score/100)*h
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	sp.Points = strings.TrimSpace(b.String())
	sp.Last = pts[len(pts)-1].Score.Score
	if len(pts) > 1 {
		sp.Delta = pts[len(pts)-1].Score.Score - pts[0].Score.Score
	}
	return sp
}

func (s *Server) handleOverview(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	pg := &overviewPage{pageBase: s.basePage(ctx, p, "Overview", "overview"), Scope: p.Scope.String()}
	pg.TenantOnly = !p.Scope.AllTenants
	tenants, err := s.st.ListTenants(ctx, p.Scope)
	if err != nil {
		return err
	}
	pg.TenantCount = len(tenants)
	open, cases, err := s.listCases(ctx, p.Scope, store.IncidentFilter{Status: store.StatusOpen, Limit: 1000})
	if err != nil {
		return err
	}
	openBy := openByTenant(open)
	pg.OpenCount = len(open)
	for _, inc := range open {
		if inc.Severity == "critical" {
			pg.CritCount++
		}
	}
	// Cases, not rows: the open incidents grouped by attacker in the
	// cases page's order (most severe, then most recent).
	pg.CaseCount = len(cases)
	pg.Cases = cases[:min(len(cases), 8)]
	headSubject := estate.MSP
	if !p.Scope.AllTenants {
		headSubject = p.Scope.Tenant
		pg.TenantTarget = p.Scope.Tenant
	}
	run, err := s.pageRun(ctx, &pg.pageBase, p.Scope)
	if err == nil && run == nil {
		err = store.ErrNotFound
	}
	switch {
	case err == nil:
		pg.HasRun = true
		pg.RunAt = run.At
		pg.RunID = run.ID
		pg.FailCount = run.Fail
		for _, sc := range run.Scores {
			if sc.Subject == headSubject {
				pg.HeadScore = sc.Score
				pg.HeadName = sc.Name
			}
		}
		pg.Tenants = tenantRows(run, tenants, openBy)
	case isNotFound(err):
		pg.Tenants = tenantRows(nil, tenants, openBy)
	default:
		return err
	}
	if pg.HeadName == "" {
		pg.HeadName = headSubject
	}
	hist, err := s.st.ScoreHistory(ctx, p.Scope, headSubject, 30)
	if err != nil && !isNotFound(err) {
		return err
	}
	pg.Trend = makeSparkline(hist)
	pg.ScoreChart = scoreChart(hist, pg.HeadName)
	if b, err := s.latestBlast(ctx, p.Scope); err == nil {
		pg.SPOFs = b.Ranking[:min(len(b.Ranking), 10)]
		if plan := s.planOf(b); plan != nil {
			pg.Plan, pg.FixTotal = plan, len(plan.Steps)
			pg.Fix = plan.Steps[:min(3, len(plan.Steps))]
		}
		q, err := s.st.ListRemediation(ctx, p.Scope, store.RemediationFilter{})
		if err != nil {
			return err
		}
		pg.Queue, pg.Kept, pg.Done = queueView(q, b.RunID)
		if p.Can(auth.AccessIncident) {
			if pg.Handlers, err = s.handlers(ctx, p); err != nil {
				return err
			}
		}
	} else if !isNotFound(err) {
		return err
	}
	if run != nil {
		// A run's results never change: the bars are cached per run and scope.
		if v, ok := s.headingCache.get(run.ID, p.Scope.String()); ok {
			pg.Headings = v.([]headingBar)
		} else if rs, err := s.st.Results(ctx, p.Scope, store.ResultFilter{RunID: run.ID, Brief: true}); err == nil {
			pg.Headings = headingBars(rs)
			s.headingCache.put(run.ID, p.Scope.String(), pg.Headings)
		} else if !isNotFound(err) {
			return err
		}
	}
	return s.render(w, r, "overview", pg)
}

func isNotFound(err error) bool { return err != nil && errorsIs(err, store.ErrNotFound) }

// ---------------------------------------------------------------------------
// Tenant

type controlView struct {
	assess.Result
	Objects []assess.Result // further results of the same control (per object)
}

// headingGroup is the failing controls under one of the advisory's headings.
type headingGroup struct {
	No       int
	Name     string
	Controls []controlView
}

// byHeading groups controls (already in severity order) by advisory
// heading; the group with the most severe control comes first, then by
// heading number.
func byHeading(cs []controlView) []headingGroup {
	var out []headingGroup
	at := map[int]int{}
	for _, c := range cs {
		i, ok := at[c.Heading]
		if !ok {
			name := catalog.HeadingName(c.Heading)
			if name == "" {
				name = "Other controls"
			}
			out = append(out, headingGroup{No: c.Heading, Name: name})
			i = len(out) - 1
			at[c.Heading] = i
		}
		out[i].Controls = append(out[i].Controls, c)
	}
	slices.SortStableFunc(out, func(a, b headingGroup) int {
		return cmp.Or(cmp.Compare(sevRank(b.Controls[0].Severity), sevRank(a.Controls[0].Severity)), cmp.Compare(a.No, b.No))
	})
	return out
}

type accessRow struct {
	Grant     estate.Grant
	Subject   string
	Privilege string
	Standing  bool
}

type tenantPage struct {
	pageBase
	FailGroups []headingGroup
	Tenant     store.Tenant
	Score      assess.Score
	HasScore   bool
	Trend      sparkline
	ScoreChart *svgChart
	History    []store.ScorePoint
	Failing    []controlView
	Other      []controlView
	Passing    []controlView
	Incidents  []store.Incident
	// OpenIncidents is the tenant's open incidents as the tenants list
	// counts them (openIncidentsByTenant).
	OpenIncidents int
	Access        []accessRow
	Reach         *tenantAccess // who reaches the tenant by any path (blast --tenant)
	Blast         []store.BlastRank
	RunAt         time.Time
	Queue         []store.Remediation // open steps that make this tenant safer
	PlanRun       int64               // the run of the latest plan (a step of an earlier one is kept open: its controls still fail)
	CanClaim      bool                // may record an attestation or exception here (claimRights)
}

// tenantFor is the tenant of the request path {id}, as the caller may
// see it: 404 for one outside its scope or unknown.
func (s *Server) tenantFor(r *http.Request, p *auth.Principal) (store.Tenant, error) {
	id := r.PathValue("id")
	if !p.Scope.Allows(id) {
		return store.Tenant{}, errNotFound
	}
	tenants, err := s.st.ListTenants(r.Context(), p.Scope)
	if err != nil {
		return store.Tenant{}, err
	}
	i := slices.IndexFunc(tenants, func(t store.Tenant) bool { return t.ID == id })
	if i < 0 {
		return store.Tenant{}, errNotFound
	}
	return tenants[i], nil
}

func (s *Server) handleTenant(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	tenant, err := s.tenantFor(r, p)
	if err != nil {
		return err
	}
	id := tenant.ID
	ts := store.TenantScope(id)
	pg := &tenantPage{pageBase: s.basePage(ctx, p, tenant.Name, "tenant"), Tenant: tenant, CanClaim: claimRights(p, tenant.ID, catalog.PartyBoth)}
	if run, err := s.latestRun(ctx, ts); err == nil && run != nil {
		pg.RunAt = run.At
		for _, sc := range run.Scores {
			if sc.Subject == id {
				pg.Score, pg.HasScore = sc, true
			}
		}
	} else if err != nil && !isNotFound(err) {
		return err
	}
	results, err := s.st.Results(ctx, ts, store.ResultFilter{Subject: id})
	if err != nil && !isNotFound(err) {
		return err
	}
	groups := groupResults(results)
	for _, g := range groups {
		switch g.Status {
		case assess.StatusFail:
			pg.Failing = append(pg.Failing, g)
		case assess.StatusPass:
			pg.Passing = append(pg.Passing, g)
		default:
			pg.Other = append(pg.Other, g)
		}
	}
	slices.SortStableFunc(pg.Failing, func(a, b controlView) int {
		return cmp.Or(cmp.Compare(sevRank(b.Severity), sevRank(a.Severity)), cmp.Compare(a.Control, b.Control))
	})
	for i := range pg.Failing {
		pg.Failing[i].Evidence = s.relativeEvidence(pg.Failing[i].Evidence)
	}
	pg.FailGroups = byHeading(pg.Failing)
	hist, err := s.st.ScoreHistory(ctx, ts, id, 30)
	if err != nil && !isNotFound(err) {
		return err
	}
	pg.History = hist
	pg.Trend = makeSparkline(hist)
	pg.ScoreChart = scoreChart(hist, id)
	incs, err := s.st.ListIncidents(ctx, ts, store.IncidentFilter{Tenant: id, Limit: 50})
	if err != nil {
		return err
	}
	pg.Incidents = incs
	openBy, err := s.openIncidentsByTenant(ctx, p.Scope)
	if err != nil {
		return err
	}
	pg.OpenIncidents = openBy[id]
	if metas, err := s.st.ListSnapshots(ctx, 1); err != nil {
		return err
	} else if len(metas) > 0 {
		if v, ok := s.accessCache.get(metas[0].ID, id); ok {
			pg.Access = v.([]accessRow)
		} else if snap, err := s.st.GetSnapshot(ctx, ts, metas[0].ID); err == nil {
			pg.Access = accessInto(snap.Estate, id)
			s.accessCache.put(metas[0].ID, id, pg.Access)
		} else if !isNotFound(err) {
			return err
		}
	}
	if pg.Reach, err = s.tenantAccessOf(p, id); err != nil {
		return err
	}
	if b, err := s.latestBlast(ctx, ts); err == nil {
		pg.Blast = b.Ranking[:min(len(b.Ranking), 10)]
		pg.PlanRun = b.RunID
	} else if !isNotFound(err) {
		return err
	}
	if pg.Queue, err = s.st.ListRemediation(ctx, ts, store.RemediationFilter{Tenant: id, Open: true}); err != nil {
		return err
	}
	return s.render(w, r, "tenant", pg)
}

// relativeEvidence is ev with each file position relative to the estate
// root it lies under: the demo's estate sits in a temporary directory
// (/tmp/firebreak-demo-123/…) that says nothing to a reader.
func (s *Server) relativeEvidence(ev []assess.Evidence) []assess.Evidence {
	out := slices.Clone(ev)
	for i := range out {
		out[i].Pos.File = estateRel(s.cfg.Estate.Paths, out[i].Pos.File)
	}
	return out
}

// estateRel is file relative to the first of roots (estate directories or
// files) it lies under, slash-separated; a file under none is returned as
// it is.
func estateRel(roots []string, file string) string {
	if file == "" {
		return file
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return file
	}
	for _, root := range roots {
		r, err := filepath.Abs(root)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(r); err == nil && !fi.IsDir() {
			r = filepath.Dir(r)
		}
		if rel, err := filepath.Rel(r, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return filepath.ToSlash(rel)
		}
	}
	return file
}

// groupResults folds per-object results of one control into one row whose
// status is the worst of them.
func groupResults(rs []assess.Result) []controlView {
	idx := map[string]int{}
	var out []controlView
	worse := func(a, b assess.Status) bool { return statusRank(a) > statusRank(b) }
	for _, r := range rs {
		k := r.Control + "\x00" + r.Subject
		if i, ok := idx[k]; ok {
			out[i].Objects = append(out[i].Objects, r)
			if worse(r.Status, out[i].Status) {
				first := out[i].Result
				out[i].Result = r
				out[i].Objects[len(out[i].Objects)-1] = first
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, controlView{Result: r})
	}
	return out
}

// statusRank is assess.Status.Rank: the report's order, so the HTML report
// and the matrix colour a cell alike.
func statusRank(s assess.Status) int { return s.Rank() }

// accessInto lists the grants that give someone control over the tenant's
// objects (the snapshot is already limited to what the tenant owns).
func accessInto(e *estate.Estate, tenant string) []accessRow {
	if e == nil {
		return nil
	}
	ownerOf := estate.NewOwners(e).Of // the one ownership rule
	var out []accessRow
	for _, g := range e.Grants {
		if ownerOf(g.Target) != tenant {
			continue
		}
		out = append(out, accessRow{Grant: g, Subject: g.Subject, Privilege: string(g.Privilege), Standing: g.IsStanding()})
	}
	slices.SortStableFunc(out, func(a, b accessRow) int {
		return cmp.Or(cmp.Compare(estate.Privilege(b.Privilege).Rank(), estate.Privilege(a.Privilege).Rank()), cmp.Compare(a.Subject, b.Subject))
	})
	return out
}

// ---------------------------------------------------------------------------
// Controls × tenants matrix

type matrixCell struct {
	Status assess.Status
	Class  string // fail, pass, not_evaluable, other or ""
	Title  string
}

type matrixRow struct {
	Control, Title, Severity string
	Heading                  int
	Cells                    []matrixCell
	Fails                    int
}

type matrixPage struct {
	pageBase
	Subjects []string
	Rows     []matrixRow
	HasRun   bool
	Table    template.HTML // the grid, rendered once per run and scope
	RunAt    time.Time
	RunID    int64
}

func (s *Server) handleMatrix(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	pg := &matrixPage{pageBase: s.basePage(ctx, p, "Controls matrix", "matrix")}
	run, err := s.pageRun(ctx, &pg.pageBase, p.Scope)
	if err != nil {
		return err
	}
	if run == nil {
		return s.render(w, r, "matrix", pg)
	}
	pg.RunAt, pg.RunID = run.At, run.ID
	key := p.Scope.String()
	if v, ok := s.matrixCache.get(run.ID, key); ok {
		m := v.(matrixPage)
		pg.HasRun, pg.Table = m.HasRun, m.Table
		return s.render(w, r, "matrix", pg)
	}
	if err := s.buildMatrix(ctx, p.Scope, run.ID, pg); err != nil {
		return err
	}
	s.matrixCache.put(run.ID, key, matrixPage{HasRun: pg.HasRun, Table: pg.Table})
	return s.render(w, r, "matrix", pg)
}

// buildMatrix folds the results of run id into the controls × subjects grid.
func (s *Server) buildMatrix(ctx context.Context, scope store.Scope, runID int64, pg *matrixPage) error {
	results, err := s.st.Results(ctx, scope, store.ResultFilter{RunID: runID})
	if err != nil && !isNotFound(err) {
		return err
	}
	pg.HasRun = len(results) > 0
	subjects := map[string]bool{}
	type key struct{ c, s string }
	worst := map[key]assess.Status{}
	rows := map[string]*matrixRow{}
	for _, x := range results {
		subjects[x.Subject] = true
		k := key{x.Control, x.Subject}
		if cur, ok := worst[k]; !ok || statusRank(x.Status) > statusRank(cur) {
			worst[k] = x.Status
		}
		if _, ok := rows[x.Control]; !ok {
			rows[x.Control] = &matrixRow{Control: x.Control, Title: x.Title, Severity: x.Severity, Heading: x.Heading}
		}
	}
	for sbj := range subjects {
		pg.Subjects = append(pg.Subjects, sbj)
	}
	slices.SortFunc(pg.Subjects, func(a, b string) int {
		if a == estate.MSP {
			return -1
		}
		if b == estate.MSP {
			return 1
		}
		return cmp.Compare(a, b)
	})
	for _, row := range rows {
		for _, sbj := range pg.Subjects {
			st, ok := worst[key{row.Control, sbj}]
			c := matrixCell{Status: st}
			if !ok {
				c.Status = ""
			}
			switch c.Status {
			case assess.StatusFail, assess.StatusPass, assess.StatusNotEvaluable:
				c.Class = string(c.Status)
			case "":
			default:
				c.Class = "other"
			}
			if st == assess.StatusFail {
				row.Fails++
			}
			c.Title = fmt.Sprintf("%s · %s: %s", row.Control, sbj, cmp.Or(string(c.Status), "no result"))
			row.Cells = append(row.Cells, c)
		}
		pg.Rows = append(pg.Rows, *row)
	}
	slices.SortFunc(pg.Rows, func(a, b matrixRow) int {
		return cmp.Or(cmp.Compare(a.Heading, b.Heading), cmp.Compare(a.Control, b.Control))
	})
	var buf bytes.Buffer
	if err := s.pages["matrix"].ExecuteTemplate(&buf, "matrixtable", pg); err != nil {
		return fmt.Errorf("rendering matrix: %w", err)
	}
	pg.Table = template.HTML(buf.String())
	return nil
}

// warmMatrix precomputes the MSP-wide matrix of a new run so the first
// visitor does not wait for it.
func (s *Server) warmMatrix(ctx context.Context, runID int64) {
	pg := &matrixPage{}
	scope := store.AllTenants()
	if err := s.buildMatrix(ctx, scope, runID, pg); err != nil {
		s.log.Warn("precomputing matrix", "err", err)
		return
	}
	s.matrixCache.put(runID, scope.String(), matrixPage{HasRun: pg.HasRun, Table: pg.Table})
}

// ---------------------------------------------------------------------------
// Incidents

type incidentsPage struct {
	pageBase
	Cases         []caseRow
	IncidentCount int
	Status        string
	Severity      string
	Tenant        string
	Filtered      bool
	CanHandle     bool
	Hist          *svgChart      // incidents opened per hour/day
	Tenants       []store.Tenant // the tenant filter's choices
	Total         int            // cases in all (Cases may hold only the first Shown)
	Shown         int            // > 0: only the first Shown cases are listed
}

// casesShown is how many cases the cases page lists before "show all".
const casesShown = 100

// incidentFilter reads the filter from the query; a tenant-scoped caller's
// tenant filter is always its own tenant. A status or severity it does not
// know is a 400 with the reason, not a filter silently ignored.
func (s *Server) incidentFilter(r *http.Request, p *auth.Principal) (store.IncidentFilter, error) {
	q := r.URL.Query()
	f := store.IncidentFilter{Status: q.Get("status"), Severity: q.Get("severity"), Tenant: q.Get("tenant"), Rule: q.Get("rule"), Limit: 200}
	if !p.Scope.AllTenants {
		f.Tenant = p.Scope.Tenant
	}
	switch f.Status {
	case "all":
		f.Status = ""
	case "", store.StatusOpen, store.StatusAcknowledged, store.StatusResolved:
	default:
		return f, errBadRequest("status: expected open, acknowledged, resolved or all")
	}
	if f.Severity != "" && catalog.Severity(f.Severity).Rank() < 0 {
		return f, errBadRequest("severity: expected critical, high, medium, low or info")
	}
	return f, nil
}

// casesPage lists the cases (incidents grouped by attacker) the filter
// selects; without a status the open ones, the cases that need attention.
func (s *Server) casesPage(r *http.Request, p *auth.Principal) (*incidentsPage, error) {
	q := r.URL.Query()
	f, err := s.incidentFilter(r, p)
	if err != nil {
		return nil, err
	}
	if !q.Has("status") {
		f.Status = store.StatusOpen
	}
	f.Limit = 1000
	incs, rows, err := s.listCases(r.Context(), p.Scope, f)
	if err != nil {
		return nil, err
	}
	pg := &incidentsPage{Cases: rows, IncidentCount: len(incs), Status: cmp.Or(f.Status, "all"), Severity: f.Severity, Tenant: f.Tenant,
		Filtered: q.Get("severity") != "" || q.Get("tenant") != "" || f.Status != "", CanHandle: p.Can(auth.AccessIncident)}
	// The first casesShown cases in triage order; ?show=all lists every one.
	pg.Total = len(pg.Cases)
	if q.Get("show") != "all" && len(pg.Cases) > casesShown {
		pg.Cases = pg.Cases[:casesShown]
		pg.Shown = casesShown
	}
	times := make([]time.Time, len(incs))
	for i := range incs {
		times[i] = incs[i].First
	}
	pg.Hist = hourHistogram(times, "Incidents opened per hour")
	return pg, nil
}

func (s *Server) handleIncidents(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	pg, err := s.casesPage(r, p)
	if err != nil {
		return err
	}
	pg.pageBase = s.basePage(r.Context(), p, "Cases", "incidents")
	if pg.Tenants, err = s.st.ListTenants(r.Context(), p.Scope); err != nil {
		return err
	}
	return s.render(w, r, "incidents", pg)
}

// handleIncidentRows serves the cases table body for live refresh.
func (s *Server) handleIncidentRows(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	pg, err := s.casesPage(r, p)
	if err != nil {
		return err
	}
	t := s.pages["incidents"]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	return t.ExecuteTemplate(w, "rows", pg)
}

type incidentPage struct {
	pageBase
	Incident  *store.Incident
	Samples   []sampleView
	CanHandle bool
	Users     []string // who an analyst may assign it to
}

type sampleView struct {
	Time                                     time.Time
	Tenant, User, SourceIP, Outcome, Dataset string
	Action, Host                             string
}

func (s *Server) handleIncident(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	inc, err := s.st.GetIncident(ctx, p.Scope, r.PathValue("id"))
	if err != nil {
		return err
	}
	pg := &incidentPage{pageBase: s.basePage(ctx, p, inc.Title, "incidents"), Incident: inc, CanHandle: p.Can(auth.AccessIncident)}
	pg.Samples = incidentSamples(inc, p.Scope)
	if pg.CanHandle {
		if pg.Users, err = s.handlers(ctx, p); err != nil {
			return err
		}
	}
	return s.render(w, r, "incident", pg)
}

// incidentSamples decodes sample events from the detail, keeping only those
// of tenants in scope (defence in depth: the store already withholds the
// detail of cross-tenant incidents from tenant scopes).
func incidentSamples(inc *store.Incident, scope store.Scope) []sampleView {
	d := pipeline.Detection(inc)
	var out []sampleView
	for _, ev := range d.Samples {
		if !scope.AllTenants && ev.Tenant != scope.Tenant {
			continue
		}
		out = append(out, sampleView{Time: ev.Time, Tenant: ev.Tenant, User: ev.User, Outcome: ev.Outcome, Action: ev.Action, Host: ev.Host, SourceIP: ev.SourceIP})
	}
	return out
}

func (s *Server) handleIncidentForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	var err error
	switch action := r.PostFormValue("action"); action {
	case "acknowledge":
		_, err = s.setIncidentStatus(ctx, p, id, store.StatusAcknowledged)
	case "resolve":
		_, err = s.setIncidentStatus(ctx, p, id, store.StatusResolved)
	case "reopen":
		_, err = s.setIncidentStatus(ctx, p, id, store.StatusOpen)
	case "note":
		_, err = s.addIncidentNote(ctx, p, id, r.PostFormValue("text"))
	case "assign":
		_, err = s.assignIncident(ctx, p, id, r.PostFormValue("assignee"))
	default:
		return errBadRequest("unknown action")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/incidents/"+urlPathEscape(id), http.StatusSeeOther)
	return nil
}

func (s *Server) setIncidentStatus(ctx context.Context, p *auth.Principal, id, status string) (*store.Incident, error) {
	inc, err := s.st.SetIncidentStatus(ctx, p.Scope, id, status, p.Actor())
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "incident."+map[string]string{store.StatusAcknowledged: "acknowledge", store.StatusResolved: "resolve", store.StatusOpen: "reopen"}[status], id, inc.Tenant, nil)
	return inc, nil
}

func (s *Server) addIncidentNote(ctx context.Context, p *auth.Principal, id, text string) (*store.Incident, error) {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > 4000 {
		return nil, errBadRequest("note: 1 to 4000 characters")
	}
	inc, err := s.st.AddIncidentNote(ctx, p.Scope, id, store.Note{Author: p.Actor(), Text: text, At: s.now()})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "incident.note", id, inc.Tenant, map[string]int{"length": len(text)})
	return inc, nil
}

func (s *Server) assignIncident(ctx context.Context, p *auth.Principal, id, assignee string) (*store.Incident, error) {
	assignee = strings.TrimSpace(assignee)
	if len(assignee) > 128 {
		return nil, errBadRequest("assignee: at most 128 characters")
	}
	if assignee != "" {
		users, err := s.handlers(ctx, p)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(users, assignee) {
			return nil, errBadRequest("assignee: %q is not a user who may handle incidents", assignee)
		}
	}
	inc, err := s.st.AssignIncident(ctx, p.Scope, id, assignee)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, p, "incident.assign", id, inc.Tenant, map[string]string{"assignee": assignee})
	return inc, nil
}

// ---------------------------------------------------------------------------
// Events

type eventsPage struct {
	pageBase
	Tenants  []store.Tenant // the tenant filter's choices
	Outcomes []string       // the outcome filter's choices (eventOutcomes)
	Query    store.EventQuery
	From     string // the search's from (eventsWindow's default when the request names none)
	To       string
	Events   []store.EventRecord
	Next     int64
	Error    string
	// Total is every event the search matches (all its pages): the sum of
	// Hist's buckets, which cover the span of the matching events
	// (eventsHistogram), the as-of time marked when it falls inside.
	Total int64
	Hist  *svgChart
	// DefaultFrom: the request named no from; From is eventsWindow's.
	// DefaultTo: nor a to; To is a week after the as-of time.
	DefaultFrom, DefaultTo bool
	// Later counts the matches after a default To (an assessment more than
	// a week older than them: the demo's, a stalled schedule); LaterURL
	// searches them.
	Later    int64
	LaterURL string
}

// eventsWindow is the events search's time range when the request names
// no from: the week up to the page's as-of time (the latest assessment, or
// to when earlier) or, when nothing matches in that week (a replayed old
// log, no assessment yet), the week up to the newest match. Bounding the
// search keeps its count, its histogram and PostgreSQL's plans (one daily
// partition per day in range, not all of them) to a week however long the
// store keeps events (issue 15: a million events over 90 days).
const eventsWindow = 7 * 24 * time.Hour

func (s *Server) handleEventsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	pg := &eventsPage{pageBase: s.basePage(ctx, p, "Events", "events"), Outcomes: eventOutcomes}
	tenants, err := s.st.ListTenants(ctx, p.Scope)
	if err != nil {
		return err
	}
	pg.Tenants = tenants
	q, err := s.eventQuery(r, p)
	if err != nil {
		// A bad filter is the request's fault: say so in the status too.
		var status int
		status, pg.Error = classify(err)
		s.renderStatus(w, r, status, "events", pg)
		return nil
	}
	pg.From, pg.To = r.URL.Query().Get("from"), r.URL.Query().Get("to")
	// newest is the newest event the search matches (zero: none), read
	// only when the range needs it and the page does not show it anyway.
	var newest time.Time
	latest := func() error {
		if !newest.IsZero() {
			return nil
		}
		nq := q
		nq.BeforeID, nq.Limit = 0, 1
		recs, err := s.st.SearchEvents(ctx, p.Scope, nq)
		if len(recs) > 0 {
			newest = recs[0].Event.Timestamp
		}
		return err
	}
	if q.From.IsZero() {
		// The week up to the as-of time (or up to to, when earlier), and
		// what followed it up to a week after it; when nothing matches in
		// that (a replayed old log, no assessment yet), the week up to the
		// newest match. Only then is the search unbounded in time, once.
		week := func(end time.Time) {
			q.From = end.Add(-eventsWindow).UTC().Truncate(time.Hour)
			pg.From, pg.DefaultFrom = q.From.Format(time.RFC3339), true
		}
		anchor := pg.AsOf
		if !q.To.IsZero() && (anchor.IsZero() || q.To.Before(anchor)) {
			anchor = q.To
		}
		if !anchor.IsZero() {
			week(anchor)
			if q.To.IsZero() {
				// Bounded after the as-of time too: matches more than a
				// week newer than the assessment (the demo's sign-ins to
				// the dashboard today, against an estate dated weeks ago)
				// are counted and linked, not charted as a week of nothing.
				q.To = anchor.Add(eventsWindow).UTC().Truncate(time.Hour)
				pg.To, pg.DefaultTo = q.To.Format(time.RFC3339), true
			}
			if err := latest(); err != nil {
				return err
			}
		}
		if newest.IsZero() {
			q.From, pg.From, pg.DefaultFrom = time.Time{}, "", false
			if pg.DefaultTo {
				q.To, pg.To, pg.DefaultTo = time.Time{}, "", false
			}
			if err := latest(); err != nil {
				return err
			}
			if newest.IsZero() {
				pg.Query = q
				return s.render(w, r, "events", pg) // nothing matches
			}
			week(newest)
		}
	}
	pg.Query = q
	if pg.DefaultTo {
		lq := q
		lq.From, lq.To, lq.BeforeID = q.To, time.Time{}, 0
		n, err := s.st.CountEvents(ctx, p.Scope, lq)
		if err != nil {
			return err
		}
		if pg.Later = n; n > 0 {
			v := r.URL.Query()
			v.Del("before_id")
			v.Set("from", pg.To)
			pg.LaterURL = "/events?" + v.Encode()
		}
	}
	recs, err := s.st.SearchEvents(ctx, p.Scope, q)
	if err != nil {
		return err
	}
	pg.Events = recs
	if len(recs) == q.Limit {
		pg.Next = recs[len(recs)-1].ID
	}
	if len(recs) > 0 && q.BeforeID == 0 {
		newest = recs[0].Event.Timestamp
	}
	to := q.To
	if to.IsZero() {
		if err := latest(); err != nil {
			return err
		}
		to = newest.Add(time.Microsecond) // [from, to): the newest counts
	}
	if q.From.IsZero() || !to.After(q.From) {
		return s.render(w, r, "events", pg) // nothing stored, nothing to chart
	}
	lo, step, counts, err := s.eventsHistogram(ctx, p.Scope, q, q.From, to)
	if err != nil {
		return err
	}
	for _, c := range counts {
		pg.Total += c
	}
	pg.Hist = markedBarChart(lo, step, counts, histTitle("Matching events per hour", step), pg.AsOf, "assessment")
	return s.render(w, r, "events", pg)
}

// eventsHistogram counts the events matching q in [from, to) in buckets
// fit to the span they occupy, not to the range: a pass over the range in
// its buckets (histStep) finds the first and last bucket with any; when
// those span less than calls for finer buckets, the next pass counts only
// that span in them (at most four passes: days, hours, 5 and 1 minutes,
// each over less). The buckets hold every match, so they add up to the
// search's count. A week's range with a day of events drew that day as
// one bar, or 24 in a corner of 168; it is now drawn across the chart.
func (s *Server) eventsHistogram(ctx context.Context, scope store.Scope, q store.EventQuery, from, to time.Time) (time.Time, time.Duration, []int64, error) {
	step := histStep(to.Sub(from))
	for {
		lo, hi := histRange(from, to, step)
		counts, err := s.st.EventHistogram(ctx, scope, q, lo, hi, step)
		if err != nil {
			return lo, step, nil, err
		}
		first, last := -1, -1
		for i, c := range counts {
			if c > 0 {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		if first < 0 {
			return lo, step, counts, nil
		}
		at := func(i int) time.Time { return lo.Add(time.Duration(i) * step) }
		spanLo, spanHi := at(first), at(last+1)
		if spanLo.Before(from) {
			spanLo = from
		}
		if spanHi.After(to) {
			spanHi = to
		}
		fine := histStep(spanHi.Sub(spanLo))
		if fine >= step {
			return at(first), step, counts[first : last+1], nil
		}
		from, to, step = spanLo, spanHi, fine
	}
}

// ---------------------------------------------------------------------------
// Audit

type auditPage struct {
	pageBase
	Entries []store.AuditEntry
	Action  string
	Actor   string
	Next    int64
}

func (s *Server) handleAuditPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	f := store.AuditFilter{Actor: r.URL.Query().Get("actor"), Action: r.URL.Query().Get("action"), Limit: 200}
	if v := r.URL.Query().Get("before"); v != "" {
		_, _ = fmt.Sscan(v, &f.BeforeSeq)
	}
	es, err := s.st.ListAudit(ctx, p.Scope, f)
	if err != nil {
		return err
	}
	pg := &auditPage{pageBase: s.basePage(ctx, p, "Audit log", "audit"), Entries: es, Action: f.Action, Actor: f.Actor}
	if len(es) == f.Limit {
		pg.Next = es[len(es)-1].Seq
	}
	return s.render(w, r, "audit", pg)
}

// sevRank orders severities for sorting (catalog order; unknown lowest).
func sevRank(s string) int { return catalog.Severity(strings.ToLower(s)).Rank() }
