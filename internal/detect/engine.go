package detect

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// Options configure an Engine.
type Options struct {
	// AllowedLateness is the minimum reordering window; the engine uses the
	// largest of this and every rule's allowed_lateness.
	AllowedLateness time.Duration
	// MaxIncidents caps the incidents kept (default 1,000,000); incidents
	// beyond it are counted in Stats.IncidentsDropped.
	MaxIncidents int
	// Tenants holds what is known of each tenant (by organization.id):
	// account counts, benign networks, service accounts.
	Tenants map[string]TenantContext
	// Placeholders are the values of expand placeholders (%name% → values).
	Placeholders map[string][]string
	// TenantPlaceholders are per-tenant placeholder values (see Context).
	TenantPlaceholders map[string]map[string][]string
	// Live, when set, supersedes Tenants, Placeholders and
	// TenantPlaceholders with its current context, now and whenever it
	// changes (a service's estate reload).
	Live *LiveContext
	// Sources are log sources loaded beside the built-in ones (a generic
	// JSON mapping), for the load-time field check only.
	Sources []Source
}

// Stats are an engine's counters.
type Stats struct {
	Events           int64       `json:"events"`    // events given to Process
	Processed        int64       `json:"processed"` // events released to the rules
	Reordered        int64       `json:"reordered"` // events that arrived out of order and were reordered
	Late             int64       `json:"late"`      // events older than the allowed lateness, dropped
	Held             int         `json:"held"`      // events held for reordering right now
	Incidents        int         `json:"incidents"`
	IncidentsDropped int64       `json:"incidents_dropped"`
	Alerts           int64       `json:"alerts"`
	Rules            []RuleStats `json:"rules"`
}

// RuleStats are one rule's counters.
type RuleStats struct {
	Rule         string `json:"rule"`
	Title        string `json:"title"`
	Matched      int64  `json:"matched"`       // events matched (detection) or condition hits (correlation)
	Groups       int    `json:"groups"`        // groups tracked now
	Evicted      int64  `json:"evicted"`       // idle groups evicted after their timespan
	Dropped      int64  `json:"dropped"`       // groups evicted by the max_groups cap (LRU)
	ValuesCapped int64  `json:"values_capped"` // distinct values evicted by the max_values cap
	Incidents    int    `json:"incidents"`
	Alerts       int64  `json:"alerts"`
}

// Engine evaluates rules over a stream of events. It is not safe for
// concurrent use; run one engine per goroutine (e.g. per tenant shard).
type Engine struct {
	rules []*crule
	byRef map[string]*crule
	dets  []*crule
	cands map[[5]string][]*crule
	// noPrune keeps every rule whose logsource and outcomes select an
	// event as a candidate (tests compare it with the pruned list)
	noPrune bool
	last    [4]candCache // the latest candidates per outcome (success, failure, unknown, other)

	ipGen  uint64 // the event whose source address ipText holds
	ipText []byte

	lateness  int64
	watermark int64
	released  int64
	seq       uint64
	pseq      uint64
	fifo      []held
	fifoHead  int
	ooo       heldHeap

	incidents    map[string]*Incident
	incOrder     []*Incident
	dirty        []*Incident // updated since the last TakeUpdated
	maxIncidents int

	seed   maphash.Seed
	sigs   []sigCache
	gen    uint64
	incBuf []byte

	alerts []Alert
	stats  Stats
	sweep  int

	env      *env
	ctx      *Context     // the context env was built from
	live     *LiveContext // nil: ctx never changes
	warnings []RuleWarning
	message  bool // some rule reads the event's message (ReadsMessage)

	onHold func(rule string, ev *event.Event) // tests: a correlation's condition held

	seen accountsSeen // per tenant the estate sizes, the accounts seen authenticating

	recov     *recoveryTracker // nil: no rule has firebreak.self_recovery
	verdict   *recoveryVerdict // the self_recovery verdict of the rule being reported
	judging   *judgement       // what the verdict was judged on
	pend      []probe          // self_recovery judgements still pending
	pendSpare []probe          // judgePending's other buffer (no allocation per second)
	judged    int              // verdicts judgePending computed (tests)
	judgeAll  bool             // judgePending judges every probe, standing or not (tests: the oracle)
	nextJudge int64            // event time at which pend is judged again
}

type held struct {
	ev  event.Event
	seq uint64
}

type heldHeap []held

func (h heldHeap) Len() int { return len(h) }
func (h heldHeap) Less(i, j int) bool {
	ti, tj := h[i].ev.Timestamp, h[j].ev.Timestamp
	if !ti.Equal(tj) {
		return ti.Before(tj)
	}
	return h[i].seq < h[j].seq
}
func (h heldHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldHeap) Push(x any)   { *h = append(*h, x.(held)) }
func (h *heldHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = held{}
	*h = old[:len(old)-1]
	return x
}

// crule is a compiled rule.
type crule struct {
	r        *Rule
	idx      int
	det      *detectionSpec
	corr     *corrState
	parents  []parentRef
	report   bool
	rank     int
	escalate *crule
	recovery *Recovery  // firebreak.self_recovery
	feeders  []*crule   // a self_recovery temporal rule's first step: the reported rules that feed it (its judgement)
	incSpec  *keySpec   // key of standalone detection incidents / escalation lookups
	firedSeq uint64     // the last event this correlation fired for (once per event)
	filters  []string   // meta filters applied to its detection
	outcomes []string   // event.outcome values its condition requires (nil: any)
	listAccs []accessor // firebreak.list fields
	evid     *evidence  // a listing rule's window of the events under it
	listers  []lister   // a detection rule's: the listing rules it is under
	st       RuleStats
}

type parentRef struct {
	c   *crule
	pos int
}

// keySpec builds a group key from an event.
type keySpec struct {
	sig    int
	tenant bool
	names  []string
	accs   []accessor
}

type sigCache struct {
	gen  uint64
	ok   bool
	key  []byte
	hash uint64
}

