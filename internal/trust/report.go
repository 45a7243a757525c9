package trust

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// ReportOptions select what a Report answers.
type ReportOptions struct {
	From       string   // answer "blast --from" for this node
	Tenant     string   // answer "blast --tenant": who reaches this tenant (the access matrix's column)
	Changes    []Change // what-if changes: the report shows before and after
	IncludeJIT bool     // count just-in-time edges as activated
	Share      float64  // suggestion target (0: the estate's max_tenant_share)
	Top        int      // ranking rows (0: 10)
	Suggest    bool     // include the full suggestion plan (the summary always has the first three)
	MaxSteps   int      // suggestion steps (0: 10)
	Provider   string   // provider name for the heading
	Command    string   // how the user ran it, for "try:" hints (default "firebreak blast PATH")
	// Ctx, when set, stops the suggestion search (Ctrl-C during the plan):
	// NewReport then returns its error.
	Ctx context.Context
}

// Report is the answer to one `firebreak blast` run, for people (WriteTable)
// and machines (JSON).
type Report struct {
	Version     string      `json:"version"`
	Provider    string      `json:"provider,omitempty"`
	Tenants     int         `json:"tenants"`
	Nodes       int         `json:"nodes"`
	Edges       int         `json:"edges"`
	EdgeCount   EdgeCount   `json:"edge_count"` // Edges by whether they are usable (the query's access)
	IncludeJIT  bool        `json:"include_jit"`
	Share       float64     `json:"max_tenant_share"`
	Limit       int         `json:"limit"`
	OverLimit   int         `json:"over_limit"` // nodes reaching more than Limit tenants at ≥ admin
	Outsider    RankView    `json:"outsider"`
	Ranking     []RankView  `json:"ranking"`
	RankedTotal int         `json:"ranked_total"`
	EntryPoints []EntryView `json:"entry_points"`
	Plan        *PlanView   `json:"plan,omitempty"`
	Blast       *BlastView  `json:"blast,omitempty"`
	Access      *AccessView `json:"access,omitempty"`
	WhatIf      *WhatIfView `json:"what_if,omitempty"`
	Warnings    []string    `json:"warnings,omitempty"`

	showPlan bool
	command  string
}

// RankView is a Rank for output.
type RankView struct {
	ID             string  `json:"id"`
	Kind           string  `json:"kind"`
	Sub            string  `json:"sub,omitempty"`
	MFA            string  `json:"mfa,omitempty"`
	TenantsFull    int     `json:"tenants_full"`
	TenantsAdmin   int     `json:"tenants_admin"`
	TenantsOperate int     `json:"tenants_operate"`
	TenantsAny     int     `json:"tenants_any"`
	Share          float64 `json:"share_admin"`
	Weighted       float64 `json:"weighted_admin"`
	WeightedAny    float64 `json:"weighted_any"`
	// Ease is how easily the node is taken (the ranking's tie-break on
	// the weighted score) and TakenBy why.
	Ease    int      `json:"ease"`
	TakenBy []string `json:"taken_by,omitempty"`
}

func viewRank(r Rank) RankView {
	return RankView{ID: r.ID, Kind: r.Kind.String(), Sub: r.Sub, MFA: r.MFA, TenantsFull: r.AtFull(), TenantsAdmin: r.AtAdmin(),
		TenantsOperate: r.AtOperate(), TenantsAny: r.AtAny(), Share: r.Share, Weighted: r.Weighted, WeightedAny: r.WeightedAny,
		Ease: r.exposure, TakenBy: r.TakenBy}
}

// Step is one hop of a proof path.
type Step struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Edge      string `json:"edge"`
	Kind      string `json:"kind"`
	Privilege Priv   `json:"privilege"`
	JIT       bool   `json:"jit,omitempty"`
	Why       string `json:"why,omitempty"`
	Pos       string `json:"pos,omitempty"`
}

