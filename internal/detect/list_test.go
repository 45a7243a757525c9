package detect

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// TestDistributedSprayOneSet: a distributed_spray incident's count, its
// first and last time and the sources and users it lists (with counts)
// come from one set of events: the failures of the tenant between its
// first and last time. On harbourview's riverside-clinic log (35 users from
// 22 addresses over 48 minutes, examples/harbourview/logs), on a wider
// spray (80 users from 40 addresses) and on a tenant sprayed twice, hours
// apart (the incident's key gets a new group). Old code: the lists came
// from the two correlations under the rule, which keep only as many
// values as their thresholds need (15 sources, 20 users) and a value's
// last time, so harbourview's incident listed 33 of the 35 users, said
// "at least" of both lists, and began at 06:45 although it counted events
// from 06:16.
func TestDistributedSprayOneSet(t *testing.T) {
	spray := func(start time.Time, users, sources int, every time.Duration, tag string) []event.Event {
		var evs []event.Event
		for i := range users {
			evs = append(evs, event.Event{Timestamp: start.Add(time.Duration(i) * every), Dataset: "sshd", Category: "authentication",
				Outcome: event.OutcomeFailure, Reason: "bad_password", UserName: fmt.Sprintf("%s%02d", tag, i),
				SourceIP: netip.AddrFrom4([4]byte{198, 18, byte(i % sources), 7}), Tenant: "corp"})
		}
		return evs
	}
	t0 := dayStart.Add(6 * time.Hour)
	for _, tc := range []struct {
		name string
		evs  []event.Event
	}{
		{"harbourview", readEvents(t, "../../examples/harbourview/logs/auth-riverside-clinic-srv01.log", ingest.Options{})},
		{"wide", spray(t0, 80, 40, 40*time.Second, "u")},
		{"twice", append(spray(t0, 30, 20, time.Minute, "a"), spray(t0.Add(5*time.Hour), 40, 25, 30*time.Second, "b")...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			incs, _, _ := runPack(t, tc.evs, nil)
			i := slices.IndexFunc(incs, func(inc *Incident) bool { return inc.RuleName == "distributed_spray" })
			if i < 0 {
				t.Fatal("no distributed_spray")
			}
			inc := incs[i]
			var counted []event.Event
			for _, ev := range tc.evs {
				if ev.Outcome == event.OutcomeFailure && !ev.Timestamp.Before(inc.First) && !ev.Timestamp.After(inc.Last) {
					counted = append(counted, ev)
				}
			}
			if len(counted) == 0 || !counted[0].Timestamp.Equal(inc.First) || int64(len(counted)) != inc.Count {
				t.Fatalf("%d events %v-%v, %d failures in that span", inc.Count, inc.First, inc.Last, len(counted))
			}
			want := map[string]map[string]int64{"source.ip": {}, "user.name": {}}
			for _, ev := range counted {
				want["source.ip"][ev.SourceIP.String()]++
				want["user.name"][ev.UserName]++
			}
			if len(inc.lists) != len(want) {
				t.Fatalf("lists %+v", inc.Lists)
			}
			for _, l := range inc.lists {
				if !maps.Equal(l.counts, want[l.field]) || l.capped {
					t.Errorf("%s lists %d values (capped %v), %d events; the counted events have %d values: %v, want %v", l.field, len(l.counts), l.capped, l.total(), len(want[l.field]), l.counts, want[l.field])
				}
			}
			for _, vl := range inc.Lists {
				if vl.Distinct != len(want[vl.Field]) || vl.Capped {
					t.Errorf("%s: %d distinct (capped %v), want %d", vl.Field, vl.Distinct, vl.Capped, len(want[vl.Field]))
				}
			}
		})
	}
}
