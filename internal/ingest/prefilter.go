package ingest

import "bytes"

// syslogPrefilter decides, before the syslog header is parsed, whether a
// line can matter to any parser: most of an auth log is CRON, systemd,
// kernel and sshd session chatter. It locates the tag with two short
// scans and looks only at the words the Linux parsers start from; every
// line it passes goes through the full parse (so nothing it lets through
// is lost), every line it skips is counted as "not an authentication
// event" under ProgramPrefiltered.
//
// It passes:
//   - any line whose message holds "authentication failure" (PAM, for any
//     service; found through the ';' that always follows it, a rare byte);
//   - sshd lines whose message starts like an authentication result
//     (Failed, Accepted, Invalid/Illegal user, message repeated, error:,
//     User … not allowed, PAM …), and "Connection closed"/"Disconnect…"
//     lines that end in [preauth];
//   - su lines with FAILED and sudo lines with " : " followed by a failure;
//   - every line whose header it does not recognise (RFC 5424, unusual
//     layouts): the parser decides those.
//
// Lines from other programs that only say "Failed password" or "Invalid
// user" without "authentication failure" are skipped, not counted as
// unparsed.
func syslogPrefilter(line []byte) bool { return prefilterLine(line, true) }

// prefilterLine is syslogPrefilter for a line known to hold no ';' when
// semi is false: PAM's "authentication failure;" cannot be in it, so the
// message is not searched. With semi true it is syslogPrefilter.
func prefilterLine(line []byte, semi bool) bool {
	tag, msg, ok := syslogTag(line)
	if !ok {
		return true
	}
	switch {
	case hasPrefixB(tag, "sshd"):
		if len(msg) == 0 {
			return false
		}
		switch msg[0] {
		case 'F', 'A', 'I', 'm', 'e', 'U', 'P':
			return true
		case 'C', 'D':
			return bytes.HasSuffix(bytes.TrimRight(msg, " "), []byte("[preauth]"))
		}
		return semi && hasAuthFailure(msg)
	case hasPrefixB(tag, "sudo"):
		return bytes.Contains(msg, []byte(" : ")) && (bytes.Contains(msg, []byte("incorrect password")) ||
			bytes.Contains(msg, []byte("NOT ")) || bytes.Contains(msg, []byte("password is required"))) || semi && hasAuthFailure(msg)
	case hasPrefixB(tag, "su"):
		return bytes.Contains(msg, []byte("FAILED")) || semi && hasAuthFailure(msg)
	}
	return semi && hasAuthFailure(msg)
}

// hasAuthFailure reports whether msg holds "authentication failure;" or
// "authentication failures;" (PAM), by way of the ';'.
func hasAuthFailure(msg []byte) bool {
	for {
		i := bytes.IndexByte(msg, ';')
		if i < 0 {
			return false
		}
		head := msg[:i]
		if bytes.HasSuffix(head, []byte("authentication failure")) || bytes.HasSuffix(head, []byte("authentication failures")) ||
			bytes.HasSuffix(head, []byte("more authentication failure")) {
			return true
		}
		msg = msg[i+1:]
	}
}

// syslogTag finds the tag and message of an RFC 3164 or RFC 3339-stamped
// line without parsing the timestamp. ok is false for other layouts.
func syslogTag(line []byte) (tag, msg []byte, ok bool) {
	var rest []byte
	switch {
	case len(line) > 16 && line[3] == ' ' && line[6] == ' ' && line[9] == ':' && line[15] == ' ':
		rest = line[16:]
	case len(line) > 20 && line[4] == '-' && line[0] >= '0' && line[0] <= '9':
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			return nil, nil, false
		}
		rest = line[sp+1:]
	default:
		return nil, nil, false
	}
	sp := bytes.IndexByte(rest, ' ') // after the host
	if sp <= 0 {
		return nil, nil, false
	}
	rest = rest[sp+1:]
	c := bytes.IndexByte(rest, ':')
	if c < 0 {
		return rest, nil, true
	}
	tag, msg = rest[:c], rest[c+1:]
	if len(msg) > 0 && msg[0] == ' ' {
		msg = msg[1:]
	}
	return tag, msg, true
}

