package estate

import (
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/suggest"
)

// The decoder walks a yaml.Node tree (YAML and JSON both parse to one) into
// the estate structs by reflection, strictly: unknown keys, wrong types, bad
// dates and bad enum values are each recorded as a FieldError and decoding
// carries on, so one run reports every problem. It fills every Pos field with
// the position of the mapping the object was read from, and remembers the
// position of reference fields so validation can point at them exactly.

var (
	typePos  = reflect.TypeFor[Pos]()
	typeDate = reflect.TypeFor[Date]()
	typeTime = reflect.TypeFor[time.Time]()
)

// Known reports whether c is a criticality the estate accepts (the values
// validation checks a tenant's against).
func (c Criticality) Known() bool {
	return slices.Contains(enumValues[reflect.TypeFor[Criticality]()], string(c))
}

// enumValues lists the accepted values of the typed string enums.
var enumValues = map[reflect.Type][]string{
	reflect.TypeFor[Criticality]():  {string(CritLow), string(CritMedium), string(CritHigh), string(CritCritical)},
	reflect.TypeFor[IdentityKind](): {string(KindHuman), string(KindService), string(KindAPIToken), string(KindBreakGlass), string(KindShared)},
	reflect.TypeFor[MFAMethod](): {string(MFAFIDO2), string(MFAPasskey), string(MFACertificate), string(MFAWindowsHello),
		string(MFAAuthenticator), string(MFATOTP), string(MFAPush), string(MFASMS), string(MFAVoice), string(MFAEmail)},
	reflect.TypeFor[ToolKind](): {string(ToolRMM), string(ToolPSA), string(ToolRemoteAccess), string(ToolVPN), string(ToolJumpHost),
		string(ToolVault), string(ToolBackupConsole), string(ToolIdP), string(ToolSIEM), string(ToolGDAP), string(ToolOther)},
	reflect.TypeFor[Privilege](): {string(PrivRead), string(PrivOperate), string(PrivAdmin), string(PrivFull)},
	reflect.TypeFor[GDAPStatus](): {string(GDAPActive), string(GDAPActivating), string(GDAPApprovalPending), string(GDAPApproved),
		string(GDAPCreated), string(GDAPExpired), string(GDAPExpiring), string(GDAPTerminated), string(GDAPTerminating), string(GDAPTerminationRequested)},
	reflect.TypeFor[Credential]():   {string(CredPassword), string(CredClientSecret), string(CredCertificate), string(CredManagedIdentity), string(CredToken)},
	reflect.TypeFor[Compensation](): {string(CompCertificate), string(CompWorkloadIdentity), string(CompIPRestricted)},
	reflect.TypeFor[Capability]():   {string(CapRunScriptSystem), string(CapRemoteShell), string(CapFileTransfer), string(CapDeploySoftware), string(CapViewOnly)},
}

// typeDuration is validated as an ISO 8601 duration.
var typeDuration = reflect.TypeFor[Duration]()

const expectDuration = "an ISO 8601 duration such as P730D, P2Y or PT0S"

// Personnel values.
const (
	PersonnelActive   = "active"
	PersonnelDeparted = "departed"
	PersonnelLeave    = "on_leave"
)

// fieldEnums lists accepted values of plain string fields (or elements of
// []string fields), keyed by struct type name and yaml key.
var fieldEnums = map[string][]string{
	"Grant.mode":                {ModeStanding, ModeJIT},
	"Identity.personnel":        {PersonnelActive, PersonnelDeparted, PersonnelLeave},
	"Contract.clauses":          Clauses,
	"CSVImport.kind":            {"identities", "assets", "grants", "groups", "gdap_assignments"},
	"DMARC.policy":              {"none", "quarantine", "reject"},
	"GDAPAssignment.assignment": {AssignActive, AssignEligible},
}

// refFields are the keys whose position is remembered for reference checks.
var refFields = map[string]bool{
	"id": true, "subject": true, "target": true, "via": true, "home": true, "tenant": true,
	"console": true, "customer": true, "party": true, "members": true, "supplies": true,
	"agents": true, "access_groups": true, "groups": true, "owner": true, "object": true,
	"file": true, "group": true, "identity": true, "staff": true,
	// and the fields validation range-checks, so the error points at the
	// value, not at its object (settings have no object position at all)
	"endpoints": true, "benign_networks": true, "ports": true, "internet_ports": true, "port": true,
	"retention_days": true, "rpo_hours": true, "rto_hours": true, "notification_hours": true,
	"log_retention_days": true, "pct": true, "max_tenant_share": true, "stale_days": true,
	"patch_days": true, "restore_test_days": true, "ir_exercise_days": true, "contract_review_days": true,
	"vendor_review_days": true, "evidence_max_age_days": true, "notification_max_hours": true,
}

