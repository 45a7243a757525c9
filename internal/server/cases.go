package server

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Cases on the dashboard (issue 15): the incidents a caller may see grouped
// by attacker with detect.Cases (the derivation the CLI and the API use),
// most severe first, then the most recently active (detect.SortRecent).

// caseRow is one case with the handling state of its incidents.
type caseRow struct {
	detect.Case
	Status   string     // open when any incident is open, else acknowledged when any is, else resolved
	Assignee string     // the assignee its incidents share ("" when none or mixed)
	Rules    []caseRule // every rule it tripped, one link per incident
	OpenIDs  []string   // its open incidents (bulk acknowledge)
	// TenantNames are its tenants as the dashboard names them: tenant ids,
	// with the MSP's own tenant ("msp") under the MSP's display name.
	TenantNames []string
	EventsURL   string // the events search for its attacker
}

// WholeTenant reports whether the case is keyed by a tenant rather than
// one attacker: a spray spread over many addresses, a lockout storm. Its
// value is the tenant's id, not a source, and its events search is every
// event at the tenant during the attack.
func (c caseRow) WholeTenant() bool { return c.Field == "tenant" }

// EventsLabel is the text of the link to the case's events search
// (caseEvents). A whole-tenant case's link said "Events from
// riverside-clinic", as if the tenant were the attacker.
func (c caseRow) EventsLabel() string {
	if c.WholeTenant() {
		return "Events at " + strings.Join(c.TenantNames, ", ") + " during the attack"
	}
	return "Events from " + c.Value
}

// caseRule is one incident of a case: the rule it tripped, named for people.
type caseRule struct {
	ID, Label, Severity, Status string
	Rule                        *detect.Rule // nil when the rule is not loaded here
	Incident                    *detect.Incident
}

// ruleIndex maps rule ids and names to the loaded rules.
func ruleIndex(rules []*detect.Rule) map[string]*detect.Rule {
	m := make(map[string]*detect.Rule, 2*len(rules))
	for _, r := range rules {
		if r.ID != "" {
			m[r.ID] = r
		}
		if r.Name != "" {
			m[r.Name] = r
		}
	}
	return m
}

// listDetections lists the incidents f selects in scope with the
// detector's incident behind each (dets[i] is incs[i]'s). An MSP-wide
// listing reads the incidents briefly, without their samples (~4 kB
// each), and whole only those written since the cache last decoded them
// (store.Incident.Updated is a version): the overview, the cases page and
// its 5-second refresh read 1,000 open incidents. A tenant's listing is
// read whole: the store redacts other tenants' details from it, which the
// cache must not hand to an MSP-wide caller as the incident's detail.
func (s *Server) listDetections(ctx context.Context, scope store.Scope, f store.IncidentFilter) (incs []store.Incident, dets []*detect.Incident, err error) {
	if !scope.AllTenants {
		if incs, err = s.st.ListIncidents(ctx, scope, f); err != nil {
			return nil, nil, err
		}
		for i := range incs {
			dets = append(dets, s.detections.Detection(&incs[i]))
		}
		return incs, dets, nil
	}
	f.Brief = true
	if incs, err = s.st.ListIncidents(ctx, scope, f); err != nil {
		return nil, nil, err
	}
	dets = make([]*detect.Incident, len(incs))
	var stale []string
	for i := range incs {
		if d, ok := s.detections.Brief(&incs[i]); ok {
			dets[i] = d
		} else {
			stale = append(stale, incs[i].ID)
		}
	}
	if len(stale) == 0 {
		return incs, dets, nil
	}
	whole, err := s.st.ListIncidents(ctx, scope, store.IncidentFilter{IDs: stale, Limit: len(stale)})
	if err != nil {
		return nil, nil, err
	}
	byID := make(map[string]*store.Incident, len(whole))
	for i := range whole {
		byID[whole[i].ID] = &whole[i]
	}
	for i := range incs {
		if dets[i] != nil {
			continue
		}
		if w := byID[incs[i].ID]; w != nil {
			incs[i] = *w // written again since the brief read: the newer row
		}
		dets[i] = s.detections.Detection(&incs[i])
	}
	return incs, dets, nil
}

// listCases lists the incidents f selects in scope and their cases.
func (s *Server) listCases(ctx context.Context, scope store.Scope, f store.IncidentFilter) ([]store.Incident, []caseRow, error) {
	incs, dets, err := s.listDetections(ctx, scope, f)
	if err != nil {
		return nil, nil, err
	}
	return incs, s.caseRows(incs, dets), nil
}

