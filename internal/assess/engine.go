package assess

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"golang.org/x/sync/errgroup"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

//go:embed policies/*.rego
var embeddedPolicies embed.FS

// query collects the results set of every checks package.
const query = "r := data.firebreak.checks[_].results"

// principalsQuery summarises, once per run, the members of every identity
// or group with access into tenants (see policies/principals.rego).
const principalsQuery = "s := data.firebreak.principals.summary"

// reservedInput are the input document's own top-level fields (doc.go).
var reservedInput = map[string]bool{"now": true, "subject": true, "settings": true, "provider": true, "tenant": true,
	"kev": true, "identities": true, "access": true, "tool_access": true, "principals": true, "tools": true, "gdap": true, "assets": true,
	"backups": true, "ir_plans": true, "contract": true, "vendors": true, "domains": true, "exposures": true,
	"grants": true, "gaps": true, "auth_monitoring": true, "admin_reuse": true}

// Options configure an Engine.
type Options struct {
	// PolicyDirs are directories of users' own .rego files (files ending
	// in _test.rego are skipped). Their packages must live under
	// firebreak.checks and define a results set (see doc.go).
	PolicyDirs []string
	// KEV is the CISA KEV catalog; nil makes KEV controls not-evaluable.
	KEV *kev.Catalog
	// KEVMissing explains why KEV is nil (shown as the missing evidence).
	KEVMissing string
	// Clock gives the evaluation time; required (the CLI passes time.Now
	// or a fixed --now).
	Clock func() time.Time
	// Access are the derived access facts of the estate at the Clock's
	// time (internal/access); pass the Facts the trust graph was built
	// from so both judge alike. Nil (or Facts for another time) computes
	// them.
	Access *access.Facts
	// Trust gives the trust graph's facts for input.trust (the FB-TRUST
	// controls), typed; Run calls it once, while it indexes the estate, so
	// that building the graph overlaps that work; its error ends Run. Nil
	// leaves input.trust out (the graph controls are then not evaluable)
	// unless Extra["trust"] gives it.
	Trust func() (*trust.FactsDoc, error)
	// Extra entries appear in the input document under their key (e.g.
	// "trust"); values must be JSON-able. They are converted once per Run.
	// A value may also be a func() (any, error) giving the JSON-able value:
	// Run calls it once, while it indexes the estate, so that a costly
	// summary (the trust graph's) overlaps that work; its error ends Run.
	Extra map[string]any
	// AuthMonitoring is the live failed-authentication detection per log
	// source (FB-AUTH-004, input.auth_monitoring); nil makes the control
	// not evaluable.
	AuthMonitoring *AuthMonitoring
	// Subjects restricts evaluation to these subjects ("msp" or tenant
	// ids); empty means the MSP and every tenant.
	Subjects []string
	// Workers evaluating subjects in parallel; 0 means GOMAXPROCS.
	Workers int
	// Logger receives debug timings; nil discards.
	Logger *slog.Logger
}

// Engine evaluates the catalog against estates. Its Rego is prepared once
// in New; Run may be called many times and concurrently.
type Engine struct {
	cat      *catalog.Catalog
	opts     Options
	pq       rego.PreparedEvalQuery
	pqPrin   rego.PreparedEvalQuery // principals phase (once per run)
	policies []string               // module file names, for reports
	log      *slog.Logger
}

// PolicyError is a Rego file that does not parse or compile, or fails at
// evaluation; Msg names the file and line.
type PolicyError struct{ Msg string }

func (e *PolicyError) Error() string { return e.Msg }

