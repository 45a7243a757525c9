package detect

import (
	"fmt"
	"math"
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
	Attack   string // what the pattern is when not self-recovering: "spray" (default) or "brute force"
	// AccountFailures, when set, judges a source an attack (Attack) as soon
	// as one account failed from it that many times in a row (no success
	// of it from the source between, each failure within Horizon of the
	// one before), whatever its other accounts do: a brute force of one
	// account from an office's address is not the office.
	AccountFailures int
}

func (rc *Recovery) attack() string {
	if rc.Attack == "" {
		return "spray"
	}
	return rc.Attack
}

// Defaults for Recovery.
const (
	DefaultRecoveryWithin  = 2 * time.Minute
	DefaultRecoveryHorizon = time.Hour
	maxRecoverySources     = 100_000
	maxRecoveryOutcomes    = 4096 // per source: the newest outcomes kept
)

// recoveryTracker follows, per source (sourceKey), which failing accounts
// sign in from it within Within of their failure.
type recoveryTracker struct {
	within, horizon int64
	gap             int64 // a run of one account's failures: each within gap of the one before (the shortest rule horizon)
	srcs            map[sourceKey]*srcRecovery
	swept           int64 // event time of the last sweep of idle sources
}

type srcRecovery struct {
	acct     map[string]acctState // account -> its latest failure and whether it recovered
	pending  map[string]int64     // account -> its latest unsettled failure; nil while none is (most sources are idle most of the horizon)
	queue    []pendingFail        // failures in time order (settled lazily); nil while none is unsettled
	outcomes []outcomeAt          // settled failures, oldest first
	last     int64
	brute    runOf  // the longest run of failures of one account in the horizon
	pruned   int64  // event time acct was last pruned of failures past the horizon
	ver      uint64 // counts the changes to its state other than by the passing of time (mark)
}

type acctState struct {
	fail      int64
	run       int32 // its failures in a row from the source up to fail (saturating: a map entry of 16 bytes, not 32)
	recovered bool
	succeeded bool // it signed in from the source since fail (ends its run)
}

// runOf is a run of failures of one account from a source.
type runOf struct {
	user string
	n    int
	at   int64 // its latest failure
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
	return &recoveryTracker{within: int64(within), horizon: int64(horizon), gap: int64(horizon), srcs: map[sourceKey]*srcRecovery{}}
}

// observe records an authentication event: a failure of an account from a
// source, or a success that recovers it. serviceAccount failures, MFA
// outcomes and events without a source or account are not recorded.
func (t *recoveryTracker) observe(ev *event.Event, ts int64, service func(*event.Event) bool) {
	src := recoveryKey(ev)
	if !src.valid() || ev.UserName == "" && ev.Outcome != "failure" {
		return
	}
	if ev.Reason == "mfa_denied" || ev.Reason == "mfa_required" || ev.Reason == "mfa_approved" {
		return
	}
	failure := ev.Outcome == "failure"
	if !failure && ev.Outcome != "success" {
		return
	}
	s := t.srcs[src]
	if s == nil && !failure {
		return // a success with no failure before it recovers nothing
	}
	if failure && service(ev) {
		return
	}
	if ts-t.swept > t.within {
		// Every recovery window of event time: forget the sources idle
		// past the horizon (memory follows the sources active in the last
		// hour, not every source of a long input).
		t.swept = ts
		t.evict(ts)
		s = t.srcs[src]
	}
	if s == nil {
		if len(t.srcs) >= maxRecoverySources {
			t.evict(ts)
			if len(t.srcs) >= maxRecoverySources {
				return
			}
		}
		s = &srcRecovery{acct: map[string]acctState{}}
		t.srcs[src] = s
	}
	s.last = max(s.last, ts)
	t.settle(s, ts)
	t.prune(s, ts)
	if ev.UserName == "" {
		// A failure naming no account (pam_unix leaves user= out for an
		// account that does not exist): no success can recover it, so it
		// is a failure that did not recover. Not tracking it judged a
		// source whose failures all lacked a name self-recovering.
		s.ver++
		s.outcomes = append(s.outcomes, outcomeAt{ts: ts})
		return
	}
	user := foldUser(ev.UserName)
	if failure {
		s.ver++
		if _, ok := s.pending[user]; !ok || len(s.pending) < maxRecoveryOutcomes {
			if s.pending == nil {
				s.pending = map[string]int64{}
			}
			s.pending[user] = ts
			s.queue = append(s.queue, pendingFail{user, ts})
		}
		if _, ok := s.acct[user]; !ok && len(s.acct) >= maxRecoveryOutcomes {
			for u, a := range s.acct {
				if ts-a.fail > t.gap {
					delete(s.acct, u)
				}
			}
		}
		a, ok := s.acct[user]
		run := int64(ev.N()) // a "message repeated n times" line is n failures
		if ok && !a.succeeded && ts-a.fail <= t.gap {
			run += int64(a.run)
		}
		run = min(run, math.MaxInt32)
		if ok || len(s.acct) < maxRecoveryOutcomes {
			s.acct[user] = acctState{fail: ts, run: int32(run)}
		}
		if int(run) >= s.brute.n || ts-s.brute.at > t.gap {
			s.brute = runOf{user: user, n: int(run), at: ts}
		}
		return
	}
	if f, ok := s.pending[user]; ok && ts-f <= t.within {
		s.ver++
		delete(s.pending, user)
		s.outcomes = append(s.outcomes, outcomeAt{ts: f, recovered: true})
		s.release()
	}
	if a, ok := s.acct[user]; ok && !a.succeeded {
		if !a.recovered && ts-a.fail <= t.within {
			s.ver++
			a.recovered = true
		}
		a.succeeded = true
		s.acct[user] = a
	}
}

