package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"

	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest/evtx"
)

// Input formats. FormatAuto (the empty string) sniffs the input.
const (
	FormatAuto     = ""
	FormatSyslog   = "syslog"   // RFC 3164, RFC 5424 or RFC 3339-stamped syslog lines (OpenSSH)
	FormatJournald = "journald" // journalctl -o json or -o export (OpenSSH, PAM, su, sudo)
	FormatWindows  = "windows"  // Windows Security events as JSON (Winlogbeat/ECS, NXLog, Get-WinEvent)
	FormatEntra    = "entra"    // Entra ID sign-in logs (Graph signIn or Azure Monitor export)
	FormatOkta     = "okta"     // Okta System Log
	FormatGeneric  = "generic"  // JSON lines with a Mapping
	FormatEVTX     = "evtx"     // Windows binary event log files (.evtx)
	FormatXML      = "xml"      // rendered Windows event XML (wevtutil qe /f:xml, Windows Event Forwarding, Get-WinEvent ToXml)
	FormatSkipped  = "skipped"  // reported, never chosen: an input that is no format firebreak reads (binary, or text without a syslog line; skipped)
)

// formatAliases are other names accepted for Options.Format.
var formatAliases = map[string]string{
	"sshd": FormatSyslog, "auth.log": FormatSyslog, "journalctl": FormatJournald,
	"winlogbeat": FormatWindows, "nxlog": FormatWindows, "azuread": FormatEntra, "signin": FormatEntra,
	"jsonl": FormatGeneric, "rmm": FormatGeneric, "wef": FormatXML, "wevtutil": FormatXML,
}

// Formats lists the accepted values of Options.Format (besides "" = auto).
var Formats = []string{FormatSyslog, FormatJournald, FormatWindows, FormatEVTX, FormatXML, FormatEntra, FormatOkta, FormatGeneric}

// Defaults.
const (
	DefaultMaxLineBytes = 1 << 20 // longest line or JSON record kept; longer ones are counted and skipped
	DefaultMaxSamples   = 5       // unparsed samples kept in Stats
	maxSampleText       = 200
)

// ErrUnknownFormat is returned for an Options.Format that is not in Formats.
var ErrUnknownFormat = errors.New("unknown input format")

// ErrNeedsMapping is wrapped by NewReader's error when the input is generic
// JSON (format generic, named or detected) and no mapping file is set.
var ErrNeedsMapping = errors.New("format generic needs a mapping file")

// Options configure a Reader. The zero value sniffs the format and assigns no
// tenant.
type Options struct {
	// Format forces an input format; "" sniffs it from the first lines.
	Format string
	// Year is the year of the first RFC 3164 timestamp (which carries none).
	// 0 means: from ModTime (the file's mtime, set by Open), else from Now.
	// Later lines roll over Dec→Jan.
	Year int
	// ModTime is the input's modification time (Open fills it for files).
	ModTime time.Time
	// Location is the zone of timestamps that carry none (RFC 3164, NXLog
	// EventTime). nil means UTC.
	Location *time.Location
	// Tenant assigns every event of the input to this tenant (organization.id).
	Tenant string
	// TenantMap assigns tenants by host, user domain or Entra tenant id when
	// Tenant is empty.
	TenantMap *TenantMap
	// Mapping is required for FormatGeneric (and used to sniff it).
	Mapping *Mapping
	// MaxLineBytes bounds one line or JSON record; 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// MaxSamples bounds the unparsed samples in Stats; 0 means DefaultMaxSamples.
	MaxSamples int
	// FollowPoll is how often Follow polls (0 means DefaultPoll).
	FollowPoll time.Duration
	// FollowFromEnd makes Follow start at the current end of each file
	// (like tail -F) instead of reading it whole first.
	FollowFromEnd bool
	// FollowState, if set, is a file where Follow keeps how far it read
	// each file (byte offset, or .evtx record number, by file identity),
	// so a restarted Follow reads on from there instead of from the start.
	FollowState string
	// OnStateError, if set, is told when FollowState cannot be read or
	// written (the tail goes on).
	OnStateError func(error)
	// FollowCommit, if set, makes the events fn received durable: Follow
	// calls it after each poll, before it saves the positions in
	// FollowState, so a saved position never covers an event that is not
	// committed yet (a stop or crash in between reads those events again
	// instead of losing them). An error ends Follow with it, the
	// positions of the last successful commit kept.
	FollowCommit func() error
	// OnRotate, if set, receives a followed file's final Stats when it is
	// rotated away or truncated.
	OnRotate func(Stats)
	// OnSkip, if set, is told of every input skipped as no log
	// (SkipNotALog), record skipped as unparsed or damaged (SkipUnparsed)
	// and damage that lost no record (SkipWarning), with the file, record
	// or line number and the reason detect reports in Stats.Samples. Follow
	// tells each file's problem once, though it re-reads an .evtx.
	OnSkip func(kind string, s Sample)
	// NoPrefilter turns off the syslog literal prefilter (see
	// syslogPrefilter); the events are the same either way, only slower.
	NoPrefilter bool
	// Wanted, if set, says which events the reader's consumer can use,
	// from what a record's kind alone fixes before it is decoded: a
	// prototype event with Dataset, Category, Code and, where the kind
	// fixes them, Action, Outcome and Reason ("" = depends on the record;
	// with fixed, all three are the same for every such record, even when
	// empty).
	// Windows records whose event id it refuses, and those of ids no
	// parse turns into an event, are counted as ignored in every form
	// (.evtx, event XML, JSON: one test, windowsParser.want), JSON and XML
	// ones without being decoded (detect passes detect.Engine.MayMatch:
	// the ids no loaded rule reads). nil decodes everything.
	Wanted func(proto *event.Event, fixed bool) bool
	// NoMessage leaves Event.Message empty (syslog and journald records): the consumer reads no message (detect passes it when
	// detect.Engine.ReadsMessage is false), so no event's message is
	// copied out of the read buffer.
	NoMessage bool
	// Now is the clock used only to guess the year of RFC 3164 timestamps
	// when neither Year nor ModTime is known. nil means time.Now.
	Now func() time.Time

	// lineByLine turns off the block prefilter (skipSyslog) and keeps the
	// per-line one; tests compare the two.
	lineByLine bool
}

