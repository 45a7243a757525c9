package server

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/report"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// stepAction is a plan step's action with its concrete changes: the
// sentence and, for a grouped step, every part ("close the 7 ways in …:
// a; b; …").
func stepAction(st trust.SuggestionView) string {
	if len(st.Details) == 0 {
		return st.Why
	}
	return st.Why + " " + strings.Join(st.Details, "; ")
}

// The remediation queue (issue 15): the fix-first plan's steps as the
// store keeps them (worker.syncRemediation), with owner, due date and
// state set here, and a CSV export.

// queueView splits the stored queue for the overview: the open steps of
// the latest plan (run runID) by rank, for the fix-first list; the steps
// kept open though that plan no longer lists them (the controls they fix
// still fail: a step is done when they pass, issue 15); and the steps
// done most recently, with when.
func queueView(q []store.Remediation, runID int64) (byRank map[int]store.Remediation, kept, done []store.Remediation) {
	byRank = make(map[int]store.Remediation, len(q))
	for _, r := range q {
		switch {
		case r.State == store.RemediationDone:
			done = append(done, r)
		case r.RunID == runID:
			byRank[r.Rank] = r
		default:
			kept = append(kept, r)
		}
	}
	slices.SortStableFunc(done, func(a, b store.Remediation) int { return b.DoneAt.Compare(a.DoneAt) })
	return byRank, kept, done[:min(len(done), 3)]
}

// handleRemediationForm sets a step's owner (a user who may handle
// incidents), due date and state.
func (s *Server) handleRemediationForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return errBadRequest("malformed form")
	}
	owner := strings.TrimSpace(r.PostFormValue("owner"))
	if owner != "" {
		users, err := s.handlers(ctx, p)
		if err != nil {
			return err
		}
		if !slices.Contains(users, owner) {
			return errBadRequest("owner: %q is not a user who may handle incidents", owner)
		}
	}
	var due time.Time
	if v := r.PostFormValue("due"); v != "" {
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return errBadRequest("due: a date (YYYY-MM-DD)")
		}
		due = t
	}
	key := r.PathValue("key")
	it, err := s.st.UpdateRemediation(ctx, p.Scope, key, owner, due, r.PostFormValue("state"))
	if err != nil {
		return err
	}
	s.audit(ctx, p, "remediation.update", key, "", map[string]string{"owner": it.Owner, "state": it.State, "due": r.PostFormValue("due")})
	http.Redirect(w, r, "/#fix-h", http.StatusSeeOther)
	return nil
}

// handleRemediationCSV exports the queue in the caller's scope; every
// cell is defused against spreadsheet formulas (report.CSVCell).
func (s *Server) handleRemediationCSV(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q, err := s.st.ListRemediation(r.Context(), p.Scope, store.RemediationFilter{})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="remediation.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"rank", "action", "tenants_made_safer", "exposure_removed", "proof_path", "controls", "owner", "due", "state", "done_at", "ways_in_over_limit"})
	// The plan's steps by key: a queued step's concrete changes (the
	// plan's details: "close the 7 ways in …:" and which) and the ways in
	// from the internet it closes, as the overview and `blast --suggest`
	// show them. The plan is the MSP's; cells naming another customer are
	// withheld below.
	plan := map[string]trust.SuggestionView{}
	if b, err := s.latestBlast(r.Context(), store.AllTenants()); err == nil {
		for _, st := range planViewOf(b) {
			plan[trust.StepKey(st.Changes)] = st
		}
	}
	day := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	}
	// A step is the MSP's: it names the objects it changes and every
	// tenant it makes safer. A tenant's user sees its own tenant and a
	// count of the others; a cell naming another tenant (an object id,
	// a proof path through it) is withheld.
	var others []string
	if !p.Scope.AllTenants {
		all, err := s.st.ListTenants(r.Context(), store.AllTenants())
		if err != nil {
			return err
		}
		for _, t := range all {
			if !p.Scope.Allows(t.ID) {
				others = append(others, t.ID, t.Name)
			}
		}
	}
	withhold := func(cell string) string {
		for _, o := range others {
			if o != "" && strings.Contains(cell, o) {
				return "(withheld: involves other customers)"
			}
		}
		return cell
	}
	for _, it := range q {
		tenants := strings.Join(it.Tenants, " ")
		if !p.Scope.AllTenants {
			n := 0
			for _, t := range it.Tenants {
				if !p.Scope.Allows(t) {
					n++
				}
			}
			tenants = p.Scope.Tenant
			if n > 0 {
				tenants += fmt.Sprintf(" (+%d other customers)", n)
			}
		}
		action, waysIn := it.Action, ""
		if st, ok := plan[it.Key]; ok {
			action = stepAction(st)
			if st.EntriesBefore != st.EntriesAfter {
				waysIn = fmt.Sprintf("%d → %d", st.EntriesBefore, st.EntriesAfter)
			}
		}
		row := []string{strconv.Itoa(it.Rank), withhold(action), tenants, strconv.Itoa(it.Gain), withhold(it.Proof),
			withhold(strings.Join(it.Controls, " ")), it.Owner, day(it.Due), it.State, day(it.DoneAt), waysIn}
		for i := range row {
			row[i] = report.CSVCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
