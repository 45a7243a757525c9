// Package integrations runs the MSP's tools configured under connectors:
// in firebreak.yaml, inside `firebreak serve`: evidence sources (RMM, IT
// Glue, identity platforms) on their schedule, writing estate fragments
// the worker reloads; event sources (RMM activity logs) polled into the
// detection pipeline; SIEM export of incidents and findings (and
// optionally events) through bounded spools; PSA tickets through the
// store's outbox.
//
// Imports connector, export, psa, store, ingest, estate, collect and
// config; imported by the server's composition only.
package integrations

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"

	cdns "github.com/firebreak-msp/firebreak/internal/collect/dns"
	"github.com/firebreak-msp/firebreak/internal/collect/google"
	"github.com/firebreak-msp/firebreak/internal/collect/graph"
	"github.com/firebreak-msp/firebreak/internal/collect/kev/kevupdate"
	"github.com/firebreak-msp/firebreak/internal/collect/okta"
	"github.com/firebreak-msp/firebreak/internal/collect/probe"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/export"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/itglue"
	"github.com/firebreak-msp/firebreak/internal/psa"
	"github.com/firebreak-msp/firebreak/internal/rmm/datto"
	"github.com/firebreak-msp/firebreak/internal/rmm/ninjaone"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Definitions are the connectors this package adds to a registry.
func Definitions() []connector.Definition {
	return []connector.Definition{ninjaone.Definition(), datto.Definition(), itglue.Definition(),
		export.SentinelDefinition(), export.HECDefinition(), psa.ConnectWiseDefinition(), psa.HaloDefinition(),
		graph.Definition, okta.Definition, google.Definition, cdns.Definition, probe.Definition, kevupdate.Definition}
}

// Options wire a Runner into serve.
type Options struct {
	Config   config.Config
	Registry *connector.Registry
	Store    store.Store
	// Commit stores events and hands them to detection (pipeline.Commit).
	Commit func(ctx context.Context, recs []store.EventRecord) error
	// Estate returns the current estate (worker.CurrentEstate).
	Estate func() (*estate.Estate, int64)
	// TenantMap places events without a tenant (worker.TenantMap).
	TenantMap func() *ingest.TenantMap
	Env       connector.Env
	Log       *slog.Logger
	Now       func() time.Time
}

type source struct {
	name     string
	def      connector.Definition
	evidence connector.EvidenceSource
	events   connector.EventSource
	schedule time.Duration
	poll     time.Duration
}

type exporter struct {
	name   string
	x      *export.Exporter
	events bool
}

type tickets struct {
	cfg    config.TicketsConfig
	name   string
	syncer *psa.Syncer
}

// Runner runs the configured connectors.
type Runner struct {
	o       Options
	dir     string // collected fragments
	state   string // cursors
	sources []source
	exports []exporter
	tickets []tickets

	mu     sync.Mutex
	runs   map[string][]connector.TenantRun
	errs   map[string]string
	last   map[string]time.Time
	psaRes map[string]psa.Result
}

// CollectedDir is where fragments go: connectors.dir, else the first
// estate path when it is a directory (fragments are merged with the
// hand-written files of the same directory, as `firebreak collect -o`
// does). "" when there is none.
func CollectedDir(cfg config.Config) string {
	if cfg.Connectors.Dir != "" {
		return cfg.Connectors.Dir
	}
	if len(cfg.Estate.Paths) > 0 {
		if fi, err := os.Stat(cfg.Estate.Paths[0]); err == nil && fi.IsDir() {
			return cfg.Estate.Paths[0]
		}
	}
	return ""
}

