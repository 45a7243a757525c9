package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/attest"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/version"
)

// LoadSigner returns the attestation signing key of cfg: the configured
// file, else dataDir/attest.key, created (mode 0600) when missing.
func LoadSigner(keyFile, dataDir string) (*attest.Key, error) {
	if keyFile != "" {
		k, err := attest.LoadKey(keyFile)
		if err != nil {
			return nil, fmt.Errorf("attest.key: %w", err)
		}
		if _, err := k.Sign(context.Background(), nil); err != nil {
			return nil, fmt.Errorf("attest.key %s: %w", keyFile, err)
		}
		return k, nil
	}
	if dataDir == "" {
		return nil, errors.New("attest.key is not set and there is no data_dir to keep one in")
	}
	path := filepath.Join(dataDir, "attest.key")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		if _, err := attest.GenerateKey(dataDir, "attest"); err != nil {
			return nil, err
		}
		// Every file in the data directory is 0600 (the public half is
		// served on /attest/key.pub; nobody needs to read the file).
		if err := os.Chmod(filepath.Join(dataDir, "attest.pub"), 0o600); err != nil {
			return nil, err
		}
	}
	return attest.LoadKey(path)
}

// ClaimContract is the body of a reviewed contract claim.
type ClaimContract struct {
	Clauses []string `json:"clauses"`
	File    string   `json:"file"`
	SHA256  string   `json:"sha256"`
}

// withClaims returns e with the claims recorded in the dashboard that are
// active at now added: attestations and exceptions join the estate's own
// (assess applies, per control and subject, whichever holds longest), and
// the newest reviewed contract of a tenant replaces the clause list its
// files declare. e itself is not changed.
func (w *Worker) withClaims(ctx context.Context, e *estate.Estate) *estate.Estate {
	now := w.now()
	cs, err := w.st.ListClaims(ctx, store.AllTenants(), store.ClaimFilter{ActiveAt: now, Limit: 100000})
	if err != nil {
		w.log.Warn("reading recorded attestations; assessing with the estate files only", "err", err)
		return e
	}
	if len(cs) == 0 {
		return e
	}
	out := *e
	out.Attestations = slices.Clone(e.Attestations)
	out.Exceptions = slices.Clone(e.Exceptions)
	contracted := map[string]bool{}
	for _, c := range cs { // newest first
		pos := estate.Pos{File: "dashboard claim " + strconv.FormatInt(c.ID, 10)}
		created := estate.Date{Time: c.Created}
		var expires *estate.Date
		if !c.Expires.IsZero() {
			expires = &estate.Date{Time: c.Expires}
		}
		switch c.Kind {
		case store.ClaimAttestation:
			note := c.Body
			if c.EvidenceSHA256 != "" {
				note += " (evidence " + c.EvidenceName + " sha256:" + c.EvidenceSHA256 + ")"
			}
			out.Attestations = append(out.Attestations, estate.Attestation{Control: c.Control, Subject: c.Tenant, By: c.By,
				Date: &created, Expires: expires, Note: note, Pos: pos})
		case store.ClaimException:
			owner := c.Owner
			if owner == "" {
				owner = c.By
			}
			out.Exceptions = append(out.Exceptions, estate.Exception{Control: c.Control, Subject: c.Tenant, Owner: owner,
				Reason: c.Body, Expires: expires, Pos: pos})
		case store.ClaimContract:
			if contracted[c.Tenant] {
				continue
			}
			var body ClaimContract
			if err := json.Unmarshal([]byte(c.Body), &body); err != nil {
				w.log.Warn("unreadable contract claim", "id", c.ID, "err", err)
				continue
			}
			contracted[c.Tenant] = true
			out.Contracts = slices.Clone(out.Contracts)
			if !slices.ContainsFunc(out.Contracts, func(k estate.Contract) bool { return k.Tenant == c.Tenant }) {
				out.Contracts = append(out.Contracts, estate.Contract{ID: "contract-" + c.Tenant, Tenant: c.Tenant})
			}
			for i := range out.Contracts {
				if out.Contracts[i].Tenant == c.Tenant {
					out.Contracts[i].Clauses = slices.Clone(body.Clauses)
					out.Contracts[i].Reviewed = &created
					out.Contracts[i].Pos = pos
				}
			}
		}
	}
	return &out
}

// issuePostures signs one attestation per tenant of run and stores them.
func (w *Worker) issuePostures(ctx context.Context, e *estate.Estate, run store.Run, rep *assess.Report) {
	if w.signer == nil || w.eng == nil || w.eng.Graph == nil {
		return
	}
	g, err := w.eng.Graph(e)
	if err != nil {
		w.log.Warn("attestations: no trust graph", "err", err)
		return
	}
	issued := w.now()
	b, err := attest.NewBuilder(attest.Input{Estate: e, Report: rep, Graph: g, Issued: issued, Validity: w.cfg.Attest.Validity,
		Tool: attest.ToolRef{Name: "firebreak", Version: version.Get().Short()}})
	if err != nil {
		w.log.Warn("attestations", "err", err)
		return
	}
	n := 0
	for _, t := range e.Tenants {
		st, err := b.Statement(t.ID)
		if err == nil {
			var env []byte
			if env, err = attest.Sign(ctx, w.signer, st); err == nil {
				p := store.Posture{Tenant: t.ID, RunID: run.ID, KeyID: w.signer.ID(), Issued: st.Predicate.IssuedAt,
					Expires: st.Predicate.ExpiresAt, Envelope: env}
				err = w.st.SavePosture(ctx, &p)
			}
		}
		if err != nil {
			w.log.Warn("attestation", "tenant", t.ID, "err", err)
			continue
		}
		n++
	}
	w.audit(ctx, "attestation.issue", strconv.FormatInt(run.ID, 10), "", map[string]any{"tenants": n, "key_id": w.signer.ID()})
}

// remindClaims raises a low incident for every recorded attestation or
// exception that expires within remind_before, once per claim.
func (w *Worker) remindClaims(ctx context.Context) {
	before := w.cfg.Attest.RemindBefore
	if before <= 0 || w.inc == nil {
		return
	}
	now := w.now()
	cs, err := w.st.ListClaims(ctx, store.AllTenants(), store.ClaimFilter{ActiveAt: now, Limit: 100000})
	if err != nil {
		w.log.Warn("claim reminders", "err", err)
		return
	}
	var incs []store.Incident
	for _, c := range cs {
		if c.Expires.IsZero() || c.Expires.Sub(now) > before || c.Kind == store.ClaimContract {
			continue
		}
		inc := subjectIncident("claim-expiry", c.Tenant, now, strconv.FormatInt(c.ID, 10))
		inc.Rule, inc.Severity = "firebreak-claim-expiry", "low"
		inc.Title = fmt.Sprintf("The %s of %s for %s expires on %s", c.Kind, c.Control, c.Tenant, c.Expires.UTC().Format("2006-01-02"))
		inc.Key = map[string]string{"claim": strconv.FormatInt(c.ID, 10), "control": c.Control, "subject": c.Tenant}
		inc.Detail = mustJSON(map[string]any{"description": "Renew it on the tenant's attestations page, or let it lapse: the control is judged on its own evidence after " + c.Expires.UTC().Format(time.RFC3339),
			"claim_id": c.ID, "by": c.By, "expires": c.Expires})
		incs = append(incs, inc)
	}
	if len(incs) > 0 {
		w.inc.Handle(ctx, incs)
	}
}
