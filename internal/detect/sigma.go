package detect

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/firebreak-msp/firebreak/internal/event"
	"go.yaml.in/yaml/v3"
)

// detectionSpec is a compiled Sigma detection section.
type detectionSpec struct {
	selections   map[string]*selection
	cond         condNode
	fields       []fieldUse // the fields it reads ("message" for keywords), for CheckRule
	placeholders []fieldUse // the placeholders of its expand values
}

// fieldUse is a field (or placeholder) name and the line it is used on.
type fieldUse struct {
	name string
	line int
}

func (d *detectionSpec) match(ev *event.Event) bool { return d.cond.eval(ev, nil) }

// selection is an OR of alternatives, each an AND of field matchers; a
// keyword selection is an OR of keyword matchers on the message.
type selection struct {
	alts [][]*fieldMatcher
	sig  string // logsource + the selection's YAML: equal sigs match equally
}

func (s *selection) match(ev *event.Event, x *env) bool {
	for _, alt := range s.alts {
		ok := true
		for _, fm := range alt {
			if !fm.match(ev, x) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func parseDetection(p *ruleParser, n *yaml.Node) (*detectionSpec, error) {
	if n.Kind != yaml.MappingNode {
		return nil, p.errf(n, "detection: want a mapping of selections and a condition")
	}
	d := &detectionSpec{selections: map[string]*selection{}}
	var condNodes []*yaml.Node
	var conds []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "condition":
			cs, err := stringList(v)
			if err != nil {
				return nil, p.errf(v, "detection.condition: %v", err)
			}
			conds = cs
			condNodes = append(condNodes, v)
		case "timeframe":
			return nil, p.errf(k, "%w; write a correlation rule", unsupported("detection.timeframe (Sigma 1 aggregation)"))
		default:
			s, err := parseSelection(p, k.Value, v)
			if err != nil {
				return nil, err
			}
			d.selections[k.Value] = s
		}
	}
	if len(conds) == 0 {
		return nil, p.errf(n, "detection.condition is required")
	}
	var nodes []condNode
	for _, c := range conds {
		cn, err := parseCondExpr(c, d.selections)
		if err != nil {
			return nil, p.errf(condNodes[0], "detection.condition %q: %w", c, err)
		}
		nodes = append(nodes, cn)
	}
	if len(nodes) == 1 {
		d.cond = nodes[0]
	} else {
		d.cond = &orNode{nodes}
	}
	d.fields, d.placeholders = p.fields, p.placeholders
	p.fields, p.placeholders = nil, nil
	return d, nil
}

func parseSelection(p *ruleParser, name string, n *yaml.Node) (*selection, error) {
	s := &selection{}
	if y, err := yaml.Marshal(n); err == nil {
		s.sig = p.r.LogSource.String() + "\x00" + string(y)
	}
	switch n.Kind {
	case yaml.MappingNode:
		alt, err := parseFieldMap(p, name, n)
		if err != nil {
			return nil, err
		}
		s.alts = append(s.alts, alt)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return nil, p.errf(n, "detection.%s: empty list", name)
		}
		var keywords []*yaml.Node
		for _, c := range n.Content {
			switch c.Kind {
			case yaml.MappingNode:
				alt, err := parseFieldMap(p, name, c)
				if err != nil {
					return nil, err
				}
				s.alts = append(s.alts, alt)
			case yaml.ScalarNode:
				keywords = append(keywords, c)
			default:
				return nil, p.errf(c, "detection.%s: want field maps or keywords", name)
			}
		}
		if len(keywords) > 0 {
			fm, err := compileField(p, name, "message|contains", &yaml.Node{Kind: yaml.SequenceNode, Content: keywords, Line: n.Line})
			if err != nil {
				return nil, err
			}
			s.alts = append(s.alts, []*fieldMatcher{fm})
		}
	case yaml.ScalarNode:
		fm, err := compileField(p, name, "message|contains", n)
		if err != nil {
			return nil, err
		}
		s.alts = append(s.alts, []*fieldMatcher{fm})
	default:
		return nil, p.errf(n, "detection.%s: want a mapping, a list or a keyword", name)
	}
	return s, nil
}

func parseFieldMap(p *ruleParser, sel string, n *yaml.Node) ([]*fieldMatcher, error) {
	var out []*fieldMatcher
	for i := 0; i+1 < len(n.Content); i += 2 {
		fm, err := compileField(p, sel, n.Content[i].Value, n.Content[i+1])
		if err != nil {
			return nil, err
		}
		out = append(out, fm)
	}
	return out, nil
}

// field kinds: hot ECS fields are read from the event struct directly.
const (
	fOther = iota
	fCategory
	fAction
	fOutcome
	fReason
	fCode
	fDataset
	fUser
	fDomain
	fSourceIP
	fHost
	fTenant
	fKeyword // the raw message (event.Message, else Fields["message"])
	fTimestamp
	fSourcePort
	fBenignSource   // firebreak.benign_source: the source address is in the tenant's benign networks
	fServiceAccount // firebreak.service_account: user.name is one of the tenant's service accounts
)

