package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
	"github.com/google/go-cmp/cmp"
)

type incSummary struct {
	ID, Rule, Tenant, Severity string
	Tenants                    []string
	Key                        map[string]string
	First, Last                time.Time
	Count, Distinct            int64
	Alerts                     int
}

func summarize(incs []*Incident) []incSummary {
	out := make([]incSummary, 0, len(incs))
	for _, i := range incs {
		out = append(out, incSummary{ID: i.ID, Rule: i.RuleName, Tenant: i.Tenant, Severity: i.Severity, Tenants: i.Tenants,
			Key: i.Key, First: i.First, Last: i.Last, Count: i.Count, Distinct: i.Distinct, Alerts: i.Alerts})
	}
	slices.SortFunc(out, func(a, b incSummary) int {
		if a.ID < b.ID {
			return -1
		} else if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// randomStream is a multi-tenant authentication stream with brute force,
// spray, stuffing, MFA bombing and benign typos, in time order.
func randomStream(seed uint64, n int) []event.Event {
	rng := rand.New(rand.NewPCG(seed, 7))
	tenants := []string{"cedar-law", "pier9-freight", "atlas-print", "granite-cu"}
	datasets := []string{"sshd", "entra.signin", "okta.system", "windows.security"}
	ts := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]event.Event, 0, n)
	for i := range n {
		ts = ts.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
		ev := event.Event{Timestamp: ts, Category: "authentication", Tenant: tenants[rng.IntN(len(tenants))],
			Dataset: datasets[rng.IntN(len(datasets))], Line: int64(i + 1)}
		switch k := rng.IntN(10); {
		case k < 4: // attackers: a few addresses, many users
			ev.SourceIP = netip.AddrFrom4([4]byte{203, 0, 113, byte(rng.IntN(12))})
			ev.UserName = fmt.Sprint("user", rng.IntN(40))
			ev.Outcome, ev.Reason = event.OutcomeFailure, []string{"bad_password", "unknown_user"}[rng.IntN(2)]
			if rng.IntN(50) == 0 {
				ev.Outcome, ev.Reason = event.OutcomeSuccess, ""
			}
		case k < 5:
			ev.Dataset, ev.UserName = "okta.system", fmt.Sprint("vip", rng.IntN(3))
			ev.SourceIP = netip.AddrFrom4([4]byte{198, 51, 100, byte(rng.IntN(3))})
			ev.Outcome, ev.Reason = event.OutcomeFailure, "mfa_denied"
			if rng.IntN(8) == 0 {
				ev.Outcome, ev.Reason = event.OutcomeSuccess, "mfa_approved"
			}
		default: // benign
			ev.SourceIP = netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(250))})
			ev.UserName = fmt.Sprint("staff", rng.IntN(500))
			ev.Outcome = event.OutcomeSuccess
			if rng.IntN(6) == 0 {
				ev.Outcome, ev.Reason = event.OutcomeFailure, "bad_password"
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

func runEngine(t testing.TB, rules []*Rule, opts Options, evs []event.Event) []*Incident {
	e, err := NewEngine(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		e.Process(&evs[i])
	}
	e.Flush()
	if s := e.Stats(); s.Late != 0 {
		t.Fatalf("%d late events", s.Late)
	}
	return e.Incidents()
}

func TestReplayDeterminism(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	evs := randomStream(1, 40_000)
	base := summarize(runEngine(t, rules, Options{}, evs))
	if len(base) < 10 {
		t.Fatalf("only %d incidents: the stream does not exercise the rules", len(base))
	}

	t.Run("again", func(t *testing.T) {
		if diff := cmp.Diff(summarize(runEngine(t, rules, Options{}, evs)), base); diff != "" {
			t.Errorf("(-got +want):\n%s", diff)
		}
	})

	t.Run("jittered-within-lateness", func(t *testing.T) {
		// Live arrival order: each event delayed by up to 20 s.
		rng := rand.New(rand.NewPCG(9, 9))
		type arr struct {
			at time.Time
			i  int
		}
		arrivals := make([]arr, len(evs))
		for i := range evs {
			arrivals[i] = arr{evs[i].Timestamp.Add(time.Duration(rng.IntN(20_000)) * time.Millisecond), i}
		}
		slices.SortStableFunc(arrivals, func(a, b arr) int { return a.at.Compare(b.at) })
		jittered := make([]event.Event, len(evs))
		for k, a := range arrivals {
			jittered[k] = evs[a.i]
		}
		got := summarize(runEngine(t, rules, Options{AllowedLateness: 30 * time.Second}, jittered))
		if diff := cmp.Diff(got, base); diff != "" {
			t.Errorf("(-got +want):\n%s", diff)
		}
	})

	t.Run("split-by-tenant", func(t *testing.T) {
		// Tenant-scoped rules give the same incidents when each tenant's
		// events go to their own engine on their own goroutine.
		var scoped []incSummary
		for _, s := range base {
			if s.Tenant != "" {
				scoped = append(scoped, s)
			}
		}
		byTenant := map[string][]event.Event{}
		for _, ev := range evs {
			byTenant[ev.Tenant] = append(byTenant[ev.Tenant], ev)
		}
		var mu sync.Mutex
		var wg sync.WaitGroup
		var all []*Incident
		for _, part := range byTenant {
			wg.Add(1)
			go func() {
				defer wg.Done()
				incs := runEngine(t, rules, Options{}, part)
				mu.Lock()
				all = append(all, incs...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		var got []incSummary
		for _, s := range summarize(all) {
			if s.Tenant != "" {
				got = append(got, s)
			}
		}
		if diff := cmp.Diff(got, scoped); diff != "" {
			t.Errorf("(-got +want):\n%s", diff)
		}
	})
}

func TestLateEventsCounted(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(rules, Options{AllowedLateness: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ip := netip.MustParseAddr("203.0.113.9")
	mk := func(d time.Duration) *event.Event {
		return &event.Event{Timestamp: t0.Add(d), Dataset: "sshd", Category: "authentication", Outcome: "failure", SourceIP: ip, Tenant: "t"}
	}
	// In order, then 30 s back (reordered), then 5 minutes back (late).
	for _, d := range []time.Duration{0, 10 * time.Second, 20 * time.Second, 90 * time.Second, 60 * time.Second, 100 * time.Second, 200 * time.Second, -5 * time.Minute} {
		e.Process(mk(d))
	}
	e.Flush()
	s := e.Stats()
	if s.Late != 1 || s.Reordered != 1 || s.Processed != 7 {
		t.Errorf("late %d reordered %d processed %d, want 1, 1, 7", s.Late, s.Reordered, s.Processed)
	}
	incs := e.Incidents()
	if len(incs) != 1 || incs[0].Count != 7 {
		t.Fatalf("incidents %+v, want one ssh_bruteforce with 7 events", incs)
	}
}

// chunkReader returns its data in random small pieces.
type chunkReader struct {
	data []byte
	rng  *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(1+c.rng.IntN(97), len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// TestChunkedInputDeterminism: the same log read in one piece or in random
// small chunks gives the same incidents.
func TestChunkedInputDeterminism(t *testing.T) {
	var buf bytes.Buffer
	if _, err := loggen.Generate(&buf, loggen.Options{Format: loggen.FormatSSHD, Lines: 60_000, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	tm := &ingest.TenantMap{Domains: map[string]string{}}
	for _, tn := range loggen.DefaultTenants() {
		tm.Domains[tn.Domain] = tn.ID
	}
	run := func(r io.Reader) []incSummary {
		rd, err := ingest.NewReader("auth.log", r, ingest.Options{Year: 2026, TenantMap: tm})
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(rules, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		for {
			err := rd.Next(&ev)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			e.Process(&ev)
		}
		e.Flush()
		return summarize(e.Incidents())
	}
	whole := run(bytes.NewReader(buf.Bytes()))
	if len(whole) == 0 {
		t.Fatal("no incidents in the generated log")
	}
	chunked := run(&chunkReader{data: buf.Bytes(), rng: rand.New(rand.NewPCG(5, 5))})
	if diff := cmp.Diff(chunked, whole); diff != "" {
		t.Errorf("(-chunked +whole):\n%s", diff)
	}
}