func (o *Options) maxLine() int {
	if o.MaxLineBytes > 0 {
		return o.MaxLineBytes
	}
	return DefaultMaxLineBytes
}

func (o *Options) maxSamples() int {
	if o.MaxSamples > 0 {
		return o.MaxSamples
	}
	return DefaultMaxSamples
}

func (o *Options) loc() *time.Location {
	if o.Location != nil {
		return o.Location
	}
	return time.UTC
}

// Stats counts what a Reader has seen.
type Stats struct {
	Name     string   // input name (file path or "-")
	Format   string   // format used
	Bytes    int64    // bytes read (decompressed)
	Lines    int64    // lines (or JSON records, or .evtx records) read
	Parsed   int64    // records that produced an event
	Ignored  int64    // well-formed records that are not about authentication (cron, other event ids), including Skipped
	Skipped  int64    // lines the literal prefilter passed over: no word any parser needs (counted in Ignored too)
	Unparsed int64    // records that looked like authentication but did not parse, or were malformed/damaged, including TooLong
	TooLong  int64    // records longer than MaxLineBytes (counted in Unparsed too)
	Warnings int64    // damage that lost no record (.evtx checksum mismatches)
	Samples  []Sample // a few unparsed records and warnings
	// Programs breaks Parsed, Ignored and Unparsed down by the program
	// that wrote the record (syslog tag, journald identifier, Windows
	// channel or event id), with unparsed samples per program, so that an
	// input that yields nothing says why. Lines the prefilter skipped are
	// under ProgramPrefiltered. At most MaxPrograms entries; the rest are
	// pooled under ProgramOther.
	Programs map[string]*ProgramStats `json:",omitempty"`
}

// ProgramStats counts one program's records.
type ProgramStats struct {
	Parsed   int64    `json:"parsed"`
	Ignored  int64    `json:"ignored"`  // not an authentication event
	Unparsed int64    `json:"unparsed"` // looked like one but did not parse
	Samples  []Sample `json:"samples,omitempty"`
}

// Program names for Stats.Programs that are not programs.
const (
	ProgramPrefiltered = "(prefiltered: not an sshd, su, sudo or PAM authentication message)"
	ProgramOther       = "(other programs)"
	ProgramNone        = "(no program)"
	ProgramBinary      = "(not a log: binary or no syslog line)"
	MaxPrograms        = 64
	maxProgramSamples  = 3
)

