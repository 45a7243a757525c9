package integrations

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/atomicfile"
	"github.com/firebreak-msp/firebreak/internal/collect"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/export"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/psa"
	"github.com/firebreak-msp/firebreak/internal/store"
)

func newEvent() *event.Event { return &event.Event{} }

func writeFragment(dir, name, collector string, at time.Time, e *estate.Estate) (string, error) {
	return collect.WriteFragment(dir, name, collector, at, e)
}

func writeFile(path string, b []byte) error { return atomicfile.WriteBytes(path, 0o600, b) }

// FindingAlert is an assessment result as an ECS alert.
func FindingAlert(r *assess.Result, at time.Time) event.Alert {
	id := "finding/" + r.Subject + "/" + r.Control
	if r.Object != "" {
		id += "/" + r.Object
	}
	extra, _ := json.Marshal(map[string]any{"heading": r.Heading, "object": r.Object, "remediation": r.Remediation, "missing": r.Missing, "party": r.Party})
	return event.Alert{ID: id, Kind: "finding", Dataset: "firebreak.finding", Time: at, RuleID: r.Control, RuleName: r.Title,
		Title: r.Message, Severity: r.Severity, Tenant: r.Subject, Status: string(r.Status), Extra: extra}
}

// feed hands an exporter what is new: incidents whose activity moved,
// the failing results of each new assessment run, and (when configured)
// stored events. It runs until ctx ends.
func (r *Runner) feed(ctx context.Context, e exporter) {
	seen := map[string]time.Time{} // incident id → Last exported
	var lastRun int64
	var lastEventID int64
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	since := r.o.Now().Add(-24 * time.Hour)
	for {
		incs, err := r.o.Store.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Since: since, Limit: 1000})
		if err == nil {
			var docs [][]byte
			for i := range incs {
				inc := &incs[i]
				if prev, ok := seen[inc.ID]; ok && !inc.Last.After(prev) {
					continue
				}
				seen[inc.ID] = inc.Last
				a := inc.ECS()
				docs = append(docs, a.AppendECS(nil))
			}
			if len(docs) > 0 {
				_ = e.x.Enqueue(docs...)
			}
		}
		if runs, err := r.o.Store.ListRuns(ctx, store.AllTenants(), 1); err == nil && len(runs) == 1 && runs[0].ID != lastRun {
			if _, rep, err := r.o.Store.GetRun(ctx, store.AllTenants(), runs[0].ID); err == nil {
				lastRun = runs[0].ID
				var docs [][]byte
				for i := range rep.Results {
					if rep.Results[i].Status == assess.StatusFail {
						a := FindingAlert(&rep.Results[i], rep.At)
						docs = append(docs, a.AppendECS(nil))
					}
				}
				_ = e.x.Enqueue(docs...)
			}
		}
		if e.events {
			lastEventID = r.feedEvents(ctx, e, lastEventID)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// feedEvents exports events stored since the last call (by id), newest
// pages first, oldest first into the spool.
func (r *Runner) feedEvents(ctx context.Context, e exporter, after int64) int64 {
	var all []store.EventRecord
	before := int64(0)
	for {
		page, err := r.o.Store.SearchEvents(ctx, store.AllTenants(), store.EventQuery{From: r.o.Now().Add(-time.Hour), BeforeID: before, Limit: 5000})
		if err != nil || len(page) == 0 {
			break
		}
		stop := false
		for _, rec := range page {
			if rec.ID <= after {
				stop = true
				continue
			}
			all = append(all, rec)
		}
		if stop || after == 0 || len(page) < 5000 {
			break
		}
		before = page[len(page)-1].ID
	}
	slices.SortFunc(all, func(a, b store.EventRecord) int { return int(a.ID - b.ID) })
	docs := make([][]byte, 0, len(all))
	for i := range all {
		docs = append(docs, event.AppendECS(nil, &all[i].Event))
		after = max(after, all[i].ID)
	}
	if len(docs) > 0 {
		_ = e.x.Enqueue(docs...)
	}
	return after
}

// syncTickets plans the PSA's tickets from the latest assessment and the
// incidents, then delivers what changed.
func (r *Runner) syncTickets(ctx context.Context, t tickets) {
	min := event.SeverityRank(cmp.Or(t.cfg.MinSeverity, "medium"))
	kinds := t.cfg.Kinds
	if len(kinds) == 0 {
		kinds = []string{"finding", "case"}
	}
	var err error
	if slices.Contains(kinds, "finding") {
		if _, rep, gerr := r.o.Store.GetRun(ctx, store.AllTenants(), 0); gerr == nil {
			all := psa.FindingTickets(rep)
			tks := all[:0]
			for _, tk := range all {
				if event.SeverityRank(tk.Severity) >= min {
					tks = append(tks, tk)
				}
			}
			_, err = t.syncer.Plan(ctx, "finding", tks, true)
		}
	}
	if err == nil && slices.Contains(kinds, "case") {
		// One ticket per attacker: the open incidents grouped as the API's
		// /api/v1/cases groups them; a case with no open incident left is
		// noted and closed.
		incs, lerr := r.o.Store.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Status: store.StatusOpen, Limit: 1000})
		if lerr == nil {
			dets := make([]*detect.Incident, 0, len(incs))
			for i := range incs {
				dets = append(dets, pipeline.Detection(&incs[i]))
			}
			var tks []psa.Ticket
			for _, c := range detect.Cases(dets) {
				if event.SeverityRank(c.Severity) >= min {
					tks = append(tks, psa.CaseTicket(&c))
				}
			}
			_, err = t.syncer.Plan(ctx, "case", tks, true)
		}
	}
	if err == nil && slices.Contains(kinds, "remediation") {
		// The remediation queue (the fix-first plan with owner, due date
		// and state): one ticket per step for the MSP, closed when the
		// assessment finds the step done. Not filtered by severity.
		q, lerr := r.o.Store.ListRemediation(ctx, store.AllTenants(), store.RemediationFilter{})
		if lerr == nil {
			_, err = t.syncer.Plan(ctx, "remediation", psa.RemediationTickets(q), true)
		}
	}
	if err == nil && slices.Contains(kinds, "incident") {
		incs, lerr := r.o.Store.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Limit: 1000})
		if lerr == nil {
			var tks []psa.Ticket
			for i := range incs {
				if event.SeverityRank(incs[i].Severity) >= min {
					tks = append(tks, psa.IncidentTicket(&incs[i], "incident"))
				}
			}
			_, err = t.syncer.Plan(ctx, "incident", tks, false)
		}
	}
	res, ferr := t.syncer.Flush(ctx)
	if err == nil {
		err = ferr
	}
	r.mu.Lock()
	r.psaRes[t.name] = res
	r.mu.Unlock()
	r.record(t.name, nil, err)
}