// Steps renders a path of edge indexes.
func (g *Graph) Steps(path []int32) []Step {
	out := make([]Step, len(path))
	for i, e := range path {
		ed := &g.Edges[e]
		out[i] = Step{From: g.Nodes[ed.From].ID, To: g.Nodes[ed.To].ID, Edge: g.EdgeID(e), Kind: ed.Kind.String(),
			Privilege: ed.Priv, JIT: ed.JIT, Why: ed.Why, Pos: ed.Pos.String()}
		if ed.Kind == EdgeEntry && len(g.Nodes[ed.To].KEV) > 0 && ed.Req == ReqExposedKEV {
			out[i].Why += " (" + strings.Join(g.Nodes[ed.To].KEV, ", ") + ")"
		}
	}
	return out
}

// EntryView is an entry point for output.
type EntryView struct {
	Node         string   `json:"node"`
	Kind         string   `json:"kind"`
	Why          string   `json:"why"`
	Privilege    Priv     `json:"privilege"`
	KEV          []string `json:"kev,omitempty"`
	TenantsAdmin int      `json:"tenants_admin"`
	TenantsAny   int      `json:"tenants_any"`
	Weighted     float64  `json:"weighted_admin"`
	Pos          string   `json:"pos,omitempty"`
}

// PlanView is a suggestion plan for output.
type PlanView struct {
	Share        float64          `json:"share"`
	Limit        int              `json:"limit"`
	ExcessBefore int              `json:"excess_before"`
	ExcessAfter  int              `json:"excess_after"`
	Steps        []SuggestionView `json:"steps"`
	// Residual: nodes still above the limit; the first Structural of them
	// only because of agents, update channels, IdPs or GDAP roles, the
	// rest because the plan stopped (MaxSteps) before reaching them.
	Residual   []RankView `json:"residual"`
	Structural int        `json:"structural"`
}

// SuggestionView is one plan step for output.
type SuggestionView struct {
	Changes   []Change    `json:"changes"`
	Flags     string      `json:"flags"` // the blast flags that try it
	Why       string      `json:"why"`
	Details   []string    `json:"details,omitempty"`
	Gain      int         `json:"gain"`
	Helped    []DeltaView `json:"helped"`
	HelpedAll int         `json:"helped_nodes"`
	// Entry points (taken directly at ≥ admin) leading above the limit.
	EntriesBefore int    `json:"entry_points_over_before"`
	EntriesAfter  int    `json:"entry_points_over_after"`
	ProofFrom     string `json:"proof_from,omitempty"`
	Proof         []Step `json:"proof,omitempty"`
}

// DeltaView is a before/after pair.
type DeltaView struct {
	ID     string   `json:"id"`
	Kind   string   `json:"kind"`
	Before RankView `json:"before"`
	After  RankView `json:"after"`
}

// BlastView answers --from.
type BlastView struct {
	From    RankView      `json:"from"`
	Tenants []ReachedView `json:"tenants"`
	Assets  []ReachedView `json:"assets"`
	Other   []ReachedView `json:"other"`
}

// ReachedView is one reached node.
type ReachedView struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Privilege Priv   `json:"privilege"`
	Path      []Step `json:"path"`
}

// AccessView answers --tenant: the tenant's column of the access matrix
// (Graph.Matrix, the facts assess's FB-MFA-002 and FB-PRIV-004 judge):
// every identity, group, tool and vendor reaching the tenant by any path,
// with its standing privilege, its privilege with just-in-time access
// activated, and the first hop of a path achieving each. Widest first.
type AccessView struct {
	Tenant     string          `json:"tenant"`
	Principals []AccessRowView `json:"principals"`
	// Standing and Eligible count the principals at ≥ each privilege.
	Standing map[string]int `json:"standing"`
	Eligible map[string]int `json:"eligible"`
}

// GDAPMFA is what blast --tenant shows as a GDAP relationship's MFA.
const GDAPMFA = "n/a (relationship)"

