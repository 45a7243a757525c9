package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/intake"
	"github.com/firebreak-msp/firebreak/internal/store"
)

func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if !s.cfg.HasRole(config.RoleIngest) {
		return errStatus(http.StatusMisdirectedRequest, "this firebreak process does not take events (roles "+s.cfg.RolesString()+"); send them to an ingest process")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.Ingest.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.metrics.IngestRejected.WithLabelValues("too_large").Inc()
			return errStatus(http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", s.cfg.Ingest.MaxBodyBytes))
		}
		return errStatus(http.StatusRequestTimeout, "reading request body failed or timed out")
	}
	keys := r.Header.Values("Idempotency-Key")
	if len(keys) > 1 {
		// draft-ietf-httpapi-idempotency-key-header: a client MUST NOT
		// send more than one.
		return errBadRequest("Idempotency-Key: sent %d times; send one", len(keys))
	}
	if len(keys) == 0 || keys[0] == "" {
		out, err := s.ingestBodyFrom(r, p, body, 0, nil)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	return s.ingestIdempotent(w, r, p, keys[0], body)
}

// ingestIdempotent answers a POST /api/v1/events that carries an
// Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): the key's
// first request (per API token, or per user for a session) is answered
// and its answer kept for store.IdempotencyTTL in the store, shared by
// every replica; the same key with the same query and body gets that
// answer again and stores nothing, with another body 422, and while the
// first is still being answered 409. An answer that stored nothing, or
// only part, for want of the store (503) is not kept: the retry resumes
// after the events the key records as committed.
func (s *Server) ingestIdempotent(w http.ResponseWriter, r *http.Request, p *auth.Principal, key string, body []byte) error {
	ctx := r.Context()
	if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
		return errBadRequest("Idempotency-Key: at most 255 printable ASCII characters")
	}
	ik, ok := s.st.(store.IdempotencyKeys)
	if !ok {
		return errBadRequest("Idempotency-Key is not supported by this store")
	}
	owner := "user:" + p.Actor()
	if p.Token != nil {
		owner = "token:" + p.Token.ID
	}
	h := sha256.New()
	h.Write([]byte(r.URL.RawQuery))
	h.Write([]byte{0})
	h.Write(body)
	hash := hex.EncodeToString(h.Sum(nil))
	first, fresh, err := ik.ClaimIdempotency(ctx, owner, key, hash, s.now())
	if err != nil {
		return err
	}
	switch {
	case !fresh && first.BodyHash != hash:
		return errStatus(http.StatusUnprocessableEntity, "Idempotency-Key already used for a different request (query or body); use a new key")
	case !fresh && first.Status == 0:
		return errStatus(http.StatusConflict, "a request with this Idempotency-Key is still being answered; retry shortly")
	case !fresh:
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, first.Status, json.RawMessage(first.Response))
		return nil
	}
	out, err := s.ingestBodyFrom(r, p, body, first.Committed, func(n int) error {
		return ik.ProgressIdempotency(ctx, owner, key, n)
	})
	status, answer := http.StatusOK, any(out)
	var he *httpError
	switch {
	case err == nil:
	case errors.As(err, &he) && he.Status < 500:
		// Refused lines, a body over the limit: what was stored stays
		// stored, so the same answer is given again.
		status, answer = he.Status, he.Body
		if answer == nil {
			answer = apiError{Error: he.Public, Status: he.Status}
		}
	default:
		// Not stored, or partly (the key records how many): the client
		// retries, as a first request that resumes after them.
		if rerr := ik.ReleaseIdempotency(context.WithoutCancel(ctx), owner, key); rerr != nil {
			s.log.Warn("releasing an idempotency key", "err", rerr)
		}
		return err
	}
	raw, merr := json.Marshal(answer)
	if merr == nil {
		merr = ik.FinishIdempotency(context.WithoutCancel(ctx), owner, key, status, raw)
	}
	if merr != nil {
		s.log.Warn("keeping an idempotent answer", "err", merr)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ingestBodyFrom stores and detects the events of one POST /api/v1/events
// body, after the first resume events an earlier attempt with the same
// Idempotency-Key committed (0 without a key; see intake.IngestBodyFrom);
// its answer is the intake's response.
func (s *Server) ingestBodyFrom(r *http.Request, p *auth.Principal, body []byte, resume int, committed func(int) error) (intake.Response, error) {
	ctx := r.Context()
	q := r.URL.Query()
	format := q.Get("format")
	if format != "" && !ingest.KnownFormat(format) {
		return intake.Response{}, errBadRequest("unknown format %q; expected one of %s", format, strings.Join(slices.Concat(ingest.Formats, ingest.BuiltinMappings()), ", "))
	}
	tenant := q.Get("tenant")
	known := s.work.KnownTenants(ctx)
	if tenant != "" {
		if !p.Scope.Allows(tenant) {
			return intake.Response{}, errForbidden
		}
		if known != nil && !known[tenant] {
			return intake.Response{}, errBadRequest("unknown tenant %q", tenant)
		}
	}
	if p.Token != nil && p.Token.Tenant != "" {
		tenant = p.Token.Tenant
	}
	resp, nrejected, err := s.intake.IngestBodyFrom(ctx, body, format, tenant, p.Actor(), func(ev *event.Event) string { return s.checkEvent(p, ev, known) }, resume, committed)
	s.metrics.IngestAccepted.Add(float64(resp.Accepted))
	switch {
	case errors.Is(err, intake.ErrLimit):
		s.metrics.IngestRejected.WithLabelValues("too_large").Inc()
		resp.Error = err.Error()
		return resp, &httpError{Status: http.StatusRequestEntityTooLarge, Public: resp.Error, Body: resp}
	case errors.Is(err, intake.ErrStore):
		s.metrics.IngestRejected.WithLabelValues("store_error").Inc()
		resp.Error = fmt.Sprintf("events could not be stored; %d were stored before the failure, retry the rest", resp.Accepted)
		return resp, &httpError{Status: http.StatusServiceUnavailable, Public: resp.Error, Body: resp, Err: err}
	case errors.Is(err, ingest.ErrNeedsMapping):
		s.metrics.IngestRejected.WithLabelValues("needs_mapping").Inc()
		return resp, errBadRequest("generic JSON (format generic) needs a mapping file: set ingest.mapping in the server's configuration, or send a format firebreak reads (format=%s)", strings.Join(ingest.Formats, ", "))
	case err != nil:
		s.metrics.IngestRejected.WithLabelValues("unreadable").Inc()
		return resp, errBadRequest("unreadable body")
	}
	if nrejected > 0 {
		s.metrics.IngestRejected.WithLabelValues("malformed").Add(float64(nrejected))
		resp.Error = fmt.Sprintf("%d line(s) rejected: %s", nrejected, intake.LineList(resp.Rejected))
		return resp, &httpError{Status: http.StatusBadRequest, Public: resp.Error, Body: resp}
	}
	return resp, nil
}

// checkEvent enforces the token's tenant and source binding and refuses
// unknown tenants. It returns "" when the event may be stored.
func (s *Server) checkEvent(p *auth.Principal, ev *event.Event, known map[string]bool) string {
	if p.Token != nil && p.Token.Tenant != "" && ev.Tenant != p.Token.Tenant {
		if ev.Tenant != "" {
			return "tenant not permitted for this token"
		}
		ev.Tenant = p.Token.Tenant
	}
	if ev.Tenant != "" && !p.Scope.Allows(ev.Tenant) {
		return "tenant not permitted"
	}
	if ev.Tenant != "" && known != nil && !known[ev.Tenant] {
		return "unknown tenant " + strconv.Quote(auth.Truncate(ev.Tenant, 64))
	}
	if p.Token != nil && p.Token.Source != "" {
		if ev.Dataset == "" {
			ev.Dataset = p.Token.Source
		} else if ev.Dataset != p.Token.Source {
			return "source not permitted for this token"
		}
	}
	if ev.Timestamp.IsZero() {
		ev.Timestamp = s.now().UTC()
	}
	return ""
}

// handleEventSearch serves GET /api/v1/events.
func (s *Server) handleEventSearch(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	q, err := s.eventQuery(r, p)
	if err != nil {
		return err
	}
	recs, err := s.st.SearchEvents(r.Context(), p.Scope, q)
	if err != nil {
		return err
	}
	if recs == nil {
		recs = []store.EventRecord{}
	}
	out := map[string]any{"events": recs}
	if len(recs) > 0 && len(recs) == q.Limit {
		out["next_before_id"] = recs[len(recs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// eventQueryParams are the query parameters the events search reads, on
// the page and in the API (source and dataset name the same filter).
var eventQueryParams = []string{"tenant", "user", "source_ip", "source", "dataset", "host", "outcome", "from", "to", "limit", "before_id"}

// eventOutcomes are the outcome filter's values (ECS event.outcome).
var eventOutcomes = []string{event.OutcomeSuccess, event.OutcomeFailure, event.OutcomeUnknown}

// eventQuery reads the events search's filter and paging. A request the
// search cannot answer as asked is a 400 naming the parameter and what it
// takes, never an empty or unfiltered result: an unknown parameter, one
// given twice, an outcome that is not one of eventOutcomes, a time that is
// not RFC 3339, to not after from, a limit outside 1..10000.
func (s *Server) eventQuery(r *http.Request, p *auth.Principal) (store.EventQuery, error) {
	v := r.URL.Query()
	if err := onlyParams(v, eventQueryParams...); err != nil {
		return store.EventQuery{}, err
	}
	for _, name := range eventQueryParams {
		if len(v[name]) > 1 {
			return store.EventQuery{}, errBadRequest("%s: given %d times; give it once", name, len(v[name]))
		}
	}
	q := store.EventQuery{
		Tenant: v.Get("tenant"), User: v.Get("user"), SourceIP: v.Get("source_ip"),
		Dataset: v.Get("source"), Host: v.Get("host"), Outcome: v.Get("outcome"), Limit: 100,
	}
	if !p.Scope.AllTenants {
		q.Tenant = p.Scope.Tenant
	}
	if q.SourceIP != "" {
		if _, err := netip.ParseAddr(q.SourceIP); err != nil {
			return q, errBadRequest("source_ip: expected an IP address such as 192.0.2.7")
		}
	}
	if d := v.Get("dataset"); q.Dataset == "" {
		q.Dataset = d
	} else if d != "" && d != q.Dataset {
		return q, errBadRequest("dataset: names the same filter as source, with another value (%s); give one", truncRunes(d, 40))
	}
	if q.Outcome != "" && !slices.Contains(eventOutcomes, q.Outcome) {
		return q, errBadRequest("outcome: %s is not an outcome; expected %s", truncRunes(q.Outcome, 40), strings.Join(eventOutcomes, ", "))
	}
	var err error
	parseT := func(name string) time.Time {
		x := v.Get(name)
		if x == "" || err != nil {
			return time.Time{}
		}
		t, e := time.Parse(time.RFC3339, x)
		if e != nil {
			err = errBadRequest("%s: expected an RFC 3339 time such as 2026-01-02T15:04:05Z", name)
		}
		return t
	}
	q.From = parseT("from")
	q.To = parseT("to")
	if err != nil {
		return q, err
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return q, errBadRequest("to: expected a time after from (%s); the range is from (inclusive) to (exclusive)", q.From.UTC().Format(time.RFC3339))
	}
	if x := v.Get("limit"); x != "" {
		n, e := strconv.Atoi(x)
		if e != nil || n < 1 || n > 10000 {
			return q, errBadRequest("limit: expected 1..10000")
		}
		q.Limit = n
	}
	if x := v.Get("before_id"); x != "" {
		n, e := strconv.ParseInt(x, 10, 64)
		if e != nil || n < 0 {
			return q, errBadRequest("before_id: expected an event id (a non-negative integer)")
		}
		q.BeforeID = n
	}
	return q, nil
}