// workstationFields are the Windows EventData fields naming the
// workstation a logon came from (4776's Workstation, 4624/4625's
// WorkstationName), in the order they are read: a case's attacker and the
// recovery tracker's key for an event without an address.
var workstationFields = []string{"Workstation", "WorkstationName"}

// sourceKey is the source an event's recovery is followed on: its address,
// or for an event without one (Windows 4776, 4625 with IpAddress "-") the
// workstation it names, upper-cased as Windows shows NetBIOS names. The two
// are kept apart by type, so a workstation never shares state with an
// address, whatever its name.
type sourceKey struct {
	addr        netip.Addr
	workstation string // set only when addr is not
}

func (k sourceKey) valid() bool { return k.addr.IsValid() || k.workstation != "" }

// office says who the users of a self-recovering source are.
func (k sourceKey) office() string {
	if k.addr.IsValid() {
		return "users behind one address mistyping and then signing in, as at an office's NAT"
	}
	return "users of one terminal server mistyping and then logging on"
}

// String names the source for an explanation: "203.0.113.5", "workstation
// RDS01".
func (k sourceKey) String() string {
	switch {
	case k.addr.IsValid():
		return k.addr.String()
	case k.workstation != "":
		return "workstation " + k.workstation
	}
	return "the source"
}

// recoveryKey is the source an event's recovery is followed on (the zero
// sourceKey: none), so the workstation-keyed spray rules are judged as the
// address-keyed ones are.
func recoveryKey(ev *event.Event) sourceKey {
	if ev.SourceIP.IsValid() {
		return sourceKey{addr: ev.SourceIP.Unmap()}
	}
	for _, f := range workstationFields {
		if v, ok := ev.Get(f); ok && v != "" && v != "-" {
			return sourceKey{workstation: upperName(v)}
		}
	}
	return sourceKey{}
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

// upperName upper-cases a workstation name, without allocating when it is
// upper case already (as Windows logs them).
func upperName(w string) string {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c >= 'a' && c <= 'z' || c >= 0x80 {
			return strings.ToUpper(w)
		}
	}
	return w
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
		s.release()
	}
	j := 0
	for j < len(s.outcomes) && (now-s.outcomes[j].ts > t.horizon || len(s.outcomes)-j > maxRecoveryOutcomes) {
		j++
	}
	if j > 0 {
		s.outcomes = append(s.outcomes[:0], s.outcomes[j:]...)
	}
}

// release drops the pending map and the queue when no failure is left
// unsettled, so a source idle until its eviction holds only its accounts
// and outcomes. A map does not shrink as its entries are deleted.
func (s *srcRecovery) release() {
	if len(s.pending) == 0 {
		s.pending = nil
	}
	if len(s.queue) == 0 {
		s.queue = nil
	}
}

