package loggen_test

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/ingest/loggen"
)

func tenantMap() *ingest.TenantMap {
	m := &ingest.TenantMap{Domains: map[string]string{}, EntraIDs: map[string]string{}}
	for _, t := range loggen.DefaultTenants() {
		m.Domains[t.Domain] = t.ID
		m.EntraIDs[t.EntraID] = t.ID
	}
	return m
}

func TestDeterministic(t *testing.T) {
	for _, f := range loggen.Formats {
		var a, b bytes.Buffer
		o := loggen.Options{Format: f, Lines: 5000, Seed: 42}
		if _, err := loggen.Generate(&a, o); err != nil {
			t.Fatal(err)
		}
		loggen.Generate(&b, o)
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: same seed, different output", f)
		}
		var c bytes.Buffer
		o.Seed = 43
		loggen.Generate(&c, o)
		if bytes.Equal(a.Bytes(), c.Bytes()) {
			t.Errorf("%s: different seed, same output", f)
		}
	}
	if _, err := loggen.Generate(io.Discard, loggen.Options{Format: "cef"}); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestTruthMatchesOutput parses the generated log and checks every actor of
// the truth file against the events.
func TestTruthMatchesOutput(t *testing.T) {
	for _, f := range loggen.Formats {
		t.Run(f, func(t *testing.T) {
			var buf bytes.Buffer
			const lines = 50000
			truth, err := loggen.Generate(&buf, loggen.Options{Format: f, Lines: lines, Seed: 7, Attacks: 2})
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Count(buf.Bytes(), []byte{'\n'}); got != lines || truth.Lines != lines {
				t.Errorf("lines: wrote %d, truth %d, want %d", got, truth.Lines, lines)
			}
			opts := ingest.Options{Year: 2026, TenantMap: tenantMap()}
			if f == loggen.FormatRMM {
				m, err := ingest.LoadMapping("../../../examples/harbourview/logs/rmm-mapping.yaml")
				if err != nil {
					t.Fatal(err)
				}
				opts.Mapping = m
			}
			r, err := ingest.NewReader(f, &buf, opts)
			if err != nil {
				t.Fatal(err)
			}
			var evs []event.Event
			for {
				var ev event.Event
				err := r.Next(&ev)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				evs = append(evs, ev)
			}
			if st := r.Stats(); st.Unparsed != 0 {
				t.Errorf("unparsed: %+v", st)
			}
			failures := func(pred func(*event.Event) bool) (n int, users map[string]bool, tenants map[string]bool) {
				users, tenants = map[string]bool{}, map[string]bool{}
				for i := range evs {
					e := &evs[i]
					if e.Outcome == event.OutcomeFailure && e.Reason != ingest.ReasonMFADenied && pred(e) {
						n += e.N()
						users[e.UserName] = true
						tenants[e.Tenant] = true
					}
				}
				return
			}
			kinds := map[string]int{}
			attackerIPs := map[string]bool{}
			for _, a := range truth.Actors {
				kinds[a.Kind]++
				if a.Attacker && a.SourceIP != "" {
					attackerIPs[a.SourceIP] = true
				}
			}
			want := []string{loggen.KindBruteForce, loggen.KindSlowBruteForce, loggen.KindSpray, loggen.KindDistributedSpray,
				loggen.KindCrossTenantSpray, loggen.KindStuffing, loggen.KindSuccessAfterSpray}
			if f == loggen.FormatRMM {
				want = []string{loggen.KindBruteForce, loggen.KindRMMFanout}
			}
			for _, k := range want {
				if kinds[k] == 0 {
					t.Errorf("no %s attacker", k)
				}
			}
			if (f == loggen.FormatEntra || f == loggen.FormatOkta) && kinds[loggen.KindMFAFatigue] == 0 {
				t.Errorf("no MFA fatigue attacker")
			}
			for _, a := range truth.Actors {
				in := func(e *event.Event) bool {
					return !e.Timestamp.Before(a.First) && !e.Timestamp.After(a.Last.Add(time.Second))
				}
				switch a.Kind {
				case loggen.KindDistributedSpray:
					n, users, tenants := failures(func(e *event.Event) bool {
						return in(e) && e.Tenant == a.Tenant && attackerIPs[e.SourceIP.String()] == false && netip.MustParsePrefix("198.18.0.0/15").Contains(e.SourceIP)
					})
					if n < a.Attempts || len(users) < a.Users || len(tenants) != 1 {
						t.Errorf("%s %s: %d failures, %d users (want %d, %d)", a.Kind, a.Tenant, n, len(users), a.Attempts, a.Users)
					}
				case loggen.KindRMMFanout:
					tenants := map[string]bool{}
					for i := range evs {
						if e := &evs[i]; e.UserName == a.User && e.Action == "script.run" && in(e) {
							tenants[e.Tenant] = true
						}
					}
					if len(tenants) != len(a.Tenants) {
						t.Errorf("%s %s: scripts on %d tenants, want %d", a.Kind, a.User, len(tenants), len(a.Tenants))
					}
				case loggen.KindMFAFatigue:
					denied := 0
					for i := range evs {
						e := &evs[i]
						if e.UserName == a.User && e.Reason == ingest.ReasonMFADenied {
							denied++
						}
					}
					if denied != a.Attempts {
						t.Errorf("%s %s: %d denials, want %d", a.Kind, a.User, denied, a.Attempts)
					}
				default:
					n, users, tenants := failures(func(e *event.Event) bool {
						if !a.Attacker { // benign addresses are shared: count this user's failures in its window
							return e.SourceIP.String() == a.SourceIP && e.UserName == a.User && in(e)
						}
						return e.SourceIP.String() == a.SourceIP
					})
					if n != a.Attempts {
						t.Errorf("%s %s: %d failures from the source, want %d", a.Kind, a.SourceIP, n, a.Attempts)
					}
					if a.Users > 0 && len(users) != a.Users {
						t.Errorf("%s %s: %d users, want %d", a.Kind, a.SourceIP, len(users), a.Users)
					}
					want := 1
					if len(a.Tenants) > 0 {
						want = len(a.Tenants)
					}
					if (a.Tenant != "" || len(a.Tenants) > 0) && len(tenants) != want {
						t.Errorf("%s %s: %d tenants %v, want %d", a.Kind, a.SourceIP, len(tenants), tenants, want)
					}
					if a.Succeeded && a.Kind != loggen.KindBenignNAT {
						ok := false
						for i := range evs {
							if e := &evs[i]; e.Outcome == event.OutcomeSuccess && e.SourceIP.String() == a.SourceIP && e.UserName == a.User {
								ok = true
							}
						}
						if !ok {
							t.Errorf("%s %s: no success for %s", a.Kind, a.SourceIP, a.User)
						}
					}
				}
			}
			// benign office addresses never see more than two failures in ten minutes
			for _, a := range truth.Actors {
				if a.Kind != loggen.KindBenignNAT {
					continue
				}
				var times []time.Time
				for i := range evs {
					if e := &evs[i]; e.Outcome == event.OutcomeFailure && e.SourceIP.String() == a.SourceIP {
						times = append(times, e.Timestamp)
					}
				}
				for i := range times {
					n := 0
					for j := i; j < len(times) && times[j].Sub(times[i]) < 10*time.Minute; j++ {
						n++
					}
					if n > 2 {
						t.Fatalf("office %s: %d failures within 10 minutes", a.SourceIP, n)
					}
				}
			}
		})
	}
}

