package pipeline

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Cross-tenant rules in a split deployment. Detectors own tenant
// partitions, so a rule that counts one attacker across tenants (scope
// cross-tenant: a spray from one source address, one RMM operator pushing
// to many customers) would see only the tenants of one partition. Those
// rules run as a second stage instead: ingest also publishes every event
// that carries a cross-tenant rule's group-by value to a second stream,
// partitioned by that value (the attacker), and detectors own the second
// stream's partitions as they own the first's (advisory locks,
// checkpoints, takeover). The first stage runs every other rule.
//
// Rules with the same group-by fields form one lane, with the rules they
// correlate; an event goes to the partition of each lane's key it has, and
// a lane's engine in partition p takes only the events whose key for that
// lane is in p, so each (rule, attacker) is counted in exactly one place.

// Lane is the cross-tenant rules grouped by the same fields, with the
// rules they correlate (and every filter rule).
type Lane struct {
	GroupBy []string
	Rules   []*detect.Rule
}

// SplitRules splits rules for a split deployment: the first stage's
// (tenant partitions: every rule but the cross-tenant correlations and the
// building blocks only they use) and the lanes of the cross-tenant stage.
// Without cross-tenant rules lanes is nil and first is rules.
func SplitRules(rules []*detect.Rule) (first []*detect.Rule, lanes []Lane) {
	byRef := map[string]*detect.Rule{}
	for _, r := range rules {
		for _, ref := range []string{r.ID, r.Name} {
			if ref != "" {
				byRef[ref] = r
			}
		}
	}
	isCross := func(r *detect.Rule) bool {
		return r.Correlation != nil && r.Options.Scope == detect.ScopeCrossTenant
	}
	parents := map[*detect.Rule][]*detect.Rule{}
	for _, r := range rules {
		if r.Correlation != nil {
			for _, ref := range r.Correlation.Rules {
				if c := byRef[ref]; c != nil {
					parents[c] = append(parents[c], r)
				}
			}
		}
	}
	var closure func(r *detect.Rule, into map[*detect.Rule]bool)
	closure = func(r *detect.Rule, into map[*detect.Rule]bool) {
		if into[r] {
			return
		}
		into[r] = true
		if r.Correlation != nil {
			for _, ref := range r.Correlation.Rules {
				if c := byRef[ref]; c != nil {
					closure(c, into)
				}
			}
		}
	}
	laneOf := map[string]int{}
	var members []map[*detect.Rule]bool
	dropped := map[*detect.Rule]bool{}
	for _, r := range rules {
		if !isCross(r) {
			continue
		}
		dropped[r] = true
		k := strings.Join(r.Correlation.GroupBy, "\x1f")
		i, ok := laneOf[k]
		if !ok {
			i = len(lanes)
			laneOf[k] = i
			lanes = append(lanes, Lane{GroupBy: slices.Clone(r.Correlation.GroupBy)})
			members = append(members, map[*detect.Rule]bool{})
		}
		closure(r, members[i])
	}
	if len(lanes) == 0 {
		return rules, nil
	}
	// A building block (a rule others correlate) stays in the first stage
	// only while a first-stage rule still uses it: alone it would report
	// every match as an incident of its own.
	for changed := true; changed; {
		changed = false
		for _, r := range rules {
			ps := parents[r]
			if dropped[r] || r.Filter != nil || len(ps) == 0 || (r.Correlation != nil && r.Correlation.Generate) {
				continue
			}
			if !slices.ContainsFunc(ps, func(p *detect.Rule) bool { return !dropped[p] }) {
				dropped[r], changed = true, true
			}
		}
	}
	for _, r := range rules {
		if !dropped[r] {
			first = append(first, r)
		}
		for i := range lanes {
			if members[i][r] || r.Filter != nil {
				lanes[i].Rules = append(lanes[i].Rules, r)
			}
		}
	}
	return first, lanes
}

// laneKey is ev's routing key for lane i ("" when ev lacks a group-by
// field: no group of the lane's rules can hold it).
func laneKey(i int, groupBy []string, ev *event.Event) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(i))
	for _, f := range groupBy {
		v, ok := ev.Get(f)
		if !ok || v == "" {
			return ""
		}
		b.WriteByte(0x1f)
		b.WriteString(v)
	}
	return b.String()
}