// prune forgets, once per recovery window of event time, the accounts
// whose latest failure from the source is past the run gap: no run
// continues from them.
func (t *recoveryTracker) prune(s *srcRecovery, now int64) {
	if now-s.pruned <= t.within {
		return
	}
	s.pruned = now
	for u, a := range s.acct {
		if now-a.fail > t.gap {
			s.ver++
			delete(s.acct, u)
		}
	}
}

// evict drops the sources idle for longer than the horizon.
func (t *recoveryTracker) evict(now int64) {
	for src, s := range t.srcs {
		if now-s.last > t.horizon+t.within {
			s.ver++ // a verdict judged on it no longer stands
			delete(t.srcs, src)
		}
	}
}

// tally counts failing accounts by outcome: recovered within the window,
// not recovered (the window passed without it; every unsettled failure when
// final, at the end of input) and pending.
type tally struct{ recovered, failed, open int }

func (c *tally) add(a acctState, now, within int64, final bool) {
	switch {
	case a.recovered:
		c.recovered++
	case final || now-a.fail > within:
		c.failed++
	default:
		c.open++
	}
}

// share tallies the source's failures since the given time, settled at
// now. Outcomes are in time order but for a recovery window (a recovered
// failure is added at its success, a settled one when its window has
// passed), so the scan from the newest stops a window before since.
func (t *recoveryTracker) share(src sourceKey, now int64, final bool, since int64) tally {
	var c tally
	s := t.srcs[src]
	if s == nil {
		return c
	}
	t.settle(s, now)
	for i := len(s.outcomes) - 1; i >= 0; i-- {
		o := s.outcomes[i]
		if o.ts < since {
			if o.ts < since-t.within {
				break
			}
			continue
		}
		if o.recovered {
			c.recovered++
		} else {
			c.failed++
		}
	}
	for _, p := range s.queue {
		if f, ok := s.pending[p.user]; ok && f == p.ts && p.ts >= since {
			c.add(acctState{fail: p.ts}, now, t.within, final)
		}
	}
	return c
}

// accountRun is the run of failures of user from src up to now: its
// failures in a row from the source (no success of it from there between,
// each within the run gap of the one before); 0 when it has none.
func (t *recoveryTracker) accountRun(src sourceKey, user string, now int64) int {
	s := t.srcs[src]
	if s == nil {
		return 0
	}
	a, ok := s.acct[foldUser(user)]
	if !ok || a.succeeded || now-a.fail > t.gap {
		return 0
	}
	return int(a.run)
}

// run is the longest run of failures of one account from the source
// whose latest failure is within the run gap before now.
func (t *recoveryTracker) run(src sourceKey, now int64) runOf {
	s := t.srcs[src]
	if s == nil || now-s.brute.at > t.gap {
		return runOf{}
	}
	return s.brute
}

// Judgements of a self_recovery rule.
const (
	patternPending = "pending"
	patternOffice  = "self-recovering"
	patternSpray   = "spray"
)

// recoveryVerdict is what a self_recovery rule found about a source.
type recoveryVerdict struct {
	pattern string // patternPending, patternOffice or patternSpray
	attack  string // the name of the attack pattern: "spray" or "brute force"
	tally
	within time.Duration
	src    sourceKey // the source judged (a success's: the source of the spray it followed)
	run    runOf     // the account run that made it an attack (AccountFailures)
	few    int       // self-recovering because fewer than few failures went unanswered (AccountFailures' Min), else 0
	runMin int       // AccountFailures: the run of one account that makes it an attack
	hit    bool      // a success's, judged by the incidents it followed (hitVerdict)
	by     string    // a success's: the rule whose incident it was judged by ("": none open)
}

func (v recoveryVerdict) office() bool  { return v.pattern == patternOffice }
func (v recoveryVerdict) pending() bool { return v.pattern == patternPending }

