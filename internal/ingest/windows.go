package ingest

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

const datasetWindows = "windows.security"

// Windows event data fields the parser collects.
const (
	wTargetUserName = iota
	wTargetDomainName
	wSubjectUserName
	wSubjectDomainName
	wIpAddress
	wIpPort
	wStatus
	wSubStatus
	wLogonType
	wWorkstationName
	wWorkstation
	wLogonProcessName
	wAuthPackage
	wServiceName
	wTargetServerName
	wProcessName
	wFailureReason
	wPreAuthType
	nWinFields
)

var winFieldNames = [nWinFields]string{
	"TargetUserName", "TargetDomainName", "SubjectUserName", "SubjectDomainName", "IpAddress", "IpPort",
	"Status", "SubStatus", "LogonType", "WorkstationName", "Workstation", "LogonProcessName",
	"AuthenticationPackageName", "ServiceName", "TargetServerName", "ProcessName", "FailureReason", "PreAuthType",
}

// positional EventData layouts for Get-WinEvent's Properties array.
var winPositions = map[int][]int{
	4624: {-1, wSubjectUserName, wSubjectDomainName, -1, -1, wTargetUserName, wTargetDomainName, -1, wLogonType, wLogonProcessName, wAuthPackage, wWorkstationName, -1, -1, -1, -1, -1, wProcessName, wIpAddress, wIpPort},
	4625: {-1, wSubjectUserName, wSubjectDomainName, -1, -1, wTargetUserName, wTargetDomainName, wStatus, wFailureReason, wSubStatus, wLogonType, wLogonProcessName, wAuthPackage, wWorkstationName, -1, -1, -1, -1, wProcessName, wIpAddress, wIpPort},
	4648: {-1, wSubjectUserName, wSubjectDomainName, -1, -1, wTargetUserName, wTargetDomainName, -1, wTargetServerName, -1, -1, wProcessName, wIpAddress, wIpPort},
	4740: {wTargetUserName, wTargetDomainName, -1, -1, wSubjectUserName, wSubjectDomainName},
	4771: {wTargetUserName, -1, wServiceName, -1, wStatus, wPreAuthType, wIpAddress, wIpPort},
	4776: {-1, wTargetUserName, wWorkstation, wStatus},
}

const maxProps = 24

type windowsParser struct {
	opts  *Options
	loc   *time.Location
	w     jsonWalker
	strs  *interner
	cache *strCache // per field slot, then wSlotHost
	paths *pathTable
	visit func(path, val []byte, kind byte)

	// per record
	ev       *event.Event
	id       int
	vals     [nWinFields][]byte
	has      [nWinFields]bool
	props    [maxProps][]byte
	nprops   int
	host     []byte
	hostPri  int
	ts       time.Time
	tsPri    int
	channel  []byte
	provider []byte
	message  []byte
}

// Path ids of the non-event-data fields (event data fields use their
// w* index).
const (
	wpID = 100 + iota
	wpTime3
	wpTime2
	wpTime1
	wpHost3
	wpHost2
	wpChannel
	wpProvider
	wpMessage

	wSlotHost = nWinFields // strCache slot of the host name
)

// winPaths lists every path the parser reads: event data as
// winlog.event_data.X, Event.EventData.X, EventData.X, event_data.X,
// Event.EventData.Data.X or top-level X (NXLog), then the system fields.
func winPaths() map[string]int {
	m := map[string]int{}
	for f, name := range winFieldNames {
		m[name] = f
		for _, prefix := range []string{"winlog.event_data", "Event.EventData", "EventData", "event_data", "Event.EventData.Data"} {
			m[prefix+"."+name] = f
		}
	}
	add := func(id int, paths ...string) {
		for _, k := range paths {
			if _, dup := m[k]; !dup {
				m[k] = id
			}
		}
	}
	add(wpID, "winlog.event_id", "EventID", "EventId", "Id", "event_id", "Event.System.EventID", "EventID.#text", "Event.System.EventID.#text", "event.code")
	add(wpTime3, "@timestamp", "TimeCreated", "Event.System.TimeCreated.#attributes.SystemTime", "Event.System.TimeCreated.SystemTime", "TimeCreated.SystemTime")
	add(wpTime2, "EventTime", "timestamp", "TimeGenerated")
	add(wpTime1, "EventReceivedTime")
	add(wpHost3, "winlog.computer_name", "Hostname", "MachineName", "Computer", "Event.System.Computer", "computer_name")
	add(wpHost2, "host.name", "host.hostname", "agent.hostname")
	add(wpChannel, "winlog.channel", "Channel", "LogName", "Event.System.Channel")
	add(wpProvider, "winlog.provider_name", "ProviderName", "SourceName", "Event.System.Provider.#attributes.Name")
	add(wpMessage, "message", "Message", "Event.RenderingInfo.Message")
	return m
}

