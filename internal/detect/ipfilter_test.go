package detect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/google/go-cmp/cmp"
)

// TestOrderedSourceFilter: a temporal_ordered rule whose group keys hold
// source.ip skips the steps after the first for an address no chain has
// started from (corrState.ipGroups) without changing what is found: the
// incidents and statistics equal those of the same engine with the
// filter off, on random streams where addresses share slots, groups are
// evicted and dropped (max_groups), and user names hold the key separator
// (which turns the filter off).
func TestOrderedSourceFilter(t *testing.T) {
	const src = `title: f
name: f
detection: {s: {event.outcome: failure}, condition: s}
---
title: s
name: s
detection: {s: {event.outcome: success}, condition: s}
---
title: ip
name: ip
level: high
correlation: {type: temporal_ordered, rules: [f, s], group-by: [source.ip], timespan: 10m}
---
title: user ip
name: userip
level: high
correlation: {type: temporal_ordered, rules: [f, f, s], group-by: [user.name, source.ip], timespan: 5m}
firebreak: {max_groups: 8}
---
title: user
name: user
level: high
correlation: {type: temporal_ordered, rules: [f, s], group-by: [user.name], timespan: 5m}
`
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		on, off := mustEngine(t, src), mustEngine(t, src)
		for _, cr := range off.rules {
			if cr.corr != nil {
				cr.corr.ipGroups = nil
			}
		}
		users := []string{"root", "alice", "bob", "a\x1fb"}
		if seed%2 == 0 {
			users = users[:3] // no separator: the filter stays on
		}
		at := t0
		for range 3000 {
			at = at.Add(time.Duration(rng.IntN(20)) * time.Second)
			ev := &event.Event{Timestamp: at, Outcome: "failure", Tenant: "t", UserName: users[rng.IntN(len(users))]}
			if rng.IntN(3) == 0 {
				ev.Outcome = "success"
			}
			if rng.IntN(20) > 0 {
				ev.SourceIP = netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(2)), byte(rng.IntN(40))})
			}
			if rng.IntN(30) == 0 {
				ev.UserName = ""
			}
			a, b := on.Process(ev), off.Process(ev)
			if d := cmp.Diff(fmt.Sprint(a), fmt.Sprint(b)); d != "" {
				t.Fatalf("seed %d: alerts differ (-on +off):\n%s", seed, d)
			}
		}
		on.Flush()
		off.Flush()
		j := func(e *Engine) string {
			b, _ := json.Marshal(struct {
				I []*Incident
				S Stats
			}{e.Incidents(), e.Stats()})
			return string(b)
		}
		if d := cmp.Diff(j(on), j(off)); d != "" {
			t.Fatalf("seed %d: incidents or stats differ (-on +off):\n%s", seed, d)
		}
		if on.Stats().Alerts == 0 {
			t.Errorf("seed %d: no alert: the stream does not exercise the rules", seed)
		}
		ip := on.byRef["ip"].corr
		if ip.ipGroups == nil {
			t.Errorf("seed %d: the source.ip rule's filter is off", seed)
		}
		if on.byRef["user"].corr.ipGroups != nil {
			t.Errorf("seed %d: a rule keyed without source.ip has a filter", seed)
		}
		if ui := on.byRef["userip"].corr; (ui.ipGroups == nil) != (seed%2 == 1) {
			t.Errorf("seed %d: user ip filter on=%v, want off exactly when a user name holds the separator", seed, ui.ipGroups != nil)
		}
	}
}