type fieldInfo struct {
	key   string
	index int
	typ   reflect.Type
	enum  []string // for plain string fields / []string elements
}

type structInfo struct {
	name    string
	fields  []fieldInfo
	byKey   map[string]int
	keys    string // "a, b, c" for messages
	keyList []string
	pos     int // index of the Pos field, -1 if none
}

// refKey identifies a reference field of one object: the object's position,
// the field path relative to the object, and the element index for lists.
type refKey struct {
	obj   Pos
	field string
	elem  int
}

// fieldLoc is where a reference field was read and its full path.
type fieldLoc struct {
	pos  Pos
	path string
	// failed is true when the value did not decode (already reported:
	// validation must not judge the zero left in its place).
	failed bool
}

// pathElem is a lazily formatted field path (built only on error).
type pathElem struct {
	parent *pathElem
	key    string
	idx    int // -1 for a key element
}

func (p *pathElem) String() string {
	if p == nil {
		return ""
	}
	var parts []*pathElem
	for q := p; q != nil; q = q.parent {
		parts = append(parts, q)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		q := parts[i]
		if q.idx >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(q.idx))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(q.key)
	}
	return b.String()
}

func (p *pathElem) child(key string) *pathElem { return &pathElem{parent: p, key: key, idx: -1} }
func (p *pathElem) index(i int) *pathElem      { return &pathElem{parent: p, idx: i} }

// decoder holds per-load state; it is not safe for concurrent use.
type decoder struct {
	file  string
	probs *problems
	refs  map[refKey]fieldLoc
	types map[reflect.Type]*structInfo
}

func newTypeCache() map[reflect.Type]*structInfo { return make(map[reflect.Type]*structInfo) }

func (d *decoder) info(t reflect.Type) *structInfo {
	if si, ok := d.types[t]; ok {
		return si
	}
	si := &structInfo{name: t.Name(), byKey: map[string]int{}, pos: -1}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Type == typePos {
			si.pos = i
			continue
		}
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fi := fieldInfo{key: name, index: i, typ: f.Type, enum: fieldEnums[si.name+"."+name]}
		si.byKey[name] = len(si.fields)
		si.fields = append(si.fields, fi)
		keys = append(keys, name)
	}
	sort.Strings(keys)
	si.keys = strings.Join(keys, ", ")
	si.keyList = keys
	d.types[t] = si
	return si
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errf(n *yaml.Node, path *pathElem, msg, expected string) {
	d.probs.add(d.pos(n), path.String(), msg, expected)
}

func resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 32; depth++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a string " + strconv.Quote(truncate(n.Value, 40))
	}
	return "an unsupported node"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodeStruct decodes mapping n into struct v. owner is the position of the
// nearest enclosing object with a Pos (used as the key for reference fields);
// rel is the field path relative to that object.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path *pathElem, owner Pos, rel string) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errf(n, path, "found "+kindName(n), "a mapping")
		return
	}
	si := d.info(v.Type())
	if si.pos >= 0 {
		owner = d.pos(n)
		v.Field(si.pos).Set(reflect.ValueOf(owner))
		rel = ""
	}
	seen := make(map[string]bool, len(n.Content)/2)
	pairs := n.Content
	if hasMerge(n) {
		pairs = d.mergePairs(n, path, 0)
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		kn, vn := resolve(pairs[i]), pairs[i+1]
		key := kn.Value
		idx, ok := si.byKey[key]
		if !ok || kn.Kind != yaml.ScalarNode {
			msg := "unknown field " + strconv.Quote(truncate(key, 60))
			if m := Suggest(key, si.keyList); m != "" {
				msg += " (did you mean " + strconv.Quote(m) + "?)"
			}
			d.errf(kn, path, msg, "one of "+si.keys)
			continue
		}
		if seen[key] {
			d.errf(kn, path.child(key), "duplicate key", "each key once per mapping")
			continue
		}
		seen[key] = true
		fi := si.fields[idx]
		if si.name == "GDAP" && key == "auto_extend" {
			d.decodeAutoExtend(vn, v.Field(fi.index), path.child(key))
			continue
		}
		frel := key
		if rel != "" {
			frel = rel + "." + key
		}
		d.decodeValue(vn, v.Field(fi.index), path.child(key), owner, frel, fi.enum)
	}
}