// NewEngine compiles rules. It checks the references between rules (by name
// or id), detects cycles, and returns a *RuleError naming the file for any
// problem.
func NewEngine(rules []*Rule, opts Options) (*Engine, error) {
	e := &Engine{
		byRef:        map[string]*crule{},
		cands:        map[[5]string][]*crule{},
		incidents:    map[string]*Incident{},
		maxIncidents: opts.MaxIncidents,
		seed:         maphash.MakeSeed(),
		watermark:    math.MinInt64,
		released:     math.MinInt64,
		live:         opts.Live,
	}
	ctx := &Context{Tenants: opts.Tenants, Placeholders: opts.Placeholders, TenantPlaceholders: opts.TenantPlaceholders}
	if c := opts.Live.Load(); c != nil {
		ctx = c
	}
	e.env, e.ctx = newEnv(ctx), ctx
	if e.maxIncidents <= 0 {
		e.maxIncidents = 1_000_000
	}
	lateness := opts.AllowedLateness
	// Later rules override earlier ones with the same id (--rules DIR).
	rules = dedupByID(rules)
	var filters []*Rule
	rules = slices.DeleteFunc(slices.Clone(rules), func(r *Rule) bool {
		if r.Filter != nil {
			filters = append(filters, r)
			return true
		}
		return false
	})
	srcs := append(Sources(), opts.Sources...)
	for _, r := range append(slices.Clone(rules), filters...) {
		e.warnings = append(e.warnings, CheckRule(r, srcs, ctx.placeholderNames())...)
	}
	for i, r := range rules {
		cr := &crule{r: r, idx: i, rank: max(LevelRank(r.Level), 0), det: r.detection}
		cr.st.Rule, cr.st.Title = r.Ref(), r.Title
		for _, f := range r.Options.List {
			cr.listAccs = append(cr.listAccs, resolveField(f, r.LogSource))
		}
		e.rules = append(e.rules, cr)
		for _, ref := range []string{r.ID, r.Name} {
			if ref == "" {
				continue
			}
			if other, ok := e.byRef[ref]; ok && other.r != r {
				return nil, ruleErr(r, fmt.Errorf("rule name or id %q is also used by %s:%d", ref, other.r.File, other.r.Line))
			}
			e.byRef[ref] = cr
		}
		lateness = max(lateness, r.Options.AllowedLateness)
		if r.detection == nil && r.Correlation == nil {
			return nil, ruleErr(r, errors.New("rule has neither detection nor correlation"))
		}
	}
	e.lateness = int64(lateness)
	sigIDs := map[string]int{}
	spec := func(tenant bool, names []string, ls LogSource) *keySpec {
		names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return tenant && n == "organization.id" })
		ks := &keySpec{tenant: tenant, names: names}
		for _, n := range names {
			ks.accs = append(ks.accs, resolveField(n, ls))
		}
		// Specs that read the same fields the same way share one key per
		// event, whatever their rules' logsources.
		sig := fmt.Sprintf("%v %+v", tenant, ks.accs)
		id, ok := sigIDs[sig]
		if !ok {
			id = len(sigIDs)
			sigIDs[sig] = id
		}
		ks.sig = id
		return ks
	}
	referenced := map[*crule]bool{}
	generated := map[*crule]bool{}
	for _, cr := range e.rules {
		r := cr.r
		tenant := r.Options.Scope != ScopeCrossTenant
		if r.Correlation == nil {
			e.dets = append(e.dets, cr)
			cr.incSpec = spec(tenant, r.Options.GroupBy, r.LogSource)
			continue
		}
		c := r.Correlation
		cs := &corrState{
			typ: c.Type, span: int64(c.Timespan), cond: c.Condition, need: c.Condition.need(),
			nrules: len(c.Rules), groups: map[uint64]*group{}, maxGroups: r.Options.MaxGroups,
			maxValues: r.Options.MaxValues, suppress: int64(r.Options.SuppressFor), tenant: tenant,
		}
		if c.Type == ValueCount && c.Condition.need() > int64(r.Options.MaxValues) {
			return nil, ruleErr(r, fmt.Errorf("condition %s needs more distinct values than %s.max_values (%d)", c.Condition, OptionsKey, r.Options.MaxValues))
		}
		if rel := r.Options.Relative; rel != nil {
			if c.Type != ValueCount && c.Type != EventCount {
				return nil, ruleErr(r, fmt.Errorf("%s.relative_to_accounts applies to event_count and value_count only", OptionsKey))
			}
			if c.Condition.GTE == nil || c.Condition.GT != nil || c.Condition.EQ != nil || c.Condition.LT != nil || c.Condition.LTE != nil || c.Condition.NEQ != nil {
				return nil, ruleErr(r, fmt.Errorf("%s.relative_to_accounts needs a condition with gte alone", OptionsKey))
			}
			cs.rel = rel
		}
		if r.Options.Run && e.recov == nil {
			e.recov = newRecoveryTracker(DefaultRecoveryWithin, DefaultRecoveryHorizon)
		}
		if rc := r.Options.Recovery; rc != nil {
			cr.recovery = rc
			if e.recov == nil {
				e.recov = newRecoveryTracker(rc.Within, rc.Horizon)
			}
			e.recov.within = max(e.recov.within, int64(rc.Within))
			e.recov.horizon = max(e.recov.horizon, int64(rc.Horizon))
			e.recov.gap = min(e.recov.gap, int64(rc.Horizon))
		}
		cr.corr = cs
		cr.incSpec = spec(tenant, c.GroupBy, LogSource{})
		for pos, ref := range c.Rules {
			in, ok := e.byRef[ref]
			if !ok {
				return nil, ruleErr(r, fmt.Errorf("correlation.rules: no rule named %q", ref))
			}
			referenced[in] = true
			if c.Generate {
				generated[in] = true
			}
			in.parents = append(in.parents, parentRef{c: cr, pos: pos})
			cs.children = append(cs.children, in)
			names := make([]string, len(c.GroupBy))
			for i, g := range c.GroupBy {
				names[i] = resolveAlias(c.Aliases, g, in.r)
			}
			ks := spec(tenant, names, in.r.LogSource)
			ks.names = cr.incSpec.names // report the alias names
			cs.specs = append(cs.specs, ks)
			if c.Type == ValueCount {
				cs.valAccs = append(cs.valAccs, resolveField(resolveAlias(c.Aliases, c.Condition.Field, in.r), in.r.LogSource))
			}
		}
		if cs.typ == TemporalOrdered && keysHoldSourceIP(cs.specs) {
			cs.ipGroups = make([]uint32, 1<<ipSlotBits)
		}
		for alias := range c.Aliases {
			if !slices.Contains(c.GroupBy, alias) && alias != c.Condition.Field {
				return nil, ruleErr(r, fmt.Errorf("correlation.aliases: alias %q is used in neither group-by nor condition.field", alias))
			}
		}
	}
	// Parents are fed from the highest position down, so that one event
	// matching two steps of a temporal_ordered rule cannot complete it alone.
	for _, cr := range e.rules {
		slices.SortStableFunc(cr.parents, func(a, b parentRef) int {
			if a.c != b.c {
				return a.c.idx - b.c.idx
			}
			return b.pos - a.pos
		})
	}
	for _, cr := range e.rules {
		if err := checkCycle(cr, map[*crule]int{}); err != nil {
			return nil, err
		}
		// A rule is reported unless it only serves as a building block: a
		// detection rule referenced by correlations (unless one of them
		// says generate: true), or a referenced correlation without a level
		// of its own.
		switch {
		case !referenced[cr], generated[cr]:
			cr.report = true
		case cr.corr != nil && cr.r.Level != "":
			cr.report = true
		}
		if esc := cr.r.Options.Escalates; esc != "" {
			t, ok := e.byRef[esc]
			if !ok {
				return nil, ruleErr(cr.r, fmt.Errorf("%s.escalates: no rule named %q", OptionsKey, esc))
			}
			cr.escalate = t
		}
	}
	for _, cr := range e.rules {
		if cr.recovery != nil && cr.corr != nil && (cr.corr.typ == Temporal || cr.corr.typ == TemporalOrdered) {
			cr.feeders = reportedUnder(cr.corr.children[0], nil)
		}
	}
	e.linkListers()
	e.applyFilters(filters)
	for _, cr := range e.dets {
		cr.outcomes = requiredOutcomes(cr.det.cond)
	}
	e.shareSelections()
	e.sigs = make([]sigCache, len(sigIDs))
	e.message = readsMessage(e.rules, filters)
	return e, nil
}

