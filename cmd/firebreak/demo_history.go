package main

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"time"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// The demo's history: a few weeks before the demo clock, so the score
// trend, the incidents-over-time and the events-per-hour charts are not
// empty on first sight. Everything is derived from the demo clock and the
// example's own assessment by hashing (no randomness): two runs of the
// demo seed the same history. Seeded rows are marked as such (trigger
// "demo-history", incidents resolved by "demo-history", events of dataset
// "demo.history").

// demoHistory marks what the demo seeds (run trigger, who resolved an
// incident).
const demoHistory = "demo-history"

// demoHistoryDays is how far back the seeded history goes.
const demoHistoryDays = 21

// unit maps a key to [0, 1) deterministically.
func unit(parts ...string) float64 {
	h := fnv.New64a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	return float64(h.Sum64()>>11) / float64(1<<53)
}

// historyReport is the example's report as it stood days before rep: a
// share of what passes now still failed then, growing with the distance
// (at most a third at the oldest run). The share only grows going back, so
// each day fails a superset of the next day's failures: no seeded run
// drifts from pass to fail against the run after it.
func historyReport(rep *assess.Report, days int) *assess.Report {
	h := *rep
	h.At = rep.At.Add(-time.Duration(days) * 24 * time.Hour)
	h.Results = slices.Clone(rep.Results)
	share := 0.33 * float64(days) / demoHistoryDays
	for i := range h.Results {
		r := &h.Results[i]
		if r.Status != assess.StatusPass || unit(r.Control, r.Subject, r.Object) >= share {
			continue
		}
		r.Status = assess.StatusFail
		r.Message = "seeded demo history: still failing " + h.At.Format("2006-01-02")
	}
	assess.Rescore(&h)
	return &h
}

// seedDemoRuns stores one assessment per day for demoHistoryDays days
// before rep (oldest first, so the real run stored afterwards is the
// latest).
func seedDemoRuns(ctx context.Context, st store.Store, rep *assess.Report) error {
	for d := demoHistoryDays; d >= 1; d-- {
		if _, err := st.SaveRun(ctx, 0, demoHistory, historyReport(rep, d)); err != nil {
			return fmt.Errorf("seeding demo history: %w", err)
		}
	}
	return nil
}

// seedDemoIncidents stores resolved incidents spread over the weeks before
// now: a few a day, modelled on the demo's own incidents (their rule,
// title, severity and tenants) from other, documentation-range addresses,
// so they form their own cases and never join today's open ones.
func seedDemoIncidents(ctx context.Context, st store.Store, now time.Time) error {
	open, err := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Limit: 1000})
	if err != nil {
		return err
	}
	if len(open) == 0 {
		return nil
	}
	slices.SortFunc(open, func(a, b store.Incident) int { return cmp.Compare(a.ID, b.ID) })
	for d := demoHistoryDays; d >= 1; d-- {
		day := now.Add(-time.Duration(d) * 24 * time.Hour)
		n := 1 + int(unit("incidents", fmt.Sprint(d))*4) // 1..4 a day
		for k := range n {
			src := open[int(unit("model", fmt.Sprint(d), fmt.Sprint(k))*float64(len(open)))]
			first := day.Add(time.Duration(unit("hour", fmt.Sprint(d), fmt.Sprint(k))*23*60) * time.Minute)
			ip := fmt.Sprintf("203.0.113.%d", 1+(d*7+k*31)%250)
			inc := store.Incident{
				ID: fmt.Sprintf("demo-history-%02d-%d", d, k), Tenant: src.Tenant, Tenants: src.Tenants, Rule: src.Rule,
				Title: src.Title, Severity: src.Severity, Status: store.StatusOpen, First: first, Last: first.Add(17 * time.Minute),
				Count: 20 + int(unit("count", fmt.Sprint(d), fmt.Sprint(k))*200), Level: src.Level, Techniques: src.Techniques,
				Key: map[string]string{"source.ip": ip},
			}
			if _, _, err := st.UpsertIncident(ctx, &inc); err != nil {
				return fmt.Errorf("seeding demo incidents: %w", err)
			}
			if _, err := st.SetIncidentStatus(ctx, store.AllTenants(), inc.ID, store.StatusResolved, demoHistory); err != nil {
				return fmt.Errorf("seeding demo incidents: %w", err)
			}
		}
	}
	return nil
}

// seedDemoEvents stores a background of successful sign-ins, a few an hour
// with a working-day rhythm, for the weeks before now, in batches.
func seedDemoEvents(ctx context.Context, st store.Store, e *estate.Estate, now time.Time) (int, error) {
	var users []estate.Identity
	for _, id := range e.Identities {
		if id.Home != "" && id.Home != estate.MSP && id.IsEnabled() {
			users = append(users, id)
		}
	}
	if len(users) == 0 {
		return 0, nil
	}
	start := now.Add(-demoHistoryDays * 24 * time.Hour).Truncate(time.Hour)
	var batch []store.EventRecord
	total := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := st.AppendEvents(ctx, batch); err != nil {
			return fmt.Errorf("seeding demo events: %w", err)
		}
		total += len(batch)
		batch = batch[:0]
		return nil
	}
	for at := start; at.Before(now.Add(-24 * time.Hour)); at = at.Add(time.Hour) {
		busy := 1
		if h := at.Hour(); h >= 8 && h < 18 && at.Weekday() != time.Saturday && at.Weekday() != time.Sunday {
			busy = 6
		}
		n := busy + int(unit("events", at.Format(time.RFC3339))*float64(busy))
		for k := range n {
			u := users[int(unit("user", at.Format(time.RFC3339), fmt.Sprint(k))*float64(len(users)))]
			ts := at.Add(time.Duration(unit("minute", at.Format(time.RFC3339), fmt.Sprint(k))*3600) * time.Second)
			ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + int(unit("ip", u.ID)*200))})
			ev := event.Event{Timestamp: ts, Category: "authentication", Action: "signin", Outcome: "success", UserName: u.UPN,
				SourceIP: ip, Tenant: u.Home, Dataset: "demo.history"}
			batch = append(batch, store.EventRecord{Event: ev, Raw: "seeded demo history: " + u.UPN + " signed in"})
		}
		if len(batch) >= 500 {
			if err := flush(); err != nil {
				return total, err
			}
		}
	}
	return total, flush()
}