// caseRows groups incs, whose detections are dets, into cases in triage
// order.
func (s *Server) caseRows(incs []store.Incident, dets []*detect.Incident) []caseRow {
	byID := make(map[string]*store.Incident, len(incs))
	for i := range incs {
		byID[incs[i].ID] = &incs[i]
	}
	cases := detect.Cases(dets)
	detect.SortRecent(cases)
	out := make([]caseRow, 0, len(cases))
	msp := s.mspName()
	for _, c := range cases {
		row := caseRow{Case: c, EventsURL: eventsURL(c), TenantNames: slices.Clone(c.Tenants)}
		for i, t := range row.TenantNames {
			if t == estate.MSP {
				row.TenantNames[i] = msp
			}
		}
		rank := map[string]int{store.StatusOpen: 3, store.StatusAcknowledged: 2, store.StatusResolved: 1}
		assignees := map[string]bool{}
		for _, d := range c.Incidents {
			in := byID[d.ID]
			if in == nil {
				continue
			}
			if rank[in.Status] > rank[row.Status] {
				row.Status = in.Status
			}
			if in.Status == store.StatusOpen {
				row.OpenIDs = append(row.OpenIDs, in.ID)
			}
			assignees[in.Assignee] = true
			r := s.rules[d.Rule]
			if r == nil && d.RuleName != "" {
				r = s.rules[d.RuleName]
			}
			row.Rules = append(row.Rules, caseRule{ID: in.ID, Label: d.Label(), Severity: in.Severity, Status: in.Status, Rule: r, Incident: d})
		}
		if len(assignees) == 1 {
			for a := range assignees {
				row.Assignee = a
			}
		}
		out = append(out, row)
	}
	return out
}

// mspName is the MSP's display name (the estate's provider), "MSP" while
// this process knows no estate.
func (s *Server) mspName() string {
	if e, _ := s.work.CurrentEstate(); e != nil && e.Provider.Name != "" {
		return e.Provider.Name
	}
	return "MSP"
}

// caseEvents is the events search for a case's attacker: its address,
// account or workstation (for a whole-tenant case, every source), on its
// tenant when it has one, from its first
// event to its last with a margin either side in proportion (caseMargin).
// ok is false when the case's attacker is not a field the search filters
// on.
func caseEvents(c detect.Case) (q store.EventQuery, ok bool) {
	switch c.Field {
	case "source.ip":
		q.SourceIP, ok = c.Value, true
	case "user.name":
		q.User, ok = c.Value, true
	case "workstation", "host.name":
		q.Host, ok = c.Value, true
	case "tenant":
		ok = len(c.Tenants) == 1 // every event at the tenant (below)
	}
	if len(c.Tenants) == 1 {
		q.Tenant = c.Tenants[0]
	}
	if !c.First.IsZero() {
		m := caseMargin(c.Last.Sub(c.First))
		q.From = c.First.Add(-m).UTC().Truncate(time.Second)
		q.To = c.Last.Add(m).UTC().Truncate(time.Second)
	}
	return q, ok
}

// caseMargin is the time shown before a case's first event and after its
// last: a tenth of its span, at least a minute. A fixed hour either side
// drew a five-minute spray as a sliver in two hours of nothing, and left a
// week-long case no room at all.
func caseMargin(span time.Duration) time.Duration { return max(span/10, time.Minute) }

// eventsURL is the events search that shows a case's attacker (caseEvents).
func eventsURL(c detect.Case) string {
	q, _ := caseEvents(c)
	v := url.Values{}
	for _, kv := range [][2]string{{"source_ip", q.SourceIP}, {"user", q.User}, {"host", q.Host}, {"tenant", q.Tenant}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339))
		v.Set("to", q.To.Format(time.RFC3339))
	}
	return "/events?" + v.Encode()
}

// ---------------------------------------------------------------------------
// The case page

type casePage struct {
	pageBase
	Case      caseRow
	Timeline  []sampleView
	Users     []string // who an analyst may assign the case to
	CanHandle bool
	Hist      *svgChart // its attacker's stored events per hour (caseEvents)
	HistTotal int64     // the events Hist counts: what its events search finds
}

func (s *Server) findCase(ctx context.Context, p *auth.Principal, id string) (*caseRow, error) {
	_, rows, err := s.listCases(ctx, p.Scope, store.IncidentFilter{Limit: 1000})
	if err != nil {
		return nil, err
	}
	for _, c := range rows {
		if c.ID == id {
			return &c, nil
		}
	}
	return nil, store.ErrNotFound
}

