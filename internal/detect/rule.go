package detect

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// OptionsKey is the one custom top-level key under which a rule carries
// firebreak's engine options. Sigma allows arbitrary custom fields, so rules
// using it still convert with pySigma/sigma-cli.
const OptionsKey = "firebreak"

// ErrUnsupported is wrapped by errors for Sigma features the engine does not
// implement (e.g. the deprecated pipe aggregation, the near operator, the
// base64 modifiers).
var ErrUnsupported = errors.New("unsupported Sigma feature")

// RuleError is a problem in a rule file: it names the file, the line, the
// rule and what is wrong.
type RuleError struct {
	File string
	Line int
	Rule string // title or id, when known
	Err  error
}

func (e *RuleError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Rule != "" {
		fmt.Fprintf(&b, ": rule %q", e.Rule)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *RuleError) Unwrap() error { return e.Err }

// Levels in increasing severity (Sigma's level values).
var levels = []string{"informational", "low", "medium", "high", "critical"}

// LevelRank returns the rank of a Sigma level (informational 0 … critical 4),
// or -1 for an unknown level.
func LevelRank(level string) int { return slices.Index(levels, level) }

// Correlation types.
const (
	EventCount      = "event_count"
	ValueCount      = "value_count"
	Temporal        = "temporal"
	TemporalOrdered = "temporal_ordered"
)

// Scopes (firebreak.scope).
const (
	ScopeTenant      = "tenant"
	ScopeCrossTenant = "cross-tenant"
)

// Rule is one Sigma rule: a detection rule (Detection set) or a correlation
// rule (Correlation set).
type Rule struct {
	ID             string
	Name           string
	Title          string
	Description    string
	Status         string
	Level          string
	Tags           []string
	Techniques     []string // ATT&CK technique ids from attack.tNNNN tags, e.g. T1110.003
	FalsePositives []string
	References     []string
	LogSource      LogSource
	Correlation    *Correlation
	Filter         *Filter // a Sigma meta filter: its detection narrows other rules
	Options        RuleOptions

	File string // the file it came from
	Line int    // the line its YAML document starts on

	detection *detectionSpec
}

// Filter is a Sigma meta filter (filter: section): its detection is ANDed
// to the detection of each rule it names (by id or name) whose logsource it
// shares, typically "not selection" to drop known benign matches.
type Filter struct {
	Rules []string
}

// IsCorrelation reports whether r is a correlation rule.
func (r *Rule) IsCorrelation() bool { return r.Correlation != nil }

// Ref returns the name by which other rules refer to r: its name, else its id.
func (r *Rule) Ref() string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}

// LogSource is a Sigma logsource.
type LogSource struct {
	Product  string `json:"product,omitempty"`
	Service  string `json:"service,omitempty"`
	Category string `json:"category,omitempty"`
}

// Correlation is a Sigma v2 correlation section.
type Correlation struct {
	Type      string
	Rules     []string
	GroupBy   []string
	Timespan  time.Duration
	Condition Condition
	Aliases   map[string]map[string]string // alias -> rule name -> field
	Generate  bool
}

// Condition is a correlation condition: every bound set must hold (ranges are
// the AND of two bounds). Field names the value_count field.
type Condition struct {
	Field string
	GT    *int64
	GTE   *int64
	LT    *int64
	LTE   *int64
	EQ    *int64
	NEQ   *int64
}

// Holds reports whether n satisfies every bound.
func (c Condition) Holds(n int64) bool {
	return (c.GT == nil || n > *c.GT) && (c.GTE == nil || n >= *c.GTE) &&
		(c.LT == nil || n < *c.LT) && (c.LTE == nil || n <= *c.LTE) &&
		(c.EQ == nil || n == *c.EQ) && (c.NEQ == nil || n != *c.NEQ)
}

