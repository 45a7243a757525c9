package loggen

import (
	"bufio"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

type renderer struct {
	g   *gen
	buf []byte
	pid int
}

func newRenderer(g *gen) *renderer { return &renderer{g: g, pid: 1000} }

// write renders the attack events merged in time order with background
// records to reach about lines lines; it returns the number written.
func (r *renderer) write(w *bufio.Writer, evs []gev, lines int) (int, error) {
	// pre-render attack events to know their line count
	type chunk struct {
		t        int64
		from, to int
	}
	var atk []byte
	chunks := make([]chunk, 0, len(evs))
	atkLines := 0
	for i := range evs {
		from := len(atk)
		var n int
		atk, n = r.event(atk, &evs[i])
		atkLines += n
		chunks = append(chunks, chunk{t: evs[i].t, from: from, to: len(atk)})
	}
	bg := max(0, lines-atkLines)
	g := r.g
	written := atkLines
	ci := 0
	flushUntil := func(t int64) error {
		for ci < len(chunks) && chunks[ci].t <= t {
			if _, err := w.Write(atk[chunks[ci].from:chunks[ci].to]); err != nil {
				return err
			}
			ci++
		}
		return nil
	}
	for i := 0; i < bg; {
		t := g.start + int64((float64(i)+g.rng.Float64())/float64(bg)*float64(g.span))
		if err := flushUntil(t); err != nil {
			return 0, err
		}
		var n int
		r.buf, n = r.background(r.buf[:0], t, bg-i)
		if _, err := w.Write(r.buf); err != nil {
			return 0, err
		}
		i += n
		written += n
	}
	if err := flushUntil(1<<63 - 1); err != nil {
		return 0, err
	}
	return written, nil
}

func (r *renderer) event(b []byte, e *gev) ([]byte, int) {
	switch r.g.o.Format {
	case FormatSSHD:
		return r.sshdEvent(b, e)
	case FormatWindows:
		return r.winEvent(b, e)
	case FormatEntra:
		return r.entraEvent(b, e)
	case FormatRMM:
		return r.rmmEvent(b, e)
	default:
		return r.oktaEvent(b, e)
	}
}

func (r *renderer) background(b []byte, t int64, room int) ([]byte, int) {
	switch r.g.o.Format {
	case FormatSSHD:
		return r.sshdNoise(b, t, room)
	case FormatWindows:
		return r.winNoise(b, t)
	case FormatEntra:
		return r.entraNoise(b, t)
	case FormatRMM:
		return r.rmmNoise(b, t)
	default:
		return r.oktaNoise(b, t)
	}
}

// ---- sshd ----

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func appendSyslogTime(b []byte, t int64) []byte {
	tm := time.Unix(0, t).UTC()
	_, mo, d := tm.Date()
	h, mi, s := tm.Clock()
	b = append(b, months[mo-1]...)
	b = append(b, ' ')
	if d < 10 {
		b = append(b, ' ')
	}
	b = strconv.AppendInt(b, int64(d), 10)
	b = append(b, ' ')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	return b
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func (r *renderer) hdr(b []byte, t int64, host, tag string, pid int) []byte {
	b = appendSyslogTime(b, t)
	b = append(b, ' ')
	b = append(b, host...)
	b = append(b, ' ')
	b = append(b, tag...)
	if pid > 0 {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(pid), 10)
		b = append(b, ']')
	}
	return append(b, ": "...)
}

func appendIPPort(b []byte, ip netip.Addr, port int) []byte {
	b = ip.AppendTo(b)
	b = append(b, " port "...)
	return strconv.AppendInt(b, int64(port), 10)
}

func (r *renderer) host(t int) string {
	hs := r.g.hosts[t]
	return hs[r.g.rng.IntN(len(hs))]
}

func (r *renderer) sshdEvent(b []byte, e *gev) ([]byte, int) {
	r.pid++
	pid := 2000 + r.pid%30000
	host := r.g.hosts[e.tenant][0]
	n := 0
	switch e.kind {
	case eFail:
		if r.g.rng.IntN(2) == 0 {
			b = r.hdr(b, e.t, host, "sshd", pid)
			b = append(b, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost="...)
			b = e.ip.AppendTo(b)
			b = append(b, "  user="...)
			b = append(b, e.user...)
			b = append(b, '\n')
			n++
		}
		b = r.hdr(b, e.t, host, "sshd", pid)
		b = append(b, "Failed password for "...)
		b = append(b, e.user...)
		b = append(b, " from "...)
		b = appendIPPort(b, e.ip, e.port)
		b = append(b, " ssh2\n"...)
		n++
	case eFailUnknown:
		b = r.hdr(b, e.t, host, "sshd", pid)
		b = append(b, "Invalid user "...)
		b = append(b, e.user...)
		b = append(b, " from "...)
		b = appendIPPort(b, e.ip, e.port)
		b = append(b, '\n')
		b = r.hdr(b, e.t, host, "sshd", pid)
		b = append(b, "Failed password for invalid user "...)
		b = append(b, e.user...)
		b = append(b, " from "...)
		b = appendIPPort(b, e.ip, e.port)
		b = append(b, " ssh2\n"...)
		b = r.hdr(b, e.t, host, "sshd", pid)
		b = append(b, "Connection closed by invalid user "...)
		b = append(b, e.user...)
		b = append(b, ' ')
		b = appendIPPort(b, e.ip, e.port)
		b = append(b, " [preauth]\n"...)
		n += 3
	case eSuccess, eMFAApprove:
		b = r.hdr(b, e.t, host, "sshd", pid)
		b = append(b, "Accepted password for "...)
		b = append(b, e.user...)
		b = append(b, " from "...)
		b = appendIPPort(b, e.ip, e.port)
		b = append(b, " ssh2\n"...)
		b = r.hdr(b, e.t, host, "sshd", pid)
		b = append(b, "pam_unix(sshd:session): session opened for user "...)
		b = append(b, e.user...)
		b = append(b, "(uid=1000) by (uid=0)\n"...)
		n += 2
	}
	return b, n
}

var cronCmds = []string{"(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)",
	"(root) CMD (   cd / && run-parts --report /etc/cron.hourly)", "(www-data) CMD (php /var/www/cron.php)",
	"(backup) CMD (/usr/local/bin/backup.sh --incremental)"}

func (r *renderer) sshdNoise(b []byte, t int64, room int) ([]byte, int) {
	g := r.g
	ti := g.rng.IntN(len(g.tenants))
	host := r.host(ti)
	r.pid++
	pid := 2000 + r.pid%30000
	switch x := g.rng.IntN(100); {
	case x < 30:
		b = r.hdr(b, t, host, "CRON", pid)
		b = append(b, cronCmds[g.rng.IntN(len(cronCmds))]...)
	case x < 40:
		b = r.hdr(b, t, host, "CRON", pid)
		b = append(b, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"...)
	case x < 48:
		b = r.hdr(b, t, host, "systemd", 1)
		b = append(b, "Started session-"...)
		b = strconv.AppendInt(b, int64(r.pid), 10)
		b = append(b, ".scope - Session of User deploy."...)
	case x < 53:
		b = r.hdr(b, t, host, "sudo", 0)
		b = append(b, "  deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"...)
	case x < 58:
		b = r.hdr(b, t, host, "postfix/smtpd", pid)
		b = append(b, "disconnect from unknown["...)
		b = g.homeIP().AppendTo(b)
		b = append(b, "] ehlo=1 auth=0/1 quit=1 commands=2/3"...)
	case x < 66:
		b = r.hdr(b, t, host, "kernel", 0)
		b = append(b, "[UFW BLOCK] IN=eth0 OUT= MAC=00:16:3e:00:00:01 SRC="...)
		b = g.homeIP().AppendTo(b)
		b = append(b, " DST=10.0.0.5 LEN=44 PROTO=TCP SPT=51234 DPT=23 WINDOW=1024 SYN URGP=0"...)
	case x < 72:
		b = r.hdr(b, t, host, "sshd", pid)
		b = append(b, "Connection closed by "...)
		b = appendIPPort(b, g.homeIP(), g.port())
		b = append(b, " [preauth]"...)
	case x < 76:
		b = r.hdr(b, t, host, "sshd", pid)
		b = append(b, "error: kex_exchange_identification: Connection closed by remote host"...)
	case x < 80:
		b = r.hdr(b, t, host, "sshd", pid)
		b = append(b, "Received disconnect from "...)
		b = appendIPPort(b, netip.AddrFrom4([4]byte{10, 0, byte(ti), byte(g.rng.IntN(250) + 1)}), g.port())
		b = append(b, ":11: disconnected by user"...)
	case x < 92 && room >= 2:
		// a benign key login from inside: two lines
		ip := netip.AddrFrom4([4]byte{10, 0, byte(ti), byte(g.rng.IntN(250) + 1)})
		u := "deploy"
		if g.rng.IntN(2) == 0 {
			u = g.users[ti][g.rng.IntN(len(g.users[ti]))]
		}
		b = r.hdr(b, t, host, "sshd", pid)
		b = append(b, "Accepted publickey for "...)
		b = append(b, u...)
		b = append(b, " from "...)
		b = appendIPPort(b, ip, g.port())
		b = append(b, " ssh2: ED25519 SHA256:2mKxqQ5GkV0hQd6m3f5Qm0QpZb8yXk1rW6gq9cH1e8Q\n"...)
		b = r.hdr(b, t, host, "sshd", pid)
		b = append(b, "pam_unix(sshd:session): session opened for user "...)
		b = append(b, u...)
		b = append(b, "(uid=1000) by (uid=0)\n"...)
		return b, 2
	default:
		b = r.hdr(b, t, host, "sshd", pid)
		b = append(b, "pam_unix(sshd:session): session closed for user deploy"...)
	}
	return append(b, '\n'), 1
}

// ---- JSON helpers ----

func appendJSONStr(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func appendRFC3339(b []byte, t int64, ms bool) []byte {
	tm := time.Unix(0, t).UTC()
	if ms {
		return tm.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	}
	return tm.AppendFormat(b, "2006-01-02T15:04:05Z")
}

func (r *renderer) uuid(b []byte) []byte {
	const hex = "0123456789abcdef"
	v1, v2 := r.g.rng.Uint64(), r.g.rng.Uint64()
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b = append(b, '-')
		}
		var nib uint64
		if i < 16 {
			nib = v1 >> (4 * i) & 15
		} else {
			nib = v2 >> (4 * (i - 16)) & 15
		}
		b = append(b, hex[nib])
	}
	return b
}

func localPart(u string) string {
	if i := strings.IndexByte(u, '@'); i >= 0 {
		return u[:i]
	}
	return u
}

func netbios(t Tenant) string {
	s := strings.ToUpper(strings.ReplaceAll(t.ID, "-", ""))
	if len(s) > 15 {
		s = s[:15]
	}
	return s
}

// ---- Windows (Winlogbeat) ----

func (r *renderer) winRecord(b []byte, t int64, tenant int, id string, data func([]byte) []byte) []byte {
	host := r.g.hosts[tenant][0]
	b = append(b, `{"@timestamp":"`...)
	b = appendRFC3339(b, t, true)
	b = append(b, `","event":{"code":"`...)
	b = append(b, id...)
	b = append(b, `","provider":"Microsoft-Windows-Security-Auditing","module":"security"},"host":{"name":`...)
	b = appendJSONStr(b, host)
	b = append(b, `},"winlog":{"channel":"Security","provider_name":"Microsoft-Windows-Security-Auditing","computer_name":`...)
	b = appendJSONStr(b, host)
	b = append(b, `,"event_id":"`...)
	b = append(b, id...)
	b = append(b, `","event_data":{`...)
	b = data(b)
	return append(b, "}}}\n"...)
}

func (r *renderer) winEvent(b []byte, e *gev) ([]byte, int) {
	tn := r.g.tenants[e.tenant]
	user := localPart(e.user)
	switch e.kind {
	case eFail, eFailUnknown:
		sub := "0xc000006a"
		if e.kind == eFailUnknown {
			sub = "0xc0000064"
		}
		if e.kind == eFail && r.g.rng.IntN(4) == 0 && e.ip.IsValid() {
			// Kerberos pre-authentication failure on the DC
			return r.winRecord(b, e.t, e.tenant, "4771", func(b []byte) []byte {
				b = append(b, `"TargetUserName":`...)
				b = appendJSONStr(b, user)
				b = append(b, `,"ServiceName":"krbtgt/`...)
				b = append(b, strings.ToUpper(tn.Domain)...)
				b = append(b, `","Status":"0x18","PreAuthType":"2","IpAddress":"::ffff:`...)
				b = e.ip.AppendTo(b)
				b = append(b, `","IpPort":"`...)
				b = strconv.AppendInt(b, int64(e.port), 10)
				return append(b, '"')
			}), 1
		}
		return r.winRecord(b, e.t, e.tenant, "4625", func(b []byte) []byte {
			b = append(b, `"SubjectUserSid":"S-1-0-0","SubjectUserName":"-","TargetUserName":`...)
			b = appendJSONStr(b, user)
			b = append(b, `,"TargetDomainName":"`...)
			b = append(b, netbios(tn)...)
			b = append(b, `","Status":"0xc000006d","SubStatus":"`...)
			b = append(b, sub...)
			b = append(b, `","FailureReason":"%%2313","LogonType":"3","LogonProcessName":"NtLmSsp ","AuthenticationPackageName":"NTLM","WorkstationName":"-","IpAddress":"`...)
			b = e.ip.AppendTo(b)
			b = append(b, `","IpPort":"`...)
			b = strconv.AppendInt(b, int64(e.port), 10)
			return append(b, '"')
		}), 1
	case eSuccess, eMFAApprove:
		return r.winRecord(b, e.t, e.tenant, "4624", func(b []byte) []byte {
			b = append(b, `"TargetUserName":`...)
			b = appendJSONStr(b, user)
			b = append(b, `,"TargetDomainName":"`...)
			b = append(b, netbios(tn)...)
			b = append(b, `","LogonType":"3","LogonProcessName":"NtLmSsp ","AuthenticationPackageName":"NTLM","IpAddress":"`...)
			b = e.ip.AppendTo(b)
			b = append(b, `","IpPort":"`...)
			b = strconv.AppendInt(b, int64(e.port), 10)
			return append(b, '"')
		}), 1
	case eLocked:
		return r.winRecord(b, e.t, e.tenant, "4740", func(b []byte) []byte {
			b = append(b, `"TargetUserName":`...)
			b = appendJSONStr(b, user)
			b = append(b, `,"TargetDomainName":"WS-`...)
			b = strconv.AppendInt(b, int64(r.g.rng.IntN(900)+100), 10)
			b = append(b, `","SubjectUserName":"DC01$","SubjectDomainName":"`...)
			b = append(b, netbios(tn)...)
			return append(b, '"')
		}), 1
	}
	return b, 0
}

func (r *renderer) winNoise(b []byte, t int64) ([]byte, int) {
	g := r.g
	ti := g.rng.IntN(len(g.tenants))
	tn := g.tenants[ti]
	user := localPart(g.users[ti][g.rng.IntN(len(g.users[ti]))])
	ip := netip.AddrFrom4([4]byte{10, byte(ti), byte(g.rng.IntN(4)), byte(g.rng.IntN(250) + 1)})
	switch x := g.rng.IntN(100); {
	case x < 45:
		return r.winRecord(b, t, ti, "4624", func(b []byte) []byte {
			b = append(b, `"TargetUserName":`...)
			b = appendJSONStr(b, user)
			b = append(b, `,"TargetDomainName":"`...)
			b = append(b, netbios(tn)...)
			b = append(b, `","LogonType":"3","LogonProcessName":"Kerberos","AuthenticationPackageName":"Kerberos","IpAddress":"`...)
			b = ip.AppendTo(b)
			b = append(b, `","IpPort":"0"`...)
			return b
		}), 1
	case x < 70:
		return r.winRecord(b, t, ti, "4634", func(b []byte) []byte {
			b = append(b, `"TargetUserName":`...)
			b = appendJSONStr(b, user)
			return append(b, `,"LogonType":"3"`...)
		}), 1
	case x < 80:
		return r.winRecord(b, t, ti, "4776", func(b []byte) []byte {
			b = append(b, `"PackageName":"MICROSOFT_AUTHENTICATION_PACKAGE_V1_0","TargetUserName":`...)
			b = appendJSONStr(b, user)
			return append(b, `,"Workstation":"WS-017","Status":"0x0"`...)
		}), 1
	case x < 90:
		return r.winRecord(b, t, ti, "4672", func(b []byte) []byte {
			return append(b, `"SubjectUserName":"SYSTEM","PrivilegeList":"SeBackupPrivilege"`...)
		}), 1
	default:
		return r.winRecord(b, t, ti, "4688", func(b []byte) []byte {
			return append(b, `"NewProcessName":"C:\\Windows\\System32\\svchost.exe","SubjectUserName":"SYSTEM"`...)
		}), 1
	}
}

// ---- Entra (Graph signIn, JSON lines) ----

var entraApps = []string{"Office 365 Exchange Online", "Microsoft Teams", "Office Home", "Azure Portal", "SharePoint Online"}

func (r *renderer) entraRecord(b []byte, t int64, tenant int, user string, ip netip.Addr, code int, reason string, interactive bool, client string) []byte {
	tn := r.g.tenants[tenant]
	b = append(b, `{"id":"`...)
	b = r.uuid(b)
	b = append(b, `","createdDateTime":"`...)
	b = appendRFC3339(b, t, false)
	b = append(b, `","userPrincipalName":`...)
	b = appendJSONStr(b, user)
	b = append(b, `,"appDisplayName":`...)
	b = appendJSONStr(b, entraApps[r.g.rng.IntN(len(entraApps))])
	b = append(b, `,"ipAddress":"`...)
	b = ip.AppendTo(b)
	b = append(b, `","clientAppUsed":`...)
	b = appendJSONStr(b, client)
	b = append(b, `,"isInteractive":`...)
	b = strconv.AppendBool(b, interactive)
	b = append(b, `,"resourceTenantId":"`...)
	b = append(b, tn.EntraID...)
	b = append(b, `","homeTenantId":"`...)
	b = append(b, tn.EntraID...)
	b = append(b, `","conditionalAccessStatus":"notApplied","status":{"errorCode":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `,"failureReason":`...)
	b = appendJSONStr(b, reason)
	b = append(b, "}}\n"...)
	return b
}

func (r *renderer) entraEvent(b []byte, e *gev) ([]byte, int) {
	switch e.kind {
	case eFail:
		return r.entraRecord(b, e.t, e.tenant, e.user, e.ip, 50126, "Error validating credentials due to invalid username or password.", true, "Browser"), 1
	case eFailUnknown:
		return r.entraRecord(b, e.t, e.tenant, e.user, e.ip, 50034, "The user account does not exist in the directory.", true, "Browser"), 1
	case eSuccess, eMFAApprove:
		return r.entraRecord(b, e.t, e.tenant, e.user, e.ip, 0, "Other.", true, "Browser"), 1
	case ePushSent:
		return r.entraRecord(b, e.t, e.tenant, e.user, e.ip, 50074, "Strong Authentication is required.", true, "Browser"), 1
	case ePushDeny:
		return r.entraRecord(b, e.t, e.tenant, e.user, e.ip, 500121, "Authentication failed during strong authentication request.", true, "Browser"), 1
	case eLocked:
		return r.entraRecord(b, e.t, e.tenant, e.user, e.ip, 50053, "Account is locked because user tried to sign in too many times with an incorrect user ID or password.", true, "Browser"), 1
	}
	return b, 0
}

func (r *renderer) entraNoise(b []byte, t int64) ([]byte, int) {
	g := r.g
	ti := g.rng.IntN(len(g.tenants))
	user := g.users[ti][g.rng.IntN(len(g.users[ti]))]
	ip := g.officeIP(ti)
	if g.rng.IntN(3) == 0 {
		ip = g.homeIP()
	}
	if g.rng.IntN(3) == 0 {
		return r.entraRecord(b, t, ti, user, ip, 0, "Other.", false, "Mobile Apps and Desktop clients"), 1
	}
	if g.rng.IntN(20) == 0 {
		return r.entraRecord(b, t, ti, user, ip, 50140, "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.", true, "Browser"), 1
	}
	return r.entraRecord(b, t, ti, user, ip, 0, "Other.", true, "Browser"), 1
}

// ---- Okta ----

func (r *renderer) oktaRecord(b []byte, t int64, user string, ip netip.Addr, eventType, result, reason, msg string) []byte {
	b = append(b, `{"uuid":"`...)
	b = r.uuid(b)
	b = append(b, `","published":"`...)
	b = appendRFC3339(b, t, true)
	b = append(b, `","eventType":"`...)
	b = append(b, eventType...)
	b = append(b, `","version":"0","severity":"`...)
	if result == "FAILURE" {
		b = append(b, "WARN"...)
	} else {
		b = append(b, "INFO"...)
	}
	b = append(b, `","displayMessage":`...)
	b = appendJSONStr(b, msg)
	b = append(b, `,"actor":{"id":"`...)
	if reason == "VERIFICATION_ERROR" {
		b = append(b, "unknown"...)
	} else {
		b = append(b, "00u"...)
		b = strconv.AppendUint(b, uint64(len(user))*7919+uint64(user[0]), 36)
	}
	b = append(b, `","type":"User","alternateId":`...)
	b = appendJSONStr(b, user)
	b = append(b, `},"client":{"ipAddress":"`...)
	b = ip.AppendTo(b)
	b = append(b, `","userAgent":{"rawUserAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}},"outcome":{"result":"`...)
	b = append(b, result...)
	b = append(b, '"')
	if reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONStr(b, reason)
	}
	b = append(b, "}}\n"...)
	return b
}

func (r *renderer) oktaEvent(b []byte, e *gev) ([]byte, int) {
	switch e.kind {
	case eFail:
		return r.oktaRecord(b, e.t, e.user, e.ip, "user.session.start", "FAILURE", "INVALID_CREDENTIALS", "User login to Okta"), 1
	case eFailUnknown:
		return r.oktaRecord(b, e.t, e.user, e.ip, "user.session.start", "FAILURE", "VERIFICATION_ERROR", "User login to Okta"), 1
	case eSuccess:
		return r.oktaRecord(b, e.t, e.user, e.ip, "user.session.start", "SUCCESS", "", "User login to Okta"), 1
	case ePushSent:
		return r.oktaRecord(b, e.t, e.user, e.ip, "system.push.send_factor_verify_push", "SUCCESS", "", "Push notification sent for verification"), 1
	case ePushDeny:
		return r.oktaRecord(b, e.t, e.user, e.ip, "user.mfa.okta_verify.deny_push", "FAILURE", "User rejected Okta push verify", "User rejected Okta push verify"), 1
	case eMFAApprove:
		return r.oktaRecord(b, e.t, e.user, e.ip, "user.authentication.auth_via_mfa", "SUCCESS", "", "Authentication of user via MFA"), 1
	case eLocked:
		return r.oktaRecord(b, e.t, e.user, e.ip, "user.account.lock", "SUCCESS", "", "Max sign in attempts exceeded"), 1
	}
	return b, 0
}

func (r *renderer) oktaNoise(b []byte, t int64) ([]byte, int) {
	g := r.g
	ti := g.rng.IntN(len(g.tenants))
	user := g.users[ti][g.rng.IntN(len(g.users[ti]))]
	ip := g.officeIP(ti)
	if g.rng.IntN(3) == 0 {
		ip = g.homeIP()
	}
	switch x := g.rng.IntN(100); {
	case x < 35:
		return r.oktaRecord(b, t, user, ip, "user.session.start", "SUCCESS", "", "User login to Okta"), 1
	case x < 55:
		return r.oktaRecord(b, t, user, ip, "user.authentication.sso", "SUCCESS", "", "User single sign on to app"), 1
	case x < 70:
		return r.oktaRecord(b, t, user, ip, "policy.evaluate_sign_on", "ALLOW", "Sign-on policy evaluation resulted in ALLOW", "Evaluation of sign-on policy"), 1
	case x < 85:
		return r.oktaRecord(b, t, user, ip, "app.oauth2.as.token.grant.access_token", "SUCCESS", "", "OAuth2 access token is granted"), 1
	default:
		return r.oktaRecord(b, t, user, ip, "user.session.end", "SUCCESS", "", "User logout from Okta"), 1
	}
}

// ---- RMM console audit log ----

var rmmScripts = []string{"Patch-Windows.ps1", "Clear-TempFiles.ps1", "Get-DiskHealth.ps1", "Restart-PrintSpooler.ps1",
	"Install-Chrome.ps1", "Collect-Inventory.ps1", "Check-Backups.ps1"}

func (r *renderer) rmmRecord(b []byte, t int64, op string, ip netip.Addr, action, result, tenant, agent, script string) []byte {
	b = append(b, `{"ts":"`...)
	b = appendRFC3339(b, t, true)
	b = append(b, `","console":`...)
	b = appendJSONStr(b, r.g.o.Console)
	if op != "" {
		b = append(b, `,"operator":`...)
		b = appendJSONStr(b, op)
	}
	if ip.IsValid() {
		b = append(b, `,"src_ip":"`...)
		b = ip.AppendTo(b)
		b = append(b, '"')
	}
	b = append(b, `,"action":"`...)
	b = append(b, action...)
	b = append(b, `","result":"`...)
	b = append(b, result...)
	b = append(b, '"')
	if tenant != "" {
		b = append(b, `,"tenant":`...)
		b = appendJSONStr(b, tenant)
	}
	if agent != "" {
		b = append(b, `,"agent":`...)
		b = appendJSONStr(b, agent)
	}
	if script != "" {
		b = append(b, `,"script":`...)
		b = appendJSONStr(b, script)
		b = append(b, `,"job_id":"J-`...)
		b = strconv.AppendUint(b, uint64(r.g.rng.IntN(900000)+100000), 10)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

func (r *renderer) rmmEvent(b []byte, e *gev) ([]byte, int) {
	switch e.kind {
	case eFail:
		return r.rmmRecord(b, e.t, e.user, e.ip, "login", "failure", "", "", ""), 1
	case eSuccess:
		return r.rmmRecord(b, e.t, e.user, e.ip, "login", "success", "", "", ""), 1
	case eScript:
		tn := r.g.tenants[e.tenant]
		hs := r.g.hosts[e.tenant]
		return r.rmmRecord(b, e.t, e.user, e.ip, "script.run", "success", tn.ID, hs[r.g.rng.IntN(len(hs))], e.script), 1
	}
	return b, 0
}

func (r *renderer) rmmNoise(b []byte, t int64) ([]byte, int) {
	g := r.g
	oi := g.rng.IntN(len(g.o.Operators))
	op := g.o.Operators[oi]
	// each technician looks after three tenants
	ti := (oi*3 + g.rng.IntN(3)) % len(g.tenants)
	tn := g.tenants[ti]
	hs := g.hosts[ti]
	switch x := g.rng.IntN(100); {
	case x < 35:
		return r.rmmRecord(b, t, "", netip.Addr{}, "agent.checkin", "success", tn.ID, hs[g.rng.IntN(len(hs))], ""), 1
	case x < 70:
		return r.rmmRecord(b, t, op, mspOfficeIP, "script.run", "success", tn.ID, hs[g.rng.IntN(len(hs))], rmmScripts[g.rng.IntN(len(rmmScripts))]), 1
	case x < 80:
		return r.rmmRecord(b, t, op, mspOfficeIP, "login", "success", "", "", ""), 1
	case x < 90:
		return r.rmmRecord(b, t, op, mspOfficeIP, "ticket.update", "success", tn.ID, "", ""), 1
	default:
		return r.rmmRecord(b, t, op, mspOfficeIP, "remote.session", "success", tn.ID, hs[g.rng.IntN(len(hs))], ""), 1
	}
}