// LaneKeys returns the cross stage's routing keys of an event (one per
// lane whose fields it has and whose rules may match it), for
// bus.Options.Keys. mayMatch(i, ev) reports whether lane i's rules may
// match ev (nil: assume they may).
func LaneKeys(lanes []Lane, mayMatch func(i int, ev *event.Event) bool) func(ev *event.Event) []string {
	return func(ev *event.Event) []string {
		var keys []string
		for i := range lanes {
			if k := laneKey(i, lanes[i].GroupBy, ev); k != "" && (mayMatch == nil || mayMatch(i, ev)) {
				keys = append(keys, k)
			}
		}
		return keys
	}
}

// MayMatchLanes returns a goroutine-safe test of whether a lane's rules may
// match an event, from its dataset, category, code, action, outcome and
// reason only (detect.Engine.MayMatch), remembered per combination.
func MayMatchLanes(lanes []Lane) (func(i int, ev *event.Event) bool, error) {
	type lane struct {
		mu   sync.Mutex
		e    *detect.Engine
		seen map[[6]string]bool
	}
	ls := make([]*lane, len(lanes))
	for i, l := range lanes {
		e, err := detect.NewEngine(l.Rules, detect.Options{})
		if err != nil {
			return nil, err
		}
		ls[i] = &lane{e: e, seen: map[[6]string]bool{}}
	}
	return func(i int, ev *event.Event) bool {
		l := ls[i]
		k := [6]string{ev.Dataset, ev.Category, ev.Code, ev.Action, ev.Outcome, ev.Reason}
		l.mu.Lock()
		defer l.mu.Unlock()
		ok, known := l.seen[k]
		if !known {
			ok = l.e.MayMatch(ev, true)
			if len(l.seen) >= 4096 {
				clear(l.seen)
			}
			l.seen[k] = ok
		}
		return ok
	}, nil
}

// CrossDetector is the cross stage's detector of partition p: one engine
// per lane, each given only the events whose lane key is in p
// (partitionOf maps a key to its partition).
func CrossDetector(lanes []Lane, p int, partitionOf func(string) int, newEngine func(rules []*detect.Rule) (Detector, error)) (Detector, error) {
	d := &crossDetector{p: p, partitionOf: partitionOf}
	for _, l := range lanes {
		det, err := newEngine(l.Rules)
		if err != nil {
			return nil, err
		}
		d.lanes = append(d.lanes, crossLane{groupBy: l.GroupBy, det: det})
	}
	return d, nil
}

type crossLane struct {
	groupBy []string
	det     Detector
}

type crossDetector struct {
	p           int
	partitionOf func(string) int
	lanes       []crossLane
}

// Owns reports whether some lane's key of ev is in the detector's
// partition (its replay filter).
func (d *crossDetector) Owns(ev *event.Event) bool {
	for i := range d.lanes {
		if k := laneKey(i, d.lanes[i].groupBy, ev); k != "" && d.partitionOf(k) == d.p {
			return true
		}
	}
	return false
}

func (d *crossDetector) Process(ev *event.Event) []store.Incident {
	var out []store.Incident
	for i := range d.lanes {
		if k := laneKey(i, d.lanes[i].groupBy, ev); k != "" && d.partitionOf(k) == d.p {
			out = append(out, d.lanes[i].det.Process(ev)...)
		}
	}
	return out
}

func (d *crossDetector) each(f func(Detector) []store.Incident) []store.Incident {
	var out []store.Incident
	for i := range d.lanes {
		out = append(out, f(d.lanes[i].det)...)
	}
	return out
}

func (d *crossDetector) Flush() []store.Incident {
	return d.each(func(x Detector) []store.Incident { return x.Flush() })
}

func (d *crossDetector) Updated() []store.Incident {
	return d.each(func(x Detector) []store.Incident { return x.Updated() })
}

// Horizon is the oldest horizon among the lanes that have one: an event
// older than it is late for at least one lane.
func (d *crossDetector) Horizon() time.Time {
	var h time.Time
	for i := range d.lanes {
		if hz, ok := d.lanes[i].det.(horizoner); ok {
			if t := hz.Horizon(); !t.IsZero() && (h.IsZero() || t.Before(h)) {
				h = t
			}
		}
	}
	return h
}

// Window is the longest of the lanes' windows.
func (d *crossDetector) Window() time.Duration {
	var w time.Duration
	for i := range d.lanes {
		if x, ok := d.lanes[i].det.(interface{ Window() time.Duration }); ok {
			w = max(w, x.Window())
		} else {
			w = max(w, ReplayWindow)
		}
	}
	return w
}
