package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// Engines are the pure engines the server composes. Each field may be nil
// (that capability is then off). NewEngines wires the real ones.
type Engines struct {
	// Assess evaluates the catalog against an estate.
	Assess func(ctx context.Context, e *estate.Estate) (*assess.Report, error)
	// AssessMonitored is Assess with the live failed-authentication
	// detection FB-AUTH-004 is judged from; when set, the worker gives it
	// AuthMonitoring of the stored events and Rules (nil: Assess, and
	// FB-AUTH-004 is not evaluable).
	AssessMonitored func(ctx context.Context, e *estate.Estate, mon *assess.AuthMonitoring) (*assess.Report, error)
	// Now is the clock assessments judge time by (EngineOptions.Clock);
	// nil: the worker's.
	Now func() time.Time
	// KEV states the KEV catalog assessments use now, in kev.Used's words
	// (the line the CLI prints); nil: not known.
	KEV func() string
	// Blast computes the blast-radius result of an estate and keeps the
	// graph for BlastQuery.
	Blast func(e *estate.Estate) (*store.BlastResult, error)
	// BlastQuery answers "what falls if node is compromised" on the last graph.
	BlastQuery func(node string) (any, error)
	// Graph returns the trust graph of an estate (the one Assess or Blast
	// built for it when there is one).
	Graph func(e *estate.Estate) (*trust.Graph, error)
	// NewDetector returns a fresh detection engine.
	NewDetector func() (pipeline.Detector, error)
	// NewDetectorFor returns a fresh engine of a subset of Rules with the
	// same tenant context (split detection's stages, pipeline.SplitRules);
	// nil: split detectors run every rule in the tenant partitions.
	NewDetectorFor func(rules []*detect.Rule) (pipeline.Detector, error)
	// DetectionContext gives every detector (running or made later) the
	// tenant context of an estate: account counts, benign networks, service
	// accounts and placeholder values. The worker calls it on every estate
	// load; nil: detectors have none.
	DetectionContext func(e *estate.Estate)
	// Rules are the detection rules the engines load (built-in, firebreak's
	// own and the configured directories): their metadata (description,
	// response steps) explains incidents on the dashboard.
	Rules []*detect.Rule

	mu sync.Mutex // serialises assessment runs
}

// assess runs the engines' assessment with, when they take it, the live
// failed-authentication detection from the stored events. A store that
// cannot say leaves FB-AUTH-004 not evaluable rather than failing the run.
func (w *Worker) assess(ctx context.Context, e *estate.Estate) (*assess.Report, error) {
	if w.eng.AssessMonitored == nil {
		return w.eng.Assess(ctx, e)
	}
	// The window ends at the assessment's own time (the engines' clock),
	// not the worker's: one clock for the run and its evidence.
	now := w.now
	if w.eng.Now != nil {
		now = w.eng.Now
	}
	mon, err := AuthMonitoring(ctx, w.st, w.eng.Rules, now())
	if err != nil {
		w.log.Warn("assessment without detection evidence (FB-AUTH-004 not evaluable)", "err", err)
		mon = nil
	}
	return w.eng.AssessMonitored(ctx, e, mon)
}

// AuthMonitoring is the detection evidence of FB-AUTH-004 in serve: the
// failed-authentication rules among rules, and the authentication events
// stored in the assess.AuthRecentWindow before now, per tenant, dataset
// and host. It feeds the same assess.AuthMonitor that
// `firebreak detect --summary-file` fills event by event, so serve and
// the CLI judge the same events alike; the store (not the pipeline's
// counters) makes it survive a restart.
func AuthMonitoring(ctx context.Context, st store.EventStore, rules []*detect.Rule, now time.Time) (*assess.AuthMonitoring, error) {
	stats, err := st.AuthSources(ctx, now.Add(-assess.AuthRecentWindow))
	if err != nil {
		return nil, err
	}
	m := NewAuthMonitor(rules)
	for _, s := range stats {
		m.Observe(s.Tenant, s.Dataset, s.Host, s.Failed, int(s.Events), s.Last)
	}
	return m.Snapshot(), nil
}

