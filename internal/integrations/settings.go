package integrations

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	unmarshalerT = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	durationT    = reflect.TypeOf(time.Duration(0))
	reCannot     = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (\\S+)$")
)

// decoder decodes a settings node strictly: a key the connector does not
// know, or a value of the wrong type, is an error naming the key, its line
// in the config file and the expected form. The node is decoded as it was
// parsed (not re-marshalled), so every line is the config file's own.
func decoder(field string, n yaml.Node) func(v any) error {
	return func(v any) error {
		if n.Kind == 0 {
			return nil
		}
		if errs := unknownKeys(field, &n, reflect.TypeOf(v)); len(errs) > 0 {
			return errors.Join(errs...)
		}
		err := n.Decode(v)
		var te *yaml.TypeError
		if errors.As(err, &te) {
			var errs []error
			for _, msg := range te.Errors {
				if m := reCannot.FindStringSubmatch(msg); m != nil {
					got := map[string]string{"!!map": "a mapping", "!!seq": "a list"}[m[2]]
					if m[3] != "" {
						got = fmt.Sprintf("%q", m[3])
					}
					msg = fmt.Sprintf("line %s of the config: expected %s, got %s", m[1], expectedForm(m[4]), got)
				}
				errs = append(errs, fmt.Errorf("%s (%s", field, strings.Replace(msg, ": ", "): ", 1)))
			}
			return errors.Join(errs...)
		}
		if err != nil && strings.HasPrefix(err.Error(), "line ") {
			return fmt.Errorf("%s (%s", field, strings.Replace(err.Error(), ": ", " of the config): ", 1))
		}
		if err != nil {
			return fmt.Errorf("%s (line %d of the config): %w", field, n.Line, err)
		}
		return nil
	}
}

// unknownKeys walks n against the Go type t the way the YAML decoder will
// and returns one error per key t does not have.
func unknownKeys(path string, n *yaml.Node, t reflect.Type) []error {
	for t.Kind() == reflect.Pointer {
		if t.Implements(unmarshalerT) {
			return nil
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerT) || n.Kind == yaml.AliasNode {
		return nil
	}
	var errs []error
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields, open := structKeys(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			switch {
			case ok:
				errs = append(errs, unknownKeys(path+"."+k.Value, val, ft)...)
			case !open:
				known := make([]string, 0, len(fields))
				for name := range fields {
					known = append(known, name)
				}
				slices.Sort(known)
				errs = append(errs, fmt.Errorf("%s.%s (line %d of the config): unknown key (expected one of: %s)", path, k.Value, k.Line, strings.Join(known, ", ")))
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, unknownKeys(path+"."+n.Content[i].Value, n.Content[i+1], t.Elem())...)
		}
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		for i, c := range n.Content {
			errs = append(errs, unknownKeys(fmt.Sprintf("%s[%d]", path, i), c, t.Elem())...)
		}
	}
	return errs
}

// structKeys is the yaml keys of struct t (inline fields flattened) and
// their types; open is true when an inline map takes any other key.
func structKeys(t reflect.Type) (map[string]reflect.Type, bool) {
	out := map[string]reflect.Type{}
	open := false
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Map {
				open = true
				continue
			}
			if ft.Kind() == reflect.Struct {
				sub, o := structKeys(ft)
				for k, v := range sub {
					out[k] = v
				}
				open = open || o
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out, open
}

// expectedForm says in words what a Go type accepts.
func expectedForm(goType string) string {
	switch {
	case goType == durationT.String():
		return "a duration such as 90s, 15m or 12h"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint") || strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string" || strings.HasSuffix(goType, ".Secret"):
		return "a string"
	case goType == "[]string":
		return "a list of strings (- item lines, or [a, b])"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a mapping (key: value)"
	}
	return "a " + goType
}