var hotFields = map[string]int{
	"event.category": fCategory, "event.action": fAction, "event.outcome": fOutcome,
	"event.reason": fReason, "event.code": fCode, "event.dataset": fDataset,
	"user.name": fUser, "user.domain": fDomain, "source.ip": fSourceIP,
	"host.name": fHost, "organization.id": fTenant, "@timestamp": fTimestamp,
	"source.port": fSourcePort, "message": fKeyword,
	"firebreak.benign_source": fBenignSource, "firebreak.service_account": fServiceAccount,
}

// kindOf returns the accessor kind of an event field and the Fields key for
// fOther.
func kindOf(name string) (int, string) {
	if k, ok := hotFields[name]; ok {
		return k, ""
	}
	return fOther, name
}

// accessor reads one Sigma field from an event: the field itself, else the
// first alternative (from the source mappings) the event carries.
type accessor struct {
	kind int
	name string
	alts []altField
}

// altField is where a source keeps a field: ds restricts it to events of one
// dataset ("" for any).
type altField struct {
	ds   string
	kind int
	name string
}

// newAccessor reads the event field name with no source mapping.
func newAccessor(name string) accessor {
	k, n := kindOf(name)
	return accessor{kind: k, name: n}
}

// readsMessage reports whether the accessor may read the event's
// message (the field itself or one of its alternatives).
func (a *accessor) readsMessage() bool {
	return a.kind == fKeyword || slices.ContainsFunc(a.alts, func(f altField) bool { return f.kind == fKeyword })
}

// get returns the field's string value. Only source.ip, source.port and
// @timestamp allocate (they are formatted on demand).
func (a *accessor) get(ev *event.Event, x *env) (string, bool) {
	v, ok := getKind(ev, x, a.kind, a.name)
	if ok || len(a.alts) == 0 {
		return v, ok
	}
	for i := range a.alts {
		alt := &a.alts[i]
		if alt.ds != "" && alt.ds != ev.Dataset {
			continue
		}
		if v, ok := getKind(ev, x, alt.kind, alt.name); ok {
			return v, true
		}
	}
	return "", false
}

func getKind(ev *event.Event, x *env, kind int, name string) (string, bool) {
	switch kind {
	case fCategory:
		return ev.Category, ev.Category != ""
	case fAction:
		return ev.Action, ev.Action != ""
	case fOutcome:
		return ev.Outcome, ev.Outcome != ""
	case fReason:
		return ev.Reason, ev.Reason != ""
	case fCode:
		return ev.Code, ev.Code != ""
	case fDataset:
		return ev.Dataset, ev.Dataset != ""
	case fUser:
		return ev.UserName, ev.UserName != ""
	case fDomain:
		return ev.UserDomain, ev.UserDomain != ""
	case fHost:
		return ev.HostName, ev.HostName != ""
	case fTenant:
		return ev.Tenant, ev.Tenant != ""
	case fSourceIP:
		if !ev.SourceIP.IsValid() {
			return "", false
		}
		return ev.SourceIP.String(), true
	case fSourcePort:
		if ev.SourcePort == 0 {
			return "", false
		}
		return strconv.Itoa(ev.SourcePort), true
	case fTimestamp:
		return ev.Get("@timestamp")
	case fKeyword:
		if ev.Message != "" {
			return ev.Message, true
		}
		v, ok := ev.Fields["message"]
		return v, ok
	case fBenignSource:
		return strconv.FormatBool(x.benignSource(ev)), true
	case fServiceAccount:
		return strconv.FormatBool(x.serviceAccount(ev)), true
	}
	v, ok := ev.Fields[name]
	return v, ok
}

// value matcher kinds
const (
	mExact = iota
	mPrefix
	mSuffix
	mContains
	mGlob
	mRegex
	mCIDR
	mIP
	mNull
	mExists
	mNumber
	mAny
	mAnyOf       // any of subs (base64offset variants)
	mFieldRef    // compares with another field of the same event
	mPlaceholder // an expand placeholder, resolved by the engine
	mNever       // matches nothing
)

type valueMatcher struct {
	kind   int
	cased  bool
	pat    string // lowercased unless cased
	ascii  bool   // pat is ASCII (fast case folding)
	re     *regexp.Regexp
	prefix netip.Prefix
	ip     netip.Addr
	exists bool
	num    float64
	numOp  string

	subs  []*valueMatcher // mAnyOf
	ref   accessor        // mFieldRef: the other field
	refOp int             // mFieldRef: mExact, mPrefix, mSuffix or mContains
	ph    string          // mPlaceholder: its name
	mods  map[string]bool // mPlaceholder: the modifiers its values compile with
}

type fieldMatcher struct {
	acc    accessor
	all    bool
	neg    bool // neq: the field equals none of the values
	values []*valueMatcher
	ipOnly bool // every value matches on the netip.Addr (no string formatting)
}

func (fm *fieldMatcher) match(ev *event.Event, x *env) bool {
	return fm.matchPos(ev, x) != fm.neg
}

