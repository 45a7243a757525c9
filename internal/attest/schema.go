package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The statement schema (posture-v1.schema.json) is checked by a validator
// of the JSON Schema keywords it uses, compiled from the schema on first
// use. A general validator (santhosh-tekuri/jsonschema) compiled the draft
// 4 to 2020-12 metaschemas in its package init, in every run of every
// command; the tests check this one against it (TestSchemaAgrees).

// node is one compiled (sub)schema.
type node struct {
	types      []string         // "type" (nil: any)
	required   []string         // "required"
	props      map[string]*node // "properties"
	closed     bool             // "additionalProperties": false
	items      *node            // "items"
	minItems   int              // "minItems" (-1: none)
	maxItems   int              // "maxItems" (-1: none)
	minLength  int              // "minLength" (-1: none)
	consts     []any            // "const" (one value) or "enum"
	pattern    *regexp.Regexp   // "pattern"
	min, max   *big.Rat         // "minimum", "maximum"
	dateTime   bool             // "format": "date-time"
	hasConsts  bool
	constIsOne bool
}

// annotations are keywords that do not constrain an instance.
var annotations = []string{"$schema", "$id", "title", "description"}

// compileSchema compiles a schema document; a keyword this validator does
// not implement is an error, so a schema edit cannot pass unchecked.
func compileSchema(doc []byte) (*node, error) {
	v, err := decodeJSON(doc)
	if err != nil {
		return nil, err
	}
	return compileNode(v, "#")
}

func compileNode(v any, at string) (*node, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema %s: not an object", at)
	}
	n := &node{minItems: -1, maxItems: -1, minLength: -1}
	for k, kv := range m {
		var err error
		switch k {
		case "type":
			switch t := kv.(type) {
			case string:
				n.types = []string{t}
			case []any:
				for _, x := range t {
					s, ok := x.(string)
					if !ok {
						return nil, fmt.Errorf("schema %s: type %v", at, kv)
					}
					n.types = append(n.types, s)
				}
			default:
				return nil, fmt.Errorf("schema %s: type %v", at, kv)
			}
		case "required":
			l, ok := kv.([]any)
			if !ok {
				return nil, fmt.Errorf("schema %s: required %v", at, kv)
			}
			for _, x := range l {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("schema %s: required %v", at, kv)
				}
				n.required = append(n.required, s)
			}
		case "properties":
			pm, ok := kv.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("schema %s: properties %v", at, kv)
			}
			n.props = map[string]*node{}
			for name, ps := range pm {
				if n.props[name], err = compileNode(ps, at+"/properties/"+name); err != nil {
					return nil, err
				}
			}
		case "additionalProperties":
			if b, ok := kv.(bool); !ok || b {
				return nil, fmt.Errorf("schema %s: additionalProperties other than false", at)
			}
			n.closed = true
		case "items":
			if n.items, err = compileNode(kv, at+"/items"); err != nil {
				return nil, err
			}
		case "minItems", "maxItems", "minLength":
			num, ok := kv.(json.Number)
			i, err := num.Int64()
			if !ok || err != nil || i < 0 {
				return nil, fmt.Errorf("schema %s: %s %v", at, k, kv)
			}
			switch k {
			case "minItems":
				n.minItems = int(i)
			case "maxItems":
				n.maxItems = int(i)
			default:
				n.minLength = int(i)
			}
		case "minimum", "maximum":
			r, ok := number(kv)
			if !ok {
				return nil, fmt.Errorf("schema %s: %s %v", at, k, kv)
			}
			if k == "minimum" {
				n.min = r
			} else {
				n.max = r
			}
		case "const":
			n.consts, n.hasConsts, n.constIsOne = []any{kv}, true, true
		case "enum":
			l, ok := kv.([]any)
			if !ok {
				return nil, fmt.Errorf("schema %s: enum %v", at, kv)
			}
			n.consts, n.hasConsts = l, true
		case "pattern":
			s, _ := kv.(string)
			if n.pattern, err = regexp.Compile(s); err != nil {
				return nil, fmt.Errorf("schema %s: pattern: %w", at, err)
			}
		case "format":
			if kv != "date-time" {
				return nil, fmt.Errorf("schema %s: format %v not implemented", at, kv)
			}
			n.dateTime = true
		default:
			if !slices.Contains(annotations, k) {
				return nil, fmt.Errorf("schema %s: keyword %q not implemented", at, k)
			}
		}
	}
	return n, nil
}

