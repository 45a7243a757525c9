package detect

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/firebreak-msp/firebreak/internal/event"
	"go.yaml.in/yaml/v3"
)

// detectionSpec is a compiled Sigma detection section.
type detectionSpec struct {
	selections map[string]*selection
	cond       condNode
}

func (d *detectionSpec) match(ev *event.Event) bool { return d.cond.eval(ev) }

// selection is an OR of alternatives, each an AND of field matchers; a
// keyword selection is an OR of keyword matchers on the message.
type selection struct {
	alts [][]*fieldMatcher
}

func (s *selection) match(ev *event.Event) bool {
	for _, alt := range s.alts {
		ok := true
		for _, fm := range alt {
			if !fm.match(ev) {
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
			return nil, p.errf(k, "%w: detection.timeframe (Sigma 1 aggregation); write a correlation rule", ErrUnsupported)
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
	return d, nil
}

func parseSelection(p *ruleParser, name string, n *yaml.Node) (*selection, error) {
	s := &selection{}
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
			fm, err := compileField(p, name, "|contains", &yaml.Node{Kind: yaml.SequenceNode, Content: keywords, Line: n.Line})
			if err != nil {
				return nil, err
			}
			fm.acc = accessor{kind: fKeyword}
			s.alts = append(s.alts, []*fieldMatcher{fm})
		}
	case yaml.ScalarNode:
		fm, err := compileField(p, name, "|contains", n)
		if err != nil {
			return nil, err
		}
		fm.acc = accessor{kind: fKeyword}
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
)

var hotFields = map[string]int{
	"event.category": fCategory, "event.action": fAction, "event.outcome": fOutcome,
	"event.reason": fReason, "event.code": fCode, "event.dataset": fDataset,
	"user.name": fUser, "user.domain": fDomain, "source.ip": fSourceIP,
	"host.name": fHost, "organization.id": fTenant, "@timestamp": fTimestamp,
	"source.port": fSourcePort,
}

// fallbackFields maps common Sigma taxonomy field names to the ECS field an
// event carries when the source field itself was not kept.
var fallbackFields = map[string]string{
	"EventID": "event.code", "TargetUserName": "user.name", "IpAddress": "source.ip",
	"UserPrincipalName": "user.name", "IPAddress": "source.ip", "ResultType": "event.code",
	"eventType": "event.action", "actor.alternateId": "user.name", "client.ipAddress": "source.ip",
	"pam_user": "user.name", "pam_rhost": "source.ip", "tenant_id": "organization.id",
}

type accessor struct {
	kind     int
	name     string
	fallback int // hot field kind to use when Fields lacks name
}

func newAccessor(name string) accessor {
	if k, ok := hotFields[name]; ok {
		return accessor{kind: k, name: name}
	}
	a := accessor{kind: fOther, name: name}
	if fb, ok := fallbackFields[name]; ok {
		a.fallback = hotFields[fb]
	}
	return a
}

// get returns the field's string value. Only source.ip, source.port and
// @timestamp allocate (they are formatted on demand).
func (a *accessor) get(ev *event.Event) (string, bool) {
	return getKind(ev, a.kind, a.name, a.fallback)
}

func getKind(ev *event.Event, kind int, name string, fallback int) (string, bool) {
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
	}
	v, ok := ev.Fields[name]
	if !ok && fallback != 0 {
		return getKind(ev, fallback, "", 0)
	}
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
}

type fieldMatcher struct {
	acc    accessor
	all    bool
	values []*valueMatcher
	ipOnly bool // every value matches on the netip.Addr (no string formatting)
}

func (fm *fieldMatcher) match(ev *event.Event) bool {
	if fm.ipOnly && (fm.acc.kind == fSourceIP || (fm.acc.kind == fOther && fm.acc.fallback == fSourceIP && ev.Fields[fm.acc.name] == "")) {
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
	s, present := fm.acc.get(ev)
	for _, v := range fm.values {
		ok := v.match(s, present)
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

func (v *valueMatcher) match(s string, present bool) bool {
	switch v.kind {
	case mNull:
		return !present || s == ""
	case mExists:
		return present == v.exists
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
	kind int // 0 literal, 1 star, 2 question
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
	"lt": true, "lte": true, "gt": true, "gte": true,
}

var unsupportedModifiers = map[string]bool{
	"windash": true, "base64": true, "base64offset": true, "utf16": true, "utf16le": true,
	"utf16be": true, "wide": true, "fieldref": true, "expand": true, "minute": true,
	"hour": true, "day": true, "week": true, "month": true, "year": true,
}

func compileField(p *ruleParser, sel, key string, n *yaml.Node) (*fieldMatcher, error) {
	parts := strings.Split(key, "|")
	field := parts[0]
	mods := map[string]bool{}
	var order []string
	for _, m := range parts[1:] {
		switch {
		case unsupportedModifiers[m]:
			return nil, p.errf(n, "detection.%s.%s: %w: modifier %q", sel, key, ErrUnsupported, m)
		case !knownModifiers[m]:
			return nil, p.errf(n, "detection.%s.%s: unknown modifier %q", sel, key, m)
		}
		mods[m] = true
		order = append(order, m)
	}
	fm := &fieldMatcher{acc: newAccessor(field), all: mods["all"]}
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
	fm.ipOnly = true
	for _, vn := range vals {
		if vn.Kind != yaml.ScalarNode {
			return nil, p.errf(vn, "detection.%s.%s: want a scalar value", sel, key)
		}
		vm, err := compileValue(vn, mods)
		if err != nil {
			return nil, p.errf(vn, "detection.%s.%s: %w", sel, key, err)
		}
		if vm.kind != mCIDR && vm.kind != mIP && vm.kind != mNull && vm.kind != mExists {
			fm.ipOnly = false
		}
		fm.values = append(fm.values, vm)
	}
	if fm.acc.kind != fSourceIP && fm.acc.fallback != fSourceIP {
		fm.ipOnly = false
	}
	if fm.acc.kind == fOther && fm.acc.fallback == fSourceIP {
		// A source field such as IpAddress may be present as a string.
		fm.ipOnly = false
	}
	return fm, nil
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

type condNode interface{ eval(ev *event.Event) bool }

type selNode struct{ s *selection }
type notNode struct{ n condNode }
type andNode struct{ ns []condNode }
type orNode struct{ ns []condNode }
type ofNode struct {
	n   int // how many must match; -1 = all
	sel []*selection
}

func (n *selNode) eval(ev *event.Event) bool { return n.s.match(ev) }
func (n *notNode) eval(ev *event.Event) bool { return !n.n.eval(ev) }
func (n *andNode) eval(ev *event.Event) bool {
	for _, c := range n.ns {
		if !c.eval(ev) {
			return false
		}
	}
	return true
}
func (n *orNode) eval(ev *event.Event) bool {
	for _, c := range n.ns {
		if c.eval(ev) {
			return true
		}
	}
	return false
}
func (n *ofNode) eval(ev *event.Event) bool {
	need := n.n
	if need < 0 {
		need = len(n.sel)
	}
	got := 0
	for i, s := range n.sel {
		if s.match(ev) {
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
			return nil, fmt.Errorf("%w: aggregation after | in condition (Sigma 1 syntax); write a correlation rule", ErrUnsupported)
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
		return nil, fmt.Errorf("%w: near", ErrUnsupported)
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