// New loads the embedded policies and the users' policy dirs, checks that
// every automated control has an implementing package, and prepares the
// query.
func New(cat *catalog.Catalog, opts Options) (*Engine, error) {
	if cat == nil {
		return nil, errors.New("assess: nil catalog")
	}
	if opts.Clock == nil {
		return nil, errors.New("assess: Options.Clock is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var modules []*ast.Module
	var names []string
	parse := func(name string, src []byte) error {
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return &PolicyError{Msg: fmt.Sprintf("parsing policy %s", formatRegoErr(err))}
		}
		modules = append(modules, m)
		names = append(names, name)
		return nil
	}
	files, err := fs.Glob(embeddedPolicies, "policies/*.rego")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	for _, fn := range files {
		if strings.HasSuffix(fn, "_test.rego") {
			continue
		}
		src, err := embeddedPolicies.ReadFile(fn)
		if err != nil {
			return nil, err
		}
		if err := parse("internal/assess/"+fn, src); err != nil {
			return nil, err
		}
	}
	if err := eachPolicyFile(opts.PolicyDirs, parse); err != nil {
		return nil, err
	}
	pkgs := map[string]bool{}
	for i, m := range modules {
		pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
		pkgs[pkg] = true
		if !strings.HasPrefix(pkg, "firebreak.") {
			log.Warn("policy package is outside firebreak.checks: its rules are only used if a check imports them", "file", names[i], "package", pkg)
		}
	}
	if _, ok := opts.Extra["trust"]; ok && opts.Trust != nil {
		return nil, errors.New("assess: input.trust given twice (Options.Trust and Options.Extra[\"trust\"])")
	}
	for k := range opts.Extra {
		if reservedInput[k] {
			return nil, fmt.Errorf("assess: Options.Extra key %q clashes with the input document's own field", k)
		}
	}
	var problems []string
	for _, c := range cat.Controls() {
		if c.Kind == catalog.KindAutomated && !pkgs[c.Rego] {
			problems = append(problems, fmt.Sprintf("%s:%d: control %s: rego package %s not found among policies", c.File, c.Line, c.ID, c.Rego))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("catalog and policies disagree:\n  %s", strings.Join(problems, "\n  "))
	}
	args := []func(*rego.Rego){rego.Query(query), rego.StrictBuiltinErrors(true), rego.Capabilities(policyCapabilities())}
	for _, m := range modules {
		args = append(args, rego.ParsedModule(m))
	}
	pq, err := rego.New(args...).PrepareForEval(context.Background())
	if err != nil {
		return nil, &PolicyError{Msg: "compiling policies: " + formatRegoErr(err)}
	}
	args[0] = rego.Query(principalsQuery)
	pqPrin, err := rego.New(args...).PrepareForEval(context.Background())
	if err != nil {
		return nil, &PolicyError{Msg: "compiling policies: " + formatRegoErr(err)}
	}
	return &Engine{cat: cat, opts: opts, pq: pq, pqPrin: pqPrin, policies: names, log: log}, nil
}

// formatRegoErr renders OPA errors as file:line:col: message lines.
func formatRegoErr(err error) string {
	var errs ast.Errors
	if errors.As(err, &errs) {
		lines := make([]string, 0, len(errs))
		for _, e := range errs {
			loc := ""
			if e.Location != nil {
				loc = fmt.Sprintf("%s:%d:%d: ", e.Location.File, e.Location.Row, e.Location.Col)
			}
			lines = append(lines, loc+e.Message)
		}
		return strings.Join(lines, "\n  ")
	}
	return err.Error()
}

// Catalog returns the engine's catalog.
func (en *Engine) Catalog() *catalog.Catalog { return en.cat }

// Policies lists the loaded policy files.
func (en *Engine) Policies() []string { return en.policies }

// Timing is how long the phases of the last Run took: wall time, and the
// whole process's CPU time over the same span (...CPU; other goroutines
// running meanwhile, such as the trust graph's, are counted in it).
type Timing struct {
	Index    time.Duration `json:"index"`
	Evaluate time.Duration `json:"evaluate"`
	Finish   time.Duration `json:"finish"`
	// Principals is the part of Index spent in the principals phase, and
	// Extra the part spent waiting for the extra input (the trust facts).
	Principals, Extra                time.Duration
	IndexCPU, EvaluateCPU, FinishCPU time.Duration
	PrincipalsCPU                    time.Duration
}

// Run assesses e and returns the report. It is a pure function of e, the
// options and the clock.
func (en *Engine) Run(ctx context.Context, e *estate.Estate) (*Report, error) {
	now := en.opts.Clock().UTC()
	t0, c0 := time.Now(), ProcessCPU()
	// The extra input (made by Extra funcs, then converted) is prepared
	// while the index is built and the principals summarised.
	type extraDone struct {
		items []kv
		err   error
	}
	extraCh := make(chan extraDone, 1) // buffered: an early return leaves no goroutine blocked
	go func() { items, err := en.extra(); extraCh <- extraDone{items, err} }()
	x := newIndex(e, now, en.opts.KEV, en.opts.Access)
	x.authMon = en.opts.AuthMonitoring

	kevInfo := obj(f("loaded", boolean(false)), f("missing", str(firstNonEmpty(en.opts.KEVMissing, "CISA KEV catalog (run `firebreak kev update` or pass --kev FILE)"))))
	if k := en.opts.KEV; k != nil {
		kevInfo = obj(f("loaded", boolean(true)), f("version", str(k.CatalogVersion)), f("source", str(k.Name)), f("count", num(len(k.Vulns))))
	}
	st := x.static(kevInfo, nil) // the principals phase reads only now and settings
	tp, cp := time.Now(), ProcessCPU()
	prs, err := en.pqPrin.Eval(ctx, rego.EvalParsedInput(x.principalsInput(st)), rego.EvalTime(now))
	if err != nil {
		return nil, &PolicyError{Msg: "evaluating principals: " + formatRegoErr(err)}
	}
	summary := ast.NewObject()
	if len(prs) > 0 {
		v, err := ast.InterfaceToValue(prs[0].Bindings["s"])
		if err != nil {
			return nil, fmt.Errorf("principals summary: %w", err)
		}
		summary = v.(ast.Object)
	}
	st.principals = ast.NewTerm(summary)
	tPrin, cPrin := time.Since(tp), ProcessCPU()-cp
	te := time.Now()
	ed := <-extraCh
	tExtra := time.Since(te)
	if ed.err != nil {
		return nil, ed.err
	}
	st.extra = ed.items

	subjects, err := en.subjects(e)
	if err != nil {
		return nil, err
	}
	tIndex := time.Since(t0)
	t1, c1 := time.Now(), ProcessCPU()

	out := make([][]Result, len(subjects))
	workers := en.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(subjects))
	var next atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(subjects) {
					return nil
				}
				if err := gctx.Err(); err != nil {
					return err
				}
				rs, err := en.evalSubject(gctx, x, st, subjects[i])
				if err != nil {
					return err
				}
				out[i] = rs
			}
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	tEval := time.Since(t1)
	t2, c2 := time.Now(), ProcessCPU()

	n := 0
	for _, rs := range out {
		n += len(rs)
	}
	rep := &Report{
		Version:  "1",
		At:       now,
		Provider: firstNonEmpty(e.Provider.Name, e.Provider.ID, estate.MSP),
		Sources:  e.Sources,
		Results:  make([]Result, 0, n),
		Policies: en.policies,
	}
	if k := en.opts.KEV; k != nil {
		rep.KEV = k.CatalogVersion
	}
	for _, rs := range out {
		rep.Results = append(rep.Results, rs...)
	}
	rep.Scores = scores(en.cat, x, subjects, rep.Results)
	tFinish := time.Since(t2)
	rep.Timing = &Timing{Index: tIndex, Evaluate: tEval, Finish: tFinish, Principals: tPrin, Extra: tExtra,
		IndexCPU: c1 - c0, EvaluateCPU: c2 - c1, FinishCPU: ProcessCPU() - c2, PrincipalsCPU: cPrin}
	en.log.Debug("assess", "subjects", len(subjects), "results", len(rep.Results), "index", tIndex, "evaluate", tEval, "finish", tFinish)
	return rep, nil
}