// need is the smallest count above which the truth of the condition no
// longer changes: windows keep counts exactly up to it and saturate above.
func (c Condition) need() int64 {
	var n int64 = 1
	bump := func(b *int64, plus int64) {
		if b != nil && *b+plus > n {
			n = *b + plus
		}
	}
	bump(c.GTE, 0)
	bump(c.LT, 0)
	bump(c.GT, 1)
	bump(c.LTE, 1)
	bump(c.EQ, 1)
	bump(c.NEQ, 1)
	return n
}

func (c Condition) String() string {
	var parts []string
	add := func(op string, v *int64) {
		if v != nil {
			parts = append(parts, op+" "+strconv.FormatInt(*v, 10))
		}
	}
	add(">", c.GT)
	add(">=", c.GTE)
	add("<", c.LT)
	add("<=", c.LTE)
	add("==", c.EQ)
	add("!=", c.NEQ)
	s := strings.Join(parts, " and ")
	if c.Field != "" {
		s = "count(distinct " + c.Field + ") " + s
	}
	return s
}

// RuleOptions are firebreak's engine options, under the rule's "firebreak:" key.
type RuleOptions struct {
	// Scope is "tenant" (default: the tenant is an implicit group-by field)
	// or "cross-tenant" (it is not; incidents list the tenants involved).
	Scope string
	// SuppressFor: while an incident for a key was updated less than this
	// long ago, new matches update it in place instead of raising a new
	// alert (default 24h). An escalation always alerts.
	SuppressFor time.Duration
	// MaxGroups caps the groups (keys) a correlation tracks; the least
	// recently updated group is evicted when the cap is reached and the
	// eviction counted (default 100,000).
	MaxGroups int
	// MaxValues caps a value_count group's distinct-value set (default
	// 10,000); a capped count means "at least this many".
	MaxValues int
	// AllowedLateness: events up to this much older than the newest event
	// seen are reordered; older ones are counted as late and dropped.
	AllowedLateness time.Duration
	// GroupBy keys the incidents of a detection rule reported on its own
	// (default: one incident per tenant).
	GroupBy []string
	// Escalates names a rule whose open incident for the same key this rule
	// escalates (raises to this rule's level, with a new alert) instead of
	// opening an incident of its own.
	Escalates string
	// Relative scales a correlation's gte threshold down for small tenants
	// (relative_to_accounts: {fraction: 0.5, min: 4}).
	Relative *Relative
	// List names fields whose values (with counts, capped) the rule's
	// incidents list, e.g. a distributed spray's sources and users.
	List []string
	// Response is what to do about the rule's incidents, in order
	// (response: [steps]): the dashboard shows it on a case.
	Response []string
	// Recovery reports the rule at a lower level when the source's failing
	// accounts recover on their own (self_recovery: {within: 2m, fraction:
	// 0.5, min: 3, level: low}); see Recovery.
	Recovery *Recovery
	// Run counts, for an event_count of failures grouped by source and
	// account, only the account's run: its failures from the source not
	// broken by a success of it from there (run: true). A user who
	// mistypes, signs in and later mistypes again starts a new run.
	Run bool
}

// Relative is a threshold relative to the number of accounts in the tenant:
// min(gte, max(min, ceil(fraction × accounts))) when the count is known.
type Relative struct {
	Fraction float64
	Min      int
}

// Defaults for RuleOptions.
const (
	DefaultSuppressFor = 24 * time.Hour
	DefaultMaxGroups   = 100_000
	DefaultMaxValues   = 10_000
)

// LoadRules reads every *.yml and *.yaml file in fsys (recursively) and
// returns their rules in file order. Every problem is a *RuleError naming the
// file and line; the references between rules are checked by NewEngine.
func LoadRules(fsys fs.FS) ([]*Rule, error) {
	var rules []*Rule
	var errs []error
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (path.Ext(p) != ".yml" && path.Ext(p) != ".yaml") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		rs, err := ParseRules(p, data)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		rules = append(rules, rs...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading rules: %w", err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

// ParseRules parses the Sigma YAML documents of one file.
func ParseRules(file string, data []byte) ([]*Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var rules []*Rule
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &RuleError{File: file, Err: fmt.Errorf("invalid YAML: %w", err)}
		}
		if len(doc.Content) == 0 {
			continue
		}
		r, err := parseRule(file, doc.Content[0])
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, &RuleError{File: file, Err: errors.New("no rule in file")}
	}
	return rules, nil
}