// Add accumulates o into s (samples up to max).
func (s *Stats) Add(o Stats, max int) {
	s.Bytes += o.Bytes
	s.Lines += o.Lines
	s.Parsed += o.Parsed
	s.Ignored += o.Ignored
	s.Skipped += o.Skipped
	s.Unparsed += o.Unparsed
	s.TooLong += o.TooLong
	s.Warnings += o.Warnings
	for _, x := range o.Samples {
		if len(s.Samples) >= max {
			break
		}
		s.Samples = append(s.Samples, x)
	}
	for name, p := range o.Programs {
		q := s.program(name)
		q.Parsed += p.Parsed
		q.Ignored += p.Ignored
		q.Unparsed += p.Unparsed
		for _, x := range p.Samples {
			if len(q.Samples) < maxProgramSamples {
				q.Samples = append(q.Samples, x)
			}
		}
	}
}

// program returns the counters of name, creating them (or pooling under
// ProgramOther past MaxPrograms).
func (s *Stats) program(name string) *ProgramStats {
	if p, ok := s.Programs[name]; ok {
		return p
	}
	if s.Programs == nil {
		s.Programs = map[string]*ProgramStats{}
	}
	if len(s.Programs) >= MaxPrograms {
		name = ProgramOther
		if p, ok := s.Programs[name]; ok {
			return p
		}
	}
	p := &ProgramStats{}
	s.Programs[name] = p
	return p
}

// programBytes is program for a name given as bytes (no allocation when
// the program is known).
func (s *Stats) programBytes(name []byte) *ProgramStats {
	if p, ok := s.Programs[string(name)]; ok {
		return p
	}
	if len(name) == 0 {
		return s.program(ProgramNone)
	}
	return s.program(string(name))
}

// Sample is one unparsed record.
type Sample struct {
	File   string `json:"file"`
	Line   int64  `json:"line"`
	Reason string `json:"reason"`
	Text   string `json:"text"` // truncated, invalid UTF-8 replaced
}

func (s Sample) String() string {
	return fmt.Sprintf("%s:%d: %s: %q", s.File, s.Line, s.Reason, s.Text)
}

// result of parsing one record.
type result uint8

const (
	resEvent   result = iota // ev filled
	resIgnored               // well-formed, not interesting
	resBad                   // malformed
)

// recordParser parses one record (a line or one JSON object) into ev, which
// the caller has reset.
type recordParser interface {
	parse(rec []byte, ev *event.Event) (result, string)
}

// Reader reads events from one input. It is not safe for concurrent use.
type Reader struct {
	name   string
	opts   Options
	closer io.Closer
	format string
	binary bool // not a log: Next returns io.EOF at once

	lines *lineReader
	evtx  *evtxSource   // binary .evtx input
	xml   *xmlSource    // rendered event XML input
	jexp  *exportSource // journalctl -o export input
	pre   bool          // syslog: skip lines no parser can use

	recent     [8]recentProgram // programs met, replaced in turn …
	nextRecent int              // … this one next
	doc        *docSplitter     // JSON document mode (array or {"value": [...]})
	sub        *docSplitter     // expanding one line that holds a whole document
	subLn      int64
	subOff     int64
	p          recordParser
	st         Stats
	tenants    hostTenants // TenantMap answers per host
}

// Open opens a file ("-" is stdin) and returns a Reader. gzip is detected
// from the content. The caller must Close it.
func Open(ctx context.Context, path string, opts Options) (*Reader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var f *os.File
	if path == "-" {
		f = os.Stdin
	} else {
		var err error
		f, err = os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("opening log: %w", err)
		}
		if fi, err := f.Stat(); err == nil {
			if fi.IsDir() {
				_ = f.Close()
				return nil, fmt.Errorf("opening log %s: is a directory", path)
			}
			if opts.ModTime.IsZero() {
				opts.ModTime = fi.ModTime()
			}
		}
	}
	r, err := NewReader(path, f, opts)
	if err != nil {
		if f != os.Stdin {
			_ = f.Close()
		}
		return nil, err
	}
	if f != os.Stdin {
		r.closer = f
	}
	return r, nil
}