// extra converts Options.Extra (calling its funcs) to input entries, in key
// order.
func (en *Engine) extra() ([]kv, error) {
	keys := make([]string, 0, len(en.opts.Extra))
	for k := range en.opts.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	items := make([]kv, 0, len(keys)+1)
	if en.opts.Trust != nil {
		doc, err := en.opts.Trust()
		if err != nil {
			return nil, err
		}
		if doc != nil {
			items = append(items, f("trust", trustTerm(doc)))
		}
	}
	for _, k := range keys {
		val := en.opts.Extra[k]
		if fn, ok := val.(func() (any, error)); ok {
			var err error
			if val, err = fn(); err != nil {
				return nil, err
			}
		}
		v, err := ast.InterfaceToValue(val)
		if err != nil {
			return nil, fmt.Errorf("converting input.%s: %w", k, err)
		}
		items = append(items, f(k, ast.NewTerm(v)))
	}
	return items, nil
}

func (en *Engine) subjects(e *estate.Estate) ([]string, error) {
	if len(en.opts.Subjects) == 0 {
		s := make([]string, 0, len(e.Tenants)+1)
		s = append(s, estate.MSP)
		for i := range e.Tenants {
			s = append(s, e.Tenants[i].ID)
		}
		return s, nil
	}
	known := map[string]bool{estate.MSP: true}
	for i := range e.Tenants {
		known[e.Tenants[i].ID] = true
	}
	var s []string
	for _, id := range en.opts.Subjects {
		if !known[id] {
			return nil, fmt.Errorf("unknown tenant %q", id)
		}
		if !slices.Contains(s, id) {
			s = append(s, id)
		}
	}
	return s, nil
}

// eachPolicyFile calls fn with the path and source of every .rego file in
// dirs (not recursing; files ending _test.rego are skipped). A directory
// with no policy is an error: it is almost certainly a wrong path.
func eachPolicyFile(dirs []string, fn func(path string, src []byte) error) error {
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("reading policy dir: %w", err)
		}
		n := 0
		for _, de := range ents {
			name := de.Name()
			if de.IsDir() || !strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego") {
				continue
			}
			p := filepath.Join(dir, name)
			src, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("reading policy: %w", err)
			}
			if err := fn(p, src); err != nil {
				return err
			}
			n++
		}
		if n == 0 {
			return fmt.Errorf("policy dir %s: no .rego files", dir)
		}
	}
	return nil
}
