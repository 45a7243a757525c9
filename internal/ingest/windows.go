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
	wTicketOptions
	wTicketEncryptionType
	wTargetSid
	wTargetUserSid
	wSubjectUserSid
	wTargetLogonID
	wPrivilegeList
	wPackageName
	wKeyLength // 4624/4625: 0 for an NTLM logon without session key (pass the hash)
	nWinFields
)

var winFieldNames = [nWinFields]string{
	"TargetUserName", "TargetDomainName", "SubjectUserName", "SubjectDomainName", "IpAddress", "IpPort",
	"Status", "SubStatus", "LogonType", "WorkstationName", "Workstation", "LogonProcessName",
	"AuthenticationPackageName", "ServiceName", "TargetServerName", "ProcessName", "FailureReason", "PreAuthType",
	"TicketOptions", "TicketEncryptionType", "TargetSid", "TargetUserSid", "SubjectUserSid", "TargetLogonId", "PrivilegeList", "PackageName",
	"KeyLength",
}

// positional EventData layouts for Get-WinEvent's Properties array.
var winPositions = map[int][]int{
	4624: {-1, wSubjectUserName, wSubjectDomainName, -1, -1, wTargetUserName, wTargetDomainName, -1, wLogonType, wLogonProcessName, wAuthPackage, wWorkstationName, -1, -1, -1, wKeyLength, -1, wProcessName, wIpAddress, wIpPort},
	4625: {-1, wSubjectUserName, wSubjectDomainName, -1, -1, wTargetUserName, wTargetDomainName, wStatus, wFailureReason, wSubStatus, wLogonType, wLogonProcessName, wAuthPackage, wWorkstationName, -1, -1, wKeyLength, -1, wProcessName, wIpAddress, wIpPort},
	4648: {-1, wSubjectUserName, wSubjectDomainName, -1, -1, wTargetUserName, wTargetDomainName, -1, wTargetServerName, -1, -1, wProcessName, wIpAddress, wIpPort},
	4740: {wTargetUserName, wTargetDomainName, wTargetSid, wSubjectUserSid, wSubjectUserName, wSubjectDomainName},
	4767: {wTargetUserName, wTargetDomainName, wTargetSid, wSubjectUserSid, wSubjectUserName, wSubjectDomainName},
	4768: {wTargetUserName, wTargetDomainName, wTargetSid, wServiceName, -1, wTicketOptions, wStatus, wTicketEncryptionType, wPreAuthType, wIpAddress, wIpPort},
	4769: {wTargetUserName, wTargetDomainName, wServiceName, -1, wTicketOptions, wTicketEncryptionType, wIpAddress, wIpPort, wStatus},
	4771: {wTargetUserName, wTargetSid, wServiceName, wTicketOptions, wStatus, wPreAuthType, wIpAddress, wIpPort},
	4776: {wPackageName, wTargetUserName, wWorkstation, wStatus},
	4634: {wTargetUserSid, wTargetUserName, wTargetDomainName, wTargetLogonID, wLogonType},
	4647: {wTargetUserSid, wTargetUserName, wTargetDomainName, wTargetLogonID},
	4672: {wSubjectUserSid, wSubjectUserName, wSubjectDomainName, -1, wPrivilegeList},
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
	wanted   [winIDSpan]int8 // Options.Wanted per event id (skip): 0 not asked yet, 1 yes, -1 no
	provider []byte
	foreign  bool // a Security-channel record of another provider (program names it)
	message  []byte
	prog     []byte
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
	add(wpProvider, "winlog.provider_name", "event.provider", "ProviderName", "SourceName", "Event.System.Provider.#attributes.Name", "Event.System.Provider.Name")
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
	p.foreign = false
	p.message = p.message[:0]
}

func (p *windowsParser) parse(rec []byte, ev *event.Event) (result, string) {
	if len(bytes.TrimSpace(rec)) == 0 {
		return resIgnored, ""
	}
	p.reset(ev)
	if p.opts.Wanted != nil && p.skip(rec) {
		return resIgnored, ""
	}
	if err := p.w.walk(rec, p.visit); err != nil {
		return resBad, err.Error()
	}
	return p.finish(ev)
}