// NewReader returns a Reader over r named name (used in samples and
// Event.File). gzip is detected from the content.
func NewReader(name string, r io.Reader, opts Options) (*Reader, error) {
	if err := resolveBuiltin(&opts); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if f, ok := formatAliases[opts.Format]; ok {
		opts.Format = f
	}
	switch opts.Format {
	case FormatAuto, FormatSyslog, FormatJournald, FormatWindows, FormatEntra, FormatOkta, FormatEVTX, FormatXML:
	case FormatGeneric:
		if opts.Mapping == nil {
			return nil, fmt.Errorf("%s: %w", name, ErrNeedsMapping)
		}
	default:
		return nil, fmt.Errorf("%s: %w %q (want one of %v)", name, ErrUnknownFormat, opts.Format, Formats)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(2)
	rd := &Reader{name: name, opts: opts}
	var src io.Reader = br
	if len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: reading gzip header: %w", name, err)
		}
		rd.closer = nil
		src = &gzipGuard{r: zr, rd: rd}
	}
	// UTF-16 with a byte order mark (PowerShell 5.1's Out-File): transcode
	b2, ok := src.(*bufio.Reader)
	if !ok {
		b2 = bufio.NewReaderSize(src, 64<<10)
		src = b2
	}
	rd.st.Name = name
	if magic, _ := b2.Peek(8); opts.Format == FormatEVTX || (opts.Format == FormatAuto && evtx.IsEVTX(magic)) {
		es, err := newEVTXSource(b2, &rd.opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rd.evtx, rd.format, rd.st.Format = es, FormatEVTX, FormatEVTX
		return rd, nil
	}
	if bom, _ := b2.Peek(2); len(bom) == 2 && (bom[0] == 0xff && bom[1] == 0xfe || bom[0] == 0xfe && bom[1] == 0xff) {
		big := bom[0] == 0xfe
		_, _ = b2.Discard(2)
		src = newUTF16Reader(b2, big)
	}
	rd.lines = newLineReader(src, opts.maxLine())
	head, _ = rd.lines.peek(8 << 10)
	format := opts.Format
	if format == FormatAuto {
		format = sniff(head, opts.Mapping)
	}
	if opts.Format == FormatAuto && format == FormatSyslog {
		// An image, an archive, a README or a web server's access log in
		// a folder of logs: one skipped input, not thousands of
		// "unparsed" lines.
		why := ""
		switch {
		case looksBinary(head):
			why = "binary content, not a log (skipped)"
		case !hasSyslogLine(head):
			why = "no syslog line in the first 8 KiB: not a log format firebreak reads (skipped; --input-format names one)"
		}
		if why != "" {
			rd.format, rd.st.Format, rd.binary = FormatSkipped, FormatSkipped, true
			rd.st.Lines, rd.st.Ignored = 1, 1 // the whole input is one record
			rd.st.programBytes([]byte(ProgramBinary)).Ignored++
			rd.st.Samples = append(rd.st.Samples, Sample{File: name, Line: 1, Reason: why, Text: sampleText(head[:min(len(head), 32)])})
			if opts.OnSkip != nil {
				opts.OnSkip(SkipNotALog, rd.st.Samples[len(rd.st.Samples)-1])
			}
			return rd, nil
		}
	}
	rd.format = format
	rd.pre = format == FormatSyslog && !opts.NoPrefilter
	rd.st.Name = name
	rd.st.Format = format
	switch format {
	case FormatSyslog:
		sp := newSyslogParser(&rd.opts, head)
		rd.p = sp
		rd.lines.ignore = func(line []byte) bool {
			prog, ok := sp.ignorable(line)
			if ok {
				rd.st.Lines++
				rd.st.Ignored++
				rd.progStats(prog).Ignored++
			}
			return ok
		}
	case FormatJournald:
		if isJournalExport(bytes.TrimLeft(head, " \t\r\n")) {
			rd.jexp = newExportSource(rd.lines, &rd.opts)
			return rd, nil
		}
		rd.p = newJournaldParser(&rd.opts)
	case FormatWindows:
		rd.p = newWindowsParser(&rd.opts)
	case FormatEntra:
		rd.p = newEntraParser(&rd.opts)
	case FormatOkta:
		rd.p = newOktaParser(&rd.opts)
	case FormatGeneric:
		if opts.Mapping == nil {
			return nil, fmt.Errorf("%s: %w", name, ErrNeedsMapping)
		}
		rd.p = newGenericParser(&rd.opts)
	case FormatXML:
		rd.xml = newXMLSource(rd.lines, &rd.opts)
		return rd, nil
	}
	if format != FormatSyslog && isJSONDocument(head) {
		rd.doc = newDocSplitter(rd.lines, opts.maxLine())
	}
	return rd, nil
}