func (s *Server) handleCase(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	c, err := s.findCase(ctx, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	pg := &casePage{pageBase: s.basePage(ctx, p, c.Title, "incidents"), Case: *c, CanHandle: p.Can(auth.AccessIncident)}
	for _, cr := range c.Rules {
		for _, ev := range cr.Incident.Samples {
			if !p.Scope.AllTenants && ev.Tenant != p.Scope.Tenant {
				continue
			}
			pg.Timeline = append(pg.Timeline, sampleView{Time: ev.Time, Tenant: ev.Tenant, User: ev.User, Outcome: ev.Outcome, Action: cr.Label, Host: ev.Host, SourceIP: ev.SourceIP})
		}
	}
	slices.SortStableFunc(pg.Timeline, func(a, b sampleView) int { return a.Time.Compare(b.Time) })
	// The chart counts every stored event of the case's events search (the
	// page's link), not the rules' samples.
	if q, ok := caseEvents(c.Case); ok && q.To.After(q.From) {
		step := histStep(q.To.Sub(q.From))
		lo, hi := histRange(q.From, q.To, step)
		counts, err := s.st.EventHistogram(ctx, p.Scope, q, lo, hi, step)
		if err != nil {
			return err
		}
		for _, n := range counts {
			pg.HistTotal += n
		}
		title := "The attacker's events per hour"
		if c.WholeTenant() {
			title = "Events at the tenant per hour"
		}
		pg.Hist = barChart(lo, step, counts, histTitle(title, step))
	}
	if pg.CanHandle {
		if pg.Users, err = s.handlers(ctx, p); err != nil {
			return err
		}
	}
	return s.render(w, r, "case", pg)
}

// handlers are the users an incident or case may be assigned to: those
// who may handle incidents, by name.
func (s *Server) handlers(ctx context.Context, p *auth.Principal) ([]string, error) {
	us, err := s.st.ListUsers(ctx, p.Scope)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range us {
		if !us[i].Disabled && (&auth.Principal{User: &us[i]}).Can(auth.AccessIncident) {
			out = append(out, us[i].Username)
		}
	}
	slices.Sort(out)
	return out, nil
}

// handleCaseForm acknowledges, resolves or assigns every incident of a case.
func (s *Server) handleCaseForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	c, err := s.findCase(ctx, p, r.PathValue("id"))
	if err != nil {
		return err
	}
	action := r.PostFormValue("action")
	for _, cr := range c.Rules {
		switch action {
		case "acknowledge":
			if cr.Status == store.StatusOpen {
				_, err = s.setIncidentStatus(ctx, p, cr.ID, store.StatusAcknowledged)
			}
		case "resolve":
			if cr.Status != store.StatusResolved {
				_, err = s.setIncidentStatus(ctx, p, cr.ID, store.StatusResolved)
			}
		case "assign":
			_, err = s.assignIncident(ctx, p, cr.ID, r.PostFormValue("assignee"))
		default:
			return errBadRequest("unknown action %q", action)
		}
		if err != nil {
			return err
		}
	}
	http.Redirect(w, r, "/cases/"+urlPathEscape(c.ID), http.StatusSeeOther)
	return nil
}

// handleIncidentsAck acknowledges every open incident of the cases ticked
// on the cases list (bulk acknowledge). Cases are looked up in the
// caller's scope, so a tenant user cannot reach another tenant's incidents.
func (s *Server) handleIncidentsAck(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return errBadRequest("form: %v", err)
	}
	ids := r.PostForm["case"]
	if len(ids) == 0 {
		return errBadRequest("case: tick at least one case to acknowledge")
	}
	_, rows, err := s.listCases(ctx, p.Scope, store.IncidentFilter{Status: store.StatusOpen, Limit: 1000})
	if err != nil {
		return err
	}
	for _, id := range ids {
		i := slices.IndexFunc(rows, func(c caseRow) bool { return c.ID == id })
		if i < 0 {
			return store.ErrNotFound
		}
		for _, inc := range rows[i].OpenIDs {
			if _, err := s.setIncidentStatus(ctx, p, inc, store.StatusAcknowledged); err != nil {
				return err
			}
		}
	}
	back := "/incidents"
	if q := r.PostFormValue("back"); strings.HasPrefix(q, "?") && !strings.ContainsAny(q, "\\/\r\n") {
		back += q
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
	return nil
}