func (fm *fieldMatcher) matchPos(ev *event.Event, x *env) bool {
	if fm.ipOnly {
		ip := ev.SourceIP
		for _, v := range fm.values {
			ok := v.matchIP(ip)
			if fm.all && !ok {
				return false
			}
			if !fm.all && ok {
				return true
			}
		}
		return fm.all
	}
	s, present := fm.acc.get(ev, x)
	for _, v := range fm.values {
		ok := v.matchIn(s, present, ev, x)
		if fm.all && !ok {
			return false
		}
		if !fm.all && ok {
			return true
		}
	}
	return fm.all
}

func (v *valueMatcher) matchIP(ip netip.Addr) bool {
	switch v.kind {
	case mCIDR:
		return ip.IsValid() && v.prefix.Contains(ip.Unmap())
	case mIP:
		return ip.IsValid() && ip.Unmap() == v.ip
	case mNull:
		return !ip.IsValid()
	case mExists:
		return ip.IsValid() == v.exists
	}
	return false
}

// matchIn matches a value; the kinds that need the event or the engine
// take the slow path.
func (v *valueMatcher) matchIn(s string, present bool, ev *event.Event, x *env) bool {
	if v.kind < mAnyOf {
		return v.match(s, present)
	}
	return v.matchSlow(s, present, ev, x)
}

func (v *valueMatcher) matchSlow(s string, present bool, ev *event.Event, x *env) bool {
	switch v.kind {
	case mAnyOf:
		for _, sub := range v.subs {
			if sub.match(s, present) {
				return true
			}
		}
		return false
	case mFieldRef:
		if !present {
			return false
		}
		r, ok := v.ref.get(ev, x)
		if !ok {
			return false
		}
		switch v.refOp {
		case mPrefix:
			return len(s) >= len(r) && strings.EqualFold(s[:len(r)], r)
		case mSuffix:
			return len(s) >= len(r) && strings.EqualFold(s[len(s)-len(r):], r)
		case mContains:
			return strings.Contains(strings.ToLower(s), strings.ToLower(r))
		}
		if v.cased {
			return s == r
		}
		return strings.EqualFold(s, r)
	case mPlaceholder:
		tenant := ""
		if ev != nil {
			tenant = ev.Tenant
		}
		for _, sub := range x.placeholder(v, tenant) {
			if sub.matchIn(s, present, ev, x) {
				return true
			}
		}
		return false
	}
	return v.match(s, present)
}

func (v *valueMatcher) match(s string, present bool) bool {
	switch v.kind {
	case mNull:
		return !present || s == ""
	case mExists:
		return present == v.exists
	case mNever:
		return false
	}
	if !present {
		return false
	}
	switch v.kind {
	case mExact:
		if v.cased {
			return s == v.pat
		}
		return len(s) == len(v.pat) && equalFold(s, v.pat, v.ascii)
	case mPrefix:
		if v.cased {
			return strings.HasPrefix(s, v.pat)
		}
		return len(s) >= len(v.pat) && equalFold(s[:len(v.pat)], v.pat, v.ascii)
	case mSuffix:
		if v.cased {
			return strings.HasSuffix(s, v.pat)
		}
		return len(s) >= len(v.pat) && equalFold(s[len(s)-len(v.pat):], v.pat, v.ascii)
	case mContains:
		if v.cased {
			return strings.Contains(s, v.pat)
		}
		return containsFold(s, v.pat, v.ascii)
	case mGlob:
		return v.re.MatchString(s)
	case mRegex:
		return v.re.MatchString(s)
	case mCIDR:
		ip, err := netip.ParseAddr(s)
		return err == nil && v.prefix.Contains(ip.Unmap())
	case mIP:
		ip, err := netip.ParseAddr(s)
		return err == nil && ip.Unmap() == v.ip
	case mNumber:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return false
		}
		switch v.numOp {
		case "lt":
			return x < v.num
		case "lte":
			return x <= v.num
		case "gt":
			return x > v.num
		default:
			return x >= v.num
		}
	case mAny:
		return true
	case mAnyOf:
		for _, sub := range v.subs {
			if sub.match(s, present) {
				return true
			}
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold compares s with the lowercased pattern p.
func equalFold(s, p string, ascii bool) bool {
	if !ascii {
		return strings.EqualFold(s, p)
	}
	for i := 0; i < len(p); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.EqualFold(s, p)
		}
		if lowerASCII(c) != p[i] {
			return false
		}
	}
	return true
}

// containsFold reports whether s contains the lowercased pattern p,
// ignoring case.
func containsFold(s, p string, ascii bool) bool {
	if len(p) == 0 {
		return true
	}
	if !ascii {
		return strings.Contains(strings.ToLower(s), p)
	}
	c0 := p[0]
	c0u := c0
	if 'a' <= c0 && c0 <= 'z' {
		c0u = c0 - ('a' - 'A')
	}
	for i := 0; i+len(p) <= len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return strings.Contains(strings.ToLower(s), p)
		}
		if c != c0 && c != c0u {
			continue
		}
		j := 1
		for ; j < len(p); j++ {
			if lowerASCII(s[i+j]) != p[j] {
				break
			}
		}
		if j == len(p) {
			return true
		}
	}
	return false
}

type globTok struct {
	kind int // 0 literal, 1 star, 2 question, 3 any dash (windash)
	lit  string
}