// ReadsMessage reports whether a loaded rule reads an event's message
// (ECS message: a keyword search, a "message" field or a source field
// mapped to it, in a detection, a filter, a group-by, a value_count field
// or a list). When it does not, a reader may leave Event.Message empty
// (ingest.Options.NoMessage): nothing the engine reports depends on it.
func (e *Engine) ReadsMessage() bool { return e.message }

// readsMessage reports whether any of the rules (or filters) reads the
// message: every field a detection reads is in its fields (keywords as
// "message"), the correlations' fields are in their key specs, value
// accessors and lists.
func readsMessage(rules []*crule, filters []*Rule) bool {
	for _, f := range filters {
		for _, u := range f.detection.fields {
			if a := resolveField(u.name, f.LogSource); a.readsMessage() {
				return true
			}
		}
	}
	specs := func(ks *keySpec) bool {
		return ks != nil && slices.ContainsFunc(ks.accs, func(a accessor) bool { return a.readsMessage() })
	}
	for _, cr := range rules {
		if cr.r.detection != nil {
			for _, u := range cr.r.detection.fields {
				if a := resolveField(u.name, cr.r.LogSource); a.readsMessage() {
					return true
				}
			}
		}
		if specs(cr.incSpec) || slices.ContainsFunc(cr.listAccs, func(a accessor) bool { return a.readsMessage() }) {
			return true
		}
		if cs := cr.corr; cs != nil {
			if slices.ContainsFunc(cs.specs, specs) || slices.ContainsFunc(cs.valAccs, func(a accessor) bool { return a.readsMessage() }) {
				return true
			}
		}
	}
	return false
}

// reportedUnder appends cr, when it is reported, else the reported rules
// its correlation is built on, to out.
func reportedUnder(cr *crule, out []*crule) []*crule {
	if cr.report {
		return append(out, cr)
	}
	if cr.corr != nil {
		for _, c := range cr.corr.children {
			if !slices.Contains(out, c) {
				out = reportedUnder(c, out)
			}
		}
	}
	return out
}

// shareSelections gives the selections that several detection rules hold
// in the same form (the same logsource and YAML: "event.outcome: failure"
// in every failure building block) one memo slot, so each is evaluated once
// per event.
func (e *Engine) shareSelections() {
	bySig := map[string][]*selection{}
	for _, cr := range e.dets {
		selections(cr.det.cond, func(s *selection) {
			if s.sig != "" && !slices.Contains(bySig[s.sig], s) {
				bySig[s.sig] = append(bySig[s.sig], s)
			}
		})
	}
	slots := map[*selection]int{}
	n := 0
	for _, ss := range bySig {
		if len(ss) < 2 {
			continue
		}
		for _, s := range ss {
			slots[s] = n
		}
		n++
	}
	if n == 0 {
		return
	}
	for _, cr := range e.dets {
		cr.det = &detectionSpec{cond: memoize(cr.det.cond, slots), fields: cr.det.fields, placeholders: cr.det.placeholders}
	}
	e.env.memoGen = make([]uint64, n)
	e.env.memoVal = make([]bool, n)
}

// applyFilters ANDs each meta filter's detection to the rules it names.
func (e *Engine) applyFilters(filters []*Rule) {
	for _, f := range filters {
		warn := func(msg string) {
			e.warnings = append(e.warnings, RuleWarning{File: f.File, Line: f.Line, Rule: f.Title, Msg: msg})
		}
		for _, ref := range f.Filter.Rules {
			cr, ok := e.byRef[ref]
			switch {
			case !ok:
				warn(fmt.Sprintf("filter: no loaded rule %q; not applied", ref))
				continue
			case cr.det == nil:
				warn(fmt.Sprintf("filter: rule %q is a correlation; filters apply to detection rules", ref))
				continue
			case !f.LogSource.covers(cr.r.LogSource):
				warn(fmt.Sprintf("filter: rule %q has logsource %s, the filter %s; not applied", ref, cr.r.LogSource, f.LogSource))
				continue
			}
			cr.det = &detectionSpec{cond: &andNode{[]condNode{cr.det.cond, f.detection.cond}}, fields: cr.det.fields}
			cr.filters = append(cr.filters, f.Ref())
		}
	}
}

// Warnings returns what keeps loaded rules from matching: fields no loaded
// source produces, logsources nothing provides, placeholders without a
// value, filters that apply to nothing.
func (e *Engine) Warnings() []RuleWarning { return slices.Clone(e.warnings) }

func ruleErr(r *Rule, err error) error {
	return &RuleError{File: r.File, Line: r.Line, Rule: r.Title, Err: err}
}

func dedupByID(rules []*Rule) []*Rule {
	last := map[string]int{}
	for i, r := range rules {
		if r.ID != "" {
			last[r.ID] = i
		}
	}
	out := make([]*Rule, 0, len(rules))
	for i, r := range rules {
		if r.ID != "" && last[r.ID] != i {
			continue
		}
		out = append(out, r)
	}
	return out
}

