package server

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/report"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// The remediation queue (issue 15): the fix-first plan's steps as the
// store keeps them (worker.syncRemediation), with owner, due date and
// state set here, and a CSV export.

// queueByRank maps the open queue's steps by rank, for the fix-first list.
func queueByRank(q []store.Remediation) map[int]store.Remediation {
	m := make(map[int]store.Remediation, len(q))
	for _, r := range q {
		if r.State != store.RemediationDone {
			m[r.Rank] = r
		}
	}
	return m
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
	_ = cw.Write([]string{"rank", "action", "tenants_made_safer", "exposure_removed", "proof_path", "controls", "owner", "due", "state", "done_at"})
	day := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	}
	for _, it := range q {
		row := []string{strconv.Itoa(it.Rank), it.Action, strings.Join(it.Tenants, " "), strconv.Itoa(it.Gain), it.Proof,
			strings.Join(it.Controls, " "), it.Owner, day(it.Due), it.State, day(it.DoneAt)}
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
