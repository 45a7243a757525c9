package worker

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// remediationSteps (false: b holds no plan) turns the fix-first plan of blast result b into the
// remediation queue's steps: the action, the tenants the objects it changes
// (and the objects it helps) reach, the exposure it removes, one proof
// path, and the controls it fixes: those failing on the objects it changes
// — the objects the trust graph g resolves each change to
// (trust.Graph.ObjectsOf: the grants of "*->tool" or "group->*", the node
// it hardens), matched with the ids a failing result's evidence names — and
// the reach controls (judged on the trust graph) failing on the objects
// the plan says it helps. A step's key is a hash of its
// changes, so the same change keeps its owner, due date and state from one
// assessment to the next.
func remediationSteps(b *store.BlastResult, results []assess.Result, g *trust.Graph) ([]store.Remediation, bool) {
	if b == nil || len(b.JSON) == 0 {
		return nil, false
	}
	var doc struct {
		Plan *trust.PlanView `json:"plan"`
	}
	if err := json.Unmarshal(b.JSON, &doc); err != nil || doc.Plan == nil {
		return nil, false
	}
	reach := make(map[string][]string, len(b.Ranking))
	for _, r := range b.Ranking {
		reach[r.Node] = r.Tenants
	}
	failing := map[string][]string{} // object id → controls failing on it
	for _, r := range results {
		if r.Status != assess.StatusFail {
			continue
		}
		for _, ev := range r.Evidence {
			if !slices.Contains(failing[ev.ID], r.Control) {
				failing[ev.ID] = append(failing[ev.ID], r.Control)
			}
		}
	}
	reachControls := map[string]bool{} // controls judged on the trust graph's reach
	if cat, err := catalog.Load(); err == nil {
		for _, c := range cat.Controls() {
			if slices.Contains(c.Evidence, "trust") {
				reachControls[c.ID] = true
			}
		}
	}
	out := make([]store.Remediation, 0, len(doc.Plan.Steps))
	for i, st := range doc.Plan.Steps {
		var tenants, controls []string
		add := func(list *[]string, vs ...string) {
			for _, v := range vs {
				if v != "" && v != estate.MSP && !slices.Contains(*list, v) {
					*list = append(*list, v)
				}
			}
		}
		for _, c := range st.Changes {
			add(&tenants, reach[c.Target]...)
			objects := []string{c.Target}
			if g != nil {
				objects = append(objects, g.ObjectsOf(c)...)
			}
			for _, o := range objects {
				add(&controls, failing[o]...)
			}
		}
		for _, h := range st.Helped {
			add(&tenants, reach[h.ID]...)
			// An object the step makes reach less: the controls failing on
			// it that judge its reach (catalog evidence "trust", such as
			// FB-TRUST-001 "reduce its reach: make the grants just-in-time").
			for _, c := range failing[h.ID] {
				if reachControls[c] {
					add(&controls, c)
				}
			}
		}
		slices.Sort(tenants)
		slices.Sort(controls)
		var proof strings.Builder
		proof.WriteString(st.ProofFrom)
		for _, p := range st.Proof {
			proof.WriteString(" → " + p.To)
		}
		out = append(out, store.Remediation{Key: trust.StepKey(st.Changes), Rank: i + 1, Action: st.Why, Tenants: tenants,
			Gain: st.Gain, Proof: proof.String(), Controls: controls})
	}
	return out, true
}

// stillFailing returns, for each open step of queue that plan does not
// list, the controls it fixes that still fail on the assessment's results
// (on a tenant the step makes safer, or on the MSP): such a step is not
// done though the plan dropped it (a bigger step covers it, or the path
// was cut another way) — it is done when its controls pass (issue 15).
func stillFailing(queue, plan []store.Remediation, results []assess.Result) map[string][]string {
	listed := make(map[string]bool, len(plan))
	for _, st := range plan {
		listed[st.Key] = true
	}
	failing := map[string]map[string]bool{} // control → subjects it fails on
	for _, r := range results {
		if r.Status == assess.StatusFail {
			if failing[r.Control] == nil {
				failing[r.Control] = map[string]bool{}
			}
			failing[r.Control][r.Subject] = true
		}
	}
	out := map[string][]string{}
	for _, st := range queue {
		if listed[st.Key] || st.State == store.RemediationDone {
			continue
		}
		for _, c := range st.Controls {
			on := failing[c]
			if on[estate.MSP] || slices.ContainsFunc(st.Tenants, func(t string) bool { return on[t] }) {
				out[st.Key] = append(out[st.Key], c)
			}
		}
	}
	return out
}

// syncRemediation records the plan of a new run in the remediation queue:
// a step the plan no longer lists is done when the controls it fixes pass
// on this assessment, and stays open while they still fail.
func (w *Worker) syncRemediation(ctx context.Context, run store.Run, b *store.BlastResult, rep *assess.Report, g *trust.Graph) {
	steps, ok := remediationSteps(b, rep.Results, g)
	if !ok {
		return // no plan computed: keep the queue as it is
	}
	at := run.At
	if at.IsZero() {
		at = w.now()
	}
	queue, err := w.st.ListRemediation(ctx, store.AllTenants(), store.RemediationFilter{Open: true})
	if err != nil {
		w.log.Error("reading remediation queue", "err", err)
		return
	}
	if err := w.st.SyncRemediation(ctx, run.ID, steps, stillFailing(queue, steps, rep.Results), at); err != nil {
		w.log.Error("saving remediation queue", "err", err)
	}
}