// skipSyslog is the block form of the prefilter. It passes over the
// complete lines at the front of the read buffer that syslogPrefilter
// would skip, without returning them one by one, and returns how many it
// passed over. Per line it costs one newline search and the header
// checks; the search for ';' (the byte PAM's "authentication failure"
// needs, rare in an auth log) runs once over a stretch of the buffer and
// is reused by every line up to the next ';', across calls. ok reports
// that the next complete line is known to pass the prefilter (the caller
// need not check it again).
//
// An sshd line that quickPrefilter calls quickIgnorable (a port scan's
// kex_exchange_identification error, a connection closed before anyone
// authenticated) is handed to l.ignore, when set, which counts it as
// ignored by its program when a full parse would (syslogParser.ignorable)
// and so is passed over here too.
//
// It stops, leaving the rest to next, at the first line that may pass, at
// a line starting with NUL (next's caller trims NUL padding first), at a
// line longer than the limit, and at the end of the buffer's complete
// lines: a line split across reads and a last line without a newline take
// the line-by-line path. Every line it skips is one prefilterLine(line, …)
// refuses, which is syslogPrefilter with a no-';' line's answer known, so
// it yields exactly the line-by-line path's events and counts
// (TestBlockPrefilterSameAsLines, FuzzBlockPrefilter).
func (l *lineReader) skipSyslog() (skipped int64, ok bool) {
	var taken int64 // lines l.ignore counted
	buf := l.buf[:l.w]
	r := l.r
	base := l.pos - int64(l.r) // input offset of buf[0]
	// semi: index of the next ';' at or after r, or the end of the
	// stretch searched so far when there is none in it. l.semi keeps it
	// (as an input offset) across calls and refills; the bytes from r on
	// are unchanged by a refill, so what was searched stays searched.
	semi, found := int(l.semi-base), l.semiFound
	research := func(from int) {
		if j := bytes.IndexByte(buf[from:], ';'); j >= 0 {
			semi, found = from+j, true
		} else {
			semi, found = len(buf), false
		}
	}
	switch {
	case semi < r:
		research(r)
	case !found && semi < len(buf): // the buffer grew past the stretch searched
		research(semi)
	}
	for r < len(buf) {
		i := bytes.IndexByte(buf[r:], '\n')
		if i < 0 {
			break
		}
		end := r + i
		if end-r > l.max {
			break // next counts it as too long
		}
		ln := buf[r:end]
		if n := len(ln); n > 0 && ln[n-1] == '\r' {
			ln = ln[:n-1]
		}
		if len(ln) > 0 && ln[0] == 0 {
			break
		}
		if semi < r {
			research(r)
		}
		hasSemi := semi < end
		switch quickPrefilter(ln) {
		case quickPass:
			ok = true
		case quickIgnorable:
			if l.ignore != nil && l.ignore(ln) {
				taken++
				r = end + 1
				continue
			}
			ok = true
		case quickSkip:
			if !hasSemi {
				skipped++
				r = end + 1
				continue
			}
		}
		if ok || prefilterLine(ln, hasSemi) {
			ok = true
			break
		}
		skipped++
		r = end + 1
	}
	l.semi, l.semiFound = base+int64(semi), found
	l.pos += int64(r - l.r)
	l.lineNo += skipped + taken
	l.r = r
	return skipped, ok
}

const (
	quickUnsure    = iota
	quickSkip      // prefilterLine(line, false) is false
	quickPass      // prefilterLine(line, semi) is true whatever semi
	quickIgnorable // quickPass, and an sshd message that is no authentication event (syslogParser.ignorable decides)
)

// sshdKex starts the message sshd logs for a connection that never
// offered a protocol banner (a port scan): no authentication event.
const sshdKex = "error: kex_exchange_identification: "

// quickPrefilter answers prefilterLine for the common cases with fewer
// scans: an RFC 3164 line whose tag starts with neither "sshd" nor "su"
// (the tag is a prefix of what follows the host) is skipped unless it
// holds a ';', and an sshd line is decided by the start of its message as
// prefilterLine does. It is quickUnsure otherwise; the caller then asks
// prefilterLine.
func quickPrefilter(line []byte) int {
	if len(line) <= 16 || line[3] != ' ' || line[6] != ' ' || line[9] != ':' || line[15] != ' ' {
		return quickUnsure
	}
	rest := line[16:]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return quickUnsure // no host: syslogTag does not know it, so it passes
	}
	tag := rest[sp+1:]
	if hasPrefixB(tag, "su") {
		return quickUnsure
	}
	if !hasPrefixB(tag, "sshd") {
		return quickSkip
	}
	c := bytes.IndexByte(tag, ':')
	if c < 0 {
		return quickSkip // no message
	}
	msg := tag[c+1:]
	if len(msg) > 0 && msg[0] == ' ' {
		msg = msg[1:]
	}
	if len(msg) == 0 {
		return quickSkip
	}
	switch msg[0] {
	case 'F', 'A', 'I', 'm', 'U', 'P':
		return quickPass
	case 'e':
		if hasPrefixB(msg, sshdKex) {
			return quickIgnorable
		}
		return quickPass
	case 'C', 'D':
		if bytes.HasSuffix(bytes.TrimRight(msg, " "), []byte("[preauth]")) {
			if rest, ok := cutPrefix(msg, "Connection closed by "); ok && !preauthUser(rest) {
				return quickIgnorable
			}
			return quickPass
		}
	}
	return quickSkip
}