func resolveAlias(aliases map[string]map[string]string, field string, r *Rule) string {
	if m, ok := aliases[field]; ok {
		if f, ok := m[r.Name]; ok {
			return f
		}
		if f, ok := m[r.ID]; ok {
			return f
		}
	}
	return field
}

func checkCycle(cr *crule, state map[*crule]int) error {
	if cr.corr == nil {
		return nil
	}
	switch state[cr] {
	case 1:
		return ruleErr(cr.r, errors.New("correlation.rules: the rule refers to itself through a cycle"))
	case 2:
		return nil
	}
	state[cr] = 1
	for _, other := range cr.children() {
		if err := checkCycle(other, state); err != nil {
			return err
		}
	}
	state[cr] = 2
	return nil
}

func (cr *crule) children() []*crule { return cr.corr.children }

// Rules returns the loaded rules in evaluation order (after overrides).
func (e *Engine) Rules() []*Rule {
	out := make([]*Rule, len(e.rules))
	for i, cr := range e.rules {
		out[i] = cr.r
	}
	return out
}

// Lateness returns the reordering window in use.
func (e *Engine) Lateness() time.Duration { return time.Duration(e.lateness) }

// Horizon is the time before which Process counts an event late and drops
// it (zero before any event was released), so a caller can send such
// events to a back-fill pass instead.
func (e *Engine) Horizon() time.Time {
	if e.released == math.MinInt64 {
		return time.Time{}
	}
	return time.Unix(0, e.released)
}

// Process feeds one event. It returns the alerts raised by the events that
// Process released (events are held up to the allowed lateness for
// reordering). The returned slice is reused by the next call. ev is not
// retained.
func (e *Engine) Process(ev *event.Event) []Alert {
	if e.live != nil {
		if c := e.live.Load(); c != nil && c != e.ctx {
			e.ctx = c
			e.env.replace(c)
		}
	}
	e.alerts = e.alerts[:0]
	e.stats.Events++
	ts := ev.Timestamp.UnixNano()
	if ev.Timestamp.IsZero() {
		ts = max(e.watermark, 0)
	}
	if ts < e.released {
		e.stats.Late++
		return e.alerts
	}
	if e.lateness == 0 && ts >= e.watermark {
		e.watermark = ts
		e.released = ts
		e.process(ev, ts)
		return e.alerts
	}
	e.seq++
	h := held{ev: *ev, seq: e.seq}
	if len(ev.Fields) > 0 {
		h.ev.Fields = maps.Clone(ev.Fields)
	}
	if ts >= e.watermark {
		e.watermark = ts
		e.fifo = append(e.fifo, h)
	} else {
		e.stats.Reordered++
		heap.Push(&e.ooo, h)
	}
	e.release(e.watermark - e.lateness)
	return e.alerts
}

// Flush releases every held event (end of input) and returns the alerts.
func (e *Engine) Flush() []Alert {
	e.alerts = e.alerts[:0]
	e.release(math.MaxInt64)
	e.judgePending(e.released, true)
	return e.alerts
}

// AdvanceTo declares that no event older than t minus the allowed lateness
// will arrive (e.g. from a live source's clock) and releases held events.
func (e *Engine) AdvanceTo(t time.Time) []Alert {
	e.alerts = e.alerts[:0]
	e.release(t.UnixNano() - e.lateness)
	if len(e.pend) > 0 {
		e.judgePending(t.UnixNano()-e.lateness, false)
	}
	return e.alerts
}

func (e *Engine) release(upTo int64) {
	for {
		var next *held
		fromHeap := false
		if e.fifoHead < len(e.fifo) {
			next = &e.fifo[e.fifoHead]
		}
		if len(e.ooo) > 0 && (next == nil || heldBefore(&e.ooo[0], next)) {
			next, fromHeap = &e.ooo[0], true
		}
		if next == nil {
			break
		}
		ts := next.ev.Timestamp.UnixNano()
		if next.ev.Timestamp.IsZero() {
			ts = max(e.released, 0)
		}
		if ts > upTo {
			break
		}
		e.released = max(e.released, ts)
		if fromHeap {
			h := heap.Pop(&e.ooo).(held)
			e.process(&h.ev, ts)
		} else {
			e.process(&next.ev, ts)
			e.fifo[e.fifoHead] = held{}
			e.fifoHead++
			if e.fifoHead == len(e.fifo) {
				e.fifo, e.fifoHead = e.fifo[:0], 0
			} else if e.fifoHead > 4096 && e.fifoHead*2 > len(e.fifo) {
				n := copy(e.fifo, e.fifo[e.fifoHead:])
				clear(e.fifo[n:])
				e.fifo, e.fifoHead = e.fifo[:n], 0
			}
		}
	}
}

func heldBefore(a, b *held) bool {
	if !a.ev.Timestamp.Equal(b.ev.Timestamp) {
		return a.ev.Timestamp.Before(b.ev.Timestamp)
	}
	return a.seq < b.seq
}

type candCache struct {
	ds, cat, out, act, reason string
	cand                      []*crule
}

func outcomeSlot(o string) int {
	switch o {
	case event.OutcomeSuccess:
		return 0
	case event.OutcomeFailure:
		return 1
	case event.OutcomeUnknown:
		return 2
	}
	return 3
}

// MayMatch reports whether some loaded detection rule may match an event
// like proto, of which only Dataset, Category, Code, Action, Outcome and
// Reason are read ("" = not known yet: any value; with fixed, Action,
// Outcome and Reason are known even when empty): its logsource selects
// the dataset and category and its condition, evaluated with every other
// field unknown, is not false (mayMatch). Correlations only count detection
// matches, so an event no detection rule may match changes no incident; a
// reader can pass over it undecoded (ingest.Options.Wanted).
func (e *Engine) MayMatch(proto *event.Event, fixed bool) bool {
	p := event.Event{Dataset: proto.Dataset, Category: proto.Category, Code: proto.Code, Action: proto.Action, Outcome: proto.Outcome, Reason: proto.Reason}
	if p.Code != "" {
		p.SetField("EventID", p.Code) // what the Windows parsers set
	}
	for _, d := range e.dets {
		if d.r.LogSource.matches(p.Dataset, p.Category) && mayMatch(d.det.cond, &p, fixed, e.env) != triFalse {
			return true
		}
	}
	return false
}

