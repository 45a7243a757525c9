package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/attest"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/contract"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// Uploads (attestation evidence, contracts, envelopes to verify) are the
// only multipart bodies accepted; each is bounded and parsed in memory.
const (
	maxEvidenceBytes = 8 << 20
	maxUploadBody    = maxEvidenceBytes + 64<<10
)

// uploadRoutes may send multipart/form-data (see limitBody).
var uploadRoutes = map[string]bool{"claim_post": true, "contract_upload": true, "verify_post": true}

// attestPage is /tenants/{id}/attest: the tenant's signed attestations,
// the claims recorded for it, and the forms to record more.
type attestPage struct {
	pageBase
	Tenant       store.Tenant
	Postures     []store.Posture
	Claims       []claimView
	Controls     []claimControl // what this user may attest or except
	CanContract  bool
	KeyID        string
	Review       *contract.Report // a contract just uploaded, for review
	ReviewFile   string
	Error        string
	Now          time.Time
	DefaultUntil string
}

type claimView struct {
	store.Claim
	Active    bool
	CanRevoke bool
}

type claimControl struct {
	ID, Title, Party, Status string
}

// claimRights says what p may record for tenant: attestations and
// exceptions of customer-party controls for a tenant attester of that
// tenant; of any control, and contracts, for the MSP's owners and
// analysts.
func claimRights(p *auth.Principal, tenant string, party catalog.Party) bool {
	if p == nil || p.User == nil || (p.Session != nil && !p.Session.MFA) {
		return false
	}
	switch p.User.Role {
	case store.RoleOwner, store.RoleAnalyst:
		return true
	case store.RoleTenantAttester:
		return p.User.Tenant == tenant && tenant != estate.MSP && (party == catalog.PartyCustomer || party == catalog.PartyBoth)
	}
	return false
}

// canRevoke: the MSP's owners and analysts revoke any claim; a tenant
// attester only the ones they recorded themselves (not the MSP's).
func canRevoke(p *auth.Principal, tenant string, c store.Claim, party catalog.Party) bool {
	if c.Kind == store.ClaimContract {
		return canContract(p)
	}
	if !claimRights(p, tenant, party) {
		return false
	}
	return p.User.Role != store.RoleTenantAttester || c.By == p.Actor()
}

func canContract(p *auth.Principal) bool {
	return p != nil && p.User != nil && (p.User.Role == store.RoleOwner || p.User.Role == store.RoleAnalyst)
}

func (s *Server) attestPageData(r *http.Request, p *auth.Principal, t store.Tenant) (*attestPage, error) {
	ctx := r.Context()
	ts := store.TenantScope(t.ID)
	now := s.now()
	pg := &attestPage{pageBase: s.basePage(ctx, p, t.Name+" · attestations", "tenant"), Tenant: t, CanContract: canContract(p), Now: now,
		DefaultUntil: now.AddDate(1, 0, 0).Format("2006-01-02")}
	if s.signer != nil {
		pg.KeyID = s.signer.ID()
	}
	var err error
	if pg.Postures, err = s.st.ListPostures(ctx, ts, t.ID, 20); err != nil {
		return nil, err
	}
	cs, err := s.st.ListClaims(ctx, ts, store.ClaimFilter{Tenant: t.ID, Limit: 200})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		party := catalog.PartyBoth
		if s.catalog != nil {
			if ctl, ok := s.catalog.Control(c.Control); ok {
				party = ctl.Party
			}
		}
		active := c.Active(now)
		pg.Claims = append(pg.Claims, claimView{Claim: c, Active: active,
			CanRevoke: active && canRevoke(p, t.ID, c, party)})
	}
	// The controls this user may attest, with their latest status for
	// the tenant: those waiting for evidence first.
	status := map[string]string{}
	if rs, err := s.st.Results(ctx, ts, store.ResultFilter{Subject: t.ID}); err == nil {
		for _, r := range rs {
			status[r.Control] = string(r.Status)
		}
	}
	if s.catalog != nil {
		for _, c := range s.catalog.Controls() {
			if claimRights(p, t.ID, c.Party) {
				pg.Controls = append(pg.Controls, claimControl{ID: c.ID, Title: c.Title, Party: string(c.Party), Status: status[c.ID]})
			}
		}
	}
	rank := func(st string) int {
		switch assess.Status(st) {
		case assess.StatusNotEvaluable:
			return 0
		case assess.StatusFail:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(pg.Controls, func(a, b claimControl) int { return rank(a.Status) - rank(b.Status) })
	return pg, nil
}

func (s *Server) handleAttestPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.tenantFor(r, p)
	if err != nil {
		return err
	}
	pg, err := s.attestPageData(r, p, t)
	if err != nil {
		return err
	}
	return s.render(w, r, "attest", pg)
}