// New builds every configured connector; a bad type or setting is an
// error naming it.
func New(o Options) (*Runner, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Env.Log == nil {
		o.Env.Log = o.Log
	}
	if o.Env.DataDir == "" {
		o.Env.DataDir = o.Config.DataDir
	}
	cc := o.Config.Connectors
	r := &Runner{o: o, dir: CollectedDir(o.Config), state: filepath.Join(o.Config.DataDir, "connectors"),
		runs: map[string][]connector.TenantRun{}, errs: map[string]string{}, last: map[string]time.Time{}, psaRes: map[string]psa.Result{}}
	build := func(field, typ string, n yaml.Node, want connector.Capability) (connector.Definition, any, error) {
		def, ok := o.Registry.Lookup(typ)
		if !ok || !def.Spec.Has(want) {
			var names []string
			for _, d := range o.Registry.With(want) {
				names = append(names, d.Spec.Name)
			}
			return def, nil, fmt.Errorf("%s.type: %q is not a known %s connector (known: %v)", field, typ, want, names)
		}
		v, err := def.New(decoder(field+".settings", n), o.Env)
		if err != nil && strings.HasPrefix(err.Error(), field+".") {
			return def, nil, err
		}
		if err != nil {
			return def, nil, fmt.Errorf("%s: %w", field, err)
		}
		return def, v, nil
	}
	if len(cc.Sources) > 0 && r.dir == "" {
		return nil, fmt.Errorf("connectors.sources: collected evidence is merged into the estate directory: make estate.paths[0] a directory, or set connectors.dir to one of the estate directories")
	}
	for i, s := range cc.Sources {
		field := fmt.Sprintf("connectors.sources[%d]", i)
		def, v, err := build(field, s.Type, s.Settings, connector.CapEvidence)
		if err != nil {
			def, v, err = build(field, s.Type, s.Settings, connector.CapEvents)
		}
		if err != nil {
			return nil, err
		}
		src := source{name: cmp.Or(s.Name, s.Type), def: def, schedule: cmp.Or(s.Schedule, def.Spec.Schedule, time.Hour), poll: cmp.Or(s.Poll, time.Minute)}
		src.evidence, _ = v.(connector.EvidenceSource)
		src.events, _ = v.(connector.EventSource)
		r.sources = append(r.sources, src)
	}
	for i, e := range cc.Export {
		field := fmt.Sprintf("connectors.export[%d]", i)
		_, v, err := build(field, e.Type, e.Settings, connector.CapOutbound)
		if err != nil {
			return nil, err
		}
		sender, ok := v.(export.Sender)
		if !ok {
			return nil, fmt.Errorf("%s.type: %q is not a SIEM export", field, e.Type)
		}
		name := cmp.Or(e.Name, e.Type)
		dir := cmp.Or(e.SpoolDir, filepath.Join(o.Config.DataDir, "spool", name))
		sp, err := export.OpenSpool(dir, cmp.Or(e.SpoolMaxBytes, 1<<30))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		r.exports = append(r.exports, exporter{name: name, events: e.Events, x: export.NewExporter(name, sp, sender, export.Options{Log: o.Log, Now: o.Now})})
	}
	for i, t := range cc.Tickets {
		field := fmt.Sprintf("connectors.tickets[%d]", i)
		_, v, err := build(field, t.Type, t.Settings, connector.CapOutbound)
		if err != nil {
			return nil, err
		}
		be, ok := v.(psa.Backend)
		if !ok {
			return nil, fmt.Errorf("%s.type: %q is not a PSA", field, t.Type)
		}
		name := cmp.Or(t.Name, t.Type)
		r.tickets = append(r.tickets, tickets{cfg: t, name: name, syncer: &psa.Syncer{Target: name, Backend: be, Outbox: o.Store, Companies: t.Companies, Now: o.Now, Log: o.Log}})
	}
	return r, nil
}

// Empty reports a configuration without connectors.
func (r *Runner) Empty() bool { return len(r.sources)+len(r.exports)+len(r.tickets) == 0 }

// PollsEvents reports whether a connector polls events (they are
// committed through Options.Commit and so need detection's stream in a
// split deployment).
func (r *Runner) PollsEvents() bool {
	return slices.ContainsFunc(r.sources, func(s source) bool { return s.events != nil })
}

// Run runs every connector until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range r.sources {
		if s.evidence != nil {
			g.Go(func() error { r.every(ctx, s.schedule, func() { r.collect(ctx, s) }); return nil })
		}
		if s.events != nil {
			g.Go(func() error { r.every(ctx, s.poll, func() { r.poll(ctx, s) }); return nil })
		}
	}
	for _, e := range r.exports {
		g.Go(func() error { return e.x.Run(ctx) })
		g.Go(func() error { r.feed(ctx, e); return nil })
	}
	for _, t := range r.tickets {
		g.Go(func() error {
			r.every(ctx, cmp.Or(t.cfg.Interval, time.Minute), func() { r.syncTickets(ctx, t) })
			return nil
		})
	}
	return g.Wait()
}

// every calls fn now and then every d until ctx ends.
func (r *Runner) every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runner) record(name string, runs []connector.TenantRun, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if runs != nil {
		r.runs[name] = runs
	}
	r.last[name] = r.o.Now()
	if err != nil {
		r.errs[name] = err.Error()
	} else {
		delete(r.errs, name)
	}
}

// collect runs one evidence collection and writes its fragment.
func (r *Runner) collect(ctx context.Context, s source) {
	est, _ := r.o.Estate()
	now := r.o.Now()
	ev, err := s.evidence.Collect(ctx, connector.Request{Estate: est, Now: now})
	if err != nil {
		r.o.Log.Error("connector: collection failed", "connector", s.name, "err", err)
		r.record(s.name, nil, err)
		return
	}
	// A source read not at all (credentials refused, every list
	// forbidden) answers gaps and nothing else. Writing that would drop
	// the tenants and technicians it had collected from the estate, and
	// their PSA tickets would close as if the controls passed: keep the
	// previous fragment, as for a failed collection, until it goes stale.
	if refused, reason := ev.Refused(); refused {
		err := fmt.Errorf("nothing collected, previous fragment kept: %s", reason)
		r.o.Log.Error("connector: collection failed", "connector", s.name, "err", err)
		r.record(s.name, ev.Tenants, err)
		return
	}
	// The same file name as `firebreak collect NAME` writes, so a CLI run
	// and serve replace one fragment rather than keeping two.
	name := s.name + ".collected.yaml"
	path := filepath.Join(r.dir, name)
	frag := Dedupe(ev.Fragment, est, path)
	if _, err := writeFragment(r.dir, name, s.name, now, frag); err != nil {
		r.o.Log.Error("connector: writing fragment", "connector", s.name, "err", err)
		r.record(s.name, ev.Tenants, err)
		return
	}
	for _, run := range ev.Tenants {
		if !run.OK() {
			r.o.Log.Warn("connector: tenant incomplete", "connector", s.name, "tenant", run.Tenant, "errors", run.Errors)
		}
	}
	r.record(s.name, ev.Tenants, nil)
}