// candidates returns the detection rules that may match events of the
// event's dataset, category, outcome, action and reason: their logsource
// selects it and their condition, evaluated over those five fields alone
// (every other field unknown), is not false. An sshd login is not
// evaluated against the Okta MFA or lockout rules, for instance.
func (e *Engine) candidates(ev *event.Event) []*crule {
	lc := &e.last[outcomeSlot(ev.Outcome)]
	if ev.Dataset == lc.ds && ev.Category == lc.cat && ev.Outcome == lc.out && ev.Action == lc.act && ev.Reason == lc.reason && lc.cand != nil {
		return lc.cand
	}
	k := [5]string{ev.Dataset, ev.Category, ev.Outcome, ev.Action, ev.Reason}
	c, ok := e.cands[k]
	if !ok {
		c = []*crule{}
		// The five fields are the event's own (empty is absent: fixed);
		// code and EventID are left unknown. mayMatch must not leave
		// per-event memos behind for the real event: it runs under a
		// generation no event has.
		proto := event.Event{Dataset: ev.Dataset, Category: ev.Category, Outcome: ev.Outcome, Action: ev.Action, Reason: ev.Reason}
		gen := e.env.gen
		e.env.gen = ^uint64(0)
		for _, d := range e.dets {
			if d.r.LogSource.matches(ev.Dataset, ev.Category) && (d.outcomes == nil || slices.Contains(d.outcomes, strings.ToLower(ev.Outcome))) &&
				(e.noPrune || mayMatch(d.det.cond, &proto, true, e.env) != triFalse) {
				c = append(c, d)
			}
		}
		e.env.gen = gen
		if len(e.cands) < 1024 {
			e.cands[k] = c
		}
	}
	*lc = candCache{ev.Dataset, ev.Category, ev.Outcome, ev.Action, ev.Reason, c}
	return c
}

func (e *Engine) process(ev *event.Event, ts int64) {
	e.stats.Processed++
	e.gen++
	e.pseq++
	e.env.gen = e.gen
	if ev.Outcome == "failure" || ev.Outcome == "success" {
		e.seen.observe(ev, e.env)
		if e.recov != nil {
			e.recov.observe(ev, ts, e.env.serviceAccount)
		}
	}
	if len(e.pend) > 0 && ts >= e.nextJudge {
		e.judgePending(ts, false)
		e.nextJudge = ts + int64(time.Second)
	}
	for _, d := range e.candidates(ev) {
		if d.det.cond.eval(ev, e.env) {
			d.st.Matched++
			e.fire(d, ev, ts, nil)
		}
	}
	e.sweep++
	if e.sweep >= 4096 {
		e.sweep = 0
		for _, cr := range e.rules {
			if cr.corr != nil {
				cr.corr.evictIdle(ts, &cr.st)
			}
		}
	}
}

// fire handles a rule that matched (detection) or whose condition holds
// (correlation) at event ev.
func (e *Engine) fire(cr *crule, ev *event.Event, ts int64, g *group) {
	for _, l := range cr.listers {
		e.record(l, ev, ts)
	}
	office := false
	if cr.recovery != nil {
		office = e.fireJudged(cr, ev, ts, g)
	} else if cr.report {
		e.report(cr, ev, ts, g)
	}
	if office {
		return // not a spray: the correlations built on it (success after spray) are not fed
	}
	for _, p := range cr.parents {
		e.feed(p.c, p.pos, ev, ts)
	}
}

// fireJudged reports a self_recovery rule with its verdict on the source;
// it reports whether the verdict is self-recovering. A rule whose first
// step is fed by other self_recovery rules (success after spray) is judged
// by their incidents (hitVerdict), not again on the source.
func (e *Engine) fireJudged(cr *crule, ev *event.Event, ts int64, g *group) bool {
	j := &judgement{cr: cr, ip: recoveryKey(ev)}
	var v recoveryVerdict
	judged := true
	if cr.feeders != nil {
		j.fed = e.fedBy(cr, ev, ts)
		v = e.hitVerdict(cr.recovery, j)
	} else if g != nil && g.inc != nil && g.inc.Pattern == patternSpray {
		v = g.inc.judge.v // judged a spray: it stays one (applyVerdict)
	} else {
		j.since = math.MinInt64
		if cr.corr != nil && cr.corr.typ == ValueCount {
			j.since = ts - cr.corr.span
		}
		v, judged = e.recov.verdict(cr.recovery, j.ip, j.since, ts, false)
	}
	if cr.report {
		if judged {
			e.verdict, e.judging = &v, j
		}
		e.report(cr, ev, ts, g)
		e.verdict, e.judging = nil, nil
	}
	return judged && v.office()
}

// fedBy returns the incidents of cr's feeders for ev's key that were
// active within cr's timespan before ts: the sprays a success follows.
func (e *Engine) fedBy(cr *crule, ev *event.Event, ts int64) []*Incident {
	var out []*Incident
	for _, f := range cr.feeders {
		key, _, ok := e.key(f.incSpec, ev)
		if !ok {
			continue
		}
		if inc := e.incidents[incMapKey(f.idx, key)]; inc != nil && ts-inc.Last.UnixNano() <= cr.corr.span {
			out = append(out, inc)
		}
	}
	return out
}

// hitVerdict judges a success by the spray incidents it followed (one
// fact, one derivation: the hit is what the spray was judged): a spray
// when one of them is (or is a rule without self_recovery, reported at
// its level, or none was found: the chain was fed by a firing not judged
// self-recovering), pending while one of them is still being judged, and
// self-recovering when all of them are.
func (e *Engine) hitVerdict(rc *Recovery, j *judgement) recoveryVerdict {
	v := recoveryVerdict{pattern: patternOffice, attack: rc.attack(), within: rc.Within, src: j.ip, hit: true}
	if len(j.fed) == 0 {
		v.pattern = patternSpray
		return v
	}
	var by *Incident
	for _, inc := range j.fed {
		p := inc.Pattern
		switch {
		case inc.judge == nil:
			p = patternSpray
		case p != patternSpray && e.probing(inc):
			p = patternPending
		}
		if by == nil || patternRank(p) > patternRank(v.pattern) || p == v.pattern && inc.Last.After(by.Last) {
			by, v.pattern = inc, p
		}
	}
	v.by = by.RuleName
	if by.judge != nil {
		v.tally, v.src = by.judge.v.tally, by.judge.v.src
	}
	return v
}

func patternRank(p string) int {
	switch p {
	case patternSpray:
		return 2
	case patternPending:
		return 1
	}
	return 0
}

// probing reports whether inc has a judgement pending.
func (e *Engine) probing(inc *Incident) bool {
	for i := range e.pend {
		if e.pend[i].inc == inc {
			return true
		}
	}
	return false
}

