package ingest

import (
	"bytes"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// Linux authentication outside sshd's own messages: PAM (any service, in
// the modern "pam_unix(svc:auth): …" and the legacy "svc(pam_unix)[pid]:
// …" tag form), su and sudo.
const (
	ActPAMFailure     = "pam_auth_failure"      // pam_unix: authentication failure (any service)
	ActSuFailed       = "su_failed"             // su: FAILED SU / FAILED su for
	ActSudoFailed     = "sudo_failed_password"  // sudo: N incorrect password attempts
	ActSudoNotAllowed = "sudo_not_in_sudoers"   // sudo: user NOT in sudoers
	ActSudoNoPassword = "sudo_password_missing" // sudo: a password is required
)

// pamDedup keeps one "failure" per failed attempt when a program writes
// both a PAM line and its own failure line for the same attempt (OpenSSH
// with UsePAM: "Failed password"; su: "FAILED SU"; sudo: "N incorrect
// password attempts"): PAM lines count as failures only on hosts whose
// program has not (yet) been seen writing its own failure lines in this
// input, and an own line that follows a PAM line already counted for the
// same process becomes its companion. Logs with PAM lines only (the
// legacy "sshd(pam_unix)" form, hosts that route sshd's own messages
// elsewhere) thus count every PAM failure, with its source address.
type pamDedup struct {
	failedHosts map[string]bool     // host+program pairs that write their own failure lines
	counted     map[string]struct{} // host+pid of PAM failures counted, awaiting the program's line
	key         []byte
	recent      [64]string // direct-mapped cache of failedHosts' keys (no map lookup per "Failed" line)
}

const pamDedupMax = 4096

func (d *pamDedup) keyOf(host, x []byte) []byte {
	d.key = append(append(append(d.key[:0], host...), 0), x...)
	return d.key
}

// pam adjusts the outcome of a PAM failure event of program svc.
func (d *pamDedup) pam(host, svc, pid []byte, ev *event.Event) {
	if d.failedHosts[string(d.keyOf(host, svc))] {
		ev.Outcome = event.OutcomeUnknown // sshd's own "Failed" line is the failure
		return
	}
	ev.Outcome = event.OutcomeFailure
	if len(pid) > 0 {
		if d.counted == nil || len(d.counted) >= pamDedupMax {
			d.counted = map[string]struct{}{}
		}
		d.counted[string(d.keyOf(host, pid))] = struct{}{}
	}
}

// failed notes a program's own failure line and demotes it to a
// companion when its attempt was already counted through PAM.
func (d *pamDedup) failed(host, svc, pid []byte, ev *event.Event) {
	k := d.keyOf(host, svc)
	var h uint32 = 2166136261
	for _, c := range k {
		h = (h ^ uint32(c)) * 16777619
	}
	if slot := &d.recent[h&63]; *slot != string(k) {
		if !d.failedHosts[string(k)] {
			if d.failedHosts == nil || len(d.failedHosts) >= pamDedupMax {
				d.failedHosts = map[string]bool{}
				d.recent = [64]string{}
			}
			d.failedHosts[string(k)] = true
		}
		*slot = string(k)
	}
	if len(pid) == 0 || len(d.counted) == 0 {
		return
	}
	k = d.keyOf(host, pid)
	if _, ok := d.counted[string(k)]; ok {
		delete(d.counted, string(k))
		ev.Outcome = event.OutcomeUnknown
	}
}

// setNamedSource records a PAM rhost= that is not an address: the raw
// value as ECS source.address and, when it reads as a host name, as
// source.domain (lower case), which the rules for sources without an
// address group by (a brute force from n219076184117.netvigator.com is
// one attacker as much as one from 218.188.2.4).
func setNamedSource(ev *event.Event, v []byte) {
	ev.SetField("source.address", string(v))
	if isHostName(v) {
		ev.SetField("source.domain", string(bytes.ToLower(v)))
	}
}

// isHostName reports whether v reads as a DNS host name: letters, digits,
// hyphens and dots, at most 253 bytes, not starting or ending with a dot
// or hyphen (a tty such as ":0" or a bracketed address is not one).
func isHostName(v []byte) bool {
	if len(v) == 0 || len(v) > 253 || v[0] == '.' || v[0] == '-' || v[len(v)-1] == '.' || v[len(v)-1] == '-' {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// pamParser parses PAM, su and sudo messages.
type pamParser struct {
	users *interner
	svcs  *interner
}

// parsePAM parses "authentication failure; logname=… rhost=… user=…" or
// "N more authentication failures; …" for service svc. It reports false
// for other PAM messages.
func (p *pamParser) parsePAM(svc, msg []byte, ev *event.Event) bool {
	n := 1
	rest, ok := cutPrefix(msg, "authentication failure;")
	if !ok {
		// "PAM 2 more authentication failures; …" (sshd) or "2 more authentication failures; …" (legacy)
		m, _ := cutPrefix(msg, "PAM ")
		sp := bytes.IndexByte(m, ' ')
		if sp <= 0 {
			return false
		}
		c, ok1 := atoi(m[:sp])
		r, ok2 := cutPrefix(m[sp:], " more authentication failures;")
		if !ok2 {
			r, ok2 = cutPrefix(m[sp:], " more authentication failure;") // "PAM 1 more authentication failure;"
		}
		if !ok1 || !ok2 || c <= 0 {
			return false
		}
		n, rest = c, r
	}
	ev.Action = ActPAMFailure
	if n > 1 {
		ev.Count = n
	}
	hasUser := false
	for len(rest) > 0 {
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == ';') {
			rest = rest[1:]
		}
		sp := bytes.IndexByte(rest, ' ')
		kv := rest
		if sp >= 0 {
			kv, rest = rest[:sp], rest[sp+1:]
		} else {
			rest = nil
		}
		switch {
		case bytes.HasPrefix(kv, []byte("rhost=")):
			v := kv[6:]
			if ip, ok := parseIP(v); ok {
				ev.SourceIP = ip
			} else if len(v) > 0 {
				setNamedSource(ev, v)
			}
		case bytes.HasPrefix(kv, []byte("user=")):
			if v := kv[5:]; len(v) > 0 {
				ev.UserName = p.users.get(v)
				hasUser = true
			}
		case bytes.HasPrefix(kv, []byte("ruser=")):
			if v := kv[6:]; len(v) > 0 {
				ev.SetField("pam.ruser", p.users.get(v))
			}
		case bytes.HasPrefix(kv, []byte("tty=")):
			if v := kv[4:]; len(v) > 0 {
				ev.SetField("pam.tty", p.svcs.get(v))
			}
		}
	}
	reason := ReasonBadPassword
	if !hasUser {
		// pam_unix leaves user= out when the account does not exist
		reason = ReasonUnknownUser
	}
	ev.SetField("pam.service", p.svcs.get(svc))
	ev.Category, ev.Outcome, ev.Reason = catAuth, event.OutcomeFailure, reason
	return true
}

// parseSu parses su's failure lines: "FAILED SU (to root) bob on pts/0"
// (shadow-utils) and "FAILED su for root by bob" (util-linux).
func (p *pamParser) parseSu(msg []byte, ev *event.Event) bool {
	if rest, ok := cutPrefix(msg, "FAILED SU (to "); ok {
		i := bytes.IndexByte(rest, ')')
		if i < 0 {
			return false
		}
		target := rest[:i]
		by := bytes.TrimLeft(rest[i+1:], " ")
		if j := bytes.Index(by, []byte(" on ")); j >= 0 {
			ev.SetField("pam.tty", string(by[j+4:]))
			by = by[:j]
		}
		return p.su(ev, by, target)
	}
	if rest, ok := cutPrefix(msg, "FAILED su for "); ok {
		i := bytes.Index(rest, []byte(" by "))
		if i < 0 {
			return false
		}
		return p.su(ev, rest[i+4:], rest[:i])
	}
	return false
}

func (p *pamParser) su(ev *event.Event, user, target []byte) bool {
	if len(user) == 0 || len(target) == 0 {
		return false
	}
	ev.UserName = p.users.get(user)
	ev.SetField("user.target.name", p.users.get(target))
	ev.Category, ev.Action, ev.Outcome, ev.Reason = catAuth, ActSuFailed, event.OutcomeFailure, ReasonBadPassword
	return true
}

// parseSudo parses "bob : 3 incorrect password attempts ; TTY=… ; USER=root ; COMMAND=…",
// "bob : user NOT in sudoers ; …" and "bob : a password is required ; …".
// Successful commands ("bob : TTY=… ; COMMAND=…") are not authentication
// events.
func (p *pamParser) parseSudo(msg []byte, ev *event.Event) (ok, looked bool) {
	msg = bytes.TrimLeft(msg, " ")
	i := bytes.Index(msg, []byte(" : "))
	if i <= 0 {
		return false, false
	}
	user, rest := msg[:i], msg[i+3:]
	semi := bytes.Index(rest, []byte(" ; "))
	what := rest
	if semi >= 0 {
		what, rest = rest[:semi], rest[semi+3:]
	} else {
		rest = nil
	}
	switch {
	case bytes.HasSuffix(what, []byte("incorrect password attempts")) || bytes.HasSuffix(what, []byte("incorrect password attempt")):
		sp := bytes.IndexByte(what, ' ')
		n, ok := atoi(what[:max(sp, 0)])
		if !ok || n <= 0 {
			return false, true
		}
		ev.Action, ev.Reason = ActSudoFailed, ReasonBadPassword
		if n > 1 {
			ev.Count = n
		}
	case bytes.Equal(what, []byte("user NOT in sudoers")) || bytes.HasSuffix(what, []byte("NOT allowed to run sudo")):
		ev.Action, ev.Reason = ActSudoNotAllowed, ReasonNotAllowed
	case bytes.Equal(what, []byte("a password is required")):
		ev.Action, ev.Reason = ActSudoNoPassword, ReasonOther
	default:
		return false, false
	}
	ev.UserName = p.users.get(user)
	for _, kv := range bytes.Split(rest, []byte(" ; ")) {
		if v, ok := cutPrefix(kv, "USER="); ok {
			ev.SetField("user.target.name", p.users.get(v))
		} else if v, ok := cutPrefix(kv, "TTY="); ok {
			ev.SetField("pam.tty", p.svcs.get(v))
		} else if v, ok := cutPrefix(kv, "COMMAND="); ok {
			ev.SetField("process.command_line", string(v))
		}
	}
	ev.Category, ev.Outcome = catAuth, event.OutcomeFailure
	return true, true
}

// looksLikeAuth reports whether a message that no parser took reads like
// an authentication result, so that it is counted as "looked like one but
// did not parse" rather than "not an authentication event".
func looksLikeAuth(msg []byte) bool {
	for _, p := range authHints {
		if bytes.Contains(msg, p) {
			return true
		}
	}
	return false
}

var authHints = [][]byte{
	[]byte("Failed password"), []byte("Failed publickey"), []byte("Accepted "), []byte("Invalid user"),
	[]byte("authentication failure"), []byte("FAILED SU"), []byte("FAILED su"), []byte("incorrect password"),
	[]byte("NOT in sudoers"), []byte("Illegal user"), []byte("message repeated"),
}
