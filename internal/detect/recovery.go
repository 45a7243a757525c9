package detect

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// Recovery tells a spray from an office behind one address by what the
// failing accounts do next: in a spray almost none of the accounts that fail
// sign in successfully from that source soon after (the hit of a spray is an
// account that never failed), while in an office most do (each user's own
// recovery from a mistype). A correlation with firebreak.self_recovery is
// reported at Level, and does not feed the correlations that refer to it
// (success after spray), when at least Fraction of the source's failing
// accounts whose outcome is known (they recovered, or Within passed without
// it) recovered within Within of their own failure, over the last Horizon,
// and at least Min of them are known.
type Recovery struct {
	Within   time.Duration
	Horizon  time.Duration
	Fraction float64
	Min      int
	Level    string
}

// Defaults for Recovery.
const (
	DefaultRecoveryWithin  = 2 * time.Minute
	DefaultRecoveryHorizon = time.Hour
	maxRecoverySources     = 100_000
	maxRecoveryOutcomes    = 4096 // per source: the newest outcomes kept
)

// recoveryTracker follows, per source address, which failing accounts sign
// in from it within Within of their failure.
type recoveryTracker struct {
	within, horizon int64
	srcs            map[netip.Addr]*srcRecovery
}

type srcRecovery struct {
	pending  map[string]int64 // account -> its latest unsettled failure
	queue    []pendingFail    // failures in time order (settled lazily)
	outcomes []outcomeAt      // settled failures, oldest first
	last     int64
}

type pendingFail struct {
	user string
	ts   int64
}

type outcomeAt struct {
	ts        int64
	recovered bool
}

func newRecoveryTracker(within, horizon time.Duration) *recoveryTracker {
	return &recoveryTracker{within: int64(within), horizon: int64(horizon), srcs: map[netip.Addr]*srcRecovery{}}
}

// observe records an authentication event: a failure of an account from a
// source, or a success that recovers it. serviceAccount failures, MFA
// outcomes and events without a source or account are not recorded.
func (t *recoveryTracker) observe(ev *event.Event, ts int64, service func(*event.Event) bool) {
	if !ev.SourceIP.IsValid() || ev.UserName == "" {
		return
	}
	if ev.Reason == "mfa_denied" || ev.Reason == "mfa_required" || ev.Reason == "mfa_approved" {
		return
	}
	failure := ev.Outcome == "failure"
	if !failure && ev.Outcome != "success" {
		return
	}
	ip := ev.SourceIP.Unmap()
	s := t.srcs[ip]
	if s == nil && !failure {
		return // a success with no failure before it recovers nothing
	}
	if failure && service(ev) {
		return
	}
	if s == nil {
		if len(t.srcs) >= maxRecoverySources {
			t.evict(ts)
			if len(t.srcs) >= maxRecoverySources {
				return
			}
		}
		s = &srcRecovery{pending: map[string]int64{}}
		t.srcs[ip] = s
	}
	s.last = max(s.last, ts)
	t.settle(s, ts)
	user := foldUser(ev.UserName)
	if failure {
		if _, ok := s.pending[user]; !ok || len(s.pending) < maxRecoveryOutcomes {
			s.pending[user] = ts
			s.queue = append(s.queue, pendingFail{user, ts})
		}
		return
	}
	if f, ok := s.pending[user]; ok && ts-f <= t.within {
		delete(s.pending, user)
		s.outcomes = append(s.outcomes, outcomeAt{ts: f, recovered: true})
	}
}

// foldUser lower-cases an account name, without allocating when it is
// lower case already (nearly always).
func foldUser(u string) string {
	for i := 0; i < len(u); i++ {
		if c := u[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(u)
		}
	}
	return u
}

// settle turns the failures older than within into outcomes (not
// recovered) and forgets outcomes older than the horizon.
func (t *recoveryTracker) settle(s *srcRecovery, now int64) {
	i := 0
	for ; i < len(s.queue) && now-s.queue[i].ts > t.within; i++ {
		p := s.queue[i]
		if f, ok := s.pending[p.user]; ok && f == p.ts {
			delete(s.pending, p.user)
			s.outcomes = append(s.outcomes, outcomeAt{ts: p.ts})
		}
	}
	if i > 0 {
		s.queue = append(s.queue[:0], s.queue[i:]...)
	}
	j := 0
	for j < len(s.outcomes) && (now-s.outcomes[j].ts > t.horizon || len(s.outcomes)-j > maxRecoveryOutcomes) {
		j++
	}
	if j > 0 {
		s.outcomes = append(s.outcomes[:0], s.outcomes[j:]...)
	}
}

// evict drops the sources idle for longer than the horizon.
func (t *recoveryTracker) evict(now int64) {
	for ip, s := range t.srcs {
		if now-s.last > t.horizon+t.within {
			delete(t.srcs, ip)
		}
	}
}

// share reports how many of the source's settled failures over the horizon
// recovered, and how many settled.
func (t *recoveryTracker) share(ip netip.Addr, now int64) (recovered, known int) {
	s := t.srcs[ip.Unmap()]
	if s == nil {
		return 0, 0
	}
	t.settle(s, now)
	for _, o := range s.outcomes {
		known++
		if o.recovered {
			recovered++
		}
	}
	return recovered, known
}

// recoveryVerdict is what a self_recovery rule found about a source.
type recoveryVerdict struct {
	office           bool
	recovered, known int
	within           time.Duration
}

func (v recoveryVerdict) explain() string {
	if v.office {
		return fmt.Sprintf("Pattern: self-recovering failures, not a spray: %d of the %d accounts that failed from this address in the last hour signed in from it within %s of their own failure (users behind one address mistyping and retrying, e.g. an office NAT); reported low.", v.recovered, v.known, v.within)
	}
	return fmt.Sprintf("Pattern: spray: %d of the %d accounts that failed from this address in the last hour signed in from it within %s of their own failure (in an office most do; in a spray almost none do).", v.recovered, v.known, v.within)
}

// verdict decides for a source at ts under rc.
func (t *recoveryTracker) verdict(rc *Recovery, ip netip.Addr, ts int64) (recoveryVerdict, bool) {
	if t == nil || !ip.IsValid() {
		return recoveryVerdict{}, false
	}
	rec, known := t.share(ip, ts)
	v := recoveryVerdict{recovered: rec, known: known, within: rc.Within}
	v.office = known >= rc.Min && float64(rec) >= rc.Fraction*float64(known)
	return v, true
}