func hasMerge(n *yaml.Node) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			return true
		}
	}
	return false
}

// mergePairs expands YAML merge keys (<<: *defaults, or a list of them):
// the mapping's own keys win over merged ones, earlier merged mappings over
// later ones.
func (d *decoder) mergePairs(n *yaml.Node, path *pathElem, depth int) []*yaml.Node {
	var own, merged []*yaml.Node
	have := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			continue
		}
		own = append(own, k, n.Content[i+1])
		have[k.Value] = true
	}
	if depth > 16 {
		d.errf(n, path, "merge keys nested too deeply", "at most 16 levels of <<")
		return own
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			continue
		}
		v := resolve(n.Content[i+1])
		var sources []*yaml.Node
		switch {
		case v != nil && v.Kind == yaml.MappingNode:
			sources = []*yaml.Node{v}
		case v != nil && v.Kind == yaml.SequenceNode:
			for _, e := range v.Content {
				sources = append(sources, resolve(e))
			}
		}
		for _, src := range sources {
			if src == nil || src.Kind != yaml.MappingNode {
				d.errf(n.Content[i+1], path, "merge key value is not a mapping", "<<: *anchor of a mapping, or a list of them")
				continue
			}
			sp := src.Content
			if hasMerge(src) {
				sp = d.mergePairs(src, path, depth+1)
			}
			for j := 0; j+1 < len(sp); j += 2 {
				if !have[sp[j].Value] {
					have[sp[j].Value] = true
					merged = append(merged, sp[j], sp[j+1])
				}
			}
		}
	}
	return append(own, merged...)
}

func (d *decoder) remember(n *yaml.Node, path *pathElem, owner Pos, rel string, elem int) {
	if d.refs == nil || owner.File == "" {
		return
	}
	last := rel
	if i := strings.LastIndexByte(rel, '.'); i >= 0 {
		last = rel[i+1:]
	}
	if !refFields[last] {
		return
	}
	d.refs[refKey{obj: owner, field: rel, elem: elem}] = fieldLoc{pos: d.pos(n), path: path.String()}
}

// failed marks a remembered list element whose value did not decode.
func (d *decoder) failed(owner Pos, rel string, elem int) {
	k := refKey{obj: owner, field: rel, elem: elem}
	if fl, ok := d.refs[k]; ok {
		fl.failed = true
		d.refs[k] = fl
	}
}