// key builds (or reuses, within one event) the group key of spec.
func (e *Engine) key(ks *keySpec, ev *event.Event) ([]byte, uint64, bool) {
	sc := &e.sigs[ks.sig]
	if sc.gen == e.gen {
		return sc.key, sc.hash, sc.ok
	}
	sc.gen = e.gen
	b := sc.key[:0]
	sc.ok = false
	if ks.tenant {
		b = append(b, ev.Tenant...)
		b = append(b, 0x1f)
	}
	for i := range ks.accs {
		a := &ks.accs[i]
		if a.kind == fSourceIP {
			if !ev.SourceIP.IsValid() {
				sc.key = b
				return b, 0, false
			}
			if e.ipGen != e.gen {
				e.ipText, e.ipGen = appendAddr(e.ipText[:0], ev.SourceIP), e.gen
			}
			b = append(b, e.ipText...)
		} else {
			v, ok := a.get(ev, e.env)
			if !ok || v == "" {
				sc.key = b
				return b, 0, false
			}
			b = append(b, v...)
		}
		b = append(b, 0x1f)
	}
	sc.key, sc.ok = b, true
	sc.hash = maphash.Bytes(e.seed, b)
	return b, sc.hash, true
}

// keyOK reports whether the event has every value of spec's key (whether
// key would return ok).
func (e *Engine) keyOK(ks *keySpec, ev *event.Event) bool {
	for i := range ks.accs {
		a := &ks.accs[i]
		if a.kind == fSourceIP {
			if !ev.SourceIP.IsValid() {
				return false
			}
		} else if v, ok := a.get(ev, e.env); !ok || v == "" {
			return false
		}
	}
	return true
}

func (e *Engine) feed(cr *crule, pos int, ev *event.Event, ts int64) {
	cs := cr.corr
	if pos > 0 && cs.typ == TemporalOrdered && cs.noChainFrom(ev.SourceIP) {
		// No chain has started for the event's source address: nothing to
		// advance, and no key to build. Idle groups go as they would have.
		if e.keyOK(cs.specs[pos], ev) {
			cs.evictIdle(ts, &cr.st)
		}
		return
	}
	key, h, ok := e.key(cs.specs[pos], ev)
	if !ok {
		return
	}
	var val string
	if cs.typ == ValueCount {
		v, ok := cs.valAccs[pos].get(ev, e.env)
		if !ok || v == "" {
			return
		}
		val = v
	}
	cs.evictIdle(ts, &cr.st)
	g := cs.lookup(key, h)
	if g == nil && cs.typ == TemporalOrdered && pos > 0 {
		return // no chain has started for this key: nothing to advance
	}
	if g == nil {
		g = cs.create(key, h, &cr.st)
		cs.track(g, ev.SourceIP, cs.specs[pos])
		if cs.tenant {
			g.tenant = ev.Tenant
		}
	}
	if cs.rel != nil {
		// Judged on the tenant's size as it stands at this event: the
		// accounts seen authenticating grow past an estate that lists
		// too few (tenantAccounts).
		g.gte = cs.relGTE(e.seen.tenantAccounts(ev.Tenant, e.env))
	}
	if !cs.tenant {
		g.addTenant(ev.Tenant)
	}
	cs.touch(g, ts)
	n := int64(ev.N())
	g.total += n
	holds := cs.update(g, pos, val, ts, n, e.pseq, &cr.st)
	if holds && cr.r.Options.Run && !cs.holds(g, int64(e.recov.accountRun(recoveryKey(ev), ev.UserName, ts))) {
		holds = false // the account's own success broke the failures counted: not one run
	}
	if holds && cr.firedSeq == e.pseq {
		return // already fired for this event through another input rule
	}
	if holds {
		cr.firedSeq = e.pseq
		cr.st.Matched++
		if e.onHold != nil {
			e.onHold(cr.r.Ref(), ev)
		}
		e.fire(cr, ev, ts, g)
		return
	}
	// Later events of an open incident's key are attributed to it (counts
	// and windows); for temporal rules only the events that complete a
	// sequence are.
	if inc := g.inc; inc != nil && ts-inc.Last.UnixNano() <= cs.suppress && (cs.typ == EventCount || cs.typ == ValueCount) {
		e.attribute(inc, ev, ts, n, val)
	}
}

func (e *Engine) markDirty(inc *Incident) {
	if !inc.dirty {
		inc.dirty = true
		e.dirty = append(e.dirty, inc)
	}
}

// TakeUpdated returns copies of the incidents opened or updated in place
// (counts, last time, values) since the previous call, for a live consumer
// that keeps a store in step without an alert per event.
func (e *Engine) TakeUpdated() []Incident {
	out := make([]Incident, len(e.dirty))
	for i, inc := range e.dirty {
		inc.dirty = false
		out[i] = inc.snapshot()
	}
	clear(e.dirty)
	e.dirty = e.dirty[:0]
	return out
}

func (e *Engine) attribute(inc *Incident, ev *event.Event, ts int64, n int64, val string) {
	e.markDirty(inc)
	inc.Count += n
	if t := time.Unix(0, ts).UTC(); t.After(inc.Last) {
		inc.Last = t
	}
	inc.addSample(ev)
	inc.addTenant(ev.Tenant)
	if val != "" {
		inc.addValue(val)
	}
	for i := range inc.lists {
		l := &inc.lists[i]
		if v, ok := l.acc.get(ev, e.env); ok {
			l.add(v, n)
		}
	}
}

func (e *Engine) report(cr *crule, ev *event.Event, ts int64, g *group) {
	if cr.escalate != nil && e.escalateTo(cr, ev, ts) {
		return
	}
	var val string
	if cr.corr != nil && cr.corr.typ == ValueCount && g != nil {
		val = g.lastVal
	}
	inc := (*Incident)(nil)
	if g != nil {
		inc = g.inc
	}
	var key []byte
	var attach int64
	if inc == nil {
		spec := cr.incSpec
		var ok bool
		if g != nil {
			key = append(e.incBuf[:0], g.key...)
			ok = true
		} else {
			key, _, ok = e.key(spec, ev)
			key = append(e.incBuf[:0], key...)
		}
		if !ok {
			return
		}
		e.incBuf = key
		k := incMapKey(cr.idx, key)
		inc = e.incidents[k]
		if inc == nil {
			e.open(cr, ev, ts, g, key, k)
			return
		}
		if g != nil {
			// A new group for a key with an incident (the old group was
			// evicted): attribute all the events that built it up.
			g.inc = inc
			attach = g.total
		}
	}
	n := int64(ev.N())
	if attach > 0 {
		n = attach
	}
	quiet := ts-inc.Last.UnixNano() > int64(cr.r.Options.SuppressFor)
	if attach > 0 && cr.evid != nil {
		e.attributeSince(inc, cr, key, ev, ts)
	} else {
		e.attribute(inc, ev, ts, n, val)
	}
	if v := e.verdict; v != nil && inc.judge != nil && inc.Pattern != patternSpray {
		if v.pending() {
			e.addProbe(inc, e.judging, ts)
		} else if e.applyVerdict(inc, *v, ts) {
			return
		}
	}
	if quiet {
		e.alert(cr, inc, AlertRecurred, ts)
	}
}

