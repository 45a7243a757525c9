package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

const maxJSONBody = 1 << 20

// decodeJSON decodes a bounded JSON body strictly (unknown fields refused).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errStatus(http.StatusRequestEntityTooLarge, "request body too large")
		}
		return errBadRequest("malformed JSON body")
	}
	if dec.More() {
		return errBadRequest("malformed JSON body: trailing data")
	}
	return nil
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	out := map[string]any{"scope": p.Scope}
	if p.User != nil {
		out["user"] = p.User
	}
	if p.Token != nil {
		out["token"] = p.Token
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) handleAPITenants(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ts, err := s.st.ListTenants(r.Context(), p.Scope)
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []store.Tenant{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenants": ts})
	return nil
}

func (s *Server) handleAPITenant(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	id := r.PathValue("id")
	if !p.Scope.Allows(id) {
		return errNotFound
	}
	ts := store.TenantScope(id)
	tenants, err := s.st.ListTenants(ctx, ts)
	if err != nil {
		return err
	}
	var t *store.Tenant
	for i := range tenants {
		if tenants[i].ID == id {
			t = &tenants[i]
		}
	}
	if t == nil {
		return errNotFound
	}
	out := map[string]any{"tenant": t}
	if hist, err := s.st.ScoreHistory(ctx, ts, id, 30); err == nil {
		out["history"] = hist
	}
	if incs, err := s.st.ListIncidents(ctx, ts, store.IncidentFilter{Tenant: id, Status: store.StatusOpen}); err == nil {
		out["open_incidents"] = len(incs)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// --- estate

func (s *Server) handleAPIEstate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := queryInt(r, "snapshot")
	if err != nil {
		return err
	}
	snap, err := s.st.GetSnapshot(r.Context(), p.Scope, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, snap)
	return nil
}

func (s *Server) handleAPISnapshots(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if !p.Scope.AllTenants {
		return errForbidden // snapshot metadata is MSP-level
	}
	ms, err := s.st.ListSnapshots(r.Context(), 100)
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []store.SnapshotMeta{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"snapshots": ms})
	return nil
}

func (s *Server) handleAPIEstateDiff(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	from, err := queryInt(r, "from")
	if err != nil {
		return err
	}
	to, err := queryInt(r, "to")
	if err != nil {
		return err
	}
	if from == 0 || to == 0 {
		return errBadRequest("from and to: snapshot ids required")
	}
	d, err := s.st.DiffSnapshots(r.Context(), p.Scope, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// parseEstateBody reads an uploaded estate document (YAML or JSON).
func (s *Server) parseEstateBody(w http.ResponseWriter, r *http.Request) (*estate.Estate, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.Ingest.MaxBodyBytes))
	if err != nil {
		return nil, errStatus(http.StatusRequestEntityTooLarge, "request body too large")
	}
	name := "upload.yaml"
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
		name = "upload.json"
	}
	return estate.Parse(bytes.NewReader(body), name)
}

type validationBody struct {
	Valid    bool                `json:"valid"`
	Problems []estate.FieldError `json:"problems"`
	Tenants  int                 `json:"tenants,omitempty"`
}

// estateSlot takes one of the maxEstateJobs slots, or answers 429 when all
// are taken; release it when done.
func (s *Server) estateSlot(w http.ResponseWriter, r *http.Request) (release func(), err error) {
	select {
	case s.estateSlots <- struct{}{}:
		return func() { <-s.estateSlots }, nil
	default:
		// Read (and discard) the body first, bounded by the route's size
		// and 10 s: answered while the client is still uploading, the
		// refusal reaches it as a reset connection, not a 429.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, s.cfg.Ingest.MaxBodyBytes))
		_ = rc.SetReadDeadline(time.Time{})
		w.Header().Set("Retry-After", "5")
		return nil, errStatus(http.StatusTooManyRequests, "other estate validations are running; retry in a few seconds")
	}
}