// AccessRowView is one principal's access to the tenant.
type AccessRowView struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Sub         string `json:"sub,omitempty"`
	Home        string `json:"home,omitempty"`
	MFA         string `json:"mfa,omitempty"`
	Standing    Priv   `json:"standing"` // none: reached only just in time
	StandingVia string `json:"standing_via,omitempty"`
	Eligible    Priv   `json:"eligible"` // with just-in-time access activated (≥ standing)
	EligibleVia string `json:"eligible_via"`
}

// TenantAccess is the --tenant answer: tenant's column of g's access
// matrix, as `firebreak blast --tenant` prints it (the dashboard's tenant
// page shows the same view).
func TenantAccess(g *Graph, tenant string) (*AccessView, error) { return accessView(g, tenant) }

// accessView builds the --tenant answer from g's access matrix.
func accessView(g *Graph, tenant string) (*AccessView, error) {
	i, err := g.NodeIndex(tenant)
	if err != nil {
		return nil, err
	}
	if g.Nodes[i].Kind != KindTenant {
		return nil, fmt.Errorf("--tenant %q: a %s, not a tenant", tenant, g.Nodes[i].Kind)
	}
	m := g.Matrix()
	ps, cells := m.Column(g.Nodes[i].ID)
	v := &AccessView{Tenant: g.Nodes[i].ID, Principals: make([]AccessRowView, 0, len(ps)), Standing: map[string]int{}, Eligible: map[string]int{}}
	for k, p := range ps {
		c, pr := cells[k], &m.Principals[p]
		n := &g.Nodes[pr.Node]
		row := AccessRowView{ID: pr.ID, Kind: pr.Kind, Sub: n.Sub, Home: n.Home, Standing: Priv(c.Standing), Eligible: Priv(c.Eligible), EligibleVia: m.Name(c.JITVia)}
		if n.Kind == KindIdentity || n.Kind == KindTool {
			row.MFA = string(n.MFA)
		}
		if n.Kind == KindTool && n.Sub == string(estate.ToolGDAP) {
			// Nobody signs in to a GDAP relationship: the partner's
			// users in its access groups exercise it, each with their
			// own MFA (their rows; assess judges them, not the
			// relationship).
			row.MFA = GDAPMFA
		}
		if c.Standing > 0 {
			row.StandingVia = m.Name(c.Via)
		}
		for l := Read; l <= Full; l++ {
			if row.Standing >= l {
				v.Standing[l.String()]++
			}
			if row.Eligible >= l {
				v.Eligible[l.String()]++
			}
		}
		v.Principals = append(v.Principals, row)
	}
	slices.SortStableFunc(v.Principals, func(a, b AccessRowView) int {
		if a.Eligible != b.Eligible {
			return int(b.Eligible) - int(a.Eligible)
		}
		return int(b.Standing) - int(a.Standing)
	})
	return v, nil
}

// WhatIfView is the ranking before and after changes.
type WhatIfView struct {
	Changes []Change    `json:"changes"`
	Rows    []DeltaView `json:"rows"`
	Before  struct {
		OverLimit int `json:"over_limit"`
		Worst     int `json:"worst_admin"`
	} `json:"before"`
	After struct {
		OverLimit int `json:"over_limit"`
		Worst     int `json:"worst_admin"`
	} `json:"after"`
}

func flagFor(c Change) string {
	switch c.Op {
	case OpHarden:
		return "--harden " + ShellQuote(c.Target+"="+c.Value)
	case OpJIT:
		return "--jit " + ShellQuote(c.Target)
	}
	return "--cut " + ShellQuote(c.Target)
}

