package detect

import (
	"encoding/binary"
	"math"
	"net/netip"
	"strings"
)

// corrState is the per-group state of one correlation rule.
type corrState struct {
	typ       string
	span      int64
	cond      Condition
	need      int64 // counts are exact up to need and saturate above
	nrules    int
	specs     []*keySpec // group key per input rule (aliases resolved)
	valAccs   []accessor // value_count field per input rule
	children  []*crule
	groups    map[uint64]*group
	n         int
	maxGroups int
	maxValues int
	suppress  int64
	tenant    bool
	rel       *Relative // the threshold scales with the tenant's accounts
	head      *group    // least recently updated
	tail      *group
	free      *group
	nfree     int

	// ipGroups counts a temporal_ordered rule's groups per slot of their
	// source address (ipSlot) when every input rule's group key holds
	// source.ip (nil: not, or no longer trusted), so that a step after the
	// first can tell without building its key that no chain has started
	// for the event's address (most successes: no failures before them).
	ipGroups []uint32
}

const ipSlotBits = 8

// ipSlot hashes an address to one of 1<<ipSlotBits slots. Equal addresses
// share a slot; others may (a shared slot only costs the full lookup).
func ipSlot(a netip.Addr) int32 {
	b := a.As16()
	h := binary.LittleEndian.Uint64(b[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[8:])*0xc2b2ae3d27d4eb4f
	return int32(h >> (64 - ipSlotBits))
}

// keysHoldSourceIP reports whether every spec's key has source.ip at one
// position.
func keysHoldSourceIP(specs []*keySpec) bool {
	if len(specs) == 0 {
		return false
	}
	for i := range specs[0].accs {
		all := true
		for _, ks := range specs {
			if i >= len(ks.accs) || ks.accs[i].kind != fSourceIP {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// noChainFrom reports whether no group's key holds the address ip.
func (cs *corrState) noChainFrom(ip netip.Addr) bool {
	return cs.ipGroups != nil && ip.IsValid() && cs.ipGroups[ipSlot(ip)] == 0
}

// track counts a new group under its source address. A key whose values
// hold the separator (0x1f) could equal a key with another address in
// source.ip's place: the counts are then no longer trusted (nil).
func (cs *corrState) track(g *group, ip netip.Addr, ks *keySpec) {
	g.ipSlot = -1
	if cs.ipGroups == nil {
		return
	}
	seps := len(ks.accs)
	if ks.tenant {
		seps++
	}
	if strings.Count(g.key, "\x1f") != seps {
		cs.ipGroups = nil
		return
	}
	g.ipSlot = ipSlot(ip)
	cs.ipGroups[g.ipSlot]++
}

// group is one key's window.
type group struct {
	key     string
	hash    uint64
	hnext   *group
	prev    *group
	next    *group
	first   int64
	last    int64
	total   int64
	tenant  string
	tenants []string // cross-tenant groups: tenants seen (up to maxGroupTenants)
	inc     *Incident
	gte     int64 // the group's own threshold (relative_to_accounts); 0: the condition's
	ipSlot  int32 // its slot in corrState.ipGroups (-1: not counted)

	// event_count: (time, count) entries in time order from h on.
	ts  []int64
	ns  []int64
	h   int
	sum int64

	// value_count: distinct values, a list in last-seen order.
	vidx    map[string]int32
	ve      []vent
	vh, vt  int32
	vfree   int32
	lastVal string

	// temporal: last time per rule; temporal_ordered: start time of the
	// latest chain that completed the prefix up to each rule.
	tt  []int64
	sq  []uint64
	pt  []int64
	psq []uint64
}

type vent struct {
	val        string
	last       int64
	n          int64 // events that carried the value while it was in the window
	prev, next int32
}

const none = math.MinInt64

const maxGroupTenants = 64

func (g *group) addTenant(t string) {
	if t == "" || len(g.tenants) >= maxGroupTenants {
		return
	}
	for _, x := range g.tenants {
		if x == t {
			return
		}
	}
	g.tenants = append(g.tenants, t)
}

func (cs *corrState) lookup(key []byte, h uint64) *group {
	for g := cs.groups[h]; g != nil; g = g.hnext {
		if g.key == string(key) {
			return g
		}
	}
	return nil
}

func (cs *corrState) create(key []byte, h uint64, st *RuleStats) *group {
	if cs.n >= cs.maxGroups && cs.head != nil {
		cs.remove(cs.head)
		st.Dropped++
	}
	g := cs.free
	if g != nil {
		cs.free = g.hnext
		cs.nfree--
		g.hnext = nil
	} else {
		g = &group{}
	}
	g.key = string(key)
	g.hash = h
	g.first, g.last = none, none
	switch cs.typ {
	case EventCount:
		g.ts, g.ns, g.h, g.sum = g.ts[:0], g.ns[:0], 0, 0
	case ValueCount:
		if g.vidx == nil {
			g.vidx = make(map[string]int32, 8)
		}
		g.ve = g.ve[:0]
		g.vh, g.vt, g.vfree = -1, -1, -1
	case Temporal, TemporalOrdered:
		if len(g.tt) != cs.nrules {
			g.tt = make([]int64, cs.nrules)
			g.pt = make([]int64, cs.nrules)
			g.sq = make([]uint64, cs.nrules)
			g.psq = make([]uint64, cs.nrules)
		}
		for i := range g.tt {
			g.tt[i], g.pt[i], g.sq[i], g.psq[i] = none, none, 0, 0
		}
	}
	g.hnext = cs.groups[h]
	cs.groups[h] = g
	cs.n++
	// append to the LRU tail
	g.prev, g.next = cs.tail, nil
	if cs.tail != nil {
		cs.tail.next = g
	} else {
		cs.head = g
	}
	cs.tail = g
	return g
}

func (cs *corrState) remove(g *group) {
	// hash chain
	if p := cs.groups[g.hash]; p == g {
		if g.hnext == nil {
			delete(cs.groups, g.hash)
		} else {
			cs.groups[g.hash] = g.hnext
		}
	} else {
		for ; p != nil; p = p.hnext {
			if p.hnext == g {
				p.hnext = g.hnext
				break
			}
		}
	}
	// LRU list
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		cs.head = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	} else {
		cs.tail = g.prev
	}
	cs.n--
	if g.ipSlot >= 0 && cs.ipGroups != nil {
		cs.ipGroups[g.ipSlot]--
	}
	g.ipSlot = -1
	g.prev, g.next, g.inc, g.key, g.tenant, g.total, g.lastVal, g.gte = nil, nil, nil, "", "", 0, "", 0
	clear(g.tenants)
	g.tenants = g.tenants[:0]
	if g.vidx != nil {
		clear(g.vidx)
		for i := range g.ve {
			g.ve[i].val = ""
		}
	}
	if cap(g.ts) > 1024 || len(g.vidx) > 1024 {
		return // let big windows go to the collector
	}
	if cs.nfree < 1024 {
		g.hnext = cs.free
		cs.free = g
		cs.nfree++
	} else {
		g.hnext = nil
	}
}

func (cs *corrState) touch(g *group, ts int64) {
	if g.first == none {
		g.first = ts
	}
	if ts > g.last {
		g.last = ts
	}
	if cs.tail == g {
		return
	}
	// unlink
	if g.prev != nil {
		g.prev.next = g.next
	} else {
		cs.head = g.next
	}
	if g.next != nil {
		g.next.prev = g.prev
	}
	// append
	g.prev, g.next = cs.tail, nil
	cs.tail.next = g
	cs.tail = g
}

// evictIdle removes the groups whose last event is a full timespan old.
func (cs *corrState) evictIdle(now int64, st *RuleStats) {
	for g := cs.head; g != nil && g.last != none && g.last <= now-cs.span; g = cs.head {
		cs.remove(g)
		st.Evicted++
	}
}

// update adds an event (n occurrences) for input rule pos at time now and
// reports whether the condition holds.
func (cs *corrState) update(g *group, pos int, val string, now, n int64, seq uint64, st *RuleStats) bool {
	cut := now - cs.span // entries at or before cut are out of the window
	switch cs.typ {
	case EventCount:
		for g.h < len(g.ts) && g.ts[g.h] <= cut {
			g.sum -= g.ns[g.h]
			g.h++
		}
		if k := len(g.ts); k > g.h && g.ts[k-1] == now {
			g.ns[k-1] += n
		} else {
			g.ts = append(g.ts, now)
			g.ns = append(g.ns, n)
		}
		g.sum += n
		for g.h < len(g.ts)-1 && g.sum-g.ns[g.h] >= cs.need {
			g.sum -= g.ns[g.h]
			g.h++
		}
		if g.h > 32 && g.h*2 > len(g.ts) {
			k := copy(g.ts, g.ts[g.h:])
			copy(g.ns, g.ns[g.h:])
			g.ts, g.ns, g.h = g.ts[:k], g.ns[:k], 0
		}
		return cs.holds(g, g.sum)
	case ValueCount:
		for g.vh >= 0 && g.ve[g.vh].last <= cut {
			g.vdel(g.vh)
		}
		if i, ok := g.vidx[val]; ok {
			g.ve[i].last = max(g.ve[i].last, now)
			g.ve[i].n += n
			g.vmoveBack(i)
			g.lastVal = g.ve[i].val
		} else {
			if int64(len(g.vidx)) >= cs.need && g.vh >= 0 {
				g.vdel(g.vh) // the oldest; counts saturate at need
			}
			g.lastVal = strings.Clone(val)
			g.vadd(g.lastVal, now)
			g.ve[g.vt].n = n
		}
		return cs.holds(g, int64(len(g.vidx)))
	case Temporal:
		g.tt[pos] = now
		var c int64
		for _, t := range g.tt {
			if t != none && t > cut {
				c++
			}
		}
		return cs.cond.Holds(c)
	case TemporalOrdered:
		var start int64 = none
		if pos == 0 {
			start = now
		} else {
			s, sq := g.tt[pos-1], g.sq[pos-1]
			if sq == seq {
				s, sq = g.pt[pos-1], g.psq[pos-1]
			}
			if s != none && sq < seq {
				start = s
			}
		}
		if start != none && start > cut {
			if g.sq[pos] != seq {
				g.pt[pos], g.psq[pos] = g.tt[pos], g.sq[pos]
			}
			if g.tt[pos] == none || start > g.tt[pos] || g.tt[pos] <= cut {
				g.tt[pos] = start
			}
			g.sq[pos] = seq
		}
		var c int64
		for k := len(g.tt) - 1; k >= 0; k-- {
			if g.tt[k] != none && g.tt[k] > cut {
				c = int64(k + 1)
				break
			}
		}
		return cs.cond.Holds(c)
	}
	return false
}

// holds evaluates the condition on a saturated count, with the group's own
// threshold when the rule scales with the tenant.
func (cs *corrState) holds(g *group, n int64) bool {
	n = min(n, cs.need)
	if g.gte > 0 {
		return n >= g.gte
	}
	return cs.cond.Holds(n)
}

// relGTE returns the threshold for a tenant of the given size: the rule's
// gte, lowered to fraction × accounts (at least min) for small tenants; 0
// when the rule does not scale or the size is unknown.
func (cs *corrState) relGTE(accounts int) int64 {
	if cs.rel == nil || accounts <= 0 {
		return 0
	}
	t := int64(math.Ceil(cs.rel.Fraction * float64(accounts)))
	t = max(t, int64(cs.rel.Min), 1)
	return min(t, *cs.cond.GTE)
}

func (g *group) vadd(v string, t int64) {
	var i int32
	if g.vfree >= 0 {
		i = g.vfree
		g.vfree = g.ve[i].next
	} else {
		g.ve = append(g.ve, vent{})
		i = int32(len(g.ve) - 1)
	}
	g.ve[i] = vent{val: v, last: t, prev: g.vt, next: -1}
	if g.vt >= 0 {
		g.ve[g.vt].next = i
	} else {
		g.vh = i
	}
	g.vt = i
	g.vidx[v] = i
}

func (g *group) vunlink(i int32) {
	e := &g.ve[i]
	if e.prev >= 0 {
		g.ve[e.prev].next = e.next
	} else {
		g.vh = e.next
	}
	if e.next >= 0 {
		g.ve[e.next].prev = e.prev
	} else {
		g.vt = e.prev
	}
}

func (g *group) vdel(i int32) {
	g.vunlink(i)
	delete(g.vidx, g.ve[i].val)
	g.ve[i] = vent{next: g.vfree, prev: -1}
	g.vfree = i
}

func (g *group) vmoveBack(i int32) {
	if g.vt == i {
		return
	}
	g.vunlink(i)
	e := &g.ve[i]
	e.prev, e.next = g.vt, -1
	g.ve[g.vt].next = i
	g.vt = i
}

func (g *group) values() []string {
	var out []string
	for i := g.vh; i >= 0; i = g.ve[i].next {
		out = append(out, g.ve[i].val)
	}
	return out
}

func (g *group) distinct() int64 { return int64(len(g.vidx)) }

// windowStart returns the time of the oldest event that makes the condition
// hold at now: the window's first entry, the chain's start, or the group's
// first event.
func (g *group) windowStart(cs *corrState, now int64) int64 {
	cut := now - cs.span
	switch cs.typ {
	case EventCount:
		if g.h < len(g.ts) {
			return g.ts[g.h]
		}
	case ValueCount:
		if g.vh >= 0 {
			return g.ve[g.vh].last
		}
	case Temporal:
		start := now
		for _, t := range g.tt {
			if t != none && t > cut && t < start {
				start = t
			}
		}
		return start
	case TemporalOrdered:
		for k := len(g.tt) - 1; k >= 0; k-- {
			if g.tt[k] != none && g.tt[k] > cut {
				return g.tt[k]
			}
		}
	}
	return g.first
}