func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, path *pathElem, owner Pos, rel string, enum []string) {
	n = resolve(n)
	if n == nil {
		return
	}
	t := v.Type()
	switch {
	case t == typeDate:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode {
			d.errf(n, path, "found "+kindName(n), "a date YYYY-MM-DD or RFC 3339 timestamp")
			return
		}
		dt, err := ParseDate(n.Value)
		if err != nil {
			d.errf(n, path, "invalid date "+strconv.Quote(truncate(n.Value, 40)), "a date YYYY-MM-DD or RFC 3339 timestamp")
			return
		}
		v.Set(reflect.ValueOf(dt))
		return
	case t == typeTime:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode {
			d.errf(n, path, "found "+kindName(n), "an RFC 3339 timestamp")
			return
		}
		dt, err := ParseDate(n.Value)
		if err != nil {
			d.errf(n, path, "invalid timestamp "+strconv.Quote(truncate(n.Value, 40)), "an RFC 3339 timestamp")
			return
		}
		v.Set(reflect.ValueOf(dt.Time))
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(t.Elem())
		d.decodeValue(n, p.Elem(), path, owner, rel, enum)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, path, owner, rel)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.errf(n, path, "found "+kindName(n), "a list")
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, en := range n.Content {
			ep := path.index(i)
			before := len(d.probs.errs)
			d.decodeValue(en, s.Index(i), ep, owner, rel, enum)
			switch t.Elem().Kind() {
			case reflect.String, reflect.Int:
				d.remember(resolve(en), ep, owner, rel, i)
				if len(d.probs.errs) > before {
					d.failed(owner, rel, i)
				}
			}
		}
		v.Set(s)
	case reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode || t.Key().Kind() != reflect.String || t.Elem().Kind() != reflect.String {
			d.errf(n, path, "found "+kindName(n), "a mapping of strings")
			return
		}
		m := reflect.MakeMapWithSize(t, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := resolve(n.Content[i]), resolve(n.Content[i+1])
			if kn.Kind != yaml.ScalarNode || vn == nil || vn.Kind != yaml.ScalarNode {
				d.errf(vn, path.child(kn.Value), "found "+kindName(vn), "a string")
				continue
			}
			m.SetMapIndex(reflect.ValueOf(kn.Value).Convert(t.Key()), reflect.ValueOf(vn.Value).Convert(t.Elem()))
		}
		v.Set(m)
	case reflect.String:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode {
			d.errf(n, path, "found "+kindName(n), "a string")
			return
		}
		if vals, ok := enumValues[t]; ok {
			enum = vals
		}
		if enum != nil && !contains(enum, n.Value) {
			msg := "invalid value " + strconv.Quote(truncate(n.Value, 40))
			if m := Suggest(n.Value, enum); m != "" {
				msg += " (did you mean " + strconv.Quote(m) + "?)"
			}
			d.errf(n, path, msg, "one of "+strings.Join(enum, ", "))
		}
		if t == typeDuration {
			if _, ok := Duration(n.Value).Days(); !ok {
				d.errf(n, path, "invalid duration "+strconv.Quote(truncate(n.Value, 40)), expectDuration)
				return
			}
		}
		v.SetString(n.Value)
		if t.Kind() == reflect.String && v.Kind() == reflect.String && path != nil && path.idx < 0 {
			d.remember(n, path, owner, rel, -1)
		}
	case reflect.Bool:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.errf(n, path, "found "+kindName(n), boolExpected(n))
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	case reflect.Int, reflect.Int64, reflect.Int32:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			exp := "an integer"
			if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
				if _, err := strconv.Atoi(strings.TrimSpace(n.Value)); err == nil {
					exp = "an integer, unquoted"
				}
			}
			d.errf(n, path, "found "+kindName(n), exp)
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || v.OverflowInt(i) {
			d.errf(n, path, "integer out of range "+strconv.Quote(truncate(n.Value, 40)), "an integer")
			return
		}
		v.SetInt(i)
		if path != nil && path.idx < 0 {
			d.remember(n, path, owner, rel, -1)
		}
	case reflect.Float64:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.errf(n, path, "found "+kindName(n), "a number")
			return
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.errf(n, path, "invalid number "+strconv.Quote(truncate(n.Value, 40)), "a finite number")
			return
		}
		v.SetFloat(f)
		if path != nil && path.idx < 0 {
			d.remember(n, path, owner, rel, -1)
		}
	default:
		d.errf(n, path, "unsupported field type "+t.String(), "")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// boolExpected is the expected form for a boolean field, noting a quoted
// true/false (a string where a boolean is meant).
func boolExpected(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		switch strings.ToLower(strings.TrimSpace(n.Value)) {
		case "true", "false", "yes", "no", "on", "off":
			return "true or false, unquoted"
		}
	}
	return "true or false"
}

// decodeAutoExtend reads gdap.auto_extend: a boolean, or Partner Center's
// autoExtendDuration (PT0S off, P180D on). A quoted "false" is an error: it
// used to be taken as a duration other than PT0S, that is, as on.
func (d *decoder) decodeAutoExtend(n *yaml.Node, v reflect.Value, path *pathElem) {
	n = resolve(n)
	if n == nil || isNull(n) {
		return
	}
	const exp = "true or false, unquoted (or Partner Center's PT0S / P180D)"
	if n.Kind != yaml.ScalarNode {
		d.errf(n, path, "found "+kindName(n), exp)
		return
	}
	if n.Tag == "!!bool" {
		b := n.Value == "true" || n.Value == "True" || n.Value == "TRUE"
		v.Set(reflect.ValueOf(&b))
		return
	}
	if n.Tag == "!!str" && strings.HasPrefix(n.Value, "P") {
		if b, ok := ParseAutoExtend(n.Value); ok {
			v.Set(reflect.ValueOf(b))
			return
		}
	}
	d.errf(n, path, "found "+kindName(n), exp)
}

// Suggest returns the option closest to s (case-insensitive edit distance
// at most a third of its length, or a case-only difference), or "".
func Suggest(s string, options []string) string {
	return suggest.Closest(s, options, max(1, len(s)/3))
}