// Dedupe drops from frag the objects the estate already defines in other
// files (hand-written, or another connector's), so the merged estate has
// each id once; objects from path itself (the previous run) are replaced.
func Dedupe(frag, est *estate.Estate, path string) *estate.Estate {
	if est == nil {
		return frag
	}
	out := *frag
	out.Tenants = dropDefined(frag.Tenants, est.Tenants, path, func(x estate.Tenant) (string, estate.Pos) { return x.ID, x.Pos })
	out.Identities = dropDefined(frag.Identities, est.Identities, path, func(x estate.Identity) (string, estate.Pos) { return x.ID, x.Pos })
	out.Tools = dropDefined(frag.Tools, est.Tools, path, func(x estate.Tool) (string, estate.Pos) { return x.ID, x.Pos })
	out.Assets = dropDefined(frag.Assets, est.Assets, path, func(x estate.Asset) (string, estate.Pos) { return x.ID, x.Pos })
	out.Grants = dropDefined(frag.Grants, est.Grants, path, func(x estate.Grant) (string, estate.Pos) { return x.ID, x.Pos })
	return &out
}

// dropDefined returns frag without the objects whose id the estate
// defines in a file other than path.
func dropDefined[T any](frag, defined []T, path string, key func(T) (string, estate.Pos)) []T {
	other := map[string]bool{}
	for _, x := range defined {
		if id, pos := key(x); pos.File != "" && !sameFile(pos.File, path) {
			other[id] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(frag), func(x T) bool { id, _ := key(x); return other[id] })
}

func sameFile(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// cursor files keep event sources' positions across restarts.
func (r *Runner) loadCursor(name string) connector.Cursor {
	b, err := os.ReadFile(filepath.Join(r.state, name+".cursor.json"))
	if err != nil {
		return nil
	}
	var c connector.Cursor
	if json.Unmarshal(b, &c) != nil {
		return nil
	}
	return c
}

func (r *Runner) saveCursor(name string, c connector.Cursor) error {
	b, _ := json.Marshal(c)
	if err := os.MkdirAll(r.state, 0o700); err != nil {
		return err
	}
	return writeFile(filepath.Join(r.state, name+".cursor.json"), b)
}

// maxBatch bounds the events committed at once.
const maxBatch = 1000

// poll reads an event source since its cursor, commits the events and
// then moves the cursor (at least once: a crash in between reads again).
func (r *Runner) poll(ctx context.Context, s source) {
	est, _ := r.o.Estate()
	now := r.o.Now()
	cur := r.loadCursor(s.name)
	var tm *ingest.TenantMap
	if r.o.TenantMap != nil {
		tm = r.o.TenantMap()
	}
	var batch []store.EventRecord
	var bad int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.o.Commit(ctx, batch)
		batch = batch[:0]
		return err
	}
	next, runs, err := s.events.Poll(ctx, connector.Request{Estate: est, Now: now}, cur, func(rec connector.Record) error {
		if rec.Event != nil {
			// Mapped by the connector (no ingest parser for its format).
			batch = append(batch, store.EventRecord{Event: *rec.Event, Raw: string(rec.Raw)})
			if len(batch) >= maxBatch {
				return flush()
			}
			return nil
		}
		rd, err := ingest.NewReader("connector:"+s.name, bytes.NewReader(rec.Raw), ingest.Options{Format: rec.Format, Tenant: rec.Tenant, TenantMap: tm, Now: r.o.Now})
		if err != nil {
			bad++
			return nil
		}
		for {
			var ev = newEvent()
			if err := rd.Next(ev); err != nil {
				break
			}
			batch = append(batch, store.EventRecord{Event: *ev, Raw: string(rec.Raw)})
		}
		if st := rd.Stats(); st.Unparsed > 0 {
			bad += int(st.Unparsed)
		}
		if len(batch) >= maxBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil && next != nil {
		err = r.saveCursor(s.name, next)
	}
	if bad > 0 {
		r.o.Log.Warn("connector: records not parsed", "connector", s.name, "count", bad)
	}
	if err != nil {
		r.o.Log.Error("connector: poll failed", "connector", s.name, "err", err)
	}
	r.record(s.name+"/events", runs, err)
}
