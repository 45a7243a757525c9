package server

import (
	"net/http"
	"strconv"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// reportFormats maps a download format to its content type and extension.
var reportFormats = map[string][2]string{
	"json":  {"application/json", "json"},
	"html":  {"text/html; charset=utf-8", "html"},
	"csv":   {"text/csv; charset=utf-8", "csv"},
	"sarif": {"application/sarif+json", "sarif"},
	"oscal": {"application/json", "oscal.json"},
}

// handleReport downloads an assessment run (latest, or ?run=ID), limited to
// the caller's scope (a tenant viewer's report holds only its tenant).
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	format := r.PathValue("format")
	ft, ok := reportFormats[format]
	if !ok {
		return errNotFound
	}
	id, err := queryInt(r, "run")
	if err != nil {
		return err
	}
	run, rep, err := s.st.GetRun(r.Context(), p.Scope, id)
	if err != nil {
		return err
	}
	if t := r.URL.Query().Get("tenant"); t != "" {
		if !p.Scope.Allows(t) {
			return errNotFound
		}
		rep = filterReport(rep, t)
	}
	w.Header().Set("Content-Type", ft[0])
	w.Header().Set("Content-Disposition", `attachment; filename="firebreak-run-`+strconv.FormatInt(run.ID, 10)+"."+ft[1]+`"`)
	w.Header().Set("Cache-Control", "no-store")
	if format == "html" {
		// A self-contained report: allow its inline styles, nothing else.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
	}
	return s.writeReport(w, format, rep)
}

// filterReport keeps only one subject's results and score.
func filterReport(rep *assess.Report, subject string) *assess.Report {
	out := *rep
	out.Results = nil
	out.Scores = nil
	for _, x := range rep.Results {
		if x.Subject == subject {
			out.Results = append(out.Results, x)
		}
	}
	for _, x := range rep.Scores {
		if x.Subject == subject {
			out.Scores = append(out.Scores, x)
		}
	}
	return &out
}

var _ = store.AllTenants
