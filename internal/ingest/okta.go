package ingest

import (
	"bytes"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

const datasetOkta = "okta.system"

// strCache slots of the okta parser.
const (
	oSlotEventType = iota
	oSlotUser
	oSlotDomain
	oSlotReason
	oSlotTarget
	oSlotResult
	oSlotDisplay
	oSlotActorID
	oSlotFactor
	oSlotASN
	oSlotCountry
	oSlots
)

// oktaParser reads Okta System Log LogEvent objects.
type oktaParser struct {
	opts  *Options
	loc   *time.Location
	w     jsonWalker
	strs  *interner
	cache *strCache
	visit func(path, val []byte, kind byte)

	ts          time.Time
	eventType   []byte
	alternateID []byte
	actorID     []byte
	ip          []byte
	chainIP     []byte
	result      []byte
	reason      []byte
	display     []byte
	factor      []byte
	asn         []byte
	country     []byte
	targetID    []byte
	dom         []byte
	hasTS       bool
}

func newOktaParser(o *Options) recordParser {
	p := &oktaParser{opts: o, loc: o.loc(), strs: newInterner(1 << 16)}
	p.cache = newStrCache(oSlots, p.strs)
	p.visit = p.field
	return p
}

func (p *oktaParser) field(path, val []byte, kind byte) {
	if kind == kNull {
		return
	}
	switch string(path) {
	case "published":
		if t, ok := parseTimeValue(val, p.loc); ok {
			p.ts, p.hasTS = t, true
		}
	case "eventType":
		p.eventType = append(p.eventType[:0], val...)
	case "actor.alternateId":
		p.alternateID = append(p.alternateID[:0], val...)
	case "actor.id":
		p.actorID = append(p.actorID[:0], val...)
	case "client.ipAddress":
		p.ip = append(p.ip[:0], val...)
	case "request.ipChain.0.ip":
		p.chainIP = append(p.chainIP[:0], val...)
	case "outcome.result":
		p.result = append(p.result[:0], val...)
	case "outcome.reason":
		p.reason = append(p.reason[:0], val...)
	case "displayMessage":
		p.display = append(p.display[:0], val...)
	case "debugContext.debugData.factor", "authenticationContext.credentialType":
		if len(p.factor) == 0 {
			p.factor = append(p.factor[:0], val...)
		}
	case "securityContext.asNumber":
		p.asn = append(p.asn[:0], val...)
	case "client.geographicalContext.country":
		p.country = append(p.country[:0], val...)
	case "target.0.alternateId":
		p.targetID = append(p.targetID[:0], val...)
	}
}

func (p *oktaParser) reset() {
	p.ts, p.hasTS = time.Time{}, false
	p.eventType, p.alternateID, p.actorID, p.ip, p.chainIP = p.eventType[:0], p.alternateID[:0], p.actorID[:0], p.ip[:0], p.chainIP[:0]
	p.result, p.reason, p.display, p.factor, p.asn, p.country, p.targetID = p.result[:0], p.reason[:0], p.display[:0], p.factor[:0], p.asn[:0], p.country[:0], p.targetID[:0]
}

func (p *oktaParser) parse(rec []byte, ev *event.Event) (result, string) {
	if len(bytes.TrimSpace(rec)) == 0 {
		return resIgnored, ""
	}
	p.reset()
	if err := p.w.walk(rec, p.visit); err != nil {
		return resBad, err.Error()
	}
	if len(p.eventType) == 0 {
		return resBad, "no eventType"
	}
	if !p.hasTS {
		return resBad, "no published timestamp"
	}
	et := p.cache.get(oSlotEventType, p.eventType)
	var cat string
	switch {
	case hasPrefix(et, "user.session."), hasPrefix(et, "user.authentication."), hasPrefix(et, "user.mfa."),
		hasPrefix(et, "system.push."):
		cat = catAuth
	case hasPrefix(et, "user.account."):
		cat = "iam"
	default:
		return resIgnored, ""
	}
	ev.Timestamp = p.ts
	ev.Dataset = datasetOkta
	ev.Category = cat
	ev.Action = et
	ev.UserName = p.cache.get(oSlotUser, p.alternateID)
	if at := bytes.LastIndexByte(p.alternateID, '@'); at >= 0 {
		p.dom = appendLower(p.dom[:0], p.alternateID[at+1:])
		ev.UserDomain = p.cache.get(oSlotDomain, p.dom)
	}
	ip := p.ip
	if len(ip) == 0 {
		ip = p.chainIP
	}
	if a, ok := parseIP(ip); ok {
		ev.SourceIP = a
	}
	switch string(p.result) {
	case "SUCCESS", "ALLOW":
		ev.Outcome = event.OutcomeSuccess
	case "FAILURE", "DENY":
		ev.Outcome = event.OutcomeFailure
	default:
		ev.Outcome = event.OutcomeUnknown
	}
	reason := p.cache.get(oSlotReason, p.reason)
	switch {
	case et == "user.session.start" && ev.Outcome == event.OutcomeFailure:
		switch {
		case reason == "LOCKED_OUT":
			ev.Reason = ReasonLocked
		case string(p.actorID) == "unknown" || reason == "VERIFICATION_ERROR" && len(p.actorID) == 0:
			ev.Reason = ReasonUnknownUser
		case reason == "INVALID_CREDENTIALS" || reason == "VERIFICATION_ERROR":
			ev.Reason = ReasonBadPassword
		default:
			ev.Reason = ReasonOther
		}
	case et == "user.mfa.okta_verify.deny_push":
		ev.Outcome, ev.Reason = event.OutcomeFailure, ReasonMFADenied
	case et == "system.push.send_factor_verify_push":
		ev.Outcome, ev.Reason = event.OutcomeUnknown, ReasonMFAPushSent
	case et == "user.authentication.auth_via_mfa":
		if ev.Outcome == event.OutcomeSuccess {
			ev.Reason = ReasonMFAApproved
		} else if ev.Outcome == event.OutcomeFailure {
			ev.Reason = ReasonMFADenied
		}
	case et == "user.account.lock" || et == "user.account.lock.limit":
		ev.Outcome, ev.Reason = event.OutcomeUnknown, ReasonLocked
		if len(p.targetID) > 0 && len(p.alternateID) == 0 {
			ev.UserName = p.cache.get(oSlotUser, p.targetID)
		}
	case ev.Outcome == event.OutcomeFailure:
		ev.Reason = ReasonOther
	}
	ev.SetField("eventType", ev.Action)
	p.keep(ev, oSlotResult, "outcome.result", p.result)
	p.keep(ev, oSlotReason, "outcome.reason", p.reason)
	p.keep(ev, oSlotDisplay, "displayMessage", p.display)
	ev.Message = ev.Fields["displayMessage"]
	p.keep(ev, oSlotActorID, "actor.id", p.actorID)
	p.keep(ev, oSlotFactor, "factor", p.factor)
	p.keep(ev, oSlotASN, "source.as.number", p.asn)
	p.keep(ev, oSlotCountry, "source.geo.country_name", p.country)
	return resEvent, ""
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func (p *oktaParser) keep(ev *event.Event, slot int, name string, v []byte) {
	if len(v) > 0 {
		ev.SetField(name, p.cache.get(slot, v))
	}
}