func BenchmarkGenerateSSHD(b *testing.B) {
	var n int
	for b.Loop() {
		tr, err := loggen.Generate(io.Discard, loggen.Options{Format: loggen.FormatSSHD, Lines: 200000, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		n += tr.Lines
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

// A kind the generator does not know, or cannot write in the format, is an
// error naming it; "brute-force" is read as brute_force instead of giving a
// log with no attack in it.
func TestKindsChecked(t *testing.T) {
	var buf bytes.Buffer
	tr, err := loggen.Generate(&buf, loggen.Options{Format: loggen.FormatSSHD, Lines: 2000, Seed: 1, Kinds: []string{"brute-force"}})
	if err != nil {
		t.Fatalf("brute-force: %v", err)
	}
	attackers := 0
	for _, a := range tr.Actors {
		if !a.Attacker {
			continue
		}
		attackers++
		if a.Kind != loggen.KindBruteForce {
			t.Fatalf("attacker kind %q, want only %q", a.Kind, loggen.KindBruteForce)
		}
	}
	if attackers == 0 {
		t.Fatalf("brute-force: no attackers generated")
	}
	for _, c := range []struct {
		o    loggen.Options
		want string
	}{
		{loggen.Options{Format: loggen.FormatSSHD, Kinds: []string{"brute_forse"}}, `unknown attack kind "brute_forse"`},
		{loggen.Options{Format: loggen.FormatSSHD, Kinds: []string{"mfa_fatigue"}}, `"mfa_fatigue" cannot be generated in this format`},
		{loggen.Options{Format: loggen.FormatEntra, Tenants: loggen.DefaultTenants()[:2], Kinds: []string{"cross-tenant-spray"}}, "with 2 tenants (it needs at least 3)"},
	} {
		_, err := loggen.Generate(&buf, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want %q", c.o.Kinds, err, c.want)
		}
	}
}