func incMapKey(idx int, key []byte) string {
	var b []byte
	b = fmt.Appendf(b, "%d\x1e", idx)
	return string(append(b, key...))
}

func (e *Engine) open(cr *crule, ev *event.Event, ts int64, g *group, key []byte, mapKey string) {
	if len(e.incidents) >= e.maxIncidents {
		e.stats.IncidentsDropped++
		return
	}
	r := cr.r
	t := time.Unix(0, ts).UTC()
	inc := &Incident{
		ID: incidentID(r.Ref(), key), Rule: r.ID, RuleName: r.Name, Title: r.Title, Description: r.Description,
		Severity: r.Level, Level: r.Level, First: t, Last: t, Techniques: r.Techniques,
		Key: map[string]string{}, maxValues: r.Options.MaxValues, Single: g == nil,
	}
	if inc.Rule == "" {
		inc.Rule = r.Name
	}
	if inc.Severity == "" {
		inc.Severity, inc.Level = "medium", "medium"
	}
	held := false
	if v := e.verdict; v != nil {
		inc.judge = &judgement{cr: cr, ip: e.judging.ip, v: *v}
		inc.Pattern = v.pattern
		if v.pattern != patternSpray {
			inc.Severity = cr.recovery.Level
		}
		inc.Description = strings.TrimSpace(inc.Description + " " + v.explain())
		if v.pending() {
			// Not notified until judged: when the failing accounts'
			// recovery window has passed, or the incident escalates.
			held, inc.judge.held = true, true
			e.addProbe(inc, e.judging, ts)
		}
	}
	spec := cr.incSpec
	parts := bytes.Split(bytes.TrimSuffix(key, []byte{0x1f}), []byte{0x1f})
	if spec.tenant && len(parts) > 0 {
		inc.Tenant = string(parts[0])
		parts = parts[1:]
	} else {
		inc.tenantSet = map[string]struct{}{}
	}
	for i, name := range spec.names {
		if i < len(parts) {
			inc.Key[name] = string(parts[i])
		}
	}
	n := int64(ev.N())
	inc.Count = n
	if g != nil {
		inc.Count = g.total
		inc.First = time.Unix(0, g.windowStart(cr.corr, ts)).UTC()
		if cr.corr.typ == Temporal || cr.corr.typ == TemporalOrdered {
			inc.Count = n
		}
		if cr.corr.typ == ValueCount {
			inc.Field = r.Correlation.Condition.Field
			inc.valueSet = map[string]struct{}{}
			for _, v := range g.values() {
				inc.addValue(v)
			}
			inc.Distinct = max(inc.Distinct, g.distinct())
		}
		for _, t := range g.tenants {
			inc.addTenant(t)
		}
		g.inc = inc
	}
	inc.addSample(ev)
	inc.addTenant(ev.Tenant)
	e.openLists(cr, inc, ev, ts, key)
	e.incidents[mapKey] = inc
	e.incOrder = append(e.incOrder, inc)
	e.markDirty(inc)
	cr.st.Incidents++
	if !held {
		e.alert(cr, inc, AlertNew, ts)
	}
}

// openLists starts a new incident's firebreak.list fields. A correlation's
// start from the events of its key's evidence window: its count, its first
// time and its lists are those events' (one set; later events add to all
// three, attribute). A detection rule's start from its one event.
func (e *Engine) openLists(cr *crule, inc *Incident, ev *event.Event, ts int64, key []byte) {
	for i, f := range cr.r.Options.List {
		inc.lists = append(inc.lists, listState{field: f, acc: cr.listAccs[i], counts: map[string]int64{}, max: cr.r.Options.MaxValues})
	}
	if cr.evid == nil {
		for i := range inc.lists {
			if v, ok := inc.lists[i].acc.get(ev, e.env); ok {
				inc.lists[i].add(v, int64(ev.N()))
			}
		}
		return
	}
	var count int64
	first := ts
	dropped := cr.evid.since(key, math.MinInt64, ts, func(ent evEntry) {
		count += ent.n
		first = min(first, ent.ts)
		for i := range inc.lists {
			inc.lists[i].add(ent.vals[i], ent.n)
		}
	})
	inc.Count, inc.First = count, time.Unix(0, first).UTC()
	for i := range inc.lists {
		inc.lists[i].capped = inc.lists[i].capped || dropped
	}
}

// attributeSince attributes to an open incident of a listing rule the
// events of its key's evidence window after its last time: the events that
// built up a new group for its key (the old group was evicted).
func (e *Engine) attributeSince(inc *Incident, cr *crule, key []byte, ev *event.Event, ts int64) {
	e.markDirty(inc)
	dropped := cr.evid.since(key, inc.Last.UnixNano(), ts, func(ent evEntry) {
		inc.Count += ent.n
		for i := range inc.lists {
			inc.lists[i].add(ent.vals[i], ent.n)
		}
	})
	for i := range inc.lists {
		inc.lists[i].capped = inc.lists[i].capped || dropped
	}
	if t := time.Unix(0, ts).UTC(); t.After(inc.Last) {
		inc.Last = t
	}
	inc.addSample(ev)
	inc.addTenant(ev.Tenant)
}

func (e *Engine) alert(cr *crule, inc *Incident, kind string, ts int64) {
	inc.Alerts++
	cr.st.Alerts++
	e.stats.Alerts++
	e.alerts = append(e.alerts, Alert{Kind: kind, Time: time.Unix(0, ts).UTC(), Incident: inc.snapshot()})
}