// parseWildcards splits a Sigma value into literal runs and wildcards,
// honouring the escapes \* \? and \\.
func parseWildcards(s string) []globTok {
	var toks []globTok
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, globTok{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			lit.WriteByte(s[i+1])
			i++
		case c == '*':
			flush()
			if len(toks) == 0 || toks[len(toks)-1].kind != 1 {
				toks = append(toks, globTok{kind: 1})
			}
		case c == '?':
			flush()
			toks = append(toks, globTok{kind: 2})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return toks
}

// globRegexp compiles wildcard tokens to an anchored RE2 expression, which
// matches in linear time whatever the pattern.
func globRegexp(toks []globTok, cased bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?s")
	if !cased {
		b.WriteString("i")
	}
	b.WriteString(")^")
	for _, t := range toks {
		switch t.kind {
		case 0:
			b.WriteString(regexp.QuoteMeta(t.lit))
		case 1:
			b.WriteString(".*")
		case 2:
			b.WriteString(".")
		case 3:
			b.WriteString("[-/–—―]")
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

var knownModifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true, "re": true,
	"cidr": true, "exists": true, "cased": true, "i": true, "m": true, "s": true,
	"lt": true, "lte": true, "gt": true, "gte": true, "neq": true, "windash": true,
	"base64": true, "base64offset": true, "wide": true, "utf16le": true, "utf16be": true,
	"utf16": true, "fieldref": true, "expand": true,
}

var unsupportedModifiers = map[string]bool{
	"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true,
}

// UnsupportedError names a Sigma feature the engine does not implement. It
// matches ErrUnsupported with errors.Is.
type UnsupportedError struct{ Feature string }

func (e *UnsupportedError) Error() string        { return "unsupported Sigma feature: " + e.Feature }
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

func unsupported(format string, args ...any) error {
	return &UnsupportedError{Feature: fmt.Sprintf(format, args...)}
}

func compileField(p *ruleParser, sel, key string, n *yaml.Node) (*fieldMatcher, error) {
	parts := strings.Split(key, "|")
	field := parts[0]
	mods := map[string]bool{}
	var order []string
	for _, m := range parts[1:] {
		switch {
		case unsupportedModifiers[m]:
			return nil, p.errf(n, "detection.%s.%s: %w", sel, key, unsupported("modifier %s", m))
		case !knownModifiers[m]:
			return nil, p.errf(n, "detection.%s.%s: unknown modifier %q", sel, key, m)
		}
		mods[m] = true
		order = append(order, m)
	}
	fm := &fieldMatcher{acc: p.resolve(field, n.Line), all: mods["all"], neg: mods["neq"]}
	var vals []*yaml.Node
	switch n.Kind {
	case yaml.SequenceNode:
		vals = n.Content
		if len(vals) == 0 {
			return nil, p.errf(n, "detection.%s.%s: empty value list", sel, key)
		}
	case yaml.ScalarNode:
		vals = []*yaml.Node{n}
	case yaml.AliasNode:
		vals = []*yaml.Node{n.Alias}
	default:
		return nil, p.errf(n, "detection.%s.%s: want a value or a list of values", sel, key)
	}
	strMods := 0
	for _, m := range []string{"contains", "startswith", "endswith", "re", "cidr", "exists", "lt", "lte", "gt", "gte"} {
		if mods[m] {
			strMods++
		}
	}
	if strMods > 1 && !(strMods == 2 && mods["startswith"] && mods["endswith"]) {
		return nil, p.errf(n, "detection.%s.%s: modifiers %s cannot be combined", sel, key, strings.Join(order, "|"))
	}
	if (mods["i"] || mods["m"] || mods["s"]) && !mods["re"] {
		return nil, p.errf(n, "detection.%s.%s: modifiers i, m and s apply only to re", sel, key)
	}
	encoded := mods["base64"] || mods["base64offset"]
	if mods["base64"] && mods["base64offset"] {
		return nil, p.errf(n, "detection.%s.%s: base64 and base64offset cannot be combined", sel, key)
	}
	if (encoded || mods["wide"] || mods["utf16"] || mods["utf16le"] || mods["utf16be"]) && (mods["re"] || mods["cidr"] || mods["exists"] || mods["fieldref"] || mods["windash"]) {
		return nil, p.errf(n, "detection.%s.%s: %w", sel, key, unsupported("modifiers %s together", strings.Join(order, "|")))
	}
	if mods["fieldref"] && (mods["re"] || mods["cidr"] || mods["exists"] || mods["expand"] || mods["lt"] || mods["lte"] || mods["gt"] || mods["gte"]) {
		return nil, p.errf(n, "detection.%s.%s: %w", sel, key, unsupported("modifiers %s together", strings.Join(order, "|")))
	}
	fm.ipOnly = fm.acc.kind == fSourceIP && !fm.neg
	dashAbsent := len(order) == 0 || (len(order) == 1 && (mods["neq"] || mods["cased"]))
	for _, vn := range vals {
		if vn.Kind != yaml.ScalarNode {
			return nil, p.errf(vn, "detection.%s.%s: want a scalar value", sel, key)
		}
		if vn.Value == "-" && dashAbsent && vn.Tag != "!!null" && dashIsAbsent(p.r.LogSource) {
			// Windows' "-" for an empty field: the reader drops it.
			fm.values = append(fm.values, &valueMatcher{kind: mNull}, &valueMatcher{kind: mExact, pat: "-", ascii: true})
			fm.ipOnly = false
			continue
		}
		vm, err := p.compileValue(vn, mods, order)
		if err != nil {
			return nil, p.errf(vn, "detection.%s.%s: %w", sel, key, err)
		}
		if vm.kind != mCIDR && vm.kind != mIP && vm.kind != mNull && vm.kind != mExists {
			fm.ipOnly = false
		}
		fm.values = append(fm.values, vm)
	}
	return fm, nil
}

// resolve builds the accessor of a field of the rule being parsed through
// the sources its logsource selects, and records the use for CheckRule.
func (p *ruleParser) resolve(field string, line int) accessor {
	p.fields = append(p.fields, fieldUse{name: field, line: line})
	return resolveField(field, p.r.LogSource)
}

var placeholderRe = regexp.MustCompile(`^%([A-Za-z0-9_.-]+)%$`)

func (p *ruleParser) compileValue(vn *yaml.Node, mods map[string]bool, order []string) (*valueMatcher, error) {
	raw := vn.Value
	if mods["expand"] && vn.Tag != "!!null" {
		m := placeholderRe.FindStringSubmatch(raw)
		if m == nil {
			return nil, unsupported("expand value %q (want the whole value to be one %%placeholder%%)", raw)
		}
		rest := maps.Clone(mods)
		delete(rest, "expand")
		p.placeholders = append(p.placeholders, fieldUse{name: m[1], line: vn.Line})
		return &valueMatcher{kind: mPlaceholder, ph: m[1], mods: rest}, nil
	}
	if mods["fieldref"] {
		v := &valueMatcher{kind: mFieldRef, cased: mods["cased"], refOp: mExact, ref: p.resolve(raw, vn.Line)}
		switch {
		case mods["contains"]:
			v.refOp = mContains
		case mods["startswith"]:
			v.refOp = mPrefix
		case mods["endswith"]:
			v.refOp = mSuffix
		}
		return v, nil
	}
	var variants []string
	for _, m := range order {
		switch m {
		case "wide", "utf16le", "utf16be", "utf16":
			if variants == nil {
				variants = []string{raw}
			}
			for i, s := range variants {
				variants[i] = encodeUTF16(s, m)
			}
		case "base64":
			if variants == nil {
				variants = []string{raw}
			}
			for i, s := range variants {
				variants[i] = base64.StdEncoding.EncodeToString([]byte(s))
			}
		case "base64offset":
			if variants == nil {
				variants = []string{raw}
			}
			var out []string
			for _, s := range variants {
				out = append(out, base64Offsets(s)...)
			}
			variants = out
		}
	}
	if variants != nil {
		if strings.ContainsAny(raw, "*?") {
			return nil, unsupported("wildcards in a value with %s", strings.Join(order, "|"))
		}
		any := &valueMatcher{kind: mAnyOf}
		for _, s := range variants {
			vm, err := compileLiteral(s, mods)
			if err != nil {
				return nil, err
			}
			any.subs = append(any.subs, vm)
		}
		if len(any.subs) == 1 {
			return any.subs[0], nil
		}
		return any, nil
	}
	return compileValue(vn, mods)
}

// compileLiteral compiles an encoded value: no wildcards, the string modifiers apply.
func compileLiteral(s string, mods map[string]bool) (*valueMatcher, error) {
	esc := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace(s)
	return compileValue(&yaml.Node{Kind: yaml.ScalarNode, Value: esc}, mods)
}

// encodeUTF16 encodes s as UTF-16 bytes (wide and utf16le: little endian;
// utf16be: big endian; utf16: little endian after a byte order mark).
func encodeUTF16(s, mod string) string {
	var b []byte
	if mod == "utf16" {
		b = append(b, 0xff, 0xfe)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		if mod == "utf16be" {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return string(b)
}

// base64Offsets returns the three base64 forms of s as it appears at any
// offset inside a longer encoded string, with the characters that depend on
// the neighbouring bytes cut off (Sigma's base64offset).
func base64Offsets(s string) []string {
	start := [3]int{0, 2, 3}
	endCut := [3]int{0, 3, 2}
	out := make([]string, 0, 3)
	for i := range 3 {
		enc := base64.StdEncoding.EncodeToString(append(make([]byte, i), s...))
		end := len(enc)
		if c := endCut[(len(s)+i)%3]; c > 0 {
			end -= c
		}
		if start[i] < end {
			out = append(out, enc[start[i]:end])
		}
	}
	return out
}

func compileValue(vn *yaml.Node, mods map[string]bool) (*valueMatcher, error) {
	raw := vn.Value
	isNull := vn.Tag == "!!null"
	v := &valueMatcher{cased: mods["cased"]}
	switch {
	case mods["exists"]:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("exists wants true or false, got %q", raw)
		}
		v.kind, v.exists = mExists, b
		return v, nil
	case isNull:
		v.kind = mNull
		return v, nil
	case mods["re"]:
		flags := ""
		if mods["i"] {
			flags += "i"
		}
		if mods["m"] {
			flags += "m"
		}
		if mods["s"] {
			flags += "s"
		}
		expr := raw
		if flags != "" {
			expr = "(?" + flags + ")" + raw
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("bad regular expression %q: %v", raw, err)
		}
		v.kind, v.re = mRegex, re
		return v, nil
	case mods["cidr"]:
		pfx, err := netip.ParsePrefix(raw)
		if err != nil {
			ip, err2 := netip.ParseAddr(raw)
			if err2 != nil {
				return nil, fmt.Errorf("bad CIDR %q: %v", raw, err)
			}
			pfx = netip.PrefixFrom(ip, ip.BitLen())
		}
		v.kind, v.prefix = mCIDR, pfx.Masked()
		return v, nil
	case mods["lt"] || mods["lte"] || mods["gt"] || mods["gte"]:
		x, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return nil, fmt.Errorf("numeric modifier wants a number, got %q", raw)
		}
		v.kind, v.num = mNumber, x
		for _, op := range []string{"lt", "lte", "gt", "gte"} {
			if mods[op] {
				v.numOp = op
			}
		}
		return v, nil
	}
	toks := parseWildcards(raw)
	if mods["windash"] {
		toks = windashTokens(toks)
	}
	if mods["contains"] || mods["endswith"] {
		toks = append([]globTok{{kind: 1}}, toks...)
	}
	if mods["contains"] || mods["startswith"] {
		toks = append(toks, globTok{kind: 1})
	}
	toks = dedupStars(toks)
	// Plain IP literal on an IP field: compare addresses.
	if len(toks) == 1 && toks[0].kind == 0 {
		if ip, err := netip.ParseAddr(toks[0].lit); err == nil {
			v.ip = ip.Unmap()
		}
	}
	if !v.cased {
		for i := range toks {
			toks[i].lit = strings.ToLower(toks[i].lit)
		}
	}
	switch {
	case len(toks) == 0:
		v.kind = mExact
	case len(toks) == 1 && toks[0].kind == 0:
		v.kind, v.pat = mExact, toks[0].lit
		if v.ip.IsValid() {
			v.kind = mIP
		}
	case len(toks) == 1 && toks[0].kind == 1:
		v.kind = mAny
	case len(toks) == 2 && toks[0].kind == 0 && toks[1].kind == 1:
		v.kind, v.pat = mPrefix, toks[0].lit
	case len(toks) == 2 && toks[0].kind == 1 && toks[1].kind == 0:
		v.kind, v.pat = mSuffix, toks[1].lit
	case len(toks) == 3 && toks[0].kind == 1 && toks[1].kind == 0 && toks[2].kind == 1:
		v.kind, v.pat = mContains, toks[1].lit
	default:
		v.kind, v.re = mGlob, globRegexp(toks, v.cased)
	}
	v.ascii = isASCII(v.pat)
	return v, nil
}

// windashTokens turns every dash or slash that starts a command-line option
// (a - or / after a non-word character and before a word character, as
// pySigma's windash finds them) into a token matching any of - / – — ―.
func windashTokens(toks []globTok) []globTok {
	isWord := func(c byte) bool {
		return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
	}
	var out []globTok
	for ti, t := range toks {
		if t.kind != 0 {
			out = append(out, t)
			continue
		}
		s := t.lit
		last := 0
		for i := 0; i < len(s); i++ {
			if s[i] != '-' && s[i] != '/' {
				continue
			}
			prevWord := false
			if i > 0 {
				prevWord = isWord(s[i-1])
			} else if ti > 0 && toks[ti-1].kind == 0 && toks[ti-1].lit != "" {
				l := toks[ti-1].lit
				prevWord = isWord(l[len(l)-1])
			}
			if prevWord || i+1 >= len(s) || !isWord(s[i+1]) {
				continue
			}
			if i > last {
				out = append(out, globTok{lit: s[last:i]})
			}
			out = append(out, globTok{kind: 3})
			last = i + 1
		}
		if last < len(s) {
			out = append(out, globTok{lit: s[last:]})
		}
	}
	return out
}

func dedupStars(toks []globTok) []globTok {
	out := toks[:0]
	for _, t := range toks {
		if t.kind == 1 && len(out) > 0 && out[len(out)-1].kind == 1 {
			continue
		}
		out = append(out, t)
	}
	return out
}

// Condition expressions.

type condNode interface {
	eval(ev *event.Event, x *env) bool
}

type selNode struct{ s *selection }
type notNode struct{ n condNode }
type andNode struct{ ns []condNode }
type orNode struct{ ns []condNode }
type ofNode struct {
	n    int // how many must match; -1 = all
	sel  []*selection
	slot []int // per selection: its memo slot, or -1 (nil: none)
}

func (n *selNode) eval(ev *event.Event, x *env) bool { return n.s.match(ev, x) }

// memoSel is a selection that several rules of one engine share: it is
// evaluated once per event (the engine's env keeps the result).
type memoSel struct {
	s    *selection
	slot int
}

func (n *memoSel) eval(ev *event.Event, x *env) bool { return x.memo(n.s, n.slot, ev) }
func (n *notNode) eval(ev *event.Event, x *env) bool { return !n.n.eval(ev, x) }
func (n *andNode) eval(ev *event.Event, x *env) bool {
	for _, c := range n.ns {
		if !c.eval(ev, x) {
			return false
		}
	}
	return true
}
func (n *orNode) eval(ev *event.Event, x *env) bool {
	for _, c := range n.ns {
		if c.eval(ev, x) {
			return true
		}
	}
	return false
}
func (n *ofNode) eval(ev *event.Event, x *env) bool {
	need := n.n
	if need < 0 {
		need = len(n.sel)
	}
	got := 0
	for i, s := range n.sel {
		var ok bool
		if n.slot != nil && n.slot[i] >= 0 {
			ok = x.memo(s, n.slot[i], ev)
		} else {
			ok = s.match(ev, x)
		}
		if ok {
			got++
			if got >= need {
				return true
			}
		} else if n.n < 0 {
			return false
		}
		if got+len(n.sel)-i-1 < need {
			return false
		}
	}
	return got >= need
}

// memoize rebuilds a condition tree for one engine: the selections listed
// in slots (shared by several rules) become memoSel nodes.
func memoize(n condNode, slots map[*selection]int) condNode {
	switch n := n.(type) {
	case *selNode:
		if slot, ok := slots[n.s]; ok {
			return &memoSel{s: n.s, slot: slot}
		}
		return n
	case *notNode:
		return &notNode{memoize(n.n, slots)}
	case *andNode:
		c := &andNode{make([]condNode, len(n.ns))}
		for i, m := range n.ns {
			c.ns[i] = memoize(m, slots)
		}
		return c
	case *orNode:
		c := &orNode{make([]condNode, len(n.ns))}
		for i, m := range n.ns {
			c.ns[i] = memoize(m, slots)
		}
		return c
	case *ofNode:
		c := &ofNode{n: n.n, sel: n.sel, slot: make([]int, len(n.sel))}
		for i, s := range n.sel {
			c.slot[i] = -1
			if slot, ok := slots[s]; ok {
				c.slot[i] = slot
			}
		}
		return c
	}
	return n
}

// requiredOutcomes returns the event.outcome values without which a
// condition cannot hold (a selection ANDed at its top that compares
// event.outcome with plain values), or nil when it does not say.
func requiredOutcomes(n condNode) []string {
	switch n := n.(type) {
	case *selNode:
		return selOutcomes(n.s)
	case *memoSel:
		return selOutcomes(n.s)
	case *andNode:
		for _, m := range n.ns {
			if o := requiredOutcomes(m); o != nil {
				return o
			}
		}
	}
	return nil
}

func selOutcomes(s *selection) []string {
	if len(s.alts) != 1 {
		return nil
	}
	for _, fm := range s.alts[0] {
		if fm.acc.kind != fOutcome || fm.neg || fm.all || len(fm.acc.alts) > 0 {
			continue
		}
		var out []string
		for _, v := range fm.values {
			if v.kind != mExact || v.cased {
				return nil
			}
			out = append(out, v.pat)
		}
		return out
	}
	return nil
}

// selections calls f for every selection of a condition tree.
func selections(n condNode, f func(*selection)) {
	switch n := n.(type) {
	case *selNode:
		f(n.s)
	case *notNode:
		selections(n.n, f)
	case *andNode:
		for _, m := range n.ns {
			selections(m, f)
		}
	case *orNode:
		for _, m := range n.ns {
			selections(m, f)
		}
	case *ofNode:
		for _, s := range n.sel {
			f(s)
		}
	}
}

type condParser struct {
	toks []string
	pos  int
	sels map[string]*selection
}

func tokenizeCond(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '|':
			return nil, fmt.Errorf("%w; write a correlation rule", unsupported("aggregation after | in condition (Sigma 1 syntax)"))
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n()|", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func parseCondExpr(s string, sels map[string]*selection) (condNode, error) {
	toks, err := tokenizeCond(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty condition")
	}
	p := &condParser{toks: toks, sels: sels}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return n, nil
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) or() (condNode, error) {
	n, err := p.and()
	if err != nil {
		return nil, err
	}
	ns := []condNode{n}
	for strings.EqualFold(p.peek(), "or") {
		p.pos++
		m, err := p.and()
		if err != nil {
			return nil, err
		}
		ns = append(ns, m)
	}
	if len(ns) == 1 {
		return n, nil
	}
	return &orNode{ns}, nil
}

func (p *condParser) and() (condNode, error) {
	n, err := p.not()
	if err != nil {
		return nil, err
	}
	ns := []condNode{n}
	for strings.EqualFold(p.peek(), "and") {
		p.pos++
		m, err := p.not()
		if err != nil {
			return nil, err
		}
		ns = append(ns, m)
	}
	if len(ns) == 1 {
		return n, nil
	}
	return &andNode{ns}, nil
}

func (p *condParser) not() (condNode, error) {
	if strings.EqualFold(p.peek(), "not") {
		p.pos++
		n, err := p.not()
		if err != nil {
			return nil, err
		}
		return &notNode{n}, nil
	}
	return p.primary()
}

func (p *condParser) primary() (condNode, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, errors.New("unexpected end of condition")
	case t == "(":
		p.pos++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, errors.New("missing )")
		}
		p.pos++
		return n, nil
	case t == ")":
		return nil, errors.New("unexpected )")
	case strings.EqualFold(t, "near"):
		return nil, unsupported("near operator")
	}
	if p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of") {
		p.pos += 2
		target := p.peek()
		if target == "" {
			return nil, fmt.Errorf("%s of: missing selection pattern", t)
		}
		p.pos++
		var sels []*selection
		names := sortedKeys(p.sels)
		for _, name := range names {
			if target == "them" {
				if strings.HasPrefix(name, "_") {
					continue
				}
				sels = append(sels, p.sels[name])
				continue
			}
			if ok, _ := path.Match(target, name); ok {
				sels = append(sels, p.sels[name])
			}
		}
		if len(sels) == 0 {
			return nil, fmt.Errorf("%s of %s: no selection matches", t, target)
		}
		n := -1
		switch {
		case strings.EqualFold(t, "all"):
		case strings.EqualFold(t, "any"):
			n = 1
		default:
			x, err := strconv.Atoi(t)
			if err != nil || x < 1 {
				return nil, fmt.Errorf("%q of: want 1, all or a positive number", t)
			}
			n = x
		}
		return &ofNode{n: n, sel: sels}, nil
	}
	s, ok := p.sels[t]
	if !ok {
		return nil, fmt.Errorf("unknown selection %q", t)
	}
	p.pos++
	return &selNode{s}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// tri is a three-valued truth: a condition over an event of which only some
// fields are known (Engine.MayMatch).
type tri uint8

const (
	triMaybe tri = iota
	triFalse
	triTrue
)

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// mayMatch evaluates a condition over proto, whose only known fields are
// the non-empty ones of event.dataset, event.category, event.code (and
// EventID), event.action, event.outcome and event.reason (with fixed, the
// last three also when empty: absent): a field matcher on any other field,
// or on one of these left unknown, is triMaybe.
func mayMatch(n condNode, proto *event.Event, fixed bool, x *env) tri {
	switch n := n.(type) {
	case *selNode:
		return selMay(n.s, proto, fixed, x)
	case *memoSel:
		return selMay(n.s, proto, fixed, x)
	case *notNode:
		switch mayMatch(n.n, proto, fixed, x) {
		case triTrue:
			return triFalse
		case triFalse:
			return triTrue
		}
		return triMaybe
	case *andNode:
		out := triTrue
		for _, m := range n.ns {
			switch mayMatch(m, proto, fixed, x) {
			case triFalse:
				return triFalse
			case triMaybe:
				out = triMaybe
			}
		}
		return out
	case *orNode:
		out := triFalse
		for _, m := range n.ns {
			switch mayMatch(m, proto, fixed, x) {
			case triTrue:
				return triTrue
			case triMaybe:
				out = triMaybe
			}
		}
		return out
	case *ofNode:
		need := n.n
		if need < 0 {
			need = len(n.sel)
		}
		yes, maybe := 0, 0
		for _, s := range n.sel {
			switch selMay(s, proto, fixed, x) {
			case triTrue:
				yes++
			case triMaybe:
				maybe++
			}
		}
		switch {
		case yes >= need:
			return triTrue
		case yes+maybe < need:
			return triFalse
		}
		return triMaybe
	}
	return triMaybe
}

func selMay(s *selection, proto *event.Event, fixed bool, x *env) tri {
	out := triFalse
	for _, alt := range s.alts {
		a := triTrue
		for _, fm := range alt {
			switch fieldMay(fm, proto, fixed, x) {
			case triFalse:
				a = triFalse
			case triMaybe:
				a = triMaybe
			}
			if a == triFalse {
				break
			}
		}
		switch a {
		case triTrue:
			return triTrue
		case triMaybe:
			out = triMaybe
		}
	}
	return out
}

// fieldMay is fm.match on proto where every field fm may read is known.
func fieldMay(fm *fieldMatcher, proto *event.Event, fixed bool, x *env) tri {
	known := func(kind int, name string) bool {
		switch kind {
		case fAction, fOutcome, fReason:
			if fixed {
				return true // empty means absent
			}
			_, ok := getKind(proto, x, kind, name)
			return ok
		case fDataset, fCategory, fCode:
			_, ok := getKind(proto, x, kind, name)
			return ok
		case fOther:
			return name == "EventID" && proto.Code != ""
		}
		return false
	}
	if fm.ipOnly || !known(fm.acc.kind, fm.acc.name) {
		return triMaybe
	}
	for _, v := range fm.values {
		if v.kind == mFieldRef || v.kind == mPlaceholder {
			return triMaybe // other fields, per-tenant values
		}
	}
	for _, alt := range fm.acc.alts {
		if alt.ds != "" && alt.ds != proto.Dataset {
			continue
		}
		if !known(alt.kind, alt.name) {
			return triMaybe
		}
	}
	return triOf(fm.match(proto, x))
}