// Status is what the dashboard and the API show about the connectors.
type Status struct {
	Sources []SourceStatus `json:"sources"`
	Export  []export.Stats `json:"export"`
	Tickets []TicketStatus `json:"tickets"`
}

// SourceStatus is one source's last runs.
type SourceStatus struct {
	Name    string                `json:"name"`
	Type    string                `json:"type"`
	LastRun time.Time             `json:"last_run,omitzero"`
	Error   string                `json:"error,omitempty"`
	Tenants []connector.TenantRun `json:"tenants,omitempty"`
	Events  *SourceStatus         `json:"events,omitempty"`
}

// TicketStatus is one PSA's last delivery and its outbox.
type TicketStatus struct {
	Name    string             `json:"name"`
	LastRun time.Time          `json:"last_run,omitzero"`
	Error   string             `json:"error,omitempty"`
	Last    psa.Result         `json:"last"`
	Pending int                `json:"pending"`
	Failing []store.OutboxItem `json:"failing,omitempty"` // rejected or unreachable, retried
}

// Status reports every connector's state.
func (r *Runner) Status(ctx context.Context) Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{Sources: []SourceStatus{}, Export: []export.Stats{}, Tickets: []TicketStatus{}}
	for _, s := range r.sources {
		ss := SourceStatus{Name: s.name, Type: s.def.Spec.Name, LastRun: r.last[s.name], Error: r.errs[s.name], Tenants: r.runs[s.name]}
		if s.events != nil {
			ev := SourceStatus{Name: s.name + "/events", LastRun: r.last[s.name+"/events"], Error: r.errs[s.name+"/events"], Tenants: r.runs[s.name+"/events"]}
			ss.Events = &ev
		}
		st.Sources = append(st.Sources, ss)
	}
	for _, e := range r.exports {
		st.Export = append(st.Export, e.x.Stats())
	}
	for _, t := range r.tickets {
		ts := TicketStatus{Name: t.name, LastRun: r.last[t.name], Error: r.errs[t.name], Last: r.psaRes[t.name]}
		if pend, err := r.o.Store.ListOutbox(ctx, store.AllTenants(), store.OutboxFilter{Target: t.name, Pending: true, Limit: 10000}); err == nil {
			ts.Pending = len(pend)
		}
		if f, err := r.o.Store.ListOutbox(ctx, store.AllTenants(), store.OutboxFilter{Target: t.name, Failing: true, Limit: 100}); err == nil {
			ts.Failing = f
		}
		st.Tickets = append(st.Tickets, ts)
	}
	return st
}