// ShellQuote single-quotes s when a POSIX shell would otherwise read part
// of it (the "->" of an edge spec is a redirection).
func ShellQuote(s string) string {
	if strings.ContainsAny(s, " *?<>|&;$'\"`()[]{}!#~") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

// overLimit counts the nodes whose single compromise reaches more than
// limit tenants at ≥ admin (the outsider is not one compromise: it is the
// union of every entry point).
func overLimit(rk *Ranking, limit int) (n, worst int) {
	for _, r := range rk.Ranks {
		if r.AtAdmin() > limit {
			n++
		}
		worst = max(worst, r.AtAdmin())
	}
	return n, worst
}

// NewReport computes the report for o.
func NewReport(g *Graph, o ReportOptions) (*Report, error) {
	if o.Top <= 0 {
		o.Top = 10
	}
	if o.Share <= 0 {
		o.Share = g.MaxTenantShare
	}
	q := Query{IncludeJIT: o.IncludeJIT}
	base := g
	if len(o.Changes) > 0 {
		h, err := g.With(o.Changes...)
		if err != nil {
			return nil, err
		}
		base = h
	}
	rk := base.RankingWith(q)
	r := &Report{Version: "1", Provider: o.Provider, Tenants: len(g.tenants), Nodes: len(g.Nodes), Edges: len(g.Edges),
		EdgeCount: g.CountEdges(q), IncludeJIT: o.IncludeJIT, Share: o.Share, Limit: Limit(len(g.tenants), o.Share), Warnings: g.Warnings}
	r.OverLimit, _ = overLimit(rk, r.Limit)
	r.command = firstNonEmpty(o.Command, "firebreak blast PATH")
	r.Outsider = viewRank(rk.Outsider)
	r.RankedTotal = len(rk.Ranks)
	for i, x := range rk.Ranks {
		if i == o.Top {
			break
		}
		r.Ranking = append(r.Ranking, viewRank(x))
	}
	for _, e := range base.entries(rk) {
		n := &base.Nodes[e.Node]
		r.EntryPoints = append(r.EntryPoints, EntryView{Node: n.ID, Kind: n.Kind.String(), Why: e.Why, Privilege: e.Priv, KEV: e.KEV,
			TenantsAdmin: e.AtAdmin, TenantsAny: e.AtAny, Weighted: e.Weighted, Pos: base.Edges[e.Edge].Pos.String()})
	}
	if len(o.Changes) > 0 {
		before := g.RankingWith(q)
		w := &WhatIfView{Changes: o.Changes}
		w.Before.OverLimit, w.Before.Worst = overLimit(before, r.Limit)
		w.After.OverLimit, w.After.Worst = overLimit(rk, r.Limit)
		for _, d := range Compare(before, rk, o.Top) {
			w.Rows = append(w.Rows, DeltaView{ID: d.Before.ID, Kind: d.Before.Kind.String(), Before: viewRank(d.Before), After: viewRank(d.After)})
		}
		r.WhatIf = w
	}
	if o.From != "" {
		i, err := base.NodeIndex(o.From)
		if err != nil {
			return nil, err
		}
		b := base.Blast(i, q)
		bv := &BlastView{From: viewRank(rk.Of(i))}
		conv := func(rs []Reached) []ReachedView {
			out := make([]ReachedView, 0, len(rs))
			for _, x := range rs {
				out = append(out, ReachedView{ID: base.Nodes[x.Node].ID, Kind: base.Nodes[x.Node].Kind.String(), Privilege: x.Priv, Path: base.Steps(b.PathOf(x))})
			}
			return out
		}
		bv.Tenants, bv.Assets, bv.Other = conv(b.Tenants), conv(b.Assets), conv(b.Other)
		r.Blast = bv
	}
	if o.Tenant != "" {
		av, err := accessView(base, o.Tenant)
		if err != nil {
			return nil, err
		}
		r.Access = av
	}
	if o.From == "" && o.Tenant == "" && !o.IncludeJIT {
		p := base.Suggest(SuggestOptions{Share: o.Share, MaxSteps: o.MaxSteps, Ctx: o.Ctx})
		if p.Err != nil {
			return nil, p.Err
		}
		r.showPlan = o.Suggest
		pv := &PlanView{Share: p.Share, Limit: p.Limit, ExcessBefore: p.ExcessBefore, ExcessAfter: p.ExcessAfter, Structural: p.Structural}
		for _, s := range p.Steps {
			sv := SuggestionView{Changes: s.Changes, Why: s.Why, Details: s.Details, Gain: s.Gain, HelpedAll: s.HelpedCount(),
				EntriesBefore: s.EntriesBefore, EntriesAfter: s.EntriesAfter}
			var fl []string
			for _, c := range s.Changes {
				fl = append(fl, flagFor(c))
			}
			sv.Flags = strings.Join(fl, " ")
			for _, d := range s.Helped {
				sv.Helped = append(sv.Helped, DeltaView{ID: d.Before.ID, Kind: d.Before.Kind.String(), Before: viewRank(d.Before), After: viewRank(d.After)})
			}
			if s.ProofFrom >= 0 {
				sv.ProofFrom = base.Nodes[s.ProofFrom].ID
				sv.Proof = base.Steps(s.Proof)
			}
			pv.Steps = append(pv.Steps, sv)
		}
		for _, x := range p.Residual {
			pv.Residual = append(pv.Residual, viewRank(x))
		}
		r.Plan = pv
	}
	return r, nil
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// FormatPath renders a proof path on one line.
func FormatPath(steps []Step) string {
	if len(steps) == 0 {
		return "(itself)"
	}
	var b strings.Builder
	b.WriteString(steps[0].From)
	for _, s := range steps {
		b.WriteString(" -[")
		switch s.Kind {
		case "grant", "credential":
			if s.Kind == "credential" {
				b.WriteString("stored credential ")
			} else {
				b.WriteString("grant ")
			}
			b.WriteString(s.Edge)
		case "entry":
			b.WriteString("entry: ")
			b.WriteString(s.Why)
		default:
			b.WriteString(s.Kind)
		}
		if s.JIT {
			b.WriteString(" jit")
		}
		b.WriteString(", ")
		b.WriteString(s.Privilege.String())
		b.WriteString("]-> ")
		b.WriteString(s.To)
	}
	return b.String()
}

func pct(n, d int) string {
	if d == 0 {
		return "0%"
	}
	return fmt.Sprintf("%d%%", (n*100+d/2)/d)
}

func plural(n int, s string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, s)
	}
	return fmt.Sprintf("%d %ss", n, s)
}