// explain says in plain words which pattern the verdict found and on what
// counts: the incident's (and its case's) explanation.
func (v recoveryVerdict) explain() string {
	if v.hit {
		return v.explainHit()
	}
	from, within := v.src.String(), plainDuration(v.within)
	switch {
	case v.run.n > 0:
		return fmt.Sprintf("Pattern: %s of one account: %s failed %d times in a row from %s without signing in from there in between; a user who mistypes signs in after a try or two.", v.attack, v.run.user, v.run.n, from)
	case v.pattern == patternOffice && v.few > 0:
		return fmt.Sprintf("Pattern: an office, not a %s: of the failures from %s, %s followed by the same account signing in from there within %s and %s not (a %s leaves %d or more unanswered), and no account failed %d times in a row; reported low.",
			v.attack, from, were(v.recovered), within, were(v.failed), v.attack, v.few, v.runMin)
	case v.pattern == patternOffice:
		return fmt.Sprintf("Pattern: an office, not a %s: %s — %s; reported low.", v.attack, v.share(), v.src.office())
	case v.pattern == patternPending && v.recovered+v.failed == 0:
		return fmt.Sprintf("Pattern: not yet judged: %s from %s %s less than %s old; reported low until it is known whether the accounts sign in.", count(v.open, "failure", "failures"), from, isAre(v.open), within)
	case v.pattern == patternPending:
		return fmt.Sprintf("Pattern: not yet judged: %s, and %s from there %s less than %s old; reported low until it is known whether the accounts sign in.", v.share(), count(v.open, "more failure", "more failures"), isAre(v.open), within)
	}
	return fmt.Sprintf("Pattern: %s: %s; in an office most users sign in right after a mistype, in a %s almost no account does.", v.attack, v.share(), v.attack)
}

// explainHit explains a success's verdict: the judgement of the failures
// it followed.
func (v recoveryVerdict) explainHit() string {
	from := v.src.String()
	if v.by == "" {
		return fmt.Sprintf("Pattern: %s: this sign-in followed a %s from %s; the account a %s gets into is typically one that never failed.", v.attack, v.attack, from, v.attack)
	}
	switch {
	case v.pattern == patternOffice:
		return fmt.Sprintf("Pattern: an office, not a %s: this sign-in followed %s's failures, which were judged an office: %s; reported low.", v.attack, v.by, v.share())
	case v.pattern == patternPending:
		return fmt.Sprintf("Pattern: not yet judged: this sign-in followed %s's failures from %s, which are still being judged; reported low until they are.", v.by, from)
	case v.recovered+v.failed == 0:
		return fmt.Sprintf("Pattern: %s: this sign-in followed %s's failures from %s; the account a %s gets into is typically one that never failed.", v.attack, v.by, from, v.attack)
	}
	return fmt.Sprintf("Pattern: %s: this sign-in followed %s's failures, judged a %s: %s; the account a %s gets into is typically one that never failed.", v.attack, v.by, v.attack, v.share(), v.attack)
}

// share says how many of the failures from the source (an account's
// retries within the recovery window counted once; a failure naming no
// account is one that was not) were followed by the same account signing
// in from there within the window.
func (v recoveryVerdict) share() string {
	known := v.recovered + v.failed
	from, within := v.src.String(), plainDuration(v.within)
	followed := "followed by the same account signing in from there within " + within
	switch {
	case known == 0:
		return fmt.Sprintf("no failure from %s could be followed to a sign-in", from)
	case known == 1 && v.recovered == 1:
		return fmt.Sprintf("the one failure from %s was %s", from, followed)
	case known == 1:
		return fmt.Sprintf("the one failure from %s was not %s", from, followed)
	case v.recovered == 0:
		return fmt.Sprintf("none of the %d failures from %s was %s", known, from, followed)
	case v.recovered == known:
		return fmt.Sprintf("all %d failures from %s were %s", known, from, followed)
	}
	verb := "were"
	if v.recovered == 1 {
		verb = "was"
	}
	return fmt.Sprintf("%d of the %d failures from %s %s %s", v.recovered, known, from, verb, followed)
}

// isAre is the verb for n things.
func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// were is n as the subject of "was"/"were": "none was", "1 was", "3 were".
func were(n int) string {
	switch n {
	case 0:
		return "none was"
	case 1:
		return "1 was"
	}
	return fmt.Sprintf("%d were", n)
}