var (
	timespanRe  = regexp.MustCompile(`^([0-9]+)([smhdwMy])$`)
	techniqueRe = regexp.MustCompile(`^attack\.(t[0-9]{4}(\.[0-9]{3})?)$`)
)

// parseTimespan parses a Sigma timespan (number + s, m, h, d; also w).
func parseTimespan(s string) (time.Duration, error) {
	m := timespanRe.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("timespan %q: want a number followed by s, m, h or d (e.g. 10m)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("timespan %q: want a positive number", s)
	}
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
	if unit == 0 {
		return 0, fmt.Errorf("timespan %q: %w", s, unsupported("timespan unit %s", m[2]))
	}
	return time.Duration(n) * unit, nil
}

type ruleParser struct {
	file         string
	r            *Rule
	fields       []fieldUse // fields read by the detection being parsed
	placeholders []fieldUse // placeholders of its expand values
}

func (p *ruleParser) errf(n *yaml.Node, format string, args ...any) error {
	line := p.r.Line
	if n != nil {
		line = n.Line
	}
	rule := p.r.Title
	if rule == "" {
		rule = p.r.ID
	}
	return &RuleError{File: p.file, Line: line, Rule: rule, Err: fmt.Errorf(format, args...)}
}

func parseRule(file string, root *yaml.Node) (*Rule, error) {
	r := &Rule{File: file, Line: root.Line}
	p := &ruleParser{file: file, r: r}
	if root.Kind != yaml.MappingNode {
		return nil, p.errf(root, "a rule must be a YAML mapping")
	}
	// First pass: metadata, so errors can name the rule.
	var detection, correlation, opts, logsource, filter *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		var err error
		switch k.Value {
		case "title":
			r.Title, err = scalar(v)
		case "id":
			r.ID, err = scalar(v)
		case "name":
			r.Name, err = scalar(v)
		case "description":
			r.Description, err = scalar(v)
		case "status":
			r.Status, err = scalar(v)
		case "level":
			r.Level, err = scalar(v)
		case "tags":
			r.Tags, err = stringList(v)
		case "falsepositives":
			r.FalsePositives, err = stringList(v)
		case "references":
			r.References, err = stringList(v)
		case "logsource":
			logsource = v
		case "detection":
			detection = v
		case "correlation":
			correlation = v
		case "filter":
			filter = v
		case OptionsKey:
			opts = v
		case "generate":
			// Sigma 2.0 drafts put generate at the top level.
			var s string
			if s, err = scalar(v); err == nil {
				r.Correlation = ensureCorr(r.Correlation)
				r.Correlation.Generate, err = strconv.ParseBool(s)
			}
		case "action":
			if s, _ := scalar(v); s == "global" || s == "reset" || s == "repeat" {
				return nil, p.errf(k, "%w", unsupported("action: %s (rule collections)", s))
			}
		}
		if err != nil {
			return nil, p.errf(v, "%s: %v", k.Value, err)
		}
	}
	if r.Title == "" {
		return nil, p.errf(root, "title is required")
	}
	if r.Level != "" && LevelRank(r.Level) < 0 {
		return nil, p.errf(root, "level %q: want one of %s", r.Level, strings.Join(levels, ", "))
	}
	for _, t := range r.Tags {
		if m := techniqueRe.FindStringSubmatch(strings.ToLower(t)); m != nil {
			r.Techniques = append(r.Techniques, strings.ToUpper(m[1]))
		}
	}
	sections := 0
	for _, n := range []*yaml.Node{detection, correlation, filter} {
		if n != nil {
			sections++
		}
	}
	switch {
	case sections > 1:
		return nil, p.errf(root, "a rule has one of detection, correlation or filter, not several")
	case sections == 0:
		return nil, p.errf(root, "a rule needs a detection, a correlation or a filter section")
	}
	if logsource != nil {
		if err := p.parseLogSource(logsource); err != nil {
			return nil, err
		}
	}
	if detection != nil {
		d, err := parseDetection(p, detection)
		if err != nil {
			return nil, err
		}
		r.detection = d
	}
	if correlation != nil {
		if err := p.parseCorrelation(correlation); err != nil {
			return nil, err
		}
	}
	if filter != nil {
		if err := p.parseFilter(filter); err != nil {
			return nil, err
		}
	}
	if opts != nil {
		if err := p.parseOptions(opts); err != nil {
			return nil, err
		}
	}
	if r.Options.Scope == "" {
		r.Options.Scope = ScopeTenant
	}
	if r.Options.SuppressFor == 0 {
		r.Options.SuppressFor = DefaultSuppressFor
	}
	if r.Options.MaxGroups == 0 {
		r.Options.MaxGroups = DefaultMaxGroups
	}
	if r.Options.MaxValues == 0 {
		r.Options.MaxValues = DefaultMaxValues
	}
	if r.ID == "" && r.Name == "" {
		return nil, p.errf(root, "a rule needs an id or a name")
	}
	return r, nil
}