// escalateTo raises the open incident of cr's escalation target for the
// event's key. It reports false when there is none.
func (e *Engine) escalateTo(cr *crule, ev *event.Event, ts int64) bool {
	t := cr.escalate
	key, _, ok := e.key(t.incSpec, ev)
	if !ok {
		return false
	}
	inc := e.incidents[incMapKey(t.idx, key)]
	if inc == nil {
		return false
	}
	for _, x := range inc.Escalations {
		if x.Rule == cr.r.Ref() && ts-x.Time.UnixNano() <= int64(cr.r.Options.SuppressFor) {
			e.attribute(inc, ev, ts, int64(ev.N()), "")
			return true
		}
	}
	if LevelRank(cr.r.Level) > LevelRank(inc.Severity) {
		inc.Severity = cr.r.Level
	}
	if inc.judge != nil {
		inc.judge.held = false // notified now, as escalated
	}
	inc.Escalations = append(inc.Escalations, Escalation{Rule: cr.r.Ref(), Title: cr.r.Title, Level: cr.r.Level, Time: time.Unix(0, ts).UTC()})
	for _, tq := range cr.r.Techniques {
		if !slices.Contains(inc.Techniques, tq) {
			inc.Techniques = append(slices.Clip(inc.Techniques), tq)
		}
	}
	e.attribute(inc, ev, ts, int64(ev.N()), "")
	e.alert(t, inc, AlertEscalated, ts)
	return true
}

// Incidents returns every incident, in the order they opened (their Lists
// brought up to date).
func (e *Engine) Incidents() []*Incident {
	for _, inc := range e.incOrder {
		if len(inc.lists) > 0 {
			inc.Lists = inc.Lists[:0]
			for i := range inc.lists {
				inc.Lists = append(inc.Lists, inc.lists[i].list())
			}
		}
	}
	return slices.Clone(e.incOrder)
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Held = len(e.fifo) - e.fifoHead + len(e.ooo)
	s.Incidents = len(e.incOrder)
	s.Rules = make([]RuleStats, len(e.rules))
	for i, cr := range e.rules {
		s.Rules[i] = cr.st
		if cr.corr != nil {
			s.Rules[i].Groups = cr.corr.n
		}
	}
	return s
}

// SortIncidents orders incidents by first time, then rule, then id, for
// output that does not depend on processing order.
func SortIncidents(incs []*Incident) {
	slices.SortStableFunc(incs, func(a, b *Incident) int {
		if c := a.First.Compare(b.First); c != 0 {
			return c
		}
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// judgement is what an incident of a self_recovery rule is judged on.
type judgement struct {
	cr    *crule
	ip    sourceKey
	since int64           // judged on the source's failures since (a value_count rule's window; else its horizon)
	fed   []*Incident     // the spray incidents a success followed (rules with feeders)
	held  bool            // its new-incident alert waits for the judgement
	v     recoveryVerdict // the latest settled verdict (explanations of what it fed)
}

// probe is a pending judgement of an incident: over the source's failures
// since the earliest window of the firings seen within probeSpan of its
// start.
type probe struct {
	inc  *Incident
	j    judgement
	at   int64
	mark mark // what its last pending verdict was judged on (zero: judge it)
}

const probeSpan = int64(15 * time.Second)

// addProbe adds a pending judgement of inc, merged into its latest probe
// when that started less than probeSpan ago.
func (e *Engine) addProbe(inc *Incident, j *judgement, ts int64) {
	for i := len(e.pend) - 1; i >= 0; i-- {
		p := &e.pend[i]
		if p.inc != inc {
			continue
		}
		if ts-p.at < probeSpan {
			p.j.since = min(p.j.since, j.since)
			for _, inc := range j.fed {
				if !slices.Contains(p.j.fed, inc) {
					p.j.fed = append(p.j.fed, inc)
				}
			}
			p.mark = mark{}
			return
		}
		break
	}
	e.pend = append(e.pend, probe{inc: inc, j: judgement{ip: j.ip, since: j.since, fed: j.fed}, at: ts})
}

// judgePending judges again the pending judgements at event time now;
// final (end of input) settles every failure still within its recovery
// window as not recovered. A judgement whose source recorded nothing since
// it was last judged, and none of whose deadlines has passed, still stands
// and is not judged again.
func (e *Engine) judgePending(now int64, final bool) {
	if len(e.pend) == 0 {
		return
	}
	pend := e.pend
	e.pend = e.pendSpare[:0]
	defer func() { e.pendSpare = clear0(pend) }()
	var hits []probe
	for _, p := range pend {
		inc := p.inc
		if inc.Pattern == patternSpray {
			continue
		}
		if inc.judge.cr.feeders != nil {
			hits = append(hits, p) // judged below, on the sprays judged now
			continue
		}
		if !final && !e.judgeAll && e.recov.stands(p.mark, now) {
			e.pend = append(e.pend, p)
			continue
		}
		e.judged++
		v, m, _ := e.recov.judge(inc.judge.cr.recovery, p.j.ip, p.j.since, now, final)
		if v.pending() {
			p.mark = m
			e.pend = append(e.pend, p)
			continue
		}
		e.applyVerdict(inc, v, now)
	}
	for _, p := range hits {
		v := e.hitVerdict(p.inc.judge.cr.recovery, &p.j)
		if v.pending() {
			e.pend = append(e.pend, p)
			continue
		}
		e.applyVerdict(p.inc, v, now)
	}
}

// clear0 empties a probe buffer for reuse (dropping its incidents).
func clear0(p []probe) []probe {
	clear(p)
	return p[:0]
}

// applyVerdict brings an incident of a self_recovery rule to a settled
// verdict v: a spray stays a spray; a pending or self-recovering incident
// judged a spray is raised to the rule's level (notified, as new when its
// alert was held, else as escalated); a pending one judged self-recovering
// is reported at the option's level (notified as new). It reports whether it
// raised an alert.
func (e *Engine) applyVerdict(inc *Incident, v recoveryVerdict, ts int64) bool {
	j := inc.judge
	cr := j.cr
	old := inc.Pattern
	if old == patternSpray || v.pending() {
		return false
	}
	j.v = v
	if old == v.pattern {
		return false
	}
	inc.Pattern = v.pattern
	inc.Description = strings.TrimSpace(cr.r.Description + " " + v.explain())
	e.markDirty(inc)
	if v.pattern == patternSpray {
		if LevelRank(cr.r.Level) > LevelRank(inc.Severity) {
			inc.Severity = cr.r.Level
		}
	} else if len(inc.Escalations) == 0 {
		inc.Severity = cr.recovery.Level
	}
	switch {
	case j.held:
		j.held = false
		e.alert(cr, inc, AlertNew, ts)
	case v.pattern == patternSpray:
		e.alert(cr, inc, AlertEscalated, ts)
	default:
		return false
	}
	return true
}