// handlePostureDownload serves one signed attestation (the DSSE envelope).
func (s *Server) handlePostureDownload(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := strconv.ParseInt(strings.TrimSuffix(r.PathValue("pid"), ".intoto.json"), 10, 64)
	if err != nil {
		return errNotFound
	}
	ps, err := s.st.GetPosture(r.Context(), p.Scope, id)
	if err != nil {
		return err
	}
	if r.PathValue("id") != "" && ps.Tenant != r.PathValue("id") {
		return errNotFound
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.intoto.json"`, ps.Tenant, ps.Issued.UTC().Format("20060102")))
	h.Set("Cache-Control", "no-store")
	_, err = w.Write(ps.Envelope)
	return err
}

// handleAPIPostures lists a tenant's signed attestations.
func (s *Server) handleAPIPostures(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.tenantFor(r, p)
	if err != nil {
		return err
	}
	ps, err := s.st.ListPostures(r.Context(), p.Scope, t.ID, 100)
	if err != nil {
		return err
	}
	type item struct {
		store.Posture
		URL string `json:"url"`
	}
	out := make([]item, len(ps))
	for i, x := range ps {
		out[i] = item{Posture: x, URL: fmt.Sprintf("/api/v1/tenants/%s/attestations/%d", urlPathEscape(t.ID), x.ID)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tenant": t.ID, "attestations": out})
	return nil
}

// handleClaimPost records an attestation or exception for the tenant.
func (s *Server) handleClaimPost(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	t, err := s.tenantFor(r, p)
	if err != nil {
		return err
	}
	kind := r.PostFormValue("kind")
	control := strings.TrimSpace(r.PostFormValue("control"))
	text := strings.TrimSpace(r.PostFormValue("text"))
	if kind != store.ClaimAttestation && kind != store.ClaimException {
		return errBadRequest("kind: attestation or exception")
	}
	if s.catalog == nil {
		return errStatus(http.StatusServiceUnavailable, "control catalog unavailable")
	}
	ctl, ok := s.catalog.Control(control)
	if !ok {
		return errBadRequest("control: unknown control %q", control)
	}
	if !claimRights(p, t.ID, ctl.Party) {
		return errForbidden
	}
	if text == "" || len(text) > 4000 {
		return errBadRequest("statement: 1 to 4000 characters")
	}
	until, err := time.Parse("2006-01-02", r.PostFormValue("expires"))
	if err != nil {
		return errBadRequest("expires: a date, YYYY-MM-DD")
	}
	now := s.now()
	if !until.After(now) || until.After(now.AddDate(2, 0, 0)) {
		return errBadRequest("expires: after today and within two years")
	}
	c := store.Claim{Kind: kind, Tenant: t.ID, Control: ctl.ID, Body: text, By: p.Actor(), Expires: until}
	if kind == store.ClaimException {
		c.Owner = strings.TrimSpace(r.PostFormValue("owner"))
		if c.Owner == "" || len(c.Owner) > 200 {
			return errBadRequest("owner: who answers for the exception (1 to 200 characters)")
		}
	}
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["evidence"]; len(fhs) == 1 && fhs[0].Size > 0 {
			f, err := fhs[0].Open()
			if err != nil {
				return errBadRequest("evidence: unreadable upload")
			}
			b, err := io.ReadAll(io.LimitReader(f, maxEvidenceBytes+1))
			_ = f.Close()
			if err != nil || len(b) > maxEvidenceBytes {
				return errStatus(http.StatusRequestEntityTooLarge, "evidence: at most 8 MiB")
			}
			if ct := http.DetectContentType(b); !evidenceType(ct) {
				return errStatus(http.StatusUnsupportedMediaType, "evidence: a PDF, image, text or office document (got "+ct+")")
			}
			sum := sha256.Sum256(b)
			c.Evidence, c.EvidenceSHA256 = b, hex.EncodeToString(sum[:])
			c.EvidenceName = safeFileName(fhs[0].Filename)
		}
	}
	if err := s.st.PutClaim(ctx, &c); err != nil {
		return err
	}
	s.audit(ctx, p, "claim."+kind, ctl.ID, t.ID, map[string]any{"id": c.ID, "expires": until.Format("2006-01-02"), "evidence_sha256": c.EvidenceSHA256})
	http.Redirect(w, r, "/tenants/"+urlPathEscape(t.ID)+"/attest", http.StatusSeeOther)
	return nil
}

func evidenceType(ct string) bool {
	for _, ok := range []string{"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "application/zip"} {
		if strings.HasPrefix(ct, ok) {
			return true
		}
	}
	return false
}

// safeFileName keeps a display name: no path, no control characters.
func safeFileName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' {
			return -1
		}
		return r
	}, name)
	if len(name) > 200 {
		name = name[:200]
	}
	if name == "" {
		name = "evidence"
	}
	return name
}

