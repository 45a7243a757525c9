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
func syslogPrefilter(line []byte) bool {
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
		return hasAuthFailure(msg)
	case hasPrefixB(tag, "sudo"):
		return bytes.Contains(msg, []byte(" : ")) && (bytes.Contains(msg, []byte("incorrect password")) ||
			bytes.Contains(msg, []byte("NOT ")) || bytes.Contains(msg, []byte("password is required"))) || hasAuthFailure(msg)
	case hasPrefixB(tag, "su"):
		return bytes.Contains(msg, []byte("FAILED")) || hasAuthFailure(msg)
	}
	return hasAuthFailure(msg)
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