// NewAuthMonitor starts FB-AUTH-004's detection evidence for the loaded
// rules: the failed-authentication ones among them (assess.FailedAuthRule)
// are named in it. serve (AuthMonitoring) and `detect --summary-file`
// both start here.
func NewAuthMonitor(rules []*detect.Rule) *assess.AuthMonitor {
	var names []string
	for _, r := range rules {
		if assess.FailedAuthRule(r.Techniques) {
			names = append(names, r.Ref())
		}
	}
	return assess.NewAuthMonitor(names)
}

func (e *Engines) blastQuery(node string) (any, error) {
	if e == nil || e.BlastQuery == nil {
		return nil, store.ErrNotFound
	}
	return e.BlastQuery(node)
}

// Assess runs an assessment of e, stores it, computes the blast radius,
// and raises a drift incident for every control that went from pass to fail
// since the previous run.
func (w *Worker) Assess(ctx context.Context, e *estate.Estate, snapID int64, trigger string) (*store.Run, []store.ResultChange, error) {
	if w.eng == nil || w.eng.Assess == nil {
		return nil, nil, ErrNoEngine
	}
	w.eng.mu.Lock()
	defer w.eng.mu.Unlock()
	all := store.AllTenants()
	var prevID int64
	if runs, err := w.st.ListRuns(ctx, all, 1); err == nil && len(runs) > 0 {
		prevID = runs[0].ID
	}
	e = w.withClaims(ctx, e)
	rep, err := w.assess(ctx, e)
	if err != nil {
		w.metrics.AssessRuns.WithLabelValues(trigger, "error").Inc()
		return nil, nil, fmt.Errorf("assessing: %w", err)
	}
	run, err := w.st.SaveRun(ctx, snapID, trigger, rep)
	if err != nil {
		return nil, nil, fmt.Errorf("saving run: %w", err)
	}
	w.metrics.AssessRuns.WithLabelValues(trigger, "ok").Inc()
	if w.onRun != nil {
		w.onRun(ctx, run.ID)
	}
	w.audit(ctx, "assessment.complete", strconv.FormatInt(run.ID, 10), "", map[string]any{"trigger": trigger, "pass": run.Pass, "fail": run.Fail})
	if w.eng.Blast != nil {
		b, err := w.eng.Blast(e)
		if err != nil {
			w.log.Warn("blast radius", "err", err)
		} else {
			b.RunID, b.SnapshotID = run.ID, snapID
			if err := w.st.SaveBlast(ctx, b); err != nil {
				w.log.Error("saving blast result", "err", err)
			}
			var g *trust.Graph
			if w.eng.Graph != nil {
				g, _ = w.eng.Graph(e) // the graph Blast just built (cached per estate); nil: changes named by their targets only
			}
			w.syncRemediation(ctx, run, b, rep, g)
			if w.onBlast != nil {
				w.onBlast(ctx)
			}
		}
	}
	w.issuePostures(ctx, e, run, rep)
	w.remindClaims(ctx)
	var drift []store.ResultChange
	if prevID != 0 {
		changes, err := w.st.DiffRuns(ctx, all, prevID, run.ID)
		if err != nil {
			return &run, nil, fmt.Errorf("diffing runs: %w", err)
		}
		for _, c := range changes {
			if c.Drift() {
				drift = append(drift, c)
				w.raiseDrift(ctx, run, c)
			}
		}
	}
	return &run, drift, nil
}

// raiseDrift records a pass→fail regression as an incident (rule
// firebreak-drift) so it is alerted, acknowledged and resolved like any other.
func (w *Worker) raiseDrift(ctx context.Context, run store.Run, c store.ResultChange) {
	w.metrics.DriftAlerts.Inc()
	at := run.At
	if at.IsZero() {
		at = w.now()
	}
	title := fmt.Sprintf("Control %s regressed from pass to fail for %s", c.Control, c.Subject)
	if c.Object != "" {
		title += " (" + c.Object + ")"
	}
	inc := subjectIncident("drift", c.Subject, at, c.Control, c.Subject, c.Object)
	inc.Rule, inc.Title, inc.Severity = "firebreak-drift", title, c.Severity
	inc.Key = map[string]string{"control": c.Control, "subject": c.Subject, "object": c.Object}
	inc.Detail = mustJSON(map[string]any{"description": c.Title, "run_id": run.ID, "from": c.From, "to": c.To})
	if inc.Severity == "" {
		inc.Severity = "medium"
	}
	if w.inc != nil {
		w.inc.Handle(ctx, []store.Incident{inc})
	}
}

