package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/metrics"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
	"github.com/google/go-cmp/cmp"
)

// sshd parses sshd failures of one attacker against tenant, one every 20 s
// from start.
func sshd(t *testing.T, tenant string, start time.Time, n int, ip string) []store.EventRecord {
	t.Helper()
	var b strings.Builder
	for i := range n {
		at := start.Add(time.Duration(i) * 20 * time.Second)
		fmt.Fprintf(&b, "%s srv01.%s.example sshd[42]: Failed password for user%d from %s port 50022 ssh2\n", at.Format(time.Stamp), tenant, i%3, ip)
	}
	rd, err := ingest.NewReader("test", strings.NewReader(b.String()), ingest.Options{Tenant: tenant, Year: start.Year()})
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.EventRecord
	var ev event.Event
	for rd.Next(&ev) == nil {
		recs = append(recs, store.EventRecord{Event: ev})
	}
	if len(recs) != n {
		t.Fatalf("parsed %d of %d lines", len(recs), n)
	}
	return recs
}

// TestFutureEventChangesNothingForOthers is the done-when line: a
// future-dated event from one tenant's source — within the allowed skew or
// far beyond it — changes nothing for any other tenant or source: the same
// incidents (count, first, last) and the same watermarks as without it,
// and no watermark ever passes the receive clock.
func TestFutureEventChangesNothingForOthers(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	type result struct {
		Incidents  []string
		Marks      []Watermark
		Treatments []Treatment // of tenant bravo's commits
	}
	run := func(poison bool) result {
		ctx := context.Background()
		st, err := sqlite.Open(ctx, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		det, err := splitDetector()
		if err != nil {
			t.Fatal(err)
		}
		p := New(Options{Store: st, Metrics: metrics.New(), Now: func() time.Time { return now }, Detect: true, Queue: 1 << 16, NewDetector: splitDetector})
		p.det = det
		var r result
		commit := func(recs []store.EventRecord, src string) {
			t.Helper()
			tr, err := p.CommitFrom(ctx, recs, func(int) string { return src })
			if err != nil {
				t.Fatal(err)
			}
			if recs[0].Event.Tenant == "bravo" && !strings.HasPrefix(src, "syslog:192.0.2.99") {
				r.Treatments = append(r.Treatments, tr)
			}
			for len(p.q) > 0 {
				p.detect(ctx, <-p.q)
			}
		}
		// Tenant alpha's token sends events three minutes old; tenant
		// bravo's syslog peer is up to date, its file tail eight minutes
		// behind.
		commit(sshd(t, "alpha", now.Add(-3*time.Minute), 3, "203.0.113.5"), "token:a")
		if poison {
			future := sshd(t, "alpha", now.Add(4*time.Minute), 1, "203.0.113.6")                  // within the skew
			future = append(future, sshd(t, "alpha", now.AddDate(73, 0, 0), 1, "203.0.113.7")...) // 2099
			commit(future, "token:a")
			commit(sshd(t, "bravo", now.AddDate(73, 0, 0), 1, "203.0.113.8"), "syslog:192.0.2.99")
		}
		commit(sshd(t, "bravo", now.Add(-4*time.Minute), 12, "198.51.100.11"), "syslog:192.0.2.10")
		commit(sshd(t, "bravo", now.Add(-12*time.Minute), 12, "198.51.100.12"), "file:/var/log/auth.log")
		p.flushLate(ctx)
		p.Handle(ctx, det.Flush())
		p.sync(ctx, det)
		incs, err := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range incs {
			if in.Tenant == "alpha" || in.Rule == "clock_skew" {
				continue
			}
			r.Incidents = append(r.Incidents, fmt.Sprintf("%s %s %v count=%d first=%s last=%s", in.Tenant, in.Rule, in.Key, in.Count, in.First.Format(time.TimeOnly), in.Last.Format(time.TimeOnly)))
		}
		for _, m := range p.Watermarks() {
			if m.Time.After(now) {
				t.Errorf("watermark %s/%s at %s, past the receive clock %s", m.Tenant, m.Source, m.Time, now)
			}
			if m.Tenant != "alpha" {
				r.Marks = append(r.Marks, m)
			}
		}
		return r
	}
	clean, poisoned := run(false), run(true)
	if len(clean.Incidents) == 0 || len(clean.Marks) != 3 {
		t.Fatalf("without the future events: incidents %v, watermarks %v; want tenant bravo's brute force and three watermarks (tenant, two sources)", clean.Incidents, clean.Marks)
	}
	if d := cmp.Diff(poisoned, clean); d != "" {
		t.Errorf("future-dated events of tenant alpha changed tenant bravo (-with +without):\n%s", d)
	}
}

// TestBackfillJoinsAcrossPasses: a source far behind the others sends its
// log over several sync ticks, so its events are detected in several
// back-fill passes; a brute force spread over the passes raises the same
// incident (count, first, last) as when the whole log arrives in one pass.
func TestBackfillJoinsAcrossPasses(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	run := func(passes int) []string {
		ctx := context.Background()
		st, err := sqlite.Open(ctx, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		det, err := splitDetector()
		if err != nil {
			t.Fatal(err)
		}
		p := New(Options{Store: st, Metrics: metrics.New(), Now: func() time.Time { return now }, Detect: true, Queue: 1 << 16, NewDetector: splitDetector})
		p.det = det
		commit := func(recs []store.EventRecord, src string) {
			t.Helper()
			if _, err := p.CommitFrom(ctx, recs, func(int) string { return src }); err != nil {
				t.Fatal(err)
			}
			for len(p.q) > 0 {
				p.detect(ctx, <-p.q)
			}
		}
		// The syslog peer is up to date; the followed file is 40 minutes
		// behind and sends 12 failures (one every 20 s) in `passes` parts,
		// a sync tick (back-fill pass) after each.
		commit(sshd(t, "bravo", now.Add(-2*time.Minute), 3, "198.51.100.11"), "syslog:192.0.2.10")
		behind := sshd(t, "bravo", now.Add(-40*time.Minute), 12, "198.51.100.12")
		per := len(behind) / passes
		for i := 0; i < len(behind); i += per {
			commit(behind[i:min(i+per, len(behind))], "file:/var/log/auth.log")
			p.flushLate(ctx)
		}
		p.dropBackfill(ctx)
		p.Handle(ctx, det.Flush())
		p.sync(ctx, det)
		incs, err := st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, in := range incs {
			if in.Rule == "clock_skew" {
				continue
			}
			out = append(out, fmt.Sprintf("%s %s %v count=%d first=%s last=%s", in.Tenant, in.Rule, in.Key, in.Count, in.First.Format(time.TimeOnly), in.Last.Format(time.TimeOnly)))
		}
		return out
	}
	one := run(1)
	if !strings.Contains(strings.Join(one, "\n"), "198.51.100.12") {
		t.Fatalf("one pass raised nothing for the back-filled log: %v", one)
	}
	for _, passes := range []int{3, 6} {
		if d := cmp.Diff(run(passes), one); d != "" {
			t.Errorf("the log in %d back-fill passes (-got +one pass):\n%s", passes, d)
		}
	}
}
