package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

type blastPage struct {
	pageBase
	Ranking  []blastRow
	Created  time.Time
	RunAt    time.Time // the assessment the result was computed with (the one clock)
	RunID    int64
	Node     string
	Selected *store.BlastRank
	Paths    []blastReached // the live blast query's tenants with proof paths (MSP scope only)
	HasBlast bool
	HasGraph bool     // the explorer has a trust graph to show this caller (explorerGraph)
	Plan     *fixPlan // the whole "fix first" plan (MSP scope only)
	Total    int      // rows in the whole ranking
	Shown    int      // rows listed when the ranking is cut at blastShown (0: all listed)
}

// blastShown is how many ranking rows the blast page lists before "show
// all" (?show=all): the whole ranking was ~9,900 px tall at 1440×900.
const blastShown = 25

func (s *Server) handleBlastPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	pg := &blastPage{pageBase: s.basePage(ctx, p, "Blast radius", "blast"), Node: r.URL.Query().Get("node")}
	b, err := s.latestBlast(ctx, p.Scope)
	if err != nil && !isNotFound(err) {
		return err
	}
	_, _, gerr := s.explorerGraph(p)
	pg.HasGraph = gerr == nil
	if b != nil {
		pg.HasBlast = true
		pg.Ranking, pg.Created = blastRows(b), b.Created
		pg.Total = len(pg.Ranking)
		if r.URL.Query().Get("show") != "all" && len(pg.Ranking) > blastShown {
			pg.Ranking, pg.Shown = pg.Ranking[:blastShown], blastShown
		}
		pg.Plan = s.planOf(b)
		if run, err := s.pageRun(ctx, &pg.pageBase, p.Scope); err != nil {
			return err
		} else if run != nil && run.ID == b.RunID {
			pg.RunAt, pg.RunID = run.At, run.ID
		}
		for i := range b.Ranking {
			if b.Ranking[i].Node == pg.Node {
				pg.Selected = &b.Ranking[i]
			}
		}
	}
	if pg.Selected != nil && p.Scope.AllTenants && s.work.Engines() != nil {
		if q, err := s.work.BlastQuery(pg.Node); err == nil {
			if bs, err := json.Marshal(q); err == nil {
				var d struct {
					Tenants []blastReached `json:"tenants"`
				}
				if json.Unmarshal(bs, &d) == nil {
					pg.Paths = d.Tenants
				}
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

// blastRow is one ranking row with what its score is made of and, when it
// ties the row above on score, what put that row first.
type blastRow struct {
	store.BlastRank
	Counts string // tenants at full control, at admin or above, at any privilege
	Tie    string
}

// blastRows explains the stored ranking from the counts stored with it
// (trust.RankView). The order is the engine's (trust.Ranking): weighted
// score, then how easily the node itself is taken (an entry point from
// the internet, no or weak MFA, internet-exposed with a known-exploited
// flaw: RankView.Ease and TakenBy), tenants at full control, at admin, at
// any privilege, the weighted score at any privilege, then kind and id.
func blastRows(b *store.BlastResult) []blastRow {
	var doc struct {
		Ranking []trust.RankView `json:"ranking"`
	}
	views := map[string]trust.RankView{}
	if len(b.JSON) > 0 && json.Unmarshal(b.JSON, &doc) == nil {
		for _, v := range doc.Ranking {
			views[v.Kind+":"+v.ID] = v
		}
	}
	out := make([]blastRow, len(b.Ranking))
	for i, r := range b.Ranking {
		out[i].BlastRank = r
		v, ok := views[r.Kind+":"+r.Node]
		if !ok {
			continue
		}
		out[i].Counts = fmt.Sprintf("%d at full control, %d at admin or above, %d at any privilege", v.TenantsFull, v.TenantsAdmin, v.TenantsAny)
		if i == 0 || b.Ranking[i-1].Score != r.Score {
			continue
		}
		p, ok := views[b.Ranking[i-1].Kind+":"+b.Ranking[i-1].Node]
		if !ok {
			continue
		}
		easy := func(v trust.RankView) string {
			if len(v.TakenBy) == 0 {
				return "nothing makes it easy to take"
			}
			return strings.Join(v.TakenBy, ", ")
		}
		switch {
		case p.Ease != v.Ease:
			out[i].Tie = fmt.Sprintf("same score as #%d, which is more easily taken (#%d: %s; this: %s)", r.Rank-1, r.Rank-1, easy(p), easy(v))
		case p.TenantsFull != v.TenantsFull:
			out[i].Tie = fmt.Sprintf("same score as #%d, which reaches more tenants at full control (%d, this %d)", r.Rank-1, p.TenantsFull, v.TenantsFull)
		case p.TenantsAdmin != v.TenantsAdmin:
			out[i].Tie = fmt.Sprintf("same score as #%d, which reaches more tenants at admin (%d, this %d)", r.Rank-1, p.TenantsAdmin, v.TenantsAdmin)
		case p.TenantsAny != v.TenantsAny:
			out[i].Tie = fmt.Sprintf("same score as #%d, which reaches more tenants at any privilege (%d, this %d)", r.Rank-1, p.TenantsAny, v.TenantsAny)
		case p.WeightedAny != v.WeightedAny:
			out[i].Tie = fmt.Sprintf("same score as #%d, which reaches more critical tenants at lower privilege", r.Rank-1)
		default:
			out[i].Tie = fmt.Sprintf("same reach as #%d and as easily taken (%s); ordered by kind and id", r.Rank-1, easy(v))
		}
	}
	return out
}

// blastReached is one tenant of a live blast query, with its proof path.
type blastReached struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	Privilege string       `json:"privilege"`
	Path      []trust.Step `json:"path"`
}