func (s *Server) handleClaimRevoke(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	t, err := s.tenantFor(r, p)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("cid"), 10, 64)
	if err != nil {
		return errNotFound
	}
	c, err := s.st.GetClaim(ctx, p.Scope, id)
	if err != nil || c.Tenant != t.ID {
		return errNotFound
	}
	party := catalog.PartyBoth
	if ctl, ok := s.catalog.Control(c.Control); ok {
		party = ctl.Party
	}
	if !canRevoke(p, t.ID, *c, party) {
		return errForbidden
	}
	if err := s.st.RevokeClaim(ctx, p.Scope, id, p.Actor(), s.now()); err != nil {
		return err
	}
	s.audit(ctx, p, "claim.revoke", c.Control, t.ID, map[string]any{"id": id, "kind": c.Kind})
	http.Redirect(w, r, "/tenants/"+urlPathEscape(t.ID)+"/attest", http.StatusSeeOther)
	return nil
}

// handleClaimEvidence serves a claim's evidence file as a download.
func (s *Server) handleClaimEvidence(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id, err := strconv.ParseInt(r.PathValue("cid"), 10, 64)
	if err != nil {
		return errNotFound
	}
	c, err := s.st.GetClaim(r.Context(), p.Scope, id)
	if err != nil || c.Tenant != r.PathValue("id") || len(c.Evidence) == 0 {
		return errNotFound
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, c.EvidenceName))
	h.Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(c.Evidence)
	return err
}

// handleContractUpload reads a contract and shows its findings for review.
func (s *Server) handleContractUpload(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	t, err := s.tenantFor(r, p)
	if err != nil {
		return err
	}
	pg, err := s.attestPageData(r, p, t)
	if err != nil {
		return err
	}
	fail := func(msg string) error {
		pg.Error = msg
		s.renderStatus(w, r, http.StatusBadRequest, "attest", pg)
		return nil
	}
	if r.MultipartForm == nil || len(r.MultipartForm.File["contract"]) != 1 {
		return fail("choose a contract file (PDF, DOCX, Markdown or text)")
	}
	fh := r.MultipartForm.File["contract"][0]
	f, err := fh.Open()
	if err != nil {
		return fail("unreadable upload")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxEvidenceBytes+1))
	_ = f.Close()
	if err != nil || len(b) > maxEvidenceBytes {
		return fail("the contract is larger than 8 MiB")
	}
	name := safeFileName(fh.Filename)
	d, err := contract.Parse(name, b)
	if err != nil {
		return fail(err.Error())
	}
	pats, err := contract.Builtin()
	if err != nil {
		return err
	}
	rep := contract.Check(d, pats)
	rep.Tenant = t.ID
	pg.Review, pg.ReviewFile = rep, name
	s.audit(r.Context(), p, "contract.check", name, t.ID, map[string]any{"sha256": d.Digest, "present": rep.Count(contract.Present), "weak": rep.Count(contract.Weak), "absent": rep.Count(contract.Absent)})
	return s.render(w, r, "attest", pg)
}