func newWindowsParser(o *Options) recordParser {
	p := &windowsParser{opts: o, loc: o.loc(), strs: newInterner(1 << 16), paths: newPathTable(winPaths())}
	p.cache = newStrCache(nWinFields+1, p.strs)
	// source addresses: tens of thousands of distinct values whose map
	// lookups miss the CPU caches; copying is cheaper
	p.cache.noIntern = make([]bool, nWinFields+1)
	p.cache.noIntern[wIpAddress] = true
	p.visit = p.field
	return p
}

func (p *windowsParser) setVal(i int, v []byte) {
	if p.has[i] {
		return
	}
	p.has[i] = true
	p.vals[i] = append(p.vals[i][:0], v...)
}

func (p *windowsParser) setTime(pri int, v []byte) {
	if pri <= p.tsPri {
		return
	}
	if t, ok := parseTimeValue(v, p.loc); ok {
		p.ts, p.tsPri = t, pri
	}
}

func (p *windowsParser) setHost(pri int, v []byte) {
	if pri <= p.hostPri || len(v) == 0 {
		return
	}
	p.host = append(p.host[:0], v...)
	p.hostPri = pri
}

func (p *windowsParser) setID(v []byte) {
	if p.id != 0 {
		return
	}
	if n, ok := atoi(v); ok {
		p.id = n
	}
}

// field receives every scalar of the record.
func (p *windowsParser) field(path, val []byte, kind byte) {
	if kind == kNull {
		return
	}
	switch id := p.paths.lookup(path); {
	case id >= 0 && id < nWinFields:
		p.setVal(id, val)
	case id == wpID:
		p.setID(val)
	case id == wpTime3:
		p.setTime(3, val)
	case id == wpTime2:
		p.setTime(2, val)
	case id == wpTime1:
		p.setTime(1, val)
	case id == wpHost3:
		p.setHost(3, val)
	case id == wpHost2:
		p.setHost(2, val)
	case id == wpChannel:
		p.channel = append(p.channel[:0], val...)
	case id == wpProvider:
		p.provider = append(p.provider[:0], val...)
	case id == wpMessage:
		p.message = append(p.message[:0], val...)
	case len(path) > len("Properties.") && path[0] == 'P':
		// Get-WinEvent: Properties.N.Value
		if rest, ok := cutPrefix(path, "Properties."); ok {
			dot := bytes.IndexByte(rest, '.')
			if dot > 0 && string(rest[dot+1:]) == "Value" {
				if n, ok := atoi(rest[:dot]); ok && n < maxProps {
					p.props[n] = append(p.props[n][:0], val...)
					if n+1 > p.nprops {
						p.nprops = n + 1
					}
				}
			}
		}
	}
}

func (p *windowsParser) reset(ev *event.Event) {
	p.ev = ev
	p.id = 0
	p.has = [nWinFields]bool{}
	p.nprops = 0
	p.host = p.host[:0]
	p.hostPri = 0
	p.ts = time.Time{}
	p.tsPri = 0
	p.channel = p.channel[:0]
	p.provider = p.provider[:0]
	p.message = p.message[:0]
}

func (p *windowsParser) parse(rec []byte, ev *event.Event) (result, string) {
	if len(bytes.TrimSpace(rec)) == 0 {
		return resIgnored, ""
	}
	p.reset(ev)
	if err := p.w.walk(rec, p.visit); err != nil {
		return resBad, err.Error()
	}
	if p.id == 0 {
		return resBad, "no event id"
	}
	if len(p.channel) > 0 && !bytes.EqualFold(p.channel, []byte("Security")) {
		return resIgnored, ""
	}
	if !isWinAuthID(p.id) {
		return resIgnored, ""
	}
	pos := winPositions[p.id]
	for i := 0; i < p.nprops && i < len(pos); i++ {
		if f := pos[i]; f >= 0 {
			p.setVal(f, p.props[i])
		}
	}
	if p.ts.IsZero() {
		return resBad, "no timestamp"
	}
	ev.Timestamp = p.ts
	ev.Dataset = datasetWindows
	ev.Category = catAuth
	ev.Code = winCode(p.id)
	ev.HostName = p.cache.get(wSlotHost, p.host)
	ev.SetField("EventID", ev.Code)
	if len(p.message) > 0 {
		ev.Message = string(p.message)
	}
	for i := range nWinFields {
		if i == wIpPort || i == wFailureReason {
			continue // in SourcePort / Reason already
		}
		if v := p.val(i); len(v) > 0 {
			ev.SetField(winFieldNames[i], p.cache.get(i, v))
		}
	}
	ev.UserName = p.str(wTargetUserName)
	if p.id != 4740 { // 4740's TargetDomainName is the caller computer
		ev.UserDomain = p.str(wTargetDomainName)
	}
	if ip := p.val(wIpAddress); len(ip) > 0 {
		if a, ok := parseIP(ip); ok {
			ev.SourceIP = a
		}
	}
	if port, ok := atoi(p.val(wIpPort)); ok && port > 0 {
		ev.SourcePort = port
	}
	status := p.normStatus(wStatus)
	sub := p.normStatus(wSubStatus)
	switch p.id {
	case 4624:
		ev.Action, ev.Outcome = "logged-in", event.OutcomeSuccess
	case 4625:
		ev.Action, ev.Outcome = "logon-failed", event.OutcomeFailure
		ev.Reason = ntStatusReason(sub)
		if ev.Reason == "" || ev.Reason == ReasonOther {
			if r := ntStatusReason(status); r != "" {
				ev.Reason = r
			}
		}
		if ev.Reason == "" {
			ev.Reason = ReasonBadPassword
		}
	case 4648:
		ev.Action, ev.Outcome = "logged-in-explicit", event.OutcomeSuccess
	case 4740:
		ev.Category = "iam"
		ev.Action, ev.Outcome, ev.Reason = "user-account-locked", event.OutcomeUnknown, ReasonLocked
	case 4771:
		ev.Action, ev.Outcome = "kerberos-preauth-failed", event.OutcomeFailure
		ev.Reason = kerberosReason(status)
	case 4776:
		if isZeroStatus(status) {
			ev.Action, ev.Outcome = "credential-validated", event.OutcomeSuccess
		} else {
			ev.Action, ev.Outcome = "credential-validation-failed", event.OutcomeFailure
			ev.Reason = ntStatusReason(status)
			if ev.Reason == "" {
				ev.Reason = ReasonOther
			}
		}
	}
	return resEvent, ""
}

