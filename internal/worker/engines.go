package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/detect/tenantctx"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/evaluate"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// EngineOptions configure NewEngines.
type EngineOptions struct {
	PolicyDirs []string
	// KEVPath is the CISA KEV catalog file (assess.kev). Empty: the one
	// `firebreak kev update` (or serve's kev collector) stored under
	// KEVDataDir, re-read whenever it changes.
	KEVPath    string
	KEVDataDir string
	// KEVFallback is the catalog used while none is stored under
	// KEVDataDir (or when neither KEVPath nor KEVDataDir is set): the
	// snapshot built into the binary, so serve, the demo and the CLI judge
	// by the same rule (cmd/firebreak's resolveKEV). nil: none.
	KEVFallback *kev.Catalog
	RuleDirs    []string
	Clock       func() time.Time
	Logger      *slog.Logger
	// RankLimit bounds the stored single-points-of-failure ranking (default 100).
	RankLimit int
}

// NewEngines wires the real engines: the catalog and Rego policies, the
// trust graph and the Sigma rules (built-in plus RuleDirs).
func NewEngines(opts EngineOptions) (*Engines, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.RankLimit <= 0 {
		opts.RankLimit = 100
	}
	cat, err := catalog.Load()
	if err != nil {
		return nil, fmt.Errorf("loading catalog: %w", err)
	}
	deps := evaluate.Deps{Catalog: cat, PolicyDirs: opts.PolicyDirs, Logger: opts.Logger, TrustOptional: true}
	stored := &storedKEV{}
	switch {
	case opts.KEVPath != "":
		k, err := kev.Load(opts.KEVPath)
		if err != nil {
			return nil, fmt.Errorf("loading KEV: %w", err)
		}
		deps.KEV = k
	case opts.KEVDataDir != "":
		stored.path = kev.StoredPath(opts.KEVDataDir)
		if _, _, err := stored.get(); err != nil {
			return nil, err
		}
	case opts.KEVFallback != nil:
		deps.KEV = opts.KEVFallback
	default:
		deps.KEVMissing = "no KEV catalog configured (assess.kev)"
	}
	// kevLine states the catalog deps used (kev.Used, as the CLI prints it).
	kevLine := func(d evaluate.Deps) string {
		switch {
		case d.KEV == nil:
			return kev.Used("", nil, d.KEVMissing)
		case d.KEV == opts.KEVFallback:
			return kev.Used(kev.BuiltinWhat, d.KEV, kev.BuiltinHint)
		case opts.KEVPath != "":
			return kev.Used(kev.FileWhat(opts.KEVPath), d.KEV, "")
		}
		return kev.Used(kev.StoredWhat, d.KEV, "")
	}
	// Compile the policies once now, so a broken policy directory stops
	// the start rather than the first assessment (each evaluation
	// prepares its own engine: the access facts are per estate).
	if _, err := assess.New(cat, assess.Options{PolicyDirs: opts.PolicyDirs, Clock: opts.Clock, Logger: opts.Logger}); err != nil {
		return nil, fmt.Errorf("preparing assessment: %w", err)
	}
	at := func() evaluate.Deps {
		d := deps
		d.Now = opts.Clock()
		if stored.path != "" {
			d.KEV, d.KEVMissing, _ = stored.get() // a later unreadable file keeps the last good catalog
			if d.KEV == nil && opts.KEVFallback != nil {
				d.KEV, d.KEVMissing = opts.KEVFallback, ""
			}
		}
		return d
	}
	rules, err := detect.Builtin()
	if err != nil {
		return nil, fmt.Errorf("loading built-in rules: %w", err)
	}
	own, err := detect.LoadRules(pipeline.AuthRules())
	if err != nil {
		return nil, fmt.Errorf("loading firebreak.auth rules: %w", err)
	}
	rules = append(rules, own...)
	for _, dir := range opts.RuleDirs {
		more, err := detect.LoadRules(os.DirFS(dir))
		if err != nil {
			return nil, fmt.Errorf("loading rules from %s: %w", dir, err)
		}
		rules = append(rules, more...)
	}
	if _, err := detect.NewEngine(rules, detect.Options{}); err != nil {
		return nil, fmt.Errorf("compiling rules: %w", err)
	}
	var mu sync.Mutex
	var graph *trust.Graph
	var graphOf *estate.Estate
	var graphKEV *kev.Catalog // the catalog the kept graph was built with
	// The detection context (account counts, benign networks, service
	// accounts, placeholder values) of the current estate: every detector
	// follows it, from the estate at start and on each reload.
	live := &detect.LiveContext{}
	build := func(e *estate.Estate) (*trust.Graph, error) {
		d := at()
		mu.Lock()
		g, of, ofKEV := graph, graphOf, graphKEV
		mu.Unlock()
		if of == e && ofKEV == d.KEV && g != nil {
			return g, nil
		}
		g, err := evaluate.TrustGraph(e, d, nil)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		graph, graphOf, graphKEV = g, e, d.KEV
		mu.Unlock()
		return g, nil
	}
	assessWith := func(ctx context.Context, e *estate.Estate, mon *assess.AuthMonitoring) (*assess.Report, error) {
		d := at()
		mu.Lock()
		g, of, ofKEV := graph, graphOf, graphKEV
		mu.Unlock()
		if of != e || ofKEV != d.KEV {
			g = nil // built by Evaluate (a failure leaves the graph's controls not evaluable)
		}
		d.Graph = g
		d.AuthMonitoring = mon
		res, err := evaluate.Evaluate(ctx, e, d)
		if err != nil {
			return nil, err
		}
		if res.Graph != nil {
			mu.Lock()
			graph, graphOf, graphKEV = res.Graph, e, d.KEV
			mu.Unlock()
		}
		return res.Report, nil
	}
	eng := &Engines{
		Rules: rules,
		Now:   opts.Clock,
		KEV:   func() string { return kevLine(at()) },
		Assess: func(ctx context.Context, e *estate.Estate) (*assess.Report, error) {
			return assessWith(ctx, e, nil)
		},
		AssessMonitored: func(ctx context.Context, e *estate.Estate, mon *assess.AuthMonitoring) (*assess.Report, error) {
			return assessWith(ctx, e, mon)
		},
		Blast: func(e *estate.Estate) (*store.BlastResult, error) {
			g, err := build(e)
			if err != nil {
				return nil, err
			}
			return blastResult(g, opts.RankLimit), nil
		},
		Graph: build,
		BlastQuery: func(node string) (any, error) {
			mu.Lock()
			g := graph
			mu.Unlock()
			if g == nil {
				return nil, store.ErrNotFound
			}
			b, err := g.BlastFrom(node)
			if err != nil {
				return nil, store.ErrNotFound
			}
			return blastView(g, node, b), nil
		},
		DetectionContext: func(e *estate.Estate) { live.Set(tenantctx.Context(e)) },
		NewDetector: func() (pipeline.Detector, error) {
			de, err := detect.NewEngine(rules, detect.Options{Live: live})
			if err != nil {
				return nil, err
			}
			return pipeline.Wrap(de), nil
		},
		NewDetectorFor: func(rs []*detect.Rule) (pipeline.Detector, error) {
			de, err := detect.NewEngine(rs, detect.Options{Live: live})
			if err != nil {
				return nil, err
			}
			return pipeline.Wrap(de), nil
		},
	}
	return eng, nil
}