// evtxVisit receives the values of a binary .evtx record (paths as the
// rendered XML's: Event.System.EventID, Event.EventData.TargetUserName).
func (p *windowsParser) evtxVisit(path, val []byte) { p.field(path, val, kString) }

// evtxWant tells the .evtx reader which values to render.
func (p *windowsParser) evtxWant(path string) bool { return p.paths.lookup([]byte(path)) >= 0 }

// finish turns the collected fields into the event.
func (p *windowsParser) finish(ev *event.Event) (result, string) {
	if p.id == 0 {
		return resBad, "no event id"
	}
	if len(p.channel) > 0 && !bytes.EqualFold(p.channel, []byte("Security")) {
		return resIgnored, ""
	}
	info := winInfoOf(p.id)
	if info == nil || p.opts.Wanted != nil && !p.want(p.id) {
		// not an authentication event, or one no loaded rule reads: the
		// same answer for every Windows form (skip and the XML reader only
		// give it before decoding)
		return resIgnored, ""
	}
	if len(p.provider) > 0 && !bytes.EqualFold(p.provider, securityAuditing) {
		// Any process holding SeAuditPrivilege may register an event
		// source and write records of any event id into the Security
		// log; only the auditing provider's are logons.
		p.foreign = true
		return resIgnored, ""
	}
	pos := info.pos
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
	ev.Code = info.code
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
	switch p.id {
	case 4740: // TargetDomainName is the caller computer
	case 4672: // the subject is the account that logged on
		ev.UserName = p.str(wSubjectUserName)
		ev.UserDomain = p.str(wSubjectDomainName)
	default:
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
	// What the id fixes (winShapes), then what depends on the record.
	sh := info.shape
	ev.Category, ev.Action, ev.Outcome, ev.Reason = sh.category, sh.action, sh.outcome, sh.reason
	switch p.id {
	case 4625:
		ev.Reason = ntStatusReason(sub)
		if ev.Reason == "" || ev.Reason == ReasonOther {
			if r := ntStatusReason(status); r != "" {
				ev.Reason = r
			}
		}
		if ev.Reason == "" {
			ev.Reason = ReasonBadPassword
		}
	case 4768:
		p.kerberosOutcome(ev, status)
	case 4769:
		p.kerberosOutcome(ev, status)
		if ev.Outcome == event.OutcomeSuccess {
			ev.Outcome = event.OutcomeUnknown // uses a TGT; the password was checked at 4768
		}
	case 4771:
		p.kerberosOutcome(ev, status)
		if ev.Outcome == event.OutcomeSuccess { // 4771 is only logged for failures
			ev.Outcome, ev.Reason = event.OutcomeFailure, ReasonOther
		}
	case 4776:
		if isZeroStatus(status) {
			ev.Action, ev.Outcome = "credential-validated", event.OutcomeSuccess
		} else {
			ev.Action, ev.Outcome = "credential-validation-failed", event.OutcomeFailure
			ev.Reason = ntStatusReason(status)
			if ev.Reason == "" {
				ev.Reason = ReasonBadPassword // 0xC000006D/6E without detail
			}
		}
	}
	return resEvent, ""
}

// kerberosOutcome sets outcome and reason from a KDC result code.
func (p *windowsParser) kerberosOutcome(ev *event.Event, status []byte) {
	if isZeroStatus(status) {
		ev.Outcome = event.OutcomeSuccess
		return
	}
	kc, ok := kerberosCode(status)
	if !ok {
		ev.Outcome, ev.Reason = event.OutcomeFailure, ReasonOther
		return
	}
	ev.Outcome, ev.Reason = kc.outcome, kc.reason
	ev.SetField("StatusName", kc.name)
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

// winInfo is what the parser needs of one event id it parses, gathered
// from winShapes and winPositions so that a record costs one
// lookup in an array instead of one per map.
type winInfo struct {
	shape winShape
	code  string
	pos   []int
	prog  []byte // the program it is counted under: "Security 4624"
}

// The ids parsed lie in [winIDMin, winIDMin+winIDSpan).
const (
	winIDMin  = 4624
	winIDSpan = 4776 - winIDMin + 1
)

var winInfos = func() (t [winIDSpan]*winInfo) {
	for id, sh := range winShapes {
		t[id-winIDMin] = &winInfo{shape: sh, code: strconv.Itoa(id), pos: winPositions[id], prog: appendInt([]byte("Security "), id)}
	}
	return t
}()

// winInfoOf returns what the parser knows of event id id (nil: an id it
// does not parse).
func winInfoOf(id int) *winInfo {
	if id < winIDMin || id >= winIDMin+winIDSpan {
		return nil
	}
	return winInfos[id-winIDMin]
}

// winShape is what a Windows event id alone says about its event: the
// category, action, outcome and reason finish gives every event of that
// id ("" where it depends on the record). Wanted filters see it before a
// record is decoded (see windowsParser.skip).
type winShape struct {
	category, action, outcome, reason string
	fixed                             bool // action, outcome and reason are the same for every record of the id
}

// winShapes holds the ids parsed. Outcome "success" marks a verified
// credential (4624 logon, 4768 TGT, 4776 NTLM validation, 4648 explicit
// credentials); companions of a logon (4672, 4634/4647 logoff, 4769
// service tickets on an existing TGT, 4767 unlock) are "unknown" so that
// no rule counts one logon twice. Outcome "failure" marks a failed
// credential check.
var winShapes = map[int]winShape{
	4624: {catAuth, "logged-in", event.OutcomeSuccess, "", true},
	4625: {catAuth, "logon-failed", event.OutcomeFailure, "", false},
	4634: {catAuth, "logged-out", event.OutcomeUnknown, "", true},
	4647: {catAuth, "logged-out", event.OutcomeUnknown, "", true},
	4648: {catAuth, "logged-in-explicit", event.OutcomeSuccess, "", true},
	4672: {catAuth, "logged-in-special", event.OutcomeUnknown, "", true},
	4740: {"iam", "user-account-locked", event.OutcomeUnknown, ReasonLocked, true},
	4767: {"iam", "user-account-unlocked", event.OutcomeUnknown, "", true},
	4768: {catAuth, "kerberos-authentication-ticket-requested", "", "", false},
	4769: {catAuth, "kerberos-service-ticket-requested", "", "", false},
	4771: {catAuth, "kerberos-preauth-failed", "", "", false},
	4776: {catAuth, "", "", "", false},
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

type kerbCode struct {
	name    string
	outcome string
	reason  string
}

// kerberosCodes maps every KDC result code (RFC 4120 section 7.5.9 and
// Microsoft's additions, as logged in 4768/4769/4771 Status) to an ECS
// outcome and reason. KDC_ERR_PREAUTH_REQUIRED is a normal step of the
// protocol, not a failed credential, hence "unknown".
var kerberosCodes = map[uint32]kerbCode{
	0x1:  {"KDC_ERR_NAME_EXP", event.OutcomeFailure, ReasonAccountExpired},
	0x2:  {"KDC_ERR_SERVICE_EXP", event.OutcomeFailure, ReasonOther},
	0x3:  {"KDC_ERR_BAD_PVNO", event.OutcomeFailure, ReasonOther},
	0x4:  {"KDC_ERR_C_OLD_MAST_KVNO", event.OutcomeFailure, ReasonOther},
	0x5:  {"KDC_ERR_S_OLD_MAST_KVNO", event.OutcomeFailure, ReasonOther},
	0x6:  {"KDC_ERR_C_PRINCIPAL_UNKNOWN", event.OutcomeFailure, ReasonUnknownUser},
	0x7:  {"KDC_ERR_S_PRINCIPAL_UNKNOWN", event.OutcomeFailure, ReasonOther},
	0x8:  {"KDC_ERR_PRINCIPAL_NOT_UNIQUE", event.OutcomeFailure, ReasonOther},
	0x9:  {"KDC_ERR_NULL_KEY", event.OutcomeFailure, ReasonOther},
	0xa:  {"KDC_ERR_CANNOT_POSTDATE", event.OutcomeFailure, ReasonOther},
	0xb:  {"KDC_ERR_NEVER_VALID", event.OutcomeFailure, ReasonOther},
	0xc:  {"KDC_ERR_POLICY", event.OutcomeFailure, ReasonBlocked},
	0xd:  {"KDC_ERR_BADOPTION", event.OutcomeFailure, ReasonOther},
	0xe:  {"KDC_ERR_ETYPE_NOTSUPP", event.OutcomeFailure, ReasonOther},
	0xf:  {"KDC_ERR_SUMTYPE_NOSUPP", event.OutcomeFailure, ReasonOther},
	0x10: {"KDC_ERR_PADATA_TYPE_NOSUPP", event.OutcomeFailure, ReasonOther},
	0x11: {"KDC_ERR_TRTYPE_NO_SUPP", event.OutcomeFailure, ReasonOther},
	0x12: {"KDC_ERR_CLIENT_REVOKED", event.OutcomeFailure, ReasonLocked}, // disabled, expired or locked out
	0x13: {"KDC_ERR_SERVICE_REVOKED", event.OutcomeFailure, ReasonOther},
	0x14: {"KDC_ERR_TGT_REVOKED", event.OutcomeFailure, ReasonOther},
	0x15: {"KDC_ERR_CLIENT_NOTYET", event.OutcomeFailure, ReasonOther},
	0x16: {"KDC_ERR_SERVICE_NOTYET", event.OutcomeFailure, ReasonOther},
	0x17: {"KDC_ERR_KEY_EXPIRED", event.OutcomeFailure, ReasonPasswordExpired},
	0x18: {"KDC_ERR_PREAUTH_FAILED", event.OutcomeFailure, ReasonBadPassword},
	0x19: {"KDC_ERR_PREAUTH_REQUIRED", event.OutcomeUnknown, ReasonOther},
	0x1a: {"KDC_ERR_SERVER_NOMATCH", event.OutcomeFailure, ReasonOther},
	0x1b: {"KDC_ERR_MUST_USE_USER2USER", event.OutcomeFailure, ReasonOther},
	0x1c: {"KDC_ERR_PATH_NOT_ACCEPTED", event.OutcomeFailure, ReasonOther},
	0x1d: {"KDC_ERR_SVC_UNAVAILABLE", event.OutcomeFailure, ReasonOther},
	0x1f: {"KRB_AP_ERR_BAD_INTEGRITY", event.OutcomeFailure, ReasonOther},
	0x20: {"KRB_AP_ERR_TKT_EXPIRED", event.OutcomeFailure, ReasonOther},
	0x21: {"KRB_AP_ERR_TKT_NYV", event.OutcomeFailure, ReasonOther},
	0x22: {"KRB_AP_ERR_REPEAT", event.OutcomeFailure, ReasonOther},
	0x23: {"KRB_AP_ERR_NOT_US", event.OutcomeFailure, ReasonOther},
	0x24: {"KRB_AP_ERR_BADMATCH", event.OutcomeFailure, ReasonOther},
	0x25: {"KRB_AP_ERR_SKEW", event.OutcomeFailure, ReasonOther},
	0x26: {"KRB_AP_ERR_BADADDR", event.OutcomeFailure, ReasonOther},
	0x27: {"KRB_AP_ERR_BADVERSION", event.OutcomeFailure, ReasonOther},
	0x28: {"KRB_AP_ERR_MSG_TYPE", event.OutcomeFailure, ReasonOther},
	0x29: {"KRB_AP_ERR_MODIFIED", event.OutcomeFailure, ReasonOther},
	0x2a: {"KRB_AP_ERR_BADORDER", event.OutcomeFailure, ReasonOther},
	0x2c: {"KRB_AP_ERR_BADKEYVER", event.OutcomeFailure, ReasonOther},
	0x2d: {"KRB_AP_ERR_NOKEY", event.OutcomeFailure, ReasonOther},
	0x2e: {"KRB_AP_ERR_MUT_FAIL", event.OutcomeFailure, ReasonOther},
	0x2f: {"KRB_AP_ERR_BADDIRECTION", event.OutcomeFailure, ReasonOther},
	0x30: {"KRB_AP_ERR_METHOD", event.OutcomeFailure, ReasonOther},
	0x31: {"KRB_AP_ERR_BADSEQ", event.OutcomeFailure, ReasonOther},
	0x32: {"KRB_AP_ERR_INAPP_CKSUM", event.OutcomeFailure, ReasonOther},
	0x33: {"KRB_AP_PATH_NOT_ACCEPTED", event.OutcomeFailure, ReasonOther},
	0x34: {"KRB_ERR_RESPONSE_TOO_BIG", event.OutcomeFailure, ReasonOther},
	0x3c: {"KRB_ERR_GENERIC", event.OutcomeFailure, ReasonOther},
	0x3d: {"KRB_ERR_FIELD_TOOLONG", event.OutcomeFailure, ReasonOther},
	0x3e: {"KDC_ERR_CLIENT_NOT_TRUSTED", event.OutcomeFailure, ReasonOther},
	0x3f: {"KDC_ERR_KDC_NOT_TRUSTED", event.OutcomeFailure, ReasonOther},
	0x40: {"KDC_ERR_INVALID_SIG", event.OutcomeFailure, ReasonOther},
	0x41: {"KDC_ERR_KEY_TOO_WEAK", event.OutcomeFailure, ReasonOther},
	0x42: {"KDC_ERR_CERTIFICATE_MISMATCH", event.OutcomeFailure, ReasonOther},
	0x43: {"KRB_AP_ERR_NO_TGT", event.OutcomeFailure, ReasonOther},
	0x44: {"KDC_ERR_WRONG_REALM", event.OutcomeFailure, ReasonOther},
	0x45: {"KRB_AP_ERR_USER_TO_USER_REQUIRED", event.OutcomeFailure, ReasonOther},
	0x46: {"KDC_ERR_CANT_VERIFY_CERTIFICATE", event.OutcomeFailure, ReasonOther},
	0x47: {"KDC_ERR_INVALID_CERTIFICATE", event.OutcomeFailure, ReasonOther},
	0x48: {"KDC_ERR_REVOKED_CERTIFICATE", event.OutcomeFailure, ReasonOther},
	0x49: {"KDC_ERR_REVOCATION_STATUS_UNKNOWN", event.OutcomeFailure, ReasonOther},
	0x4a: {"KDC_ERR_REVOCATION_STATUS_UNAVAILABLE", event.OutcomeFailure, ReasonOther},
	0x4b: {"KDC_ERR_CLIENT_NAME_MISMATCH", event.OutcomeFailure, ReasonOther},
	0x4c: {"KDC_ERR_KDC_NAME_MISMATCH", event.OutcomeFailure, ReasonOther},
}

// kerberosCode looks up a KDC result code given as 0x-hex or decimal.
func kerberosCode(s []byte) (kerbCode, bool) {
	var n uint64
	var err error
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		n, err = strconv.ParseUint(string(s[2:]), 16, 32)
	} else {
		n, err = strconv.ParseUint(string(s), 10, 32)
	}
	if err != nil {
		return kerbCode{}, false
	}
	kc, ok := kerberosCodes[uint32(n)]
	return kc, ok
}

// securityAuditing is the provider of the Security log's audit events.
var securityAuditing = []byte("Microsoft-Windows-Security-Auditing")

// program names the source of the last record for Stats.Programs: the
// channel when it is not Security, else "Security <event id>", followed
// by the provider when it is not the auditing one; none (ProgramNone) when
// no event id was read.
func (p *windowsParser) program() []byte {
	p.prog = p.prog[:0]
	if len(p.channel) > 0 && !bytes.EqualFold(p.channel, []byte("Security")) {
		return append(p.prog, p.channel...)
	}
	if p.id == 0 {
		return p.prog // no event id read (a line that is not JSON, a record cut short): ProgramNone, not "Security 0"
	}
	if p.foreign {
		p.prog = append(p.prog, "Security "...)
		p.prog = appendInt(p.prog, p.id)
		p.prog = append(p.prog, " (provider "...)
		p.prog = strconv.AppendQuote(p.prog, string(p.provider[:min(len(p.provider), 64)]))
		return append(p.prog, ", not Microsoft-Windows-Security-Auditing)"...)
	}
	if info := winInfoOf(p.id); info != nil {
		return info.prog
	}
	p.prog = append(p.prog, "Security "...)
	return appendInt(p.prog, p.id)
}

// skip reports whether a record can be passed over undecoded: its event id,
// found by scanEventID, is one no parse turns into an event, or one whose
// events (winShapes: what the id alone fixes) Options.Wanted refuses. The
// id is kept for program().
func (p *windowsParser) skip(rec []byte) bool { return p.skipID(scanEventIDUnless(rec, p.want)) }

// skipID is skip for a record whose event id was found (0: not found).
func (p *windowsParser) skipID(id int) bool {
	if id == 0 || p.want(id) {
		return false
	}
	p.id = id
	p.channel = p.channel[:0]
	return true
}

// want reports whether Options.Wanted takes records of event id id (ids
// no parse turns into an event: never), remembered per id.
func (p *windowsParser) want(id int) bool {
	info := winInfoOf(id)
	if info == nil {
		return false
	}
	w := &p.wanted[id-winIDMin]
	if *w == 0 {
		sh := info.shape
		proto := event.Event{Dataset: datasetWindows, Category: sh.category, Code: info.code, Action: sh.action, Outcome: sh.outcome, Reason: sh.reason}
		*w = -1
		if p.opts.Wanted(&proto, sh.fixed) {
			*w = 1
		}
	}
	return *w > 0
}

// scanEventID finds the event id of a Windows JSON record without decoding
// it: the values of its "event_id", "EventID", "EventId", "Id" and "code"
// keys (Winlogbeat, NXLog, Get-WinEvent, ECS), each a number or a quoted
// number. It returns 0 — decode the record — when there is none, when one
// is something else (an object, a word) or when they disagree.
//
// It visits only the colons: a key "K" is followed by `":`, so the record
// holds `"K":` exactly where a key K ends, and the five keys are told
// apart by their last bytes (scanEventIDRef in the tests is the slower
// key-by-key form it must agree with).
func scanEventID(rec []byte) int { return scanEventIDUnless(rec, nil) }

// scanEventIDUnless is scanEventID that gives up (0: decode) as soon as
// the first id it meets is one wanted takes: the record is decoded then
// whether or not the later ids agree, so a wanted record's scan stops at
// its first id (Winlogbeat's event.code, near the start) instead of
// running to its end.
func scanEventIDUnless(rec []byte, wanted func(id int) bool) int {
	id := 0
	for i := 0; i < len(rec); {
		c := bytes.IndexByte(rec[i:], ':')
		if c < 0 {
			break
		}
		end := i + c // the colon
		i = end + 1
		if end < 3 || rec[end-1] != '"' {
			continue
		}
		head := rec[:end-1] // up to the key's closing quote
		switch head[len(head)-1] {
		case 'd':
			if !bytes.HasSuffix(head, []byte(`"event_id`)) && !bytes.HasSuffix(head, []byte(`"EventId`)) && !bytes.HasSuffix(head, []byte(`"Id`)) {
				continue
			}
		case 'D':
			if !bytes.HasSuffix(head, []byte(`"EventID`)) {
				continue
			}
		case 'e':
			if !bytes.HasSuffix(head, []byte(`"code`)) {
				continue
			}
		default:
			continue
		}
		v := rec[i:]
		if len(v) > 0 && v[0] == ' ' {
			v = v[1:]
		}
		quoted := len(v) > 0 && v[0] == '"'
		if quoted {
			v = v[1:]
		}
		n, k := 0, 0
		for k < len(v) && k < 6 && v[k] >= '0' && v[k] <= '9' {
			n = n*10 + int(v[k]-'0')
			k++
		}
		if k == 0 || k == len(v) || (quoted && v[k] != '"') || (!quoted && v[k] >= '0' && v[k] <= '9') {
			return 0
		}
		if id != 0 && n != id {
			return 0
		}
		if id == 0 && wanted != nil && wanted(n) {
			return 0
		}
		id = n
	}
	return id
}
