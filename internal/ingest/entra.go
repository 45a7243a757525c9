package ingest

import (
	"bytes"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

const datasetEntra = "entra.signin"

// strCache slots of the entra parser.
const (
	eSlotCode = iota
	eSlotUser
	eSlotDomain
	eSlotTenant
	eSlotCategory
	eSlotApp
	eSlotClientApp
	eSlotFailure
	eSlotDetails
	eSlotCAStatus
	eSlotAuthReq
	eSlotASN
	eSlotCountry
	eSlotUserType
	eSlotEventType
	eSlots
)

// entraParser reads Microsoft Graph signIn objects and Azure Monitor
// diagnostic records (SignInLogs, NonInteractiveUserSignInLogs, ...) whose
// signIn lives under "properties".
type entraParser struct {
	opts  *Options
	loc   *time.Location
	w     jsonWalker
	strs  *interner
	cache *strCache
	visit func(path, val []byte, kind byte)

	ev          *event.Event
	ts          time.Time
	tsPri       int
	upn         []byte
	ip          []byte
	errCode     []byte
	resultType  []byte
	interactive int // 0 unknown, 1 true, 2 false
	category    []byte
	tenant      []byte
	tenantPri   int
	app         []byte
	clientApp   []byte
	failure     []byte
	details     []byte
	caStatus    []byte
	authReq     []byte
	asn         []byte
	country     []byte
	userType    []byte
	eventType   []byte
	isSignIn    bool
	dom         []byte
}

func newEntraParser(o *Options) recordParser {
	p := &entraParser{opts: o, loc: o.loc(), strs: newInterner(1 << 16)}
	p.cache = newStrCache(eSlots, p.strs)
	p.visit = p.field
	return p
}

func (p *entraParser) field(path, val []byte, kind byte) {
	if kind == kNull {
		return
	}
	if r, ok := cutPrefix(path, "properties."); ok {
		path = r
	}
	switch string(path) {
	case "createdDateTime":
		p.isSignIn = true
		if t, ok := parseTimeValue(val, p.loc); ok && p.tsPri < 2 {
			p.ts, p.tsPri = t, 2
		}
	case "time", "TimeGenerated":
		if t, ok := parseTimeValue(val, p.loc); ok && p.tsPri < 1 {
			p.ts, p.tsPri = t, 1
		}
	case "userPrincipalName":
		p.isSignIn = true
		if len(p.upn) == 0 {
			p.upn = append(p.upn[:0], val...)
		}
	case "ipAddress":
		p.ip = append(p.ip[:0], val...)
	case "callerIpAddress":
		if len(p.ip) == 0 {
			p.ip = append(p.ip[:0], val...)
		}
	case "status.errorCode":
		p.errCode = append(p.errCode[:0], val...)
	case "resultType":
		p.resultType = append(p.resultType[:0], val...)
	case "status.failureReason":
		p.failure = append(p.failure[:0], val...)
	case "resultDescription":
		if len(p.failure) == 0 {
			p.failure = append(p.failure[:0], val...)
		}
	case "status.additionalDetails":
		p.details = append(p.details[:0], val...)
	case "isInteractive":
		if kind == kTrue || string(val) == "true" || string(val) == "True" {
			p.interactive = 1
		} else {
			p.interactive = 2
		}
	case "category":
		p.category = append(p.category[:0], val...)
	case "tenantId":
		p.setTenant(3, val)
	case "resourceTenantId":
		p.setTenant(2, val)
	case "homeTenantId":
		p.setTenant(1, val)
	case "appDisplayName":
		p.app = append(p.app[:0], val...)
	case "clientAppUsed":
		p.clientApp = append(p.clientApp[:0], val...)
	case "conditionalAccessStatus":
		p.caStatus = append(p.caStatus[:0], val...)
	case "authenticationRequirement":
		p.authReq = append(p.authReq[:0], val...)
	case "autonomousSystemNumber":
		p.asn = append(p.asn[:0], val...)
	case "location.countryOrRegion":
		p.country = append(p.country[:0], val...)
	case "userType":
		p.userType = append(p.userType[:0], val...)
	case "signInEventTypes.0":
		p.eventType = append(p.eventType[:0], val...)
	}
}

func (p *entraParser) setTenant(pri int, v []byte) {
	if pri > p.tenantPri && len(v) > 0 {
		p.tenant = append(p.tenant[:0], v...)
		p.tenantPri = pri
	}
}

func (p *entraParser) reset(ev *event.Event) {
	p.ev = ev
	p.ts, p.tsPri = time.Time{}, 0
	p.upn, p.ip, p.errCode, p.resultType = p.upn[:0], p.ip[:0], p.errCode[:0], p.resultType[:0]
	p.interactive = 0
	p.category, p.tenant, p.tenantPri = p.category[:0], p.tenant[:0], 0
	p.app, p.clientApp, p.failure, p.details = p.app[:0], p.clientApp[:0], p.failure[:0], p.details[:0]
	p.caStatus, p.authReq, p.asn, p.country, p.userType, p.eventType = p.caStatus[:0], p.authReq[:0], p.asn[:0], p.country[:0], p.userType[:0], p.eventType[:0]
	p.isSignIn = false
}

func (p *entraParser) parse(rec []byte, ev *event.Event) (result, string) {
	if len(bytes.TrimSpace(rec)) == 0 {
		return resIgnored, ""
	}
	p.reset(ev)
	if err := p.w.walk(rec, p.visit); err != nil {
		return resBad, err.Error()
	}
	if len(p.category) > 0 && !bytes.HasSuffix(p.category, []byte("SignInLogs")) {
		return resIgnored, "" // AuditLogs, RiskyUsers, ...
	}
	if !p.isSignIn && len(p.category) == 0 {
		return resBad, "not a sign-in record (no createdDateTime or userPrincipalName)"
	}
	if p.ts.IsZero() {
		return resBad, "no timestamp"
	}
	code := p.errCode
	if len(code) == 0 {
		code = p.resultType
	}
	if len(code) == 0 {
		return resBad, "no status.errorCode"
	}
	ev.Timestamp = p.ts
	ev.Dataset = datasetEntra
	ev.Category = catAuth
	ev.Action = "signin"
	ev.Code = p.cache.get(eSlotCode, code)
	ev.Outcome, ev.Reason = entraOutcome(code)
	ev.UserName = p.cache.get(eSlotUser, p.upn)
	if at := bytes.LastIndexByte(p.upn, '@'); at >= 0 {
		p.dom = appendLower(p.dom[:0], p.upn[at+1:])
		ev.UserDomain = p.cache.get(eSlotDomain, p.dom)
	}
	if a, ok := parseIP(p.ip); ok {
		ev.SourceIP = a
	}
	ev.SetField("errorCode", ev.Code)
	switch {
	case p.interactive == 1:
		ev.SetField("isInteractive", "true")
	case p.interactive == 2:
		ev.SetField("isInteractive", "false")
	case bytes.Equal(p.category, []byte("SignInLogs")):
		ev.SetField("isInteractive", "true")
	case len(p.category) > 0:
		ev.SetField("isInteractive", "false")
	}
	p.keep(ev, eSlotTenant, "tenantId", p.tenant)
	p.keep(ev, eSlotCategory, "category", p.category)
	p.keep(ev, eSlotApp, "appDisplayName", p.app)
	p.keep(ev, eSlotClientApp, "clientAppUsed", p.clientApp)
	p.keep(ev, eSlotFailure, "status.failureReason", p.failure)
	p.keep(ev, eSlotDetails, "status.additionalDetails", p.details)
	p.keep(ev, eSlotCAStatus, "conditionalAccessStatus", p.caStatus)
	p.keep(ev, eSlotAuthReq, "authenticationRequirement", p.authReq)
	p.keep(ev, eSlotASN, "source.as.number", p.asn)
	p.keep(ev, eSlotCountry, "source.geo.country_iso_code", p.country)
	p.keep(ev, eSlotUserType, "userType", p.userType)
	p.keep(ev, eSlotEventType, "signInEventTypes", p.eventType)
	return resEvent, ""
}

func (p *entraParser) keep(ev *event.Event, slot int, name string, v []byte) {
	if len(v) > 0 {
		ev.SetField(name, p.cache.get(slot, v))
	}
}

// entraOutcome maps an AADSTS error code to outcome and reason.
func entraOutcome(code []byte) (string, string) {
	switch string(code) {
	case "0":
		return event.OutcomeSuccess, ""
	case "50126", "50056", "50196":
		return event.OutcomeFailure, ReasonBadPassword
	case "50034", "50020", "50128", "50059", "90072", "500341":
		return event.OutcomeFailure, ReasonUnknownUser
	case "50053":
		return event.OutcomeFailure, ReasonLocked
	case "50057":
		return event.OutcomeFailure, ReasonDisabled
	case "50055", "50144", "50133":
		return event.OutcomeFailure, ReasonPasswordExpired
	case "500121", "50088", "500123":
		return event.OutcomeFailure, ReasonMFADenied
	case "50074", "50076", "50079", "50072":
		return event.OutcomeUnknown, ReasonMFARequired
	case "50140", "50125", "50097", "50058", "50089", "50158", "50199", "81010", "81012", "16000", "16003", "65001":
		return event.OutcomeUnknown, ReasonInterrupted
	case "53003", "53000", "53001", "53002", "53004", "50105", "530032", "530034", "50131", "50005":
		return event.OutcomeFailure, ReasonBlocked
	}
	return event.OutcomeFailure, ReasonOther
}
