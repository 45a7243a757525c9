package detect

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/google/go-cmp/cmp"
)

// oracleRules builds the rules of one property-test round: base rules a and
// b (an event with action "ab" matches both) and one correlation of each
// type over them with the given condition.
func oracleRules(t *testing.T, cond string, span string) []*Rule {
	t.Helper()
	src := fmt.Sprintf(`title: a
name: a
detection:
  sel: {event.action: [a, ab]}
  condition: sel
---
title: b
name: b
detection:
  sel: {event.action: [b, ab]}
  condition: sel
---
title: ec
name: ec
level: low
correlation:
  type: event_count
  rules: [a]
  group-by: [user.name]
  timespan: %[2]s
  condition: {%[1]s}
---
title: vc
name: vc
level: low
correlation:
  type: value_count
  rules: [a]
  group-by: [user.name]
  timespan: %[2]s
  condition: {field: source.ip, %[1]s}
---
title: tp
name: tp
level: low
correlation:
  type: temporal
  rules: [a, b]
  group-by: [user.name]
  timespan: %[2]s
---
title: to
name: to
level: low
correlation:
  type: temporal_ordered
  rules: [a, b]
  group-by: [user.name]
  timespan: %[2]s
`, cond, span)
	rules, err := ParseRules("oracle.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

type oev struct {
	t      time.Time
	user   string
	ip     int
	a, b   bool
	n      int
	action string
}

// oracle computes, by brute force, at which events each correlation's
// condition holds.
func oracle(evs []oev, span time.Duration, holds func(int64) bool) map[string][]int {
	out := map[string][]int{}
	in := func(i, j int) bool { return evs[i].user == evs[j].user && evs[i].t.Sub(evs[j].t) < span }
	for i, e := range evs {
		if e.a {
			var sum int64
			ips := map[int]bool{}
			for j := 0; j <= i; j++ {
				if evs[j].a && in(i, j) {
					sum += int64(evs[j].n)
					ips[evs[j].ip] = true
				}
			}
			if holds(sum) {
				out["ec"] = append(out["ec"], i)
			}
			if holds(int64(len(ips))) {
				out["vc"] = append(out["vc"], i)
			}
		}
		if e.a || e.b {
			var seenA, seenB bool
			for j := 0; j <= i; j++ {
				if in(i, j) {
					seenA = seenA || evs[j].a
					seenB = seenB || evs[j].b
				}
			}
			if seenA && seenB {
				out["tp"] = append(out["tp"], i)
			}
			ordered := false
			for j1 := 0; j1 <= i && !ordered; j1++ {
				if !evs[j1].a || !in(i, j1) {
					continue
				}
				for j2 := j1 + 1; j2 <= i; j2++ {
					if evs[j2].b && evs[j2].user == e.user {
						ordered = true
						break
					}
				}
			}
			if ordered {
				out["to"] = append(out["to"], i)
			}
		}
	}
	return out
}

func TestWindowsMatchOracle(t *testing.T) {
	conds := []struct {
		yaml  string
		holds func(int64) bool
	}{
		{"gte: 3", func(n int64) bool { return n >= 3 }},
		{"gt: 4", func(n int64) bool { return n > 4 }},
		{"lte: 2", func(n int64) bool { return n <= 2 }},
		{"lt: 3", func(n int64) bool { return n < 3 }},
		{"eq: 3", func(n int64) bool { return n == 3 }},
		{"neq: 1", func(n int64) bool { return n != 1 }},
		{"gt: 1, lte: 4", func(n int64) bool { return n > 1 && n <= 4 }},
	}
	rounds := 300
	if testing.Short() || raceEnabled {
		rounds = 60
		t.Logf("-short or -race: %d rounds instead of 300", rounds)
	}
	for round := range rounds {
		rng := rand.New(rand.NewPCG(uint64(round), 42))
		c := conds[round%len(conds)]
		spanSec := 1 + rng.IntN(120)
		span := time.Duration(spanSec) * time.Second
		rules := oracleRules(t, c.yaml, fmt.Sprintf("%ds", spanSec))
		e, err := NewEngine(rules, Options{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]int{}
		e.onHold = func(rule string, ev *event.Event) { got[rule] = append(got[rule], int(ev.Line)) }
		var evs []oev
		ts := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		n := 50 + rng.IntN(250)
		for range n {
			if rng.IntN(3) > 0 {
				ts = ts.Add(time.Duration(rng.IntN(spanSec*400)) * time.Millisecond * 10 / 4)
			}
			o := oev{t: ts, user: fmt.Sprint("u", rng.IntN(3)), ip: rng.IntN(6), n: 1}
			if rng.IntN(8) == 0 {
				o.n = 1 + rng.IntN(4)
			}
			switch rng.IntN(5) {
			case 0, 1:
				o.action, o.a = "a", true
			case 2, 3:
				o.action, o.b = "b", true
			default:
				o.action, o.a, o.b = "ab", true, true
			}
			evs = append(evs, o)
		}
		for i, o := range evs {
			ev := event.Event{Timestamp: o.t, Action: o.action, UserName: o.user, Count: o.n, Line: int64(i),
				SourceIP: netip.AddrFrom4([4]byte{10, 0, 0, byte(o.ip)})}
			e.Process(&ev)
		}
		e.Flush()
		want := oracle(evs, span, c.holds)
		for _, rule := range []string{"ec", "vc", "tp", "to"} {
			if diff := cmp.Diff(got[rule], want[rule]); diff != "" {
				t.Fatalf("round %d (%s, span %s) rule %s: condition held at (-got +want):\n%s", round, c.yaml, span, rule, diff)
			}
		}
	}
}
