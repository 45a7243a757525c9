package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/firebreak-msp/firebreak/internal/event"
)

const datasetGeneric = "generic"

const (
	gTimestamp = iota
	gUser
	gUserDomain
	gSourceIP
	gSourcePort
	gAction
	gOutcome
	gReason
	gCode
	gTenant
	gHost
	gCategory
	nGeneric
)

// genericParser maps JSON lines to events with a Mapping.
type genericParser struct {
	opts    *Options
	m       *Mapping
	loc     *time.Location
	w       jsonWalker
	strs    *interner
	cache   *strCache // slots: roles, then extra fields
	visit   func(path, val []byte, kind byte)
	paths   *pathTable // JSON path -> role+1 | (extra field index+1)<<5
	extra   []string
	success map[string]bool
	failure map[string]bool

	vals [nGeneric][]byte
	has  [nGeneric]bool
	ev   *event.Event
}

func newGenericParser(o *Options) recordParser {
	m := o.Mapping
	p := &genericParser{opts: o, m: m, loc: o.loc(), strs: newInterner(1 << 16),
		success: map[string]bool{}, failure: map[string]bool{}}
	p.visit = p.field
	ids := map[string]int{}
	set := func(path string, role int) {
		if path != "" {
			ids[path] = ids[path]&^31 | (role + 1)
		}
	}
	set(m.Timestamp, gTimestamp)
	set(m.User, gUser)
	set(m.UserDomain, gUserDomain)
	set(m.SourceIP, gSourceIP)
	set(m.SourcePort, gSourcePort)
	set(m.Action, gAction)
	set(m.Outcome, gOutcome)
	set(m.Reason, gReason)
	set(m.Code, gCode)
	set(m.Tenant, gTenant)
	set(m.Host, gHost)
	set(m.CategoryField, gCategory)
	for _, f := range m.Fields {
		if ids[f]>>5 == 0 {
			p.extra = append(p.extra, f)
			ids[f] |= len(p.extra) << 5
		}
	}
	p.paths = newPathTable(ids)
	p.cache = newStrCache(nGeneric+len(p.extra), p.strs)
	succ := m.SuccessValues
	if len(succ) == 0 {
		succ = []string{"success", "ok", "true", "succeeded", "completed", "allow", "allowed"}
	}
	fail := m.FailureValues
	if len(fail) == 0 {
		fail = []string{"failure", "failed", "fail", "false", "error", "denied", "deny"}
	}
	for _, v := range succ {
		p.success[strings.ToLower(v)] = true
	}
	for _, v := range fail {
		p.failure[strings.ToLower(v)] = true
	}
	return p
}

func (p *genericParser) field(path, val []byte, kind byte) {
	if kind == kNull {
		return
	}
	id := p.paths.lookup(path)
	if id <= 0 {
		return
	}
	if r := id&31 - 1; r >= 0 && !p.has[r] {
		p.vals[r] = append(p.vals[r][:0], val...)
		p.has[r] = true
	}
	if x := id>>5 - 1; x >= 0 {
		p.ev.SetField(p.extra[x], p.cache.get(nGeneric+x, val))
	}
}

func (p *genericParser) parse(rec []byte, ev *event.Event) (result, string) {
	p.has = [nGeneric]bool{}
	p.ev = ev
	if err := p.w.walk(rec, p.visit); err != nil {
		return resBad, err.Error()
	}
	if !p.has[gTimestamp] {
		return resBad, "no " + p.m.Timestamp + " (timestamp)"
	}
	t, ok := p.parseTime(p.vals[gTimestamp])
	if !ok {
		return resBad, "bad timestamp in " + p.m.Timestamp
	}
	ev.Timestamp = t
	ev.Dataset = p.m.Dataset
	if ev.Dataset == "" {
		ev.Dataset = datasetGeneric
	}
	ev.Category = p.m.Category
	if p.has[gCategory] {
		ev.Category = p.get(gCategory)
	}
	ev.UserName = p.get(gUser)
	ev.UserDomain = p.get(gUserDomain)
	if ev.UserDomain == "" {
		if at := strings.LastIndexByte(ev.UserName, '@'); at >= 0 {
			ev.UserDomain = strings.ToLower(ev.UserName[at+1:])
		}
	}
	if p.has[gSourceIP] {
		if a, ok := parseIP(p.vals[gSourceIP]); ok {
			ev.SourceIP = a
		}
	}
	if port, ok := atoi(p.vals[gSourcePort]); ok && p.has[gSourcePort] {
		ev.SourcePort = port
	}
	ev.Action = p.get(gAction)
	if c, ok := p.m.ActionCategories[ev.Action]; ok {
		ev.Category = c
	}
	ev.Reason = p.get(gReason)
	ev.Code = p.get(gCode)
	ev.Tenant = p.get(gTenant)
	ev.HostName = p.get(gHost)
	ev.Outcome = ""
	if p.has[gOutcome] {
		o := strings.ToLower(p.get(gOutcome))
		switch {
		case p.success[o]:
			ev.Outcome = event.OutcomeSuccess
		case p.failure[o]:
			ev.Outcome = event.OutcomeFailure
		default:
			ev.Outcome = event.OutcomeUnknown
		}
	}
	return resEvent, ""
}

func (p *genericParser) get(role int) string {
	if !p.has[role] {
		return ""
	}
	return p.cache.get(role, p.vals[role])
}

func (p *genericParser) parseTime(v []byte) (time.Time, bool) {
	switch strings.ToLower(p.m.TimestampLayout) {
	case "", "rfc3339", "iso8601", "auto":
		return parseTimeValue(v, p.loc)
	case "unix":
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(0, int64(f*1e9)).UTC(), true
	case "unix_ms":
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.UnixMilli(n).UTC(), true
	}
	t, err := time.ParseInLocation(p.m.TimestampLayout, string(v), p.loc)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}