// looksBinary reports whether an input's first bytes are not text: a NUL
// byte within the first 512 (UTF-16 was transcoded before) and a first line
// that is no syslog line. NUL padding later in a log (a crash while
// appending) does not make it binary.
func looksBinary(head []byte) bool {
	if bytes.IndexByte(head[:min(len(head), 512)], 0) < 0 {
		return false
	}
	first := skipPRI(head)
	first = bytes.TrimPrefix(first, []byte("1 ")) // RFC 5424 version
	rfc3339 := len(first) > 4 && first[0] >= '1' && first[0] <= '2' && first[4] == '-'
	return monthOf(first) == 0 && !rfc3339
}

// hasSyslogLine reports whether a line of head (an input's first bytes)
// starts like syslog: an RFC 3164 month, an RFC 3339 date or RFC 5424's
// version, after an optional <PRI>. An empty head has none to refuse.
func hasSyslogLine(head []byte) bool {
	if len(bytes.TrimSpace(head)) == 0 {
		return true
	}
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		line = bytes.TrimPrefix(skipPRI(bytes.TrimLeft(line, "\x00")), []byte("1 "))
		if monthOf(line) > 0 || (len(line) > 4 && line[0] >= '1' && line[0] <= '2' && line[4] == '-') {
			return true
		}
	}
	return false
}

// Format reports the input format in use.
func (r *Reader) Format() string { return r.format }

// Name reports the input's name.
func (r *Reader) Name() string { return r.name }

// Close closes the underlying file when the Reader opened it.
func (r *Reader) Close() error {
	if r.closer != nil {
		err := r.closer.Close()
		r.closer = nil
		return err
	}
	return nil
}

// Stats returns the counters so far.
func (r *Reader) Stats() Stats {
	s := r.st
	if r.evtx != nil {
		s.Bytes = r.evtx.cnt.n
	} else {
		s.Bytes = r.lines.bytes
	}
	s.Samples = append([]Sample(nil), r.st.Samples...)
	s.Programs = nil
	if r.st.Skipped > 0 {
		s.Programs = map[string]*ProgramStats{ProgramPrefiltered: {Ignored: r.st.Skipped}}
	}
	for name, p := range r.st.Programs {
		c := *p
		c.Samples = append([]Sample(nil), p.Samples...)
		if s.Programs == nil {
			s.Programs = make(map[string]*ProgramStats, len(r.st.Programs)+1)
		}
		s.Programs[name] = &c
	}
	return s
}

// Next fills ev with the next event. It returns io.EOF at the end of the
// input, or a read error. ev is reset first; its Fields map is reused, so
// callers that keep an event must copy it (including Fields).
func (r *Reader) Next(ev *event.Event) error {
	if r.binary {
		return io.EOF
	}
	if r.evtx != nil {
		return r.nextEVTX(ev)
	}
	if r.xml != nil {
		return r.nextXML(ev)
	}
	if r.jexp != nil {
		return r.nextExport(ev)
	}
	for {
		passes := false
		if r.pre && !r.opts.lineByLine {
			var n int64
			n, passes = r.lines.skipSyslog()
			r.st.Lines += n
			r.st.Ignored += n
			r.st.Skipped += n
		}
		rec, line, off, err := r.record()
		if err != nil {
			return err
		}
		if rec == nil { // too long, already counted
			continue
		}
		if len(rec) > 0 && rec[0] == 0 {
			rec = bytes.TrimLeft(rec, "\x00") // NUL padding a crash left before the next line
		}
		if r.pre && !passes && !syslogPrefilter(rec) {
			r.st.Lines++
			r.st.Ignored++
			r.st.Skipped++
			continue
		}
		r.st.Lines++
		ev.Reset()
		res, why := r.p.parse(rec, ev)
		var prog []byte
		if pp, ok := r.p.(programParser); ok {
			prog = pp.program()
		}
		switch res {
		case resEvent:
			r.st.Parsed++
			r.progStats(prog).Parsed++
			ev.File = r.name
			ev.Line = line
			ev.Offset = off
			if ev.Tenant == "" {
				r.assignTenant(ev)
			}
			return nil
		case resIgnored:
			r.st.Ignored++
			r.progStats(prog).Ignored++
		default:
			r.bad(line, why, rec)
			r.programBad(prog, line, why, rec)
		}
	}
}

