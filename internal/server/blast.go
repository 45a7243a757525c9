package server

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
)

type blastPage struct {
	pageBase
	Ranking  []store.BlastRank
	Created  time.Time
	Node     string
	Selected *store.BlastRank
	Detail   string // JSON of the live blast query (MSP scope only)
	HasBlast bool
	Plan     *fixPlan // the whole "fix first" plan (MSP scope only)
}

func (s *Server) handleBlastPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	pg := &blastPage{pageBase: s.basePage(ctx, p, "Blast radius", "blast"), Node: r.URL.Query().Get("node")}
	b, err := s.latestBlast(ctx, p.Scope)
	if err != nil && !isNotFound(err) {
		return err
	}
	if b != nil {
		pg.HasBlast = true
		pg.Ranking, pg.Created = b.Ranking, b.Created
		pg.Plan = planOf(b)
		for i := range b.Ranking {
			if b.Ranking[i].Node == pg.Node {
				pg.Selected = &b.Ranking[i]
			}
		}
	}
	if pg.Selected != nil && p.Scope.AllTenants && s.work.Engines() != nil {
		if q, err := s.work.BlastQuery(pg.Node); err == nil {
			if bs, err := json.MarshalIndent(q, "", "  "); err == nil {
				pg.Detail = string(bs)
			}
		}
	}
	if pg.Selected == nil && pg.Node != "" {
		// Never echo an id the caller cannot see.
		pg.Node = ""
		pg.Flash = "No such node in your view of the blast radius."
	}
	return s.render(w, r, "blast", pg)
}

type graphPage struct {
	pageBase
	Graph template.HTML
}

// handleBlastGraph embeds the trust engine's interactive graph view. It
// shows every tenant, so it is for MSP-wide callers only; its inline style
// and script run under a per-response CSP nonce.
func (s *Server) handleBlastGraph(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if !p.Scope.AllTenants || s.work.Engines() == nil || s.work.Engines().BlastHTML == nil {
		return errNotFound
	}
	var buf bytes.Buffer
	title := ""
	if e, _ := s.work.CurrentEstate(); e != nil {
		title = e.Provider.Name
	}
	if err := s.work.BlastHTML(&buf, title); err != nil {
		return err
	}
	nonce, err := auth.RandomToken(18)
	if err != nil {
		return err
	}
	frag := strings.ReplaceAll(buf.String(), "<style>", `<style nonce="`+nonce+`">`)
	frag = strings.ReplaceAll(frag, "<script>", `<script nonce="`+nonce+`">`)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'nonce-"+nonce+"'; style-src 'self' 'nonce-"+nonce+"'; style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	pg := &graphPage{pageBase: s.basePage(r.Context(), p, "Trust graph", "blast"), Graph: template.HTML(frag)}
	return s.render(w, r, "graph", pg)
}