// count is n with the singular or plural noun ("no" for none).
func count(n int, one, many string) string {
	switch n {
	case 0:
		return "no " + one
	case 1:
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// plainDuration writes a rule's window as people say it: "2 minutes",
// "1 hour", "90 seconds".
func plainDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return count(int(d/time.Hour), "hour", "hours")
	case d >= time.Minute && d%time.Minute == 0:
		return count(int(d/time.Minute), "minute", "minutes")
	}
	return count(int(d.Round(time.Second)/time.Second), "second", "seconds")
}

// decide judges a tally under rc: self-recovering when at least Fraction
// of the accounts recovered even if every pending one fails, an attack when
// fewer than Fraction did even if every pending one recovers, pending
// otherwise, or while fewer than Min accounts are counted and some are
// pending. Fewer than Min with none pending is an attack.
func decide(rc *Recovery, c tally) string {
	n := c.recovered + c.failed + c.open
	if c.open > 0 && n < rc.Min {
		return patternPending
	}
	switch {
	case n >= rc.Min && float64(c.recovered) >= rc.Fraction*float64(n):
		return patternOffice
	case float64(c.recovered+c.open) < rc.Fraction*float64(n) || n < rc.Min:
		return patternSpray
	}
	return patternPending
}

// verdict judges a source at now under rc over its failures since the
// given time (a value_count rule's window: the failures that make up its
// burst) or, when earlier, since rc's horizon before now.
func (t *recoveryTracker) verdict(rc *Recovery, src sourceKey, since, now int64, final bool) (recoveryVerdict, bool) {
	v, _, ok := t.judge(rc, src, since, now, final)
	return v, ok
}

// mark is what a verdict was judged on: the source's state (its record
// and the version of it) and the earliest event time at which the passing
// of time alone can change the verdict (a failure's recovery window
// closing, an outcome or a failure leaving the horizon). Until then, and
// while the source records no observation, the verdict stands.
type mark struct {
	src   *srcRecovery
	ver   uint64
	until int64
}

// stands reports whether a verdict judged at m still holds at now (an
// evicted source's version moved on).
func (t *recoveryTracker) stands(m mark, now int64) bool {
	return m.src != nil && now < m.until && m.src.ver == m.ver
}

// judge is verdict with the mark of the state it judged.
func (t *recoveryTracker) judge(rc *Recovery, src sourceKey, since, now int64, final bool) (recoveryVerdict, mark, bool) {
	if t == nil || !src.valid() {
		return recoveryVerdict{}, mark{}, false
	}
	c := t.share(src, now, final, max(since, now-int64(rc.Horizon)))
	v := recoveryVerdict{tally: c, within: rc.Within, attack: rc.attack(), src: src, runMin: rc.AccountFailures}
	v.pattern = decide(rc, c)
	if rc.AccountFailures > 0 && v.pattern != patternOffice && c.failed < rc.Min {
		// Fewer than Min failures in the horizon that did not recover,
		// and no account failing AccountFailures times in a row (its
		// run, below): not a brute force but an office whose users
		// recover from a mistype or now and then give up (a quiet hour
		// after a busy morning that made a long-window count rule fire),
		// or pending while the open ones could still make Min.
		v.pattern, v.few = patternOffice, rc.Min
		if c.failed+c.open >= rc.Min {
			v.pattern, v.few = patternPending, 0
		}
	}
	if r := t.run(src, now); rc.AccountFailures > 0 && r.n >= rc.AccountFailures {
		v.pattern, v.run = patternSpray, r
	}
	var m mark
	if v.pending() && !final {
		m = t.mark(src, since, int64(rc.Horizon), now)
	}
	return v, m, true
}

// mark computes the mark of a pending verdict judged at now (after share
// or accounts settled the source at now). The deadlines are conservative:
// the verdict is judged again at the first of them even when it could not
// change then.
func (t *recoveryTracker) mark(src sourceKey, since, horizon, now int64) mark {
	s := t.srcs[src]
	if s == nil {
		return mark{}
	}
	m := mark{src: s, ver: s.ver, until: math.MaxInt64}
	at := func(ts int64) {
		if ts > now && ts < m.until {
			m.until = ts
		}
	}
	for _, p := range s.queue {
		if p.ts >= since {
			at(p.ts + t.within + 1) // settle: now-ts > within
			break
		}
	}
	for _, o := range s.outcomes {
		if o.ts >= since {
			at(o.ts + horizon + 1) // share: the outcome leaves the rule's horizon
		}
	}
	return m
}
