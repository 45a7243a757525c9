package ingest

import (
	"bytes"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// syslogParser parses syslog lines as written to files (RFC 3164 "Nov 26
// 10:00:01 host tag[pid]: msg", RFC 3339-stamped rsyslog lines, RFC 5424
// with or without <PRI>) and hands sshd messages to the sshd parser.
type syslogParser struct {
	opts  *Options
	loc   *time.Location
	utc   bool
	auth  linuxAuth
	hosts *interner
	prog  []byte // program of the last line
	msgs  arena  // event messages

	scratch event.Event // the timestamp of a line ignorable reads

	// RFC 3164 year tracking
	year      int
	lastMonth int

	// date cache (UTC only): midnight of (year, month, day)
	cacheKey  int
	cacheUnix int64

	// the RFC 3164 timestamp header last parsed with track, and its time
	lastStamp struct {
		text [15]byte
		t    time.Time
		ok   bool
	}
}

func newSyslogParser(o *Options, head []byte) *syslogParser {
	p := &syslogParser{opts: o, loc: o.loc(), hosts: newInterner(1 << 14), auth: newLinuxAuth()}
	p.utc = p.loc == time.UTC
	p.initYear(head)
	return p
}

// initYear picks the year of the first RFC 3164 line: Options.Year, else
// the mtime's year (the previous year if the first line's month is later
// than the mtime's month: a log that spans the new year), else Now.
func (p *syslogParser) initYear(head []byte) {
	if p.opts.Year > 0 {
		p.year = p.opts.Year
		return
	}
	ref := p.opts.ModTime
	if ref.IsZero() {
		if p.opts.Now != nil {
			ref = p.opts.Now()
		} else {
			ref = time.Now()
		}
	}
	ref = ref.In(p.loc)
	p.year = ref.Year()
	// first RFC 3164 month in head
	line := head
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = skipPRI(line)
	m := monthOf(line)
	if m > int(ref.Month()) || (m == int(ref.Month()) && dayOf(line) > ref.Day()+1) {
		// later in the year than the file was last written (a day of
		// slack for zones): the log began last year
		p.year--
	}
}

// dayOf returns the day of month of an RFC 3164 timestamp ("Dec 10",
// "Dec  7"), 0 when there is none.
func dayOf(b []byte) int {
	if len(b) < 6 || b[3] != ' ' {
		return 0
	}
	d := 0
	for _, c := range bytes.TrimLeft(b[4:6], " ") {
		if c < '0' || c > '9' {
			return 0
		}
		d = d*10 + int(c-'0')
	}
	return d
}

// yearFor returns the year of an RFC 3164 timestamp in month m, advancing
// on Dec→Jan rollover.
func (p *syslogParser) yearFor(m int) int {
	if p.lastMonth == 0 {
		p.lastMonth = m
		return p.year
	}
	switch {
	case m < p.lastMonth && p.lastMonth-m >= 6: // Dec -> Jan
		p.year++
		p.lastMonth = m
	case m > p.lastMonth && m-p.lastMonth >= 6: // a late line from last year
		return p.year - 1
	default:
		p.lastMonth = m
	}
	return p.year
}

func skipPRI(b []byte) []byte {
	if len(b) > 2 && b[0] == '<' {
		for i := 1; i < len(b) && i <= 4; i++ {
			if b[i] == '>' {
				return b[i+1:]
			}
			if b[i] < '0' || b[i] > '9' {
				return b
			}
		}
	}
	return b
}

func monthOf(b []byte) int {
	if len(b) < 3 {
		return 0
	}
	switch string(b[:3]) {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

func (p *syslogParser) parse(line []byte, ev *event.Event) (result, string) {
	return p.parseMsg(line, ev, true)
}

// header parses the syslog header; it returns host, tag and message.
func (p *syslogParser) header(line []byte, ev *event.Event, track bool) (host, tag, msg []byte, why string) {
	b := skipPRI(line)
	switch {
	case len(b) > 2 && b[0] == '1' && b[1] == ' ': // RFC 5424
		return p.header5424(b[2:], ev)
	case len(b) >= 19 && b[4] == '-' && b[0] >= '0' && b[0] <= '9': // RFC 3339 stamped
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			return nil, nil, nil, "bad syslog timestamp"
		}
		t, ok := parseRFC3339(b[:sp], p.loc)
		if !ok {
			return nil, nil, nil, "bad syslog timestamp"
		}
		ev.Timestamp = t
		b = b[sp+1:]
	default:
		if len(b) < 16 || b[3] != ' ' || b[6] != ' ' || b[9] != ':' || b[12] != ':' || b[15] != ' ' {
			return nil, nil, nil, "not a syslog line"
		}
		if track && p.lastStamp.ok && string(b[:15]) == string(p.lastStamp.text[:]) {
			// The second of the line before (a log has many lines a
			// second): the same time, and the same month given to
			// yearFor again changes nothing.
			ev.Timestamp = p.lastStamp.t
			b = b[16:]
			break
		}
		m := monthOf(b)
		dd := b[4:6]
		if dd[0] == ' ' {
			dd = dd[1:]
		}
		d, ok := atoi(dd)
		h, ok2 := digits2(b[7:9])
		mi, ok3 := digits2(b[10:12])
		s, ok4 := digits2(b[13:15])
		if m == 0 || !ok || !ok2 || !ok3 || !ok4 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 {
			return nil, nil, nil, "bad syslog timestamp"
		}
		y := p.year
		if track {
			y = p.yearFor(m)
		}
		sec := int64(h*3600 + mi*60 + s)
		if p.utc {
			key := y<<9 | m<<5 | d
			if key != p.cacheKey {
				p.cacheKey = key
				p.cacheUnix = time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix()
			}
			ev.Timestamp = time.Unix(p.cacheUnix+sec, 0).UTC()
		} else {
			ev.Timestamp = time.Date(y, time.Month(m), d, h, mi, s, 0, p.loc).UTC()
		}
		if track {
			p.lastStamp.ok, p.lastStamp.t = true, ev.Timestamp
			copy(p.lastStamp.text[:], b[:15])
		}
		b = b[16:]
	}
	// HOST TAG[PID]: MSG
	sp := bytes.IndexByte(b, ' ')
	if sp <= 0 {
		return nil, nil, nil, "syslog line without host"
	}
	host = b[:sp]
	b = b[sp+1:]
	end := bytes.IndexByte(b, ':')
	if end < 0 {
		return host, nil, nil, "syslog line without tag"
	}
	tag = b[:end]
	msg = b[end+1:]
	if len(msg) > 0 && msg[0] == ' ' {
		msg = msg[1:]
	}
	return host, tag, msg, ""
}

// header5424 parses "TIMESTAMP HOST APP PROCID MSGID SD MSG".
func (p *syslogParser) header5424(b []byte, ev *event.Event) (host, tag, msg []byte, why string) {
	var f [5][]byte
	for i := range f {
		sp := bytes.IndexByte(b, ' ')
		if sp < 0 {
			if i == 4 { // MSGID is last, no SD and no MSG
				f[i], b = b, nil
				break
			}
			return nil, nil, nil, "truncated RFC 5424 header"
		}
		f[i], b = b[:sp], b[sp+1:]
	}
	if string(f[0]) != "-" {
		t, ok := parseRFC3339(f[0], p.loc)
		if !ok {
			return nil, nil, nil, "bad RFC 5424 timestamp"
		}
		ev.Timestamp = t
	}
	// structured data: "-" or one or more [..] elements
	switch {
	case len(b) == 0:
	case b[0] == '-':
		b = b[1:]
	case b[0] == '[':
		i := 0
		for i < len(b) && b[i] == '[' {
			inQ := false
			j := i + 1
			for ; j < len(b); j++ {
				c := b[j]
				if c == '\\' {
					j++
					continue
				}
				if c == '"' {
					inQ = !inQ
				} else if c == ']' && !inQ {
					break
				}
			}
			if j >= len(b) {
				return nil, nil, nil, "unterminated RFC 5424 structured data"
			}
			i = j + 1
		}
		b = b[i:]
	default:
		return nil, nil, nil, "bad RFC 5424 structured data"
	}
	if len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	b, _ = cutPrefix(b, "\xef\xbb\xbf") // BOM
	host = f[1]
	if string(host) == "-" {
		host = nil
	}
	return host, f[2], b, ""
}

// parseMsg parses a full syslog line.
func (p *syslogParser) parseMsg(line []byte, ev *event.Event, track bool) (result, string) {
	host, tag, msg, why := p.header(line, ev, track)
	if why != "" {
		if why == "syslog line without tag" {
			p.prog = append(p.prog[:0], ProgramNone...)
			return resIgnored, ""
		}
		p.prog = p.prog[:0]
		return resBad, why
	}
	// tag: sshd[123], sshd-session[123], sshd(pam_unix)[123], su, or (RFC 5424) APP "sshd"
	name, pid := tag, []byte(nil)
	if i := bytes.IndexByte(tag, '['); i >= 0 {
		name = tag[:i]
		pid = bytes.TrimSuffix(tag[i+1:], []byte("]"))
	}
	p.prog = append(p.prog[:0], name...)
	res, why := p.auth.parse(name, pid, host, msg, ev)
	if res != resEvent {
		return res, why
	}
	ev.HostName = p.hosts.get(host)
	if !p.opts.NoMessage {
		ev.Message = p.msgs.str(msg)
	}
	return resEvent, ""
}

func (p *syslogParser) program() []byte { return p.prog }

// ignorable reports whether parse would ignore a line quickPrefilter calls
// quickIgnorable (resIgnored: no event and no complaint), and returns its
// program. It does to the parser what parse does (the RFC 3164 year
// follows the line's month) but fills no event. A line it declines goes
// through parse, which tracks the same month again to the same effect.
func (p *syslogParser) ignorable(line []byte) ([]byte, bool) {
	_, tag, msg, why := p.header(line, &p.scratch, true)
	if why != "" {
		return nil, false
	}
	name := tag
	if i := bytes.IndexByte(tag, '['); i >= 0 {
		name = tag[:i]
	}
	// sshdParser.parse turns neither into an event, and linuxAuth.parse
	// complains only of a message that looks like an authentication
	// result (looksLikeSSHDAuth: not these) or holds the PAM phrase.
	if !isSSHD(name) || bytes.Contains(msg, []byte("authentication failure")) {
		return nil, false
	}
	if rest, ok := cutPrefix(msg, "Connection closed by "); ok && !preauthUser(rest) || hasPrefixB(msg, sshdKex) {
		return name, true
	}
	return nil, false
}

// looksLikeSSHDAuth reports whether an sshd message that did not parse
// starts like an authentication result, so it is counted as unparsed
// rather than silently ignored.
func looksLikeSSHDAuth(msg []byte) bool {
	for _, p := range []string{"Failed ", "Accepted ", "Invalid user ", "message repeated "} {
		if len(msg) >= len(p) && string(msg[:len(p)]) == p {
			return true
		}
	}
	return false
}

func isSSHD(name []byte) bool {
	switch string(name) {
	case "sshd", "sshd-session", "sshd-auth":
		return true
	}
	return false
}

// ParseSyslogMessage parses one syslog message (RFC 3164 or RFC 5424, with
// or without the <PRI> prefix, as received by a syslog listener) into ev and
// reports whether it is an OpenSSH authentication event. ev is reset first.
// RFC 3164 messages take Options.Year, else the year of Options.Now (or
// the current time), moved back a year for a December message in January.
// A listener handling many messages should keep a SyslogParser instead.
func ParseSyslogMessage(msg []byte, ev *event.Event, opts Options) bool {
	return NewSyslogParser(opts).Parse(msg, ev)
}

// SyslogParser parses syslog messages one at a time (see
// ParseSyslogMessage), reusing its interned names. It is not safe for
// concurrent use; give each listener goroutine its own.
type SyslogParser struct {
	opts Options
	p    *syslogParser
}

// NewSyslogParser returns a parser for single syslog messages.
func NewSyslogParser(opts Options) *SyslogParser {
	sp := &SyslogParser{opts: opts}
	sp.p = &syslogParser{opts: &sp.opts, loc: opts.loc(), hosts: newInterner(1 << 14), auth: newLinuxAuth()}
	sp.p.utc = sp.p.loc == time.UTC
	return sp
}

// Parse parses msg into ev (reset first) and reports whether it is an
// OpenSSH authentication event.
func (sp *SyslogParser) Parse(msg []byte, ev *event.Event) bool {
	ev.Reset()
	o := &sp.opts
	year := o.Year
	if year == 0 {
		now := time.Now
		if o.Now != nil {
			now = o.Now
		}
		t := now().In(sp.p.loc)
		year = t.Year()
		if m := monthOf(skipPRI(msg)); m > int(t.Month())+1 {
			year--
		}
	}
	sp.p.year = year
	res, _ := sp.p.parseMsg(msg, ev, false)
	if res != resEvent {
		return false
	}
	if o.Tenant != "" {
		ev.Tenant = o.Tenant
	} else if o.TenantMap != nil {
		ev.Tenant = o.TenantMap.Lookup(ev)
	}
	return true
}
