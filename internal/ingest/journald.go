package ingest

import (
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

// journaldParser reads `journalctl -o json` records and parses the MESSAGE
// of sshd entries.
type journaldParser struct {
	opts  *Options
	w     jsonWalker
	auth  linuxAuth
	hosts *interner
	pid   []byte
	visit func(path, val []byte, kind byte)

	msg     []byte
	msgNum  bool // MESSAGE given as an array of byte values
	host    []byte
	ident   []byte
	comm    []byte
	ts      time.Time
	tsPri   int
	hasMsg  bool
	hasHost bool
}

func newJournaldParser(o *Options) recordParser {
	p := &journaldParser{opts: o, hosts: newInterner(1 << 14), auth: newLinuxAuth()}
	p.visit = p.field
	return p
}

func (p *journaldParser) field(path, val []byte, kind byte) {
	switch string(path) {
	case "MESSAGE":
		if kind == kString {
			p.msg = append(p.msg[:0], val...)
			p.hasMsg = true
		}
	case "_HOSTNAME":
		p.host = append(p.host[:0], val...)
		p.hasHost = true
	case "SYSLOG_IDENTIFIER":
		p.ident = append(p.ident[:0], val...)
	case "_COMM":
		p.comm = append(p.comm[:0], val...)
	case "_PID", "SYSLOG_PID":
		p.pid = append(p.pid[:0], val...)
	case "__REALTIME_TIMESTAMP":
		if us, ok := atoi(val); ok && p.tsPri < 2 {
			p.ts, p.tsPri = time.UnixMicro(int64(us)).UTC(), 2
		}
	case "_SOURCE_REALTIME_TIMESTAMP":
		if us, ok := atoi(val); ok && p.tsPri < 1 {
			p.ts, p.tsPri = time.UnixMicro(int64(us)).UTC(), 1
		}
	default:
		// MESSAGE as an array of bytes (journald's form for non-UTF-8 text)
		if kind == kNumber && len(path) > 8 && string(path[:8]) == "MESSAGE." {
			if !p.msgNum {
				p.msg = p.msg[:0]
				p.msgNum = true
			}
			if v, ok := atoi(val); ok && v < 256 {
				p.msg = append(p.msg, byte(v))
				p.hasMsg = true
			}
		}
	}
}

func (p *journaldParser) parse(rec []byte, ev *event.Event) (result, string) {
	p.reset()
	if err := p.w.walk(rec, p.visit); err != nil {
		return resBad, err.Error()
	}
	return p.finish(ev)
}

func (p *journaldParser) reset() {
	p.msg, p.host, p.ident, p.comm, p.pid = p.msg[:0], p.host[:0], p.ident[:0], p.comm[:0], p.pid[:0]
	p.ts, p.tsPri, p.hasMsg, p.hasHost, p.msgNum = time.Time{}, 0, false, false, false
}

// finish turns the fields seen (JSON or export form) into the event.
func (p *journaldParser) finish(ev *event.Event) (result, string) {
	if !p.hasMsg || p.tsPri == 0 {
		return resBad, "journal record without MESSAGE or __REALTIME_TIMESTAMP"
	}
	name := p.ident
	if len(name) == 0 {
		name = p.comm
	}
	if res, why := p.auth.parse(name, p.pid, p.host, p.msg, ev); res != resEvent {
		return res, why
	}
	ev.Timestamp = p.ts
	ev.HostName = p.hosts.get(p.host)
	if !p.opts.NoMessage {
		ev.Message = string(p.msg)
	}
	return resEvent, ""
}

func (p *journaldParser) program() []byte {
	if len(p.ident) > 0 {
		return p.ident
	}
	return p.comm
}