// parseFilter parses a meta filter: rules, then selections and a condition
// like a detection section.
func (p *ruleParser) parseFilter(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "filter: want a mapping of rules, selections and a condition")
	}
	f := &Filter{}
	det := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "rules" {
			rs, err := stringList(v)
			if err != nil {
				return p.errf(v, "filter.rules: %v", err)
			}
			f.Rules = rs
			continue
		}
		det.Content = append(det.Content, k, v)
	}
	if len(f.Rules) == 0 {
		return p.errf(n, "filter.rules: name at least one rule (id or name)")
	}
	d, err := parseDetection(p, det)
	if err != nil {
		return err
	}
	p.r.Filter, p.r.detection = f, d
	return nil
}

func ensureCorr(c *Correlation) *Correlation {
	if c == nil {
		return &Correlation{}
	}
	return c
}

func (p *ruleParser) parseLogSource(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "logsource: want a mapping")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		s, err := scalar(v)
		if err != nil {
			return p.errf(v, "logsource.%s: %v", k.Value, err)
		}
		switch k.Value {
		case "product":
			p.r.LogSource.Product = strings.ToLower(s)
		case "service":
			p.r.LogSource.Service = strings.ToLower(s)
		case "category":
			p.r.LogSource.Category = strings.ToLower(s)
		case "definition":
		default:
			// Custom logsource fields are allowed by Sigma; ignore them.
		}
	}
	return nil
}