// record returns the next record with its 1-based line number and byte
// offset. A nil record with nil error means a skipped (too long) record.
func (r *Reader) record() ([]byte, int64, int64, error) {
	if r.sub != nil {
		rec, _, err := r.sub.next()
		if err == nil {
			if rec == nil {
				r.tooLong(r.subLn, r.subOff+r.sub.recOff, r.sub.head)
			}
			return rec, r.subLn, r.subOff, nil
		}
		if err != io.EOF {
			r.st.Lines++
			r.bad(r.subLn, "bad JSON document: "+err.Error(), nil)
		}
		r.sub = nil
	}
	if r.doc != nil {
		rec, ln, err := r.doc.next()
		if err != nil {
			if err != io.EOF && !isReadErr(err) {
				r.st.Lines++
				r.bad(ln, "bad JSON document: "+err.Error(), nil)
				// the document is unusable past a syntax error; fall back to lines
				r.doc = nil
				return nil, 0, 0, nil
			}
			return nil, 0, 0, err
		}
		if rec == nil {
			r.tooLong(ln, r.doc.recOff, r.doc.head)
		}
		return rec, ln, r.doc.recOff, nil
	}
	line, err := r.lines.next()
	if err != nil {
		return nil, 0, 0, err
	}
	ln, off := r.lines.lineNo, r.lines.lineOff
	if line == nil {
		r.tooLong(ln, off, r.lines.longHead)
		return nil, ln, off, nil
	}
	if r.format != FormatSyslog && isWrapperLine(line) {
		r.sub = newDocSplitter(newLineReader(bytes.NewReader(line), r.opts.maxLine()+1), r.opts.maxLine())
		r.subLn, r.subOff = ln, off
		return nil, ln, off, nil
	}
	return line, ln, off, nil
}

type readErr struct{ err error }

func (e readErr) Error() string { return e.err.Error() }
func (e readErr) Unwrap() error { return e.err }

func isReadErr(err error) bool {
	var re readErr
	return errors.As(err, &re)
}

// recentProgram is one program name and its counters.
type recentProgram struct {
	name  []byte
	stats *ProgramStats
}

// progStats returns the counters of program name, remembering the last
// few programs met, so that the records of a handful of programs (a
// Windows log's event ids, interleaved) cost no map lookup.
func (r *Reader) progStats(name []byte) *ProgramStats {
	for i := range r.recent {
		if c := &r.recent[i]; c.stats != nil && string(name) == string(c.name) {
			return c.stats
		}
	}
	p := r.st.programBytes(name)
	c := &r.recent[r.nextRecent]
	c.name, c.stats = append(c.name[:0], name...), p
	r.nextRecent = (r.nextRecent + 1) % len(r.recent)
	return p
}

// programParser is implemented by parsers that know which program wrote
// the last record (syslog tag, journald identifier, Windows event id).
type programParser interface {
	program() []byte
}

func (r *Reader) programBad(prog []byte, line int64, why string, rec []byte) {
	p := r.progStats(prog)
	p.Unparsed++
	if len(p.Samples) < maxProgramSamples {
		if why == "" {
			why = "unrecognised record"
		}
		p.Samples = append(p.Samples, Sample{File: r.name, Line: line, Reason: why, Text: sampleText(rec)})
	}
}

// Kinds of Options.OnSkip.
const (
	SkipNotALog  = "not_a_log" // a whole input: binary, or no log format firebreak reads
	SkipUnparsed = "unparsed"  // a record that did not parse, was damaged or too long
	SkipWarning  = "warning"   // damage that lost no record (.evtx checksum, truncated chunk)
	// SkipNotRead: a path of a followed folder not read (WalkDir's
	// skipped: a link in a loop or to what was read already, a dangling
	// link, an unreadable folder, not a regular file); Sample.Line is 0.
	SkipNotRead = "not_read"
)

func (r *Reader) warn(line int64, why string) {
	s := Sample{File: r.name, Line: line, Reason: "warning: " + why}
	if len(r.st.Samples) < r.opts.maxSamples() {
		r.st.Samples = append(r.st.Samples, s)
	}
	if r.opts.OnSkip != nil {
		r.opts.OnSkip(SkipWarning, s)
	}
}

