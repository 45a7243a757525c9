package ingest

import (
	"bytes"

	"github.com/firebreak-msp/firebreak/internal/event"
)

const (
	datasetSSHD = "sshd"
	catAuth     = "authentication"
)

// Reasons (event.reason), shared by all parsers.
const (
	ReasonBadPassword     = "bad_password"
	ReasonBadKey          = "bad_key"
	ReasonUnknownUser     = "unknown_user"
	ReasonLocked          = "locked"
	ReasonDisabled        = "disabled"
	ReasonPasswordExpired = "password_expired"
	ReasonAccountExpired  = "account_expired"
	ReasonMFADenied       = "mfa_denied"
	ReasonMFARequired     = "mfa_required"
	ReasonMFAPushSent     = "mfa_push_sent"
	ReasonMFAApproved     = "mfa_approved"
	ReasonBlocked         = "blocked"
	ReasonTooManyAttempts = "too_many_attempts"
	ReasonPreauthClosed   = "preauth_closed"
	ReasonNotAllowed      = "not_allowed"
	ReasonInterrupted     = "interrupted"
	ReasonOther           = "other"
)

// sshd actions.
const (
	ActSSHFailedPassword   = "ssh_failed_password"
	ActSSHFailedPublickey  = "ssh_failed_publickey"
	ActSSHFailedOther      = "ssh_failed_other"
	ActSSHAcceptedPassword = "ssh_accepted_password"
	ActSSHAcceptedKey      = "ssh_accepted_publickey"
	ActSSHAcceptedOther    = "ssh_accepted_other"
	ActSSHInvalidUser      = "ssh_invalid_user"
	ActSSHPAMFailure       = "ssh_pam_auth_failure"
	ActSSHTooMany          = "ssh_too_many_auth_failures"
	ActSSHMaxAttempts      = "ssh_max_auth_attempts"
	ActSSHPreauthClosed    = "ssh_preauth_closed"
	ActSSHNotAllowed       = "ssh_not_allowed_user"
)

// sshdParser parses OpenSSH log messages (the part after "sshd[pid]: ").
type sshdParser struct {
	users *interner
}