func (p *ruleParser) parseCorrelation(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "correlation: want a mapping")
	}
	c := ensureCorr(p.r.Correlation)
	p.r.Correlation = c
	var haveCond, haveSpan bool
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		switch k.Value {
		case "type":
			c.Type, err = scalar(v)
		case "rules":
			c.Rules, err = stringList(v)
		case "group-by":
			c.GroupBy, err = stringList(v)
		case "timespan", "timeframe":
			var s string
			if s, err = scalar(v); err == nil {
				c.Timespan, err = parseTimespan(s)
				haveSpan = true
			}
		case "generate":
			var s string
			if s, err = scalar(v); err == nil {
				c.Generate, err = strconv.ParseBool(s)
			}
		case "aliases":
			c.Aliases, err = parseAliases(v)
		case "condition":
			haveCond = true
			c.Condition, err = parseCondition(v)
		default:
			return p.errf(k, "correlation.%s: unknown key (want type, rules, group-by, timespan, condition, aliases, generate)", k.Value)
		}
		if err != nil {
			return p.errf(v, "correlation.%s: %w", k.Value, err)
		}
	}
	switch c.Type {
	case EventCount, ValueCount, Temporal, TemporalOrdered:
	case "value_sum", "value_avg", "value_percentile", "value_median":
		return p.errf(n, "%w", unsupported("correlation type %s", c.Type))
	case "":
		return p.errf(n, "correlation.type is required (event_count, value_count, temporal, temporal_ordered)")
	default:
		return p.errf(n, "correlation.type %q: want event_count, value_count, temporal or temporal_ordered", c.Type)
	}
	if len(c.Rules) == 0 {
		return p.errf(n, "correlation.rules: at least one rule is required")
	}
	if !haveSpan {
		return p.errf(n, "correlation.timespan is required")
	}
	switch c.Type {
	case EventCount, ValueCount:
		if !haveCond {
			return p.errf(n, "correlation.condition is required for %s", c.Type)
		}
	case Temporal, TemporalOrdered:
		if !haveCond {
			nr := int64(len(c.Rules))
			c.Condition = Condition{GTE: &nr}
		}
		if len(c.Rules) < 2 {
			return p.errf(n, "correlation.rules: %s needs at least two rules", c.Type)
		}
	}
	if c.Type == ValueCount && c.Condition.Field == "" {
		return p.errf(n, "correlation.condition.field is required for value_count")
	}
	if c.Type != ValueCount && c.Condition.Field != "" {
		return p.errf(n, "correlation.condition.field is only allowed for value_count")
	}
	return nil
}

func parseAliases(n *yaml.Node) (map[string]map[string]string, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("want a mapping of alias: {rule: field}")
	}
	out := map[string]map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s: want a mapping of rule: field", k.Value)
		}
		m := map[string]string{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			f, err := scalar(v.Content[j+1])
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %v", k.Value, v.Content[j].Value, err)
			}
			m[v.Content[j].Value] = f
		}
		out[k.Value] = m
	}
	return out, nil
}

func parseCondition(n *yaml.Node) (Condition, error) {
	var c Condition
	if n.Kind != yaml.MappingNode {
		return c, errors.New("want a mapping such as {gte: 5}")
	}
	bounds := 0
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		s, err := scalar(v)
		if err != nil {
			return c, fmt.Errorf("%s: %v", k.Value, err)
		}
		if k.Value == "field" {
			c.Field = s
			continue
		}
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return c, fmt.Errorf("%s: %q is not an integer", k.Value, s)
		}
		if x < 0 {
			return c, fmt.Errorf("%s: %d is negative", k.Value, x)
		}
		switch k.Value {
		case "gt":
			c.GT = &x
		case "gte":
			c.GTE = &x
		case "lt":
			c.LT = &x
		case "lte":
			c.LTE = &x
		case "eq":
			c.EQ = &x
		case "neq":
			c.NEQ = &x
		default:
			return c, fmt.Errorf("unknown operator %q (want gt, gte, lt, lte, eq, neq, field)", k.Value)
		}
		bounds++
	}
	if bounds == 0 {
		return c, errors.New("no bound (want gt, gte, lt, lte, eq or neq)")
	}
	return c, nil
}