// tooLong counts a record longer than the limit, skipped: line is its
// line or record number, off the byte offset it starts at, head its start.
func (r *Reader) tooLong(line, off int64, head []byte) {
	r.st.Lines++
	r.st.TooLong++
	r.bad(line, fmt.Sprintf("record longer than %d bytes skipped (at byte %d)", r.opts.maxLine(), off), head)
}

func (r *Reader) bad(line int64, why string, rec []byte) {
	r.st.Unparsed++
	full := len(r.st.Samples) >= r.opts.maxSamples()
	if full && r.opts.OnSkip == nil {
		return
	}
	if why == "" {
		why = "unrecognised record"
	}
	s := Sample{File: r.name, Line: line, Reason: why, Text: sampleText(rec)}
	if !full {
		r.st.Samples = append(r.st.Samples, s)
	}
	if r.opts.OnSkip != nil {
		r.opts.OnSkip(SkipUnparsed, s)
	}
}

func sampleText(b []byte) string {
	if len(b) > maxSampleText {
		b = b[:maxSampleText]
	}
	return string(bytes.ToValidUTF8(b, []byte(string(utf8.RuneError))))
}

func (r *Reader) assignTenant(ev *event.Event) {
	if r.opts.Tenant != "" {
		ev.Tenant = r.opts.Tenant
		return
	}
	if r.opts.TenantMap != nil {
		if r.tenants.m != r.opts.TenantMap {
			r.tenants = hostTenants{m: r.opts.TenantMap}
		}
		ev.Tenant = r.tenants.lookup(ev)
	}
	if ev.Tenant == "" {
		ev.Tenant = IdentityProviderTenant(ev)
	}
}

// IdentityProviderTenant is the tenant an event names itself when no
// --tenant or tenant map assigns one: the Entra tenant GUID of a sign-in
// (tenantId), or for Okta, whose System Log carries no org id, the domain
// of the actor's login (one Okta org per customer domain). It is "" for
// other sources. With it, sign-ins of three Entra tenants stay three
// tenants out of the box, so cross-tenant rules work without a map.
func IdentityProviderTenant(ev *event.Event) string {
	switch ev.Dataset {
	case datasetEntra:
		return ev.Fields["tenantId"]
	case datasetOkta:
		return ev.UserDomain
	}
	return ""
}

// sniff guesses the format from the first bytes of the input.
func sniff(head []byte, m *Mapping) string {
	t := bytes.TrimLeft(head, " \t\r\n\ufeff")
	t = bytes.TrimPrefix(t, []byte("\xef\xbb\xbf"))
	t = bytes.TrimLeft(t, " \t\r\n")
	if bytes.HasPrefix(t, []byte("<?xml")) || bytes.HasPrefix(t, []byte("<Event")) {
		return FormatXML
	}
	if isJournalExport(t) {
		return FormatJournald // journalctl -o export
	}
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return FormatSyslog
	}
	has := func(s string) bool { return bytes.Contains(t, []byte(s)) }
	switch {
	case has(`"__REALTIME_TIMESTAMP"`) || has(`"_SYSTEMD_UNIT"`) || has(`"SYSLOG_IDENTIFIER"`):
		return FormatJournald
	case has(`"eventType"`) && (has(`"actor"`) || has(`"published"`)):
		return FormatOkta
	case has(`"createdDateTime"`) || has(`"SignInLogs"`) || has(`"NonInteractiveUserSignInLogs"`) ||
		has(`"userPrincipalName"`) || has(`"signIns"`) || has(`"signInEventTypes"`):
		return FormatEntra
	case has(`"winlog"`) || has(`"EventID"`) || has(`"EventId"`) || has(`"TargetUserName"`) ||
		has(`"Microsoft-Windows-Security-Auditing"`) || (has(`"Id"`) && has(`"TimeCreated"`)):
		return FormatWindows
	}
	if m != nil {
		return FormatGeneric
	}
	return FormatGeneric
}

// gzipGuard ends a damaged gzip stream (truncated, failed checksum) as its
// end, counting the damage unparsed with the line it reached, so the lines
// before it are read and the input is not fatal (detect reads on).
type gzipGuard struct {
	r  io.Reader
	rd *Reader
	n  int64
}

func (g *gzipGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.n += int64(n)
	if err != nil && err != io.EOF {
		g.rd.bad(g.rd.st.Lines+1, fmt.Sprintf("compressed data damaged after %d bytes: %v; the rest skipped", g.n, err), nil)
		return n, io.EOF
	}
	return n, err
}