// handleContractConfirm records the clauses a reviewer confirmed as the
// tenant's contract evidence (replacing the estate's hand-typed list at
// the next assessment).
func (s *Server) handleContractConfirm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	t, err := s.tenantFor(r, p)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, id := range estate.Clauses {
		known[id] = true
	}
	body := worker.ClaimContract{Clauses: []string{}, File: safeFileName(r.PostFormValue("file")), SHA256: r.PostFormValue("sha256")}
	if len(body.SHA256) != 64 || strings.Trim(body.SHA256, "0123456789abcdef") != "" {
		return errBadRequest("sha256: the document digest from the review")
	}
	for _, id := range r.PostForm["clause"] {
		if !known[id] {
			return errBadRequest("clause: unknown clause %q", id)
		}
		if !slices.Contains(body.Clauses, id) {
			body.Clauses = append(body.Clauses, id)
		}
	}
	js, _ := json.Marshal(body)
	c := store.Claim{Kind: store.ClaimContract, Tenant: t.ID, Body: string(js), By: p.Actor(), EvidenceName: body.File, EvidenceSHA256: body.SHA256}
	if err := s.st.PutClaim(ctx, &c); err != nil {
		return err
	}
	s.audit(ctx, p, "contract.confirm", body.File, t.ID, map[string]any{"id": c.ID, "sha256": body.SHA256, "clauses": body.Clauses})
	http.Redirect(w, r, "/tenants/"+urlPathEscape(t.ID)+"/attest", http.StatusSeeOther)
	return nil
}

// verifyPage is the public /verify page.
type verifyPage struct {
	pageBase
	Keys     []string
	Result   *attest.Verified
	Controls map[string][]attest.Control
	Refused  string
	Reason   string
	Checked  bool
}

func (s *Server) verifyKeys() []string {
	var ids []string
	for _, k := range s.trusted {
		ids = append(ids, k.ID())
	}
	return ids
}

func (s *Server) handleVerifyForm(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	return s.render(w, r, "verify", &verifyPage{pageBase: s.basePage(r.Context(), p, "Verify an attestation", "verify"), Keys: s.verifyKeys()})
}

// handleVerify checks an uploaded or pasted envelope against this
// server's signing key and its trusted keys. Public: customers need no
// account; bounded by size and a per-address rate.
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if !s.verifyLimit.Allow(s.sess.ClientIP(r), s.now()) {
		return errStatus(http.StatusTooManyRequests, "too many verifications from this address; wait a minute")
	}
	pg := &verifyPage{pageBase: s.basePage(r.Context(), p, "Verify an attestation", "verify"), Keys: s.verifyKeys(), Checked: true}
	var env []byte
	if r.MultipartForm != nil && len(r.MultipartForm.File["envelope"]) == 1 {
		f, err := r.MultipartForm.File["envelope"][0].Open()
		if err == nil {
			env, err = io.ReadAll(io.LimitReader(f, attest.MaxEnvelopeBytes+1))
			_ = f.Close()
		}
		if err != nil {
			return errBadRequest("envelope: unreadable upload")
		}
	}
	if len(bytes.TrimSpace(env)) == 0 {
		env = []byte(r.PostFormValue("text"))
	}
	if len(s.trusted) == 0 {
		return errStatus(http.StatusServiceUnavailable, "this server holds no attestation key")
	}
	v, err := attest.Verify(r.Context(), bytes.NewReader(env), attest.VerifyOptions{Keys: s.trusted, Now: s.now()})
	if err != nil {
		var ve *attest.VerifyError
		pg.Refused = err.Error()
		if errors.As(err, &ve) {
			pg.Reason = ve.Reason
		}
		s.renderStatus(w, r, http.StatusUnprocessableEntity, "verify", pg)
		return nil
	}
	pg.Result = v
	pg.Controls = map[string][]attest.Control{}
	for _, c := range v.Statement.Predicate.Controls {
		pg.Controls[c.Status] = append(pg.Controls[c.Status], c)
	}
	return s.render(w, r, "verify", pg)
}

// handleAttestKey serves the public key customers verify with.
func (s *Server) handleAttestKey(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	if s.signer == nil {
		return errNotFound
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="firebreak-attest.pub"`)
	_, err := w.Write(s.signer.PublicPEM())
	return err
}