// parse fills ev from an sshd message and reports whether it is an
// authentication event.
func (p *sshdParser) parse(msg []byte, ev *event.Event) bool {
	if len(msg) < 8 {
		return false
	}
	switch msg[0] {
	case 'F':
		if rest, ok := cutPrefix(msg, "Failed "); ok {
			return p.failedAccepted(rest, ev, false)
		}
	case 'A':
		if rest, ok := cutPrefix(msg, "Accepted "); ok {
			return p.failedAccepted(rest, ev, true)
		}
	case 'I':
		if rest, ok := cutPrefix(msg, "Invalid user "); ok {
			return p.invalidUser(rest, ev)
		}
		if rest, ok := cutPrefix(msg, "Illegal user "); ok {
			return p.invalidUser(rest, ev)
		}
	case 'm':
		if rest, ok := cutPrefix(msg, "message repeated "); ok {
			return p.repeated(rest, ev)
		}
	case 'p':
		if rest, ok := cutPrefix(msg, "pam_unix(sshd:auth): authentication failure;"); ok {
			ev.Action = ActSSHPAMFailure
			p.pamKV(rest, ev)
			return p.fill(ev, event.OutcomeUnknown, ReasonBadPassword)
		}
	case 'P':
		if rest, ok := cutPrefix(msg, "PAM "); ok {
			// PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=1.2.3.4  user=root
			sp := bytes.IndexByte(rest, ' ')
			if sp < 0 {
				return false
			}
			n, ok := atoi(rest[:sp])
			rest2, ok2 := cutPrefix(rest[sp:], " more authentication failure")
			if !ok || !ok2 {
				return false
			}
			ev.Action = ActSSHPAMFailure
			ev.Count = n
			p.pamKV(rest2, ev)
			return p.fill(ev, event.OutcomeUnknown, ReasonBadPassword)
		}
	case 'e':
		if rest, ok := cutPrefix(msg, "error: maximum authentication attempts exceeded for "); ok {
			ev.Action = ActSSHMaxAttempts
			rest = trimPreauth(rest)
			rest = bytes.TrimSuffix(rest, []byte(" ssh2"))
			if !p.userFromPort(rest, ev, " from ") {
				return false
			}
			return p.fill(ev, event.OutcomeUnknown, ReasonTooManyAttempts)
		}
		if rest, ok := cutPrefix(msg, "error: PAM: Authentication failure for "); ok {
			// error: PAM: Authentication failure for [illegal user ]root from 1.2.3.4
			ev.Action = ActSSHFailedOther
			i := lastIndex(rest, " from ")
			if i < 0 {
				return false
			}
			ip, ok := parseIP(rest[i+6:])
			if !ok {
				return false
			}
			ev.SourceIP = ip
			reason := ReasonBadPassword
			u := rest[:i]
			if r, ok := cutPrefix(u, "illegal user "); ok {
				u, reason = r, ReasonUnknownUser
			} else if r, ok := cutPrefix(u, "invalid user "); ok {
				u, reason = r, ReasonUnknownUser
			}
			ev.UserName = p.users.get(u)
			return p.fill(ev, event.OutcomeFailure, reason)
		}
	case 'D':
		if rest, ok := cutPrefix(msg, "Disconnecting: Too many authentication failures for "); ok {
			// OpenSSH before 7.x: "Disconnecting: Too many authentication failures for root [preauth]"
			// (the address is on the connection's other lines)
			rest = trimPreauth(rest)
			if len(rest) == 0 || bytes.IndexByte(rest, ' ') >= 0 {
				return false
			}
			ev.Action = ActSSHTooMany
			ev.UserName = p.users.get(rest)
			return p.fill(ev, event.OutcomeUnknown, ReasonTooManyAttempts)
		}
		if rest, ok := cutPrefix(msg, "Disconnecting "); ok {
			// Disconnecting authenticating user root 1.2.3.4 port 22: Too many authentication failures [preauth]
			// Disconnecting invalid user admin 1.2.3.4 port 22: Too many authentication failures [preauth]
			rest = trimPreauth(rest)
			c := bytes.Index(rest, []byte(": Too many authentication failures"))
			if c < 0 {
				return false
			}
			ev.Action = ActSSHTooMany
			rest = rest[:c]
			if r, ok := cutPrefix(rest, "authenticating user "); ok {
				rest = r
			} else if r, ok := cutPrefix(rest, "invalid user "); ok {
				rest = r
				ev.Reason = ReasonUnknownUser
			} else {
				return false
			}
			if !p.userFromPort(rest, ev, " ") {
				return false
			}
			return p.fill(ev, event.OutcomeUnknown, ReasonTooManyAttempts)
		}
		if rest, ok := cutPrefix(msg, "Disconnected from "); ok {
			return p.preauthClosed(rest, ev)
		}
	case 'C':
		if rest, ok := cutPrefix(msg, "Connection closed by "); ok {
			return p.preauthClosed(rest, ev)
		}
	case 'U':
		if rest, ok := cutPrefix(msg, "User "); ok {
			// User root from 1.2.3.4 not allowed because not listed in AllowUsers
			i := bytes.Index(rest, []byte(" not allowed because "))
			if i < 0 {
				return false
			}
			rest = rest[:i]
			j := lastIndex(rest, " from ")
			if j < 0 {
				return false
			}
			ip, ok := parseIP(rest[j+6:])
			if !ok {
				return false
			}
			ev.SourceIP = ip
			ev.UserName = p.users.get(rest[:j])
			ev.Action = ActSSHNotAllowed
			return p.fill(ev, event.OutcomeUnknown, ReasonNotAllowed)
		}
	}
	return false
}

func (p *sshdParser) fill(ev *event.Event, outcome, reason string) bool {
	ev.Category = catAuth
	ev.Dataset = datasetSSHD
	ev.Outcome = outcome
	if ev.Reason == "" {
		ev.Reason = reason
	}
	return true
}

func trimPreauth(b []byte) []byte {
	b = bytes.TrimRight(b, " ")
	b = bytes.TrimSuffix(b, []byte(" [preauth]"))
	return b
}

// failedAccepted parses "<method> for [invalid user ]<user> from <ip> port <n> ssh2[: key]".
func (p *sshdParser) failedAccepted(rest []byte, ev *event.Event, accepted bool) bool {
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return false
	}
	method := rest[:sp]
	rest, ok := cutPrefix(rest[sp:], " for ")
	if !ok {
		return false
	}
	// the tail after the port is fixed ("ssh2", optionally ": <key>", "[preauth]")
	pi := lastIndex(rest, " port ")
	if pi < 0 {
		return false
	}
	pe := pi + 6
	for pe < len(rest) && rest[pe] >= '0' && rest[pe] <= '9' {
		pe++
	}
	if port, ok := atoi(rest[pi+6 : pe]); ok {
		ev.SourcePort = port
	}
	head := rest[:pi]
	fi := lastIndex(head, " from ")
	if fi < 0 {
		return false
	}
	ip, ok := parseIP(head[fi+6:])
	if !ok {
		return false
	}
	ev.SourceIP = ip
	user := head[:fi]
	reason := ""
	if !accepted {
		reason = ReasonBadPassword
	}
	if u, ok := cutPrefix(user, "invalid user "); ok {
		user = u
		reason = ReasonUnknownUser
	}
	ev.UserName = p.users.get(user)
	switch string(method) {
	case "password":
		ev.Action = pick(accepted, ActSSHAcceptedPassword, ActSSHFailedPassword)
	case "publickey":
		ev.Action = pick(accepted, ActSSHAcceptedKey, ActSSHFailedPublickey)
		if !accepted && reason == ReasonBadPassword {
			reason = ReasonBadKey
		}
	default:
		ev.Action = pick(accepted, ActSSHAcceptedOther, ActSSHFailedOther)
		if string(method) == "none" && !accepted && reason == ReasonBadPassword {
			reason = ReasonOther
		}
	}
	if accepted {
		return p.fill(ev, event.OutcomeSuccess, "")
	}
	return p.fill(ev, event.OutcomeFailure, reason)
}

