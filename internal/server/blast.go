package server

import (
	"encoding/json"
	"net/http"
	"time"

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
}

func (s *Server) handleBlastPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	pg := &blastPage{pageBase: s.basePage(ctx, p, "Blast radius", "blast"), Node: r.URL.Query().Get("node")}
	b, err := s.st.GetBlast(ctx, p.Scope, 0)
	if err != nil && !isNotFound(err) {
		return err
	}
	if b != nil {
		pg.HasBlast = true
		pg.Ranking, pg.Created = b.Ranking, b.Created
		for i := range b.Ranking {
			if b.Ranking[i].Node == pg.Node {
				pg.Selected = &b.Ranking[i]
			}
		}
	}
	if pg.Selected != nil && p.Scope.AllTenants && s.eng != nil {
		if q, err := s.eng.blastQuery(pg.Node); err == nil {
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