// WriteTable writes the report for people: with --from the blast answer,
// with changes the before/after ranking, otherwise the one-screen summary
// (fix first, single points of failure, entry points).
func WriteTable(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	mode := "standing access"
	if r.IncludeJIT || r.Access != nil {
		mode = "standing and just-in-time access"
	}
	title := "firebreak blast"
	if r.Provider != "" {
		title += " — " + r.Provider
	}
	ew.printf("%s: %d tenants, %d nodes, %d edges, %d usable (%s)\n", title, r.Tenants, r.Nodes, r.Edges, r.EdgeCount.Usable, mode)
	if r.Tenants == 0 {
		ew.printf("\nThe estate has no tenants: there is no customer a compromise could reach.\n")
		return ew.err
	}
	switch {
	case r.Blast != nil:
		writeBlast(ew, r)
	case r.Access != nil:
		writeAccess(ew, r)
	case r.WhatIf != nil:
		writeWhatIf(ew, r)
	default:
		writeSummary(ew, r)
	}
	return ew.err
}

func writeSummary(ew *errWriter, r *Report) {
	if len(r.Ranking) == 0 {
		ew.printf("\nNo identity, tool, vendor or host reaches any tenant: nothing to rank.\n")
		return
	}
	worst := r.Ranking[0]
	ew.printf("\nWorst single compromise: %s %s reaches %d of %d tenants (%s) at admin or above.\n",
		worst.Kind, worst.ID, worst.TenantsAdmin, r.Tenants, pct(worst.TenantsAdmin, r.Tenants))
	bigEntries := 0
	for _, e := range r.EntryPoints {
		if e.TenantsAdmin > r.Limit {
			bigEntries++
		}
	}
	ew.printf("From the internet, with no credentials: %d tenants at admin or above through %s; %d of them each lead to more than %s.\n",
		r.Outsider.TenantsAdmin, plural(len(r.EntryPoints), "entry point"), bigEntries, plural(r.Limit, "tenant"))
	ew.printf("Goal: no single compromise reaches more than %s of tenants (%s) at admin or above — %s exceed it.\n",
		pct(int(r.Share*100+0.5), 100), plural(r.Limit, "tenant"), plural(r.OverLimit, "node"))
	if p := r.Plan; p != nil && len(p.Steps) > 0 {
		if r.showPlan {
			ew.printf("\nPLAN (%s; excess %d → %d)\n", plural(len(p.Steps), "change"), p.ExcessBefore, p.ExcessAfter)
		} else {
			ew.printf("\nFIX FIRST\n")
		}
		for i, s := range p.Steps {
			if i == 3 && !r.showPlan {
				ew.printf("    … %d more changes in the plan: %s --suggest\n", len(p.Steps)-3, r.command)
				break
			}
			ew.printf("%2d. %s\n", i+1, s.Why)
			for k, d := range s.Details {
				if k == 6 {
					ew.printf("      … and %d more\n", len(s.Details)-6)
					break
				}
				ew.printf("      - %s\n", d)
			}
			if s.EntriesAfter < s.EntriesBefore {
				ew.printf("    ways in from the internet that lead above the limit: %d → %d\n", s.EntriesBefore, s.EntriesAfter)
			}
			if len(s.Helped) > 0 {
				h := s.Helped[0]
				who := h.Kind + " " + h.ID
				if h.Kind == "outsider" {
					who = "an outsider"
				}
				more := ""
				if s.HelpedAll > 1 {
					more = fmt.Sprintf(" (and %d more nodes)", s.HelpedAll-1)
				}
				ew.printf("    %s: %d → %d tenants at admin%s\n", who, h.Before.TenantsAdmin, h.After.TenantsAdmin, more)
				if len(s.Changes) <= 6 {
					ew.printf("    try: %s %s\n", r.command, s.Flags)
				}
			}
			if len(s.Proof) > 0 {
				ew.printf("    proof: %s\n", FormatPath(s.Proof))
			}
		}
		if p.Structural > 0 {
			ew.printf("    after the plan, still above the limit by design (agents, update channels, identity providers):\n"+
				"    %s — split them per customer group, or protect what reaches them.\n", idList(p.Residual[:p.Structural], 4))
		}
		if more := len(p.Residual) - p.Structural; more > 0 {
			ew.printf("    %s still above the limit need more steps (%s): %s\n", plural(more, "node"), "--suggest --steps N", idList(p.Residual[p.Structural:], 3))
		}
	} else if r.OverLimit == 0 {
		ew.printf("\nNo single compromise reaches more than the limit. Nothing to fix first.\n")
	}
	ew.printf("\nSINGLE POINTS OF FAILURE (standing reach; weighted = Σ criticality × endpoints at ≥ admin)\n")
	writeRanks(ew, r.Ranking, r.Tenants, 8)
	if r.RankedTotal > len(r.Ranking) && len(r.Ranking) >= 8 {
		ew.printf("   … %d nodes reach at least one tenant; --top N or --format json for more\n", r.RankedTotal)
	}
	ew.printf("\nENTRY POINTS (what an outsider takes directly)\n")
	if len(r.EntryPoints) == 0 {
		ew.printf("   none: no internet-exposed tool without MFA or with a known-exploited flaw, no exposed host, no account without MFA\n")
	}
	for i, e := range r.EntryPoints {
		if i == 5 {
			ew.printf("   … and %d more (--format json)\n", len(r.EntryPoints)-5)
			break
		}
		why := e.Why
		if len(e.KEV) > 0 && strings.Contains(why, "known-exploited") {
			why += " (" + strings.Join(e.KEV, ", ") + ")"
		}
		ew.printf("   %-22s %-8s %s → %d tenants at admin, %d at any\n", e.Node, e.Kind, why, e.TenantsAdmin, e.TenantsAny)
	}
}

