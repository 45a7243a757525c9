package ingest

import (
	"bytes"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// datasetLinuxAuth is the dataset of Linux authentication events that do
// not come from sshd: PAM failures of other services, su and sudo.
const datasetLinuxAuth = "linux.auth"

// linuxAuth parses the message of one Linux auth-log record (from syslog
// or journald) by the program that wrote it.
type linuxAuth struct {
	sshd  sshdParser
	pam   pamParser
	dedup pamDedup
}

func newLinuxAuth() linuxAuth {
	users := newInterner(1 << 16)
	return linuxAuth{sshd: sshdParser{users: users}, pam: pamParser{users: users, svcs: newInterner(1 << 10)}}
}

// splitModule splits a legacy tag "sshd(pam_unix)" into service and module.
func splitModule(name []byte) (svc, module []byte) {
	if n := len(name); n > 2 && name[n-1] == ')' {
		if i := bytes.IndexByte(name, '('); i > 0 {
			return name[:i], name[i+1 : n-1]
		}
	}
	return name, nil
}

// attempt keys one attempt for pamDedup: the process id, or (sudo logs
// none) the user.
func attempt(pid []byte, ev *event.Event) []byte {
	if len(pid) > 0 {
		return pid
	}
	return []byte(ev.UserName)
}

// parse fills ev from msg written by program name (pid may be empty) on
// host. Events get their dataset here; the caller sets time and host.
func (a *linuxAuth) parse(name, pid, host, msg []byte, ev *event.Event) (result, string) {
	svc, module := splitModule(name)
	sshd := isSSHD(svc)
	if module != nil || hasPrefixB(msg, "pam_") || hasPrefixB(msg, "PAM ") {
		psvc, pmsg := svc, msg
		if hasPrefixB(msg, "pam_") { // pam_unix(sshd:auth): authentication failure; …
			i := bytes.IndexByte(msg, '(')
			j := bytes.Index(msg, []byte("): "))
			if i > 0 && j > i {
				psvc, pmsg = msg[i+1:j], msg[j+3:]
				if c := bytes.IndexByte(psvc, ':'); c >= 0 {
					psvc = psvc[:c]
				}
			}
		}
		if a.pam.parsePAM(psvc, pmsg, ev) {
			if sshd {
				ev.Dataset, ev.Action = datasetSSHD, ActSSHPAMFailure
			} else {
				ev.Dataset = datasetLinuxAuth
			}
			a.dedup.pam(host, svc, attempt(pid, ev), ev)
			return resEvent, ""
		}
		if bytes.Contains(pmsg, []byte("authentication failure")) {
			return resBad, "unrecognised PAM authentication failure"
		}
		return resIgnored, ""
	}
	switch {
	case sshd:
		if a.sshd.parse(msg, ev) {
			switch ev.Action {
			case ActSSHFailedPassword, ActSSHFailedPublickey, ActSSHFailedOther:
				a.dedup.failed(host, svc, attempt(pid, ev), ev)
			}
			return resEvent, ""
		}
		if looksLikeSSHDAuth(msg) || bytes.Contains(msg, []byte("authentication failure")) {
			return resBad, "unrecognised sshd authentication message"
		}
		return resIgnored, ""
	case string(svc) == "su":
		if a.pam.parseSu(msg, ev) {
			ev.Dataset = datasetLinuxAuth
			a.dedup.failed(host, svc, attempt(pid, ev), ev)
			return resEvent, ""
		}
		if bytes.Contains(msg, []byte("FAILED")) {
			return resBad, "unrecognised su failure"
		}
		return resIgnored, ""
	case string(svc) == "sudo":
		ok, looked := a.pam.parseSudo(msg, ev)
		if ok {
			ev.Dataset = datasetLinuxAuth
			if ev.Action == ActSudoFailed {
				a.dedup.failed(host, svc, attempt(pid, ev), ev)
			}
			return resEvent, ""
		}
		if looked && looksLikeAuth(msg) {
			return resBad, "unrecognised sudo failure"
		}
		return resIgnored, ""
	}
	if looksLikeOtherAuth(msg) {
		return resBad, "authentication message from a program firebreak does not parse"
	}
	return resIgnored, ""
}

func hasPrefixB(b []byte, p string) bool { return len(b) >= len(p) && string(b[:len(p)]) == p }

// looksLikeOtherAuth is looksLikeAuth for programs other than sshd, su and
// sudo: the PAM phrase only (the same test the syslog prefilter applies).
func looksLikeOtherAuth(msg []byte) bool { return hasAuthFailure(msg) }