// normStatus turns a decimal NTSTATUS (Get-WinEvent gives -1073741715)
// into the usual 0x-hex form, in place.
func (p *windowsParser) normStatus(i int) []byte {
	v := p.val(i)
	if len(v) == 0 || (len(v) > 1 && v[1] == 'x') || (len(v) > 1 && v[1] == 'X') {
		return v
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return v
	}
	p.vals[i] = fmt.Appendf(p.vals[i][:0], "0x%x", uint32(n))
	if p.ev.Fields != nil {
		p.ev.Fields[winFieldNames[i]] = p.cache.get(i, p.vals[i])
	}
	return p.vals[i]
}

func (p *windowsParser) val(i int) []byte {
	if !p.has[i] {
		return nil
	}
	v := p.vals[i]
	if len(v) == 1 && v[0] == '-' {
		return nil
	}
	return v
}

// str returns field i as a shared string ("" when absent or "-").
func (p *windowsParser) str(i int) string {
	v := p.val(i)
	if len(v) == 0 {
		return ""
	}
	return p.cache.get(i, v)
}

func isWinAuthID(id int) bool {
	switch id {
	case 4624, 4625, 4648, 4740, 4771, 4776:
		return true
	}
	return false
}

func winCode(id int) string {
	switch id {
	case 4624:
		return "4624"
	case 4625:
		return "4625"
	case 4648:
		return "4648"
	case 4740:
		return "4740"
	case 4771:
		return "4771"
	case 4776:
		return "4776"
	}
	return string(appendInt(nil, id))
}

// lower16 lower-cases up to 16 ASCII bytes into buf.
func lower16(buf *[16]byte, s []byte) []byte {
	n := copy(buf[:], s)
	for i := range n {
		if c := buf[i]; c >= 'A' && c <= 'Z' {
			buf[i] = c + 32
		}
	}
	return buf[:n]
}

func isZeroStatus(s []byte) bool {
	var buf [16]byte
	switch string(lower16(&buf, s)) {
	case "0x0", "0", "0x00000000", "":
		return true
	}
	return false
}

// ntStatusReason maps an NTSTATUS (4625 Status/SubStatus, 4776 Status) to a
// reason; "" for the generic 0xC000006D/0xC000006E and unknown input.
func ntStatusReason(s []byte) string {
	if len(s) < 3 {
		return ""
	}
	var buf [16]byte
	switch string(lower16(&buf, s)) {
	case "0xc000006a":
		return ReasonBadPassword
	case "0xc0000064":
		return ReasonUnknownUser
	case "0xc0000234":
		return ReasonLocked
	case "0xc0000072":
		return ReasonDisabled
	case "0xc0000071", "0xc0000224":
		return ReasonPasswordExpired
	case "0xc0000193":
		return ReasonAccountExpired
	case "0xc000006f", "0xc0000070", "0xc000015b", "0xc0000413":
		return ReasonBlocked
	case "0xc0000133", "0xc0000371", "0xc000018c", "0xc000005e":
		return ReasonOther
	case "0xc000006d", "0xc000006e", "0x0":
		return ""
	}
	return ReasonOther
}

// kerberosReason maps a 4771 Kerberos failure code.
func kerberosReason(s []byte) string {
	var buf [16]byte
	switch string(lower16(&buf, s)) {
	case "0x18":
		return ReasonBadPassword
	case "0x6":
		return ReasonUnknownUser
	case "0x12":
		return ReasonLocked // revoked: disabled, expired or locked
	case "0x17":
		return ReasonPasswordExpired
	case "0x25":
		return ReasonOther // clock skew
	}
	return ReasonOther
}