func idList(rs []RankView, n int) string {
	ids := make([]string, 0, n+1)
	for i, x := range rs {
		if i == n {
			ids = append(ids, fmt.Sprintf("+%d", len(rs)-n))
			break
		}
		ids = append(ids, fmt.Sprintf("%s (%d)", x.ID, x.TenantsAdmin))
	}
	return strings.Join(ids, ", ")
}

func writeRanks(ew *errWriter, rows []RankView, tenants, n int) {
	ew.printf("   %-3s %-24s %-9s %-19s %7s %6s %5s %5s %9s\n", "#", "NODE", "KIND", "MFA", "≥ADMIN", "SHARE", "FULL", "ANY", "WEIGHTED")
	for i, x := range rows {
		if i == n {
			break
		}
		kind := x.Kind
		if x.Sub != "" && len(x.Sub) < 16 {
			kind = x.Sub
		}
		ew.printf("   %-3d %-24s %-9s %-19s %7d %6s %5d %5d %9.0f\n", i+1, trunc(x.ID, 24), trunc(kind, 9), x.MFA, x.TenantsAdmin, pct(x.TenantsAdmin, tenants), x.TenantsFull, x.TenantsAny, x.Weighted)
	}
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func writeBlast(ew *errWriter, r *Report) {
	b := r.Blast
	f := b.From
	mfa := ""
	if f.MFA != "" {
		mfa = ", mfa " + f.MFA
	}
	counts := map[Priv]int{}
	for _, t := range b.Tenants {
		counts[t.Privilege]++
	}
	var parts []string
	for _, p := range []Priv{Full, Admin, Operate, Read} {
		if counts[p] > 0 {
			parts = append(parts, fmt.Sprintf("%d at %s", counts[p], p))
		}
	}
	ew.printf("\nIf %s %s (%s%s) is compromised: %d of %d tenants fall (%s), %s, %s.\n",
		f.Kind, f.ID, firstNonEmpty(f.Sub, f.Kind), mfa, len(b.Tenants), r.Tenants, strings.Join(parts, ", "),
		plural(len(b.Assets), "asset"), plural(len(b.Other), "other node"))
	if len(b.Tenants) > 0 {
		ew.printf("\n   %-22s %-13s %s\n", "TENANT", "PRIVILEGE", "SHORTEST PATH ACHIEVING IT")
		for _, t := range b.Tenants {
			ew.printf("   %-22s %-13s %s\n", t.ID, t.Privilege, FormatPath(t.Path))
		}
	}
	if len(b.Assets) > 0 {
		ew.printf("\n   %-22s %-13s %s\n", "ASSET", "PRIVILEGE", "PATH")
		for i, a := range b.Assets {
			if i == 15 {
				ew.printf("   … and %d more assets (--format json lists all)\n", len(b.Assets)-15)
				break
			}
			ew.printf("   %-22s %-13s %s\n", a.ID, a.Privilege, FormatPath(a.Path))
		}
	}
}

func writeAccess(ew *errWriter, r *Report) {
	a := r.Access
	var parts []string
	for _, p := range []Priv{Full, Admin, Operate, Read} {
		if n := a.Eligible[p.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d at ≥ %s (%d standing)", n, p, a.Standing[p.String()]))
		}
	}
	ew.printf("\nWho reaches tenant %s, by any path: %s (%s).\n", a.Tenant, plural(len(a.Principals), "principal"), strings.Join(parts, ", "))
	ew.printf("Standing is access held now; just in time is with eligible (PIM, JIT) access activated.\n")
	if len(a.Principals) == 0 {
		return
	}
	ew.printf("\n   %-24s %-9s %-19s %-13s %-20s %-13s %s\n", "PRINCIPAL", "KIND", "MFA", "STANDING", "FIRST HOP", "JUST IN TIME", "FIRST HOP")
	for _, p := range a.Principals {
		sv := p.StandingVia
		if sv == "" {
			sv = "-"
		}
		ew.printf("   %-24s %-9s %-19s %-13s %-20s %-13s %s\n", trunc(p.ID, 24), p.Kind, firstNonEmpty(p.MFA, "-"), p.Standing, trunc(sv, 20), p.Eligible, p.EligibleVia)
	}
}

func writeWhatIf(ew *errWriter, r *Report) {
	w := r.WhatIf
	var cs []string
	for _, c := range w.Changes {
		cs = append(cs, c.String())
	}
	ew.printf("\nWhat if: %s\n", strings.Join(cs, "; "))
	ew.printf("Nodes above the limit (%s at ≥ admin): %d → %d; worst single compromise: %d → %d tenants at admin.\n\n",
		plural(r.Limit, "tenant"), w.Before.OverLimit, w.After.OverLimit, w.Before.Worst, w.After.Worst)
	ew.printf("   %-24s %-9s %15s %15s %19s\n", "NODE", "KIND", "≥ADMIN", "ANY", "WEIGHTED")
	changed := 0
	for _, d := range w.Rows {
		if d.Before.TenantsAdmin != d.After.TenantsAdmin || d.Before.TenantsAny != d.After.TenantsAny {
			changed++
		}
	}
	shown := 0
	for _, d := range w.Rows {
		if shown == 30 {
			ew.printf("   … %d rows more (%d nodes changed in all; --format json lists them)\n", len(w.Rows)-shown, changed)
			break
		}
		shown++
		mark := " "
		if d.Before.TenantsAdmin != d.After.TenantsAdmin || d.Before.TenantsAny != d.After.TenantsAny {
			mark = "*"
		}
		ew.printf(" %s %-24s %-9s %6d → %-6d %6d → %-6d %8.0f → %-8.0f\n", mark, trunc(d.ID, 24), trunc(d.Kind, 9),
			d.Before.TenantsAdmin, d.After.TenantsAdmin, d.Before.TenantsAny, d.After.TenantsAny, d.Before.Weighted, d.After.Weighted)
	}
	ew.printf("\n   * changed\n")
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}

// WriteAccessHTML writes the --tenant answer as a self-contained HTML page
// (no script, no external assets): the same rows as the table and JSON.
func WriteAccessHTML(w io.Writer, r *Report) error {
	a := r.Access
	if a == nil {
		return fmt.Errorf("no --tenant answer to write")
	}
	ew := &errWriter{w: w}
	esc := html.EscapeString
	title := "Who reaches " + a.Tenant
	if r.Provider != "" {
		title += " — " + r.Provider
	}
	ew.printf("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>\n", esc(title))
	ew.printf("<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left}" +
		"td.full_control{color:#a00;font-weight:600}td.admin{color:#c50}td.operate{color:#875}td.none{color:#999}</style></head><body>\n")
	ew.printf("<h1>%s</h1>\n<p>%s reach tenant <b>%s</b> by any path. Standing is access held now; just in time is with eligible (PIM, JIT) access activated. The first hop is the start of a path achieving it (<code>firebreak blast --from ID</code> shows the whole path).</p>\n",
		esc(title), esc(plural(len(a.Principals), "principal")), esc(a.Tenant))
	ew.printf("<table><thead><tr><th>principal</th><th>kind</th><th>MFA</th><th>standing</th><th>first hop</th><th>just in time</th><th>first hop</th></tr></thead><tbody>\n")
	for _, p := range a.Principals {
		ew.printf("<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td><td>%s</td><td class=\"%s\">%s</td><td>%s</td></tr>\n",
			esc(p.ID), esc(p.Kind), esc(firstNonEmpty(p.MFA, "-")), p.Standing, p.Standing, esc(firstNonEmpty(p.StandingVia, "-")), p.Eligible, p.Eligible, esc(p.EligibleVia))
	}
	ew.printf("</tbody></table>\n</body></html>\n")
	return ew.err
}

// StepKey identifies a plan step by its changes (a hash of them, in any
// order): the remediation queue keeps a step's owner, due date and state
// under it from one assessment to the next, and the dashboard joins a
// queued step with the plan's step by it.
func StepKey(changes []Change) string {
	s := make([]string, len(changes))
	for i, c := range changes {
		s[i] = c.String()
	}
	slices.Sort(s)
	sum := sha256.Sum256([]byte(strings.Join(s, "\n")))
	return hex.EncodeToString(sum[:8])
}