// runScheduler reloads estate sources on change and assesses on schedule,
// until ctx ends.
func (w *Worker) runScheduler(ctx context.Context) {
	if len(w.cfg.Estate.Paths) == 0 || w.eng == nil {
		return
	}
	var lastPrint string
	var lastAssess time.Time
	scan := stateLog{log: w.log, msg: "estate sources", level: slog.LevelWarn}
	reload := stateLog{log: w.log, msg: "estate reload", level: slog.LevelError}
	poll := time.NewTicker(w.cfg.Estate.PollInterval)
	defer poll.Stop()
	for {
		fp, err := fingerprint(w.cfg.Estate.Paths)
		scan.report(err)
		due := w.now().Sub(lastAssess) >= w.cfg.Assess.Interval
		if err == nil && (fp != lastPrint || due) {
			trigger := "schedule"
			if fp != lastPrint && lastPrint != "" {
				trigger = "reload"
			} else if lastPrint == "" {
				trigger = "start"
			}
			err := w.reloadAndAssess(ctx, trigger)
			reload.report(err)
			if err == nil {
				lastPrint = fp
				lastAssess = w.now()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
	}
}

// stateLog logs a repeating operation's error once per change of state:
// when the error first appears, when its text changes, and once when the
// operation succeeds again; the same error on every poll is not repeated.
type stateLog struct {
	log   *slog.Logger
	msg   string
	level slog.Level
	last  string // text of the error last logged; "" while healthy
}

func (s *stateLog) report(err error) {
	switch {
	case err == nil && s.last != "":
		s.log.Info(s.msg+" recovered", "after", s.last)
		s.last = ""
	case err != nil && err.Error() != s.last:
		s.last = err.Error()
		s.log.Log(context.Background(), s.level, s.msg, "err", err, "repeats", "logged again only when it changes")
	}
}

// reloadAndAssess loads the configured estate sources, stores a snapshot
// when they changed, and runs an assessment.
func (w *Worker) reloadAndAssess(ctx context.Context, trigger string) error {
	e, err := loadEstates(w.cfg.Estate.Paths)
	if err != nil {
		w.est.mu.Lock()
		w.est.lastErr = err
		w.est.mu.Unlock()
		return err
	}
	meta, created, err := w.st.PutSnapshot(ctx, e, joinPaths(w.cfg.Estate.Paths))
	if err != nil {
		return fmt.Errorf("storing snapshot: %w", err)
	}
	w.SetEstate(e, meta.ID)
	if created {
		w.audit(ctx, "estate.snapshot", strconv.FormatInt(meta.ID, 10), "", map[string]any{"hash": meta.Hash, "source": meta.Source})
	}
	if trigger == "start" && !created {
		// A restart with an unchanged estate that was assessed within the
		// interval: keep that run rather than add an identical one.
		if runs, err := w.st.ListRuns(ctx, store.AllTenants(), 1); err == nil && len(runs) > 0 &&
			runs[0].SnapshotID == meta.ID && w.now().Sub(runs[0].Created) < w.cfg.Assess.Interval {
			if w.eng.Blast != nil {
				_, _ = w.eng.Blast(e) // rebuilds the graph the explorer queries; the stored result is current
			}
			return nil
		}
	}
	_, _, err = w.Assess(ctx, e, meta.ID, trigger)
	return err
}

// subjectIncident is an open incident firebreak raises itself about a
// subject ("msp" or a tenant) at at: its id is kind plus a hash of the
// parts (so raising it again updates it), one occurrence.
func subjectIncident(kind, subject string, at time.Time, parts ...string) store.Incident {
	h := sha256.Sum256([]byte(kind + "\x00" + strings.Join(parts, "\x00")))
	inc := store.Incident{ID: kind + "-" + hex.EncodeToString(h[:8]), Status: store.StatusOpen, First: at, Last: at, Count: 1}
	if subject != estate.MSP {
		inc.Tenant, inc.Tenants = subject, []string{subject}
	}
	return inc
}