func (p *ruleParser) parseOptions(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s: want a mapping", OptionsKey)
	}
	o := &p.r.Options
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var err error
		var s string
		switch k.Value {
		case "scope":
			if s, err = scalar(v); err == nil {
				s = strings.ReplaceAll(s, "_", "-")
				if s != ScopeTenant && s != ScopeCrossTenant {
					err = fmt.Errorf("%q: want tenant or cross-tenant", s)
				}
				o.Scope = s
			}
		case "suppress_for":
			if s, err = scalar(v); err == nil {
				o.SuppressFor, err = parseTimespan(s)
			}
		case "allowed_lateness":
			if s, err = scalar(v); err == nil {
				if s == "0" || s == "0s" {
					o.AllowedLateness = 0
				} else {
					o.AllowedLateness, err = parseTimespan(s)
				}
			}
		case "max_groups":
			o.MaxGroups, err = positiveInt(v)
		case "max_values":
			o.MaxValues, err = positiveInt(v)
		case "group-by", "group_by":
			o.GroupBy, err = stringList(v)
		case "escalates":
			o.Escalates, err = scalar(v)
		case "relative_to_accounts":
			o.Relative, err = parseRelative(v)
		case "list":
			o.List, err = stringList(v)
		case "response":
			o.Response, err = stringList(v)
		case "self_recovery":
			o.Recovery, err = parseRecovery(v)
		case "run":
			var b string
			if b, err = scalar(v); err == nil {
				o.Run = b == "true"
			}
		default:
			return p.errf(k, "%s.%s: unknown option (want scope, suppress_for, max_groups, max_values, allowed_lateness, group-by, escalates, relative_to_accounts, list, response, self_recovery, run)", OptionsKey, k.Value)
		}
		if err != nil {
			return p.errf(v, "%s.%s: %v", OptionsKey, k.Value, err)
		}
	}
	return nil
}

func parseRelative(n *yaml.Node) (*Relative, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("want a mapping {fraction: 0.5, min: 4}")
	}
	r := &Relative{Min: 1}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "fraction":
			s, err := scalar(v)
			if err != nil {
				return nil, err
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f <= 0 || f > 1 {
				return nil, fmt.Errorf("fraction %q: want a number in (0, 1]", s)
			}
			r.Fraction = f
		case "min":
			m, err := positiveInt(v)
			if err != nil {
				return nil, fmt.Errorf("min: %v", err)
			}
			r.Min = m
		default:
			return nil, fmt.Errorf("unknown key %q (want fraction, min)", k.Value)
		}
	}
	if r.Fraction == 0 {
		return nil, errors.New("fraction is required")
	}
	return r, nil
}

func parseRecovery(n *yaml.Node) (*Recovery, error) {
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("want a mapping {within: 2m, fraction: 0.5, min: 3, level: low}")
	}
	r := &Recovery{Within: DefaultRecoveryWithin, Horizon: DefaultRecoveryHorizon, Fraction: 0.5, Min: 3, Level: "low"}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		s, err := scalar(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", k.Value, err)
		}
		switch k.Value {
		case "within", "horizon":
			d, err := parseTimespan(s)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", k.Value, err)
			}
			if k.Value == "within" {
				r.Within = d
			} else {
				r.Horizon = d
			}
		case "fraction":
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f <= 0 || f > 1 {
				return nil, fmt.Errorf("fraction %q: want a number in (0, 1]", s)
			}
			r.Fraction = f
		case "min":
			if r.Min, err = positiveInt(v); err != nil {
				return nil, fmt.Errorf("min: %v", err)
			}
		case "level":
			if LevelRank(s) < 0 {
				return nil, fmt.Errorf("level %q: want one of %s", s, strings.Join(levels, ", "))
			}
			r.Level = s
		case "account_failures":
			if r.AccountFailures, err = positiveInt(v); err != nil {
				return nil, fmt.Errorf("account_failures: %v", err)
			}
		case "attack":
			if s != "spray" && s != "brute force" {
				return nil, fmt.Errorf("attack %q: want spray or brute force", s)
			}
			r.Attack = s
		default:
			return nil, fmt.Errorf("unknown key %q (want within, horizon, fraction, min, level, attack, account_failures)", k.Value)
		}
	}
	return r, nil
}

func positiveInt(n *yaml.Node) (int, error) {
	s, err := scalar(n)
	if err != nil {
		return 0, err
	}
	x, err := strconv.Atoi(s)
	if err != nil || x <= 0 {
		return 0, fmt.Errorf("%q: want a positive integer", s)
	}
	return x, nil
}

func scalar(n *yaml.Node) (string, error) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode {
		return "", errors.New("want a single value")
	}
	return n.Value, nil
}

func stringList(n *yaml.Node) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errors.New("want a list of values")
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, err := scalar(c)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