// decodeJSON decodes one JSON value with numbers kept exact.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err == nil {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

func number(v any) (*big.Rat, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	return new(big.Rat).SetString(string(n))
}

func typeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if r, ok := number(x); ok && r.IsInt() {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// validate reports the first way v breaks n (nil: it matches).
func (n *node) validate(v any, at string) error {
	t := typeOf(v)
	if n.types != nil && !slices.Contains(n.types, t) && !(t == "integer" && slices.Contains(n.types, "number")) {
		return fmt.Errorf("%s: got %s, want %s", at, t, strings.Join(n.types, " or "))
	}
	if n.hasConsts && !slices.ContainsFunc(n.consts, func(c any) bool { return jsonEqual(c, v) }) {
		if n.constIsOne {
			return fmt.Errorf("%s: value must be %v", at, n.consts[0])
		}
		return fmt.Errorf("%s: value must be one of %v", at, n.consts)
	}
	switch x := v.(type) {
	case string:
		if n.minLength >= 0 && utf8.RuneCountInString(x) < n.minLength {
			return fmt.Errorf("%s: shorter than %d", at, n.minLength)
		}
		if n.pattern != nil && !n.pattern.MatchString(x) {
			return fmt.Errorf("%s: %q does not match %s", at, x, n.pattern)
		}
		if n.dateTime && !isDateTime(x) {
			return fmt.Errorf("%s: %q is not an RFC 3339 date-time", at, x)
		}
	case json.Number:
		r, _ := number(x)
		if n.min != nil && r.Cmp(n.min) < 0 {
			return fmt.Errorf("%s: %s less than %s", at, x, n.min.RatString())
		}
		if n.max != nil && r.Cmp(n.max) > 0 {
			return fmt.Errorf("%s: %s more than %s", at, x, n.max.RatString())
		}
	case []any:
		if n.minItems >= 0 && len(x) < n.minItems {
			return fmt.Errorf("%s: fewer than %d items", at, n.minItems)
		}
		if n.maxItems >= 0 && len(x) > n.maxItems {
			return fmt.Errorf("%s: more than %d items", at, n.maxItems)
		}
		if n.items != nil {
			for i, e := range x {
				if err := n.items.validate(e, fmt.Sprintf("%s/%d", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		for _, r := range n.required {
			if _, ok := x[r]; !ok {
				return fmt.Errorf("%s: missing property %q", at, r)
			}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := n.props[k]
			if p == nil {
				if n.closed {
					return fmt.Errorf("%s: property %q not allowed", at, k)
				}
				continue
			}
			if err := p.validate(x[k], at+"/"+k); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonEqual is JSON Schema equality: numbers by value, objects by members.
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, ok1 := number(x)
		ry, ok2 := number(y)
		return ok1 && ok2 && rx.Cmp(ry) == 0
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, jsonEqual)
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return a == b
}

// isDateTime reports whether s is an RFC 3339 date-time (section 5.6: "T"
// and "Z" in either case, a leap second allowed).
func isDateTime(s string) bool {
	if len(s) < 20 || s[10] != 'T' && s[10] != 't' {
		return false
	}
	up := strings.ToUpper(s)
	// time.Parse refuses second 60: check the rest with 59
	if len(up) > 18 && up[17:19] == "60" {
		up = up[:17] + "59" + up[19:]
	}
	_, err := time.Parse(time.RFC3339Nano, up)
	return err == nil
}

var (
	schemaOnce sync.Once
	schema     *node
	schemaErr  error
)

func validateSchema(body []byte) error {
	schemaOnce.Do(func() { schema, schemaErr = compileSchema(schemaJSON) })
	if schemaErr != nil {
		return schemaErr
	}
	v, err := decodeJSON(body)
	if err != nil {
		return err
	}
	return schema.validate(v, "")
}
