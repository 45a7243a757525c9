// Package evaluate is the one composition of the posture engines:
// estate → access facts (with KEV) → trust graph → assessment. The CLI
// (`firebreak assess`, `firebreak blast`) and the service (worker.Engines)
// both call it, so they cannot drift apart in how KEV reaches the graph or
// how the graph's facts reach the policies.
//
// It calls internal/access, internal/trust and internal/assess and
// restructures none of them: the access facts go to both trust and assess
// (so both judge MFA, exposure, open KEV and privileges alike), and the
// graph's facts reach assess typed, through assess.Options.Trust.
package evaluate

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

// Deps are what an evaluation needs besides the estate.
type Deps struct {
	Catalog *catalog.Catalog // nil: catalog.Load()
	// KEV is the CISA KEV catalog; nil makes KEV controls not evaluable and
	// KEVMissing says why.
	KEV        *kev.Catalog
	KEVMissing string
	PolicyDirs []string  // users' own Rego
	Subjects   []string  // restrict to these subjects; empty: all
	Now        time.Time // the one clock of expiry, patch state and the report; zero: time.Now()
	Logger     *slog.Logger
	// AuthMonitoring is the live failed-authentication detection per log
	// source (FB-AUTH-004); nil: not evaluable.
	AuthMonitoring *assess.AuthMonitoring
	// NoTrust skips the trust graph (its controls are then not evaluable).
	NoTrust bool
	// TrustOptional keeps assessing when the graph cannot be built: the
	// failure is logged and input.trust is left out (the graph's controls
	// are not evaluable). Without it the failure ends the evaluation (the
	// CLI's behaviour).
	TrustOptional bool
	// Graph, when not nil, is a trust graph already built of this estate
	// with these Deps (TrustGraph); it is reused instead of rebuilt.
	Graph *trust.Graph
}

// Result is one evaluation.
type Result struct {
	Report *assess.Report
	// Access are the derived access facts both engines judged by.
	Access *access.Facts
	// Graph is the trust graph of the estate (nil with NoTrust or when it
	// could not be built under TrustOptional).
	Graph *trust.Graph
	// TrustTook is how long building the graph took (it overlaps indexing).
	TrustTook time.Duration
}

func (d *Deps) now() time.Time {
	if d.Now.IsZero() {
		d.Now = time.Now()
	}
	return d.Now
}

// TrustGraph builds the trust graph of e as Evaluate does: the same clock
// and the same access facts (acc nil computes them).
func TrustGraph(e *estate.Estate, deps Deps, acc *access.Facts) (*trust.Graph, error) {
	now := deps.now()
	if acc == nil {
		acc = access.Compute(e, access.Options{Now: now, KEV: deps.KEV})
	}
	return trust.Build(e, trust.Options{Now: now, KEVCatalog: deps.KEV, Access: acc})
}

// Evaluate derives the access facts of e, builds its trust graph (on its
// own goroutine while the assessment prepares and indexes e) and assesses
// e with both.
func Evaluate(ctx context.Context, e *estate.Estate, deps Deps) (*Result, error) {
	now := deps.now()
	if deps.Catalog == nil {
		cat, err := catalog.Load()
		if err != nil {
			return nil, fmt.Errorf("loading catalog: %w", err)
		}
		deps.Catalog = cat
	}
	res := &Result{Access: access.Compute(e, access.Options{Now: now, KEV: deps.KEV})}
	var trustIn func() (*trust.FactsDoc, error)
	var wait func()
	switch {
	case deps.NoTrust:
	case deps.Graph != nil:
		res.Graph = deps.Graph
		trustIn = func() (*trust.FactsDoc, error) { return trust.FactsOf(deps.Graph), nil }
	case deps.TrustOptional:
		// Built before assessing, so that a failure leaves input.trust out
		// rather than failing the run.
		t := time.Now()
		g, err := TrustGraph(e, deps, res.Access)
		res.TrustTook = time.Since(t)
		if err != nil {
			if deps.Logger != nil {
				deps.Logger.Warn("trust graph for assessment", "err", err)
			}
		} else {
			res.Graph = g
			trustIn = func() (*trust.FactsDoc, error) { return trust.FactsOf(g), nil }
		}
	default:
		type built struct {
			g    *trust.Graph
			err  error
			took time.Duration
		}
		ch := make(chan built, 1)
		go func() {
			t := time.Now()
			g, err := TrustGraph(e, deps, res.Access)
			ch <- built{g: g, err: err, took: time.Since(t)}
		}()
		var b built
		var once sync.Once
		wait = func() {
			once.Do(func() {
				b = <-ch
				res.TrustTook = b.took
				if b.err == nil {
					res.Graph = b.g
				}
			})
		}
		// Run calls this once, while it indexes the estate.
		trustIn = func() (*trust.FactsDoc, error) {
			wait()
			if b.err != nil {
				return nil, fmt.Errorf("building the trust graph (use --no-trust to skip): %w", b.err)
			}
			return trust.FactsOf(b.g), nil
		}
	}
	en, err := assess.New(deps.Catalog, assess.Options{
		PolicyDirs: deps.PolicyDirs,
		KEV:        deps.KEV,
		KEVMissing: deps.KEVMissing,
		Access:     res.Access,
		Clock:      func() time.Time { return now },
		Trust:      trustIn,
		Subjects:   deps.Subjects,
		Logger:     deps.Logger,

		AuthMonitoring: deps.AuthMonitoring,
	})
	if err == nil {
		res.Report, err = en.Run(ctx, e)
	}
	if wait != nil {
		wait() // the graph goroutine ends before Evaluate returns
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}