func pick(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// invalidUser parses "<user> from <ip>[ port <n>]".
func (p *sshdParser) invalidUser(rest []byte, ev *event.Event) bool {
	rest = trimPreauth(rest)
	if pi := lastIndex(rest, " port "); pi >= 0 {
		if port, ok := atoi(rest[pi+6:]); ok {
			ev.SourcePort = port
			rest = rest[:pi]
		}
	}
	fi := lastIndex(rest, " from ")
	if fi < 0 {
		return false
	}
	ip, ok := parseIP(rest[fi+6:])
	if !ok {
		return false
	}
	ev.SourceIP = ip
	ev.UserName = p.users.get(rest[:fi])
	ev.Action = ActSSHInvalidUser
	return p.fill(ev, event.OutcomeUnknown, ReasonUnknownUser)
}

// userFromPort parses "<user><sep><ip> port <n>" from the right.
func (p *sshdParser) userFromPort(rest []byte, ev *event.Event, sep string) bool {
	pi := lastIndex(rest, " port ")
	if pi < 0 {
		return false
	}
	if port, ok := atoi(rest[pi+6:]); ok {
		ev.SourcePort = port
	}
	head := rest[:pi]
	fi := lastIndex(head, sep)
	if fi < 0 {
		return false
	}
	ip, ok := parseIP(head[fi+len(sep):])
	if !ok {
		return false
	}
	ev.SourceIP = ip
	user := head[:fi]
	if u, ok := cutPrefix(user, "invalid user "); ok {
		user = u
		ev.Reason = ReasonUnknownUser
	}
	ev.UserName = p.users.get(user)
	return true
}

// preauthUser reports whether the tail of "Connection closed by" /
// "Disconnected from" names a user (preauthClosed reads only those).
func preauthUser(rest []byte) bool {
	return hasPrefixB(rest, "authenticating user ") || hasPrefixB(rest, "invalid user ")
}

// preauthClosed parses the tail of "Connection closed by" / "Disconnected
// from": "authenticating user <u> <ip> port <n> [preauth]" or "invalid user
// <u> <ip> port <n> [preauth]". Other forms (plain IPs, "user <u>" after a
// session) are not authentication events.
func (p *sshdParser) preauthClosed(rest []byte, ev *event.Event) bool {
	if !bytes.HasSuffix(bytes.TrimRight(rest, " "), []byte("[preauth]")) {
		return false
	}
	rest = trimPreauth(rest)
	reason := ReasonPreauthClosed
	if r, ok := cutPrefix(rest, "authenticating user "); ok {
		rest = r
	} else if r, ok := cutPrefix(rest, "invalid user "); ok {
		rest = r
		reason = ReasonUnknownUser
	} else {
		return false
	}
	if !p.userFromPort(rest, ev, " ") {
		return false
	}
	ev.Action = ActSSHPreauthClosed
	ev.Reason = reason
	return p.fill(ev, event.OutcomeUnknown, reason)
}

// pamKV reads rhost= and user= from a pam_unix message.
func (p *sshdParser) pamKV(rest []byte, ev *event.Event) {
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
		if v, ok := cutPrefix(kv, "rhost="); ok {
			if ip, ok := parseIP(v); ok {
				ev.SourceIP = ip
			} else if len(v) > 0 {
				setNamedSource(ev, v)
			}
		} else if v, ok := cutPrefix(kv, "user="); ok {
			ev.UserName = p.users.get(v)
		}
	}
}

// repeated parses "N times: [ <message>]" (rsyslog's repeated-message
// reduction); the inner message stands for N occurrences.
func (p *sshdParser) repeated(rest []byte, ev *event.Event) bool {
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return false
	}
	n, ok := atoi(rest[:sp])
	if !ok {
		return false
	}
	inner, ok := cutPrefix(rest[sp:], " times: [")
	if !ok {
		return false
	}
	inner = bytes.TrimLeft(inner, " ")
	inner = bytes.TrimRight(inner, " ")
	inner = bytes.TrimSuffix(inner, []byte("]"))
	if len(inner) > 0 && inner[0] == 'm' { // no nesting
		return false
	}
	if !p.parse(inner, ev) {
		return false
	}
	ev.Count = n * ev.N()
	return true
}