// blastResult turns the graph's ranking into the stored form, with the
// tenants each top node reaches (so tenant scopes can be filtered).
func blastResult(g *trust.Graph, limit int) *store.BlastResult {
	rk := g.Ranking()
	out := &store.BlastResult{}
	for i, r := range rk.Ranks {
		if i == limit {
			break
		}
		n := &g.Nodes[r.Node]
		row := store.BlastRank{Rank: i + 1, Node: r.ID, Kind: r.Kind.String(), Name: n.Name, Score: r.Weighted, TenantCount: r.AtAny()}
		if b := g.Blast(r.Node, trust.Query{}); b != nil {
			best := trust.Priv(0)
			for _, t := range b.Tenants {
				row.Tenants = append(row.Tenants, g.Nodes[t.Node].ID)
				best = max(best, t.Priv)
			}
			row.Privilege = best.String()
			row.TenantCount = len(row.Tenants)
		}
		out.Ranking = append(out.Ranking, row)
	}
	doc := map[string]any{"tenants": rk.Tenants, "ranking": rk.Ranks[:min(len(rk.Ranks), limit)], "outsider": rk.Outsider}
	// The "fix first" plan, computed by the same report `firebreak blast`
	// prints, so the dashboard's queue and the CLI's agree step for step.
	if rep, err := trust.NewReport(g, trust.ReportOptions{Suggest: true}); err == nil && rep.Plan != nil {
		doc["plan"] = rep.Plan
	}
	out.JSON = mustJSON(doc)
	return out
}

type reachedView struct {
	ID        string       `json:"id"`
	Name      string       `json:"name,omitempty"`
	Privilege string       `json:"privilege"`
	Path      []trust.Step `json:"path,omitempty"`
}

func blastView(g *trust.Graph, node string, b *trust.Blast) any {
	conv := func(rs []trust.Reached) []reachedView {
		out := make([]reachedView, 0, len(rs))
		for _, r := range rs {
			n := &g.Nodes[r.Node]
			out = append(out, reachedView{ID: n.ID, Name: n.Name, Privilege: r.Priv.String(), Path: g.Steps(r.Path)})
		}
		return out
	}
	return map[string]any{"node": node, "tenants": conv(b.Tenants), "assets": len(b.Assets), "other": len(b.Other)}
}

// storedKEV is the KEV catalog kept in the data directory, loaded again
// when the file changes (a `kev update`, or serve's own kev collector).
type storedKEV struct {
	path string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	cat     *kev.Catalog
}

// get returns the current catalog, or nil and why it is missing. An error
// only for a file that exists but cannot be read while no good catalog was
// loaded before (at start: refuse to run on a broken catalog).
func (s *storedKEV) get() (*kev.Catalog, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		if s.cat != nil {
			return s.cat, "", nil
		}
		return nil, "no KEV catalog: set assess.kev, or run `firebreak kev update --data-dir` with serve's data directory (" + s.path + " does not exist)", nil
	}
	if s.cat != nil && fi.ModTime().Equal(s.modTime) && fi.Size() == s.size {
		return s.cat, "", nil
	}
	k, err := kev.Load(s.path)
	if err != nil {
		if s.cat != nil {
			return s.cat, "", nil
		}
		return nil, "", fmt.Errorf("loading KEV: %w", err)
	}
	s.cat, s.modTime, s.size = k, fi.ModTime(), fi.Size()
	return k, "", nil
}
