package ingest

import "github.com/firebreak-msp/firebreak/internal/event"

type stubParser struct{}

func (stubParser) parse(rec []byte, ev *event.Event) (result, string) {
	return resBad, "not implemented"
}

func newSyslogParser(o *Options, head []byte) recordParser { return stubParser{} }
func newJournaldParser(o *Options) recordParser            { return stubParser{} }
func newWindowsParser(o *Options) recordParser             { return stubParser{} }
func newEntraParser(o *Options) recordParser               { return stubParser{} }
func newOktaParser(o *Options) recordParser                { return stubParser{} }
func newGenericParser(o *Options) recordParser             { return stubParser{} }

// ParseSyslogMessage parses one syslog message (RFC 3164 or RFC 5424, with
// or without the <PRI> prefix, as received by a syslog listener) into ev and
// reports whether it is an OpenSSH authentication event. ev is reset first.
func ParseSyslogMessage(msg []byte, ev *event.Event, opts Options) bool { return false }
