package detect

import (
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// evidence is a listing rule's (firebreak.list) window of the events its
// correlation is built on, per group key: each event's time, count and
// listed values. An incident of the rule opens with the events of its
// key's window, so its count, its first time and the values it lists
// (distributed_spray's sources and users, with counts) are computed from
// one set of events. The correlations under it count distinct values
// saturating at their threshold and keep a value's last time only, so
// their state cannot give that set.
type evidence struct {
	span    int64
	max     int        // entries kept per key (the rule's max_values); older ones are dropped, and the key's lists say "at least"
	specs   []*keySpec // the rule's group key for an event of each input rule (by position)
	keys    map[string]*evWindow
	lastSeq uint64 // the last event recorded (one event reaches a rule through several inputs)
	swept   int64
}

type evWindow struct {
	ents    []evEntry // time order from h on
	vals    []string  // the entries' listed values, len(list) per entry in entry order ("" when absent)
	h       int
	dropped bool // entries within the span were dropped (max)
	last    int64
}

type evEntry struct {
	ts, n int64
	vals  []string // the listed values (a window of evWindow.vals)
}

// lister is a listing rule an input reaches, through its input at pos.
type lister struct {
	cr  *crule
	pos int
}

// linkListers gives every detection rule under a listing rule the rule
// (once per rule: its first input that reaches it).
func (e *Engine) linkListers() {
	for _, cr := range e.rules {
		if len(cr.r.Options.List) == 0 || cr.corr == nil {
			continue
		}
		cr.evid = &evidence{span: cr.corr.span, max: cr.r.Options.MaxValues, specs: cr.corr.specs, keys: map[string]*evWindow{}}
		for pos, ch := range cr.corr.children {
			for _, d := range leavesOf(ch, nil) {
				if !slices.ContainsFunc(d.listers, func(l lister) bool { return l.cr == cr }) {
					d.listers = append(d.listers, lister{cr, pos})
				}
			}
		}
	}
}

// leavesOf appends the detection rules cr is built on (cr itself when it
// is one) to out.
func leavesOf(cr *crule, out []*crule) []*crule {
	if cr.corr == nil {
		if !slices.Contains(out, cr) {
			out = append(out, cr)
		}
		return out
	}
	for _, ch := range cr.corr.children {
		out = leavesOf(ch, out)
	}
	return out
}

// record adds an event of one of the listing rule's detection rules to its
// key's window.
func (e *Engine) record(l lister, ev *event.Event, ts int64) {
	x := l.cr.evid
	if x.lastSeq == e.pseq {
		return
	}
	x.lastSeq = e.pseq
	key, _, ok := e.key(x.specs[l.pos], ev)
	if !ok {
		return
	}
	if ts-x.swept > x.span {
		x.swept = ts
		for k, w := range x.keys {
			if w.last <= ts-x.span {
				delete(x.keys, k)
			}
		}
	}
	w := x.keys[string(key)]
	if w == nil {
		w = &evWindow{}
		x.keys[string(key)] = w
	}
	w.expire(ts, x.span)
	if len(w.ents)-w.h >= x.max {
		w.h++
		w.dropped = true
	}
	for i := range l.cr.listAccs {
		a := &l.cr.listAccs[i]
		v, _ := a.get(ev, e.env)
		if a.kind != fSourceIP { // formatted afresh; the others are the event's own
			v = strings.Clone(v)
		}
		w.vals = append(w.vals, v)
	}
	w.ents = append(w.ents, evEntry{ts: ts, n: int64(ev.N())})
	w.last = max(w.last, ts)
}

// expire drops the entries at or before now-span.
func (w *evWindow) expire(now, span int64) {
	for w.h < len(w.ents) && w.ents[w.h].ts <= now-span {
		w.h++
	}
	if w.h == len(w.ents) {
		w.dropped = false
	}
	if w.h > 32 && w.h*2 > len(w.ents) {
		per := len(w.vals) / max(len(w.ents), 1)
		k := copy(w.ents, w.ents[w.h:])
		kv := copy(w.vals, w.vals[w.h*per:])
		clear(w.vals[kv:])
		w.ents, w.vals, w.h = w.ents[:k], w.vals[:kv], 0
	}
}

// since calls f for the entries of key's window after t, at now; it
// reports whether the window dropped entries within its span.
func (x *evidence) since(key []byte, t, now int64, f func(evEntry)) bool {
	w := x.keys[string(key)]
	if w == nil {
		return false
	}
	w.expire(now, x.span)
	per := len(w.vals) / max(len(w.ents), 1)
	for i := w.h; i < len(w.ents); i++ {
		if ent := w.ents[i]; ent.ts > t {
			ent.vals = w.vals[i*per : (i+1)*per]
			f(ent)
		}
	}
	return w.dropped
}