func (s *Server) handleAPIEstateValidate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	release, err := s.estateSlot(w, r)
	if err != nil {
		return err
	}
	defer release()
	e, err := s.parseEstateBody(w, r)
	if err != nil {
		var ve *estate.ValidationError
		if errors.As(err, &ve) {
			writeJSON(w, http.StatusUnprocessableEntity, validationBody{Problems: ve.Errors})
			return nil
		}
		var he *httpError
		if errors.As(err, &he) {
			return err
		}
		return errBadRequest("unreadable estate document")
	}
	writeJSON(w, http.StatusOK, validationBody{Valid: true, Problems: []estate.FieldError{}, Tenants: len(e.Tenants)})
	return nil
}

func (s *Server) handleAPIEstateUpload(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	release, err := s.estateSlot(w, r)
	if err != nil {
		return err
	}
	defer release()
	e, err := s.parseEstateBody(w, r)
	if err != nil {
		var ve *estate.ValidationError
		if errors.As(err, &ve) {
			writeJSON(w, http.StatusUnprocessableEntity, validationBody{Problems: ve.Errors})
			return nil
		}
		var he *httpError
		if errors.As(err, &he) {
			return err
		}
		return errBadRequest("unreadable estate document")
	}
	meta, created, err := s.st.PutSnapshot(ctx, e, "upload by "+p.Actor())
	if err != nil {
		return err
	}
	s.work.SetEstate(e, meta.ID)
	s.audit(ctx, p, "estate.upload", strconv.FormatInt(meta.ID, 10), "", map[string]any{"hash": meta.Hash, "created": created})
	out := map[string]any{"snapshot": meta, "created": created}
	if s.work.Engines() != nil && r.URL.Query().Get("assess") != "false" {
		run, drift, err := s.work.Assess(ctx, e, meta.ID, "upload")
		if err != nil {
			return err
		}
		out["run"] = run
		out["drift"] = drift
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// --- assessments

func (s *Server) handleAPIRuns(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	runs, err := s.st.ListRuns(r.Context(), p.Scope, int(limit))
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []store.Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
	return nil
}

func (s *Server) handleAPIRun(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 0 {
		return errNotFound
	}
	run, rep, err := s.st.GetRun(r.Context(), p.Scope, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"run": run, "report": rep})
	return nil
}

func (s *Server) handleAPIRunDiff(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	from, err := queryInt(r, "from")
	if err != nil {
		return err
	}
	to, err := queryInt(r, "to")
	if err != nil {
		return err
	}
	if from == 0 || to == 0 {
		return errBadRequest("from and to: run ids required")
	}
	ch, err := s.st.DiffRuns(r.Context(), p.Scope, from, to)
	if err != nil {
		return err
	}
	if ch == nil {
		ch = []store.ResultChange{}
	}
	drift := 0
	for _, c := range ch {
		if c.Drift() {
			drift++
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "changes": ch, "drift": drift})
	return nil
}

func (s *Server) handleAPIRunCreate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	if s.work.Engines() == nil {
		return errStatus(http.StatusServiceUnavailable, "assessment engine not configured")
	}
	e, snapID := s.work.CurrentEstate()
	if e == nil {
		snap, err := s.st.GetSnapshot(ctx, store.AllTenants(), 0)
		if err != nil {
			if isNotFound(err) {
				return errStatus(http.StatusConflict, "no estate loaded yet")
			}
			return err
		}
		e, snapID = snap.Estate, snap.ID
	}
	run, drift, err := s.work.Assess(ctx, e, snapID, "api")
	if err != nil {
		return err
	}
	s.audit(ctx, p, "assessment.run", strconv.FormatInt(run.ID, 10), "", nil)
	writeJSON(w, http.StatusCreated, map[string]any{"run": run, "drift": drift})
	return nil
}

func (s *Server) handleAPIFindings(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q := r.URL.Query()
	run, err := queryInt(r, "run")
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	offset, err := queryInt(r, "offset")
	if err != nil {
		return err
	}
	f := store.ResultFilter{RunID: run, Subject: q.Get("tenant"), Control: q.Get("control"), Status: assess.Status(q.Get("status")), Severity: q.Get("severity"), Limit: int(limit), Offset: int(offset)}
	if f.Subject == "" {
		f.Subject = q.Get("subject")
	}
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 1000
	}
	res, err := s.st.Results(r.Context(), p.Scope, f)
	if err != nil {
		return err
	}
	if res == nil {
		res = []assess.Result{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"findings": res})
	return nil
}

// --- blast radius

func (s *Server) handleAPIBlast(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	b, err := s.latestBlast(r.Context(), p.Scope)
	if err != nil {
		return err
	}
	node := r.URL.Query().Get("node")
	if node == "" {
		writeJSON(w, http.StatusOK, b)
		return nil
	}
	for _, row := range b.Ranking {
		if row.Node == node {
			out := map[string]any{"node": row}
			if p.Scope.AllTenants && s.work.Engines() != nil {
				if q, err := s.work.BlastQuery(node); err == nil {
					out["blast"] = q
				}
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}
	}
	return errNotFound
}

func (s *Server) handleAPIBlastRanking(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	b, err := s.latestBlast(r.Context(), p.Scope)
	if err != nil {
		return err
	}
	rk := b.Ranking
	if rk == nil {
		rk = []store.BlastRank{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"created": b.Created, "ranking": rk})
	return nil
}

// --- incidents

func (s *Server) handleAPIIncidents(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	f, err := s.incidentFilter(r, p)
	if err != nil {
		return err
	}
	if v, err := queryInt(r, "limit"); err != nil {
		return err
	} else if v > 0 && v <= 1000 {
		f.Limit = int(v)
	}
	incs, err := s.st.ListIncidents(r.Context(), p.Scope, f)
	if err != nil {
		return err
	}
	out := make([]event.Alert, 0, len(incs))
	for i := range incs {
		out = append(out, incs[i].ECS())
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": out})
	return nil
}

// handleAPICases groups the incidents the caller may see (open ones unless
// ?status= says otherwise) into one case per attacker with detect.Cases,
// the derivation the CLI uses; each case lists its incidents' ids.
func (s *Server) handleAPICases(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	f, err := s.incidentFilter(r, p)
	if err != nil {
		return err
	}
	if !r.URL.Query().Has("status") {
		f.Status = store.StatusOpen
	}
	f.Limit = 1000
	_, dets, err := s.listDetections(r.Context(), p.Scope, f)
	if err != nil {
		return err
	}
	cases := detect.Cases(dets)
	detect.SortRecent(cases) // the dashboard's order: most severe, then most recent
	if cases == nil {
		cases = []detect.Case{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": cases})
	return nil
}

func (s *Server) handleAPIIncident(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	inc, err := s.st.GetIncident(r.Context(), p.Scope, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inc.ECS())
	return nil
}

func (s *Server) handleAPIIncidentAck(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	inc, err := s.setIncidentStatus(r.Context(), p, r.PathValue("id"), store.StatusAcknowledged)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inc.ECS())
	return nil
}

func (s *Server) handleAPIIncidentResolve(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	inc, err := s.setIncidentStatus(r.Context(), p, r.PathValue("id"), store.StatusResolved)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inc.ECS())
	return nil
}

func (s *Server) handleAPIIncidentNote(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var body struct {
		Text string `json:"text"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	inc, err := s.addIncidentNote(r.Context(), p, r.PathValue("id"), body.Text)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inc.ECS())
	return nil
}

func (s *Server) handleAPIIncidentAssign(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var body struct {
		Assignee string `json:"assignee"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	inc, err := s.assignIncident(r.Context(), p, r.PathValue("id"), body.Assignee)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, inc.ECS())
	return nil
}

// --- users, tokens, notification targets, audit

func (s *Server) handleAPIUsers(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	us, err := s.st.ListUsers(r.Context(), p.Scope)
	if err != nil {
		return err
	}
	if us == nil {
		us = []store.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": us})
	return nil
}

func (s *Server) handleAPIUserCreate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req userRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	u, pw, err := s.createUser(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": u, "password": pw, "note": "one-time password, shown once; TOTP enrolment at first sign-in"})
	return nil
}

func (s *Server) handleAPIUserUpdate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	var req userRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	req.Username = r.PathValue("username")
	if err := s.validateUser(ctx, req); err != nil {
		return err
	}
	u, err := s.st.GetUser(ctx, req.Username)
	if err != nil {
		return err
	}
	if p.User != nil && u.Username == p.User.Username && (req.Role != u.Role || req.Disabled) {
		return errBadRequest("you cannot change your own role or disable yourself")
	}
	u.Email, u.Role, u.Tenant, u.Disabled = req.Email, req.Role, req.Tenant, req.Disabled
	if err := s.st.UpdateUser(ctx, u); err != nil {
		return err
	}
	_ = s.st.DeleteUserSessions(ctx, u.Username) // new rights apply at next sign-in
	s.audit(ctx, p, "user.update", u.Username, u.Tenant, map[string]any{"role": u.Role, "disabled": u.Disabled})
	writeJSON(w, http.StatusOK, u)
	return nil
}

func (s *Server) handleAPIUserDelete(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.deleteUser(r.Context(), p, r.PathValue("username")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleAPITokens(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ts, err := s.st.ListAPITokens(r.Context(), p.Scope)
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []store.APIToken{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
	return nil
}

func (s *Server) handleAPITokenCreate(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req tokenRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	tc, err := s.createToken(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, tc)
	return nil
}

func (s *Server) handleAPITokenRevoke(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.revokeToken(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleAPITargets(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ts, err := s.st.ListNotifyTargets(r.Context(), p.Scope)
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []store.NotifyTarget{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"targets": ts})
	return nil
}

func (s *Server) handleAPITargetPut(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var req targetRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	t, err := s.putTarget(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, t)
	return nil
}

func (s *Server) handleAPITargetDelete(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.deleteTarget(r.Context(), p, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleAPIAudit(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q := r.URL.Query()
	before, err := queryInt(r, "before_seq")
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	es, err := s.st.ListAudit(r.Context(), p.Scope, store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), BeforeSeq: before, Limit: int(min(limit, 1000))})
	if err != nil {
		return err
	}
	if es == nil {
		es = []store.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": es})
	return nil
}

// --- health

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
	return nil
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	// One ping of the store per request: the node's Ready asks it (and
	// says the degraded parts: the event stream down or a publish backlog
	// leaves the process ready, as ingest still commits events and
	// detection resumes by itself).
	ready, d := s.node.Ready(r.Context())
	if !ready {
		return &httpError{Status: http.StatusServiceUnavailable, Public: "store unavailable", Err: errors.New(strings.Join(d, "; "))}
	}
	if !s.isReady() {
		return errStatus(http.StatusServiceUnavailable, "starting")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(d) > 0 {
		// The answer counts the degraded parts without naming addresses
		// or errors (the dashboard and the log do).
		fmt.Fprintf(w, "ready (degraded: %d part(s); see the dashboard or the log)\n", len(d))
		return nil
	}
	fmt.Fprintln(w, "ready")
	return nil
}

// handleMetrics serves Prometheus metrics to a scraper on this host or to
// an MSP-wide caller (a bearer token with read on all tenants, or an owner
// or analyst session). The counters hold no tenant data, but sign-in
// failures and incidents opened would tell an outside attacker whether a
// spray was noticed.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if a, err := netip.ParseAddr(s.sess.ClientIP(r)); err != nil || !a.Unmap().IsLoopback() {
		if p == nil {
			return errUnauthorized
		}
		if !p.Can(auth.AccessRead) || !p.Scope.AllTenants {
			return errForbidden
		}
	}
	s.metrics.Handler().ServeHTTP(w, r)
	return nil
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, err := w.Write(openAPIDoc)
	return err
}

func queryInt(r *http.Request, name string) (int64, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errBadRequest("%s: expected a non-negative integer", name)
	}
	return n, nil
}

// handleAPIConnectors serves GET /api/v1/connectors: each configured
// source's last runs per tenant, each SIEM export's counters (sent,
// rejected, spooled, dropped at the bound) and each PSA's outbox (pending
// and failing tickets). MSP staff only: it names every tenant.
func (s *Server) handleAPIConnectors(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if !p.Scope.AllTenants {
		return store.ErrNotFound
	}
	writeJSON(w, http.StatusOK, s.tools.Status(r.Context()))
	return nil
}
