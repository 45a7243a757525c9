package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/suggest"
)

// FileError is a problem at one line of a configuration file, said the way a
// person fixes it: the key, and what was expected there.
type FileError struct {
	File string
	Line int
	Key  string // dotted path, e.g. auth.session_ttl; "" when unknown
	Msg  string
}

func (e *FileError) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	if e.Key != "" {
		return where + ": " + e.Key + ": " + e.Msg
	}
	return where + ": " + e.Msg
}

var (
	reUnknown  = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	reType     = regexp.MustCompile(`^line (\d+): cannot unmarshal (!!\w+)(?: ` + "`" + `(.*)` + "`" + `)? into (\S+)$`)
	reDup      = regexp.MustCompile(`^line (\d+): field (\S+) already set in type (\S+)$`)
	reSyntax   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	durationT  = reflect.TypeOf(time.Duration(0))
	configType = reflect.TypeOf(Config{})
)

// explain turns the YAML decoder's error into FileErrors naming the file,
// line, key and expected form. Errors it does not recognise are kept, with
// the file name.
func explain(name string, data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		if m := reSyntax.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return &FileError{File: name, Line: line, Msg: "not valid YAML: " + m[2]}
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	keys, values := keysByLine(data)
	var errs []error
	for _, msg := range te.Errors {
		switch m := []([]string){reUnknown.FindStringSubmatch(msg), reType.FindStringSubmatch(msg), reDup.FindStringSubmatch(msg)}; {
		case m[0] != nil:
			line, _ := strconv.Atoi(m[0][1])
			parent, known := knownKeys(m[0][3])
			key := m[0][2]
			if parent != "" {
				key = parent + "." + key
			}
			hint := "expected one of: " + strings.Join(known, ", ")
			if near := closest(m[0][2], known); near != "" {
				hint = fmt.Sprintf("did you mean %q? (%s)", near, hint)
			}
			errs = append(errs, &FileError{File: name, Line: line, Key: key, Msg: "unknown key; " + hint})
		case m[1] != nil:
			line, _ := strconv.Atoi(m[1][1])
			got := m[1][3]
			if v, ok := values[line]; ok && strings.HasSuffix(got, "...") {
				got = v // the decoder shortens long values
			}
			if got == "" {
				got = map[string]string{"!!map": "a mapping", "!!seq": "a list"}[m[1][2]]
			} else {
				got = strconv.Quote(got)
			}
			errs = append(errs, &FileError{File: name, Line: line, Key: keys[line], Msg: fmt.Sprintf("expected %s, got %s", expectedForm(m[1][4]), got)})
		case m[2] != nil:
			line, _ := strconv.Atoi(m[2][1])
			errs = append(errs, &FileError{File: name, Line: line, Key: keys[line], Msg: "set twice; keep one"})
		default:
			errs = append(errs, fmt.Errorf("%s: %s", name, msg))
		}
	}
	return errors.Join(errs...)
}

// expectedForm says in words what a Go type accepts.
func expectedForm(goType string) string {
	switch {
	case goType == durationT.String():
		return "a duration such as 90s, 15m or 12h"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case strings.HasPrefix(goType, "int") || strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case goType == "string":
		return "a string"
	case goType == "[]string":
		return "a list of strings (- item lines, or [a, b])"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "config.") || strings.HasPrefix(goType, "*config."):
		return "a mapping of keys (key: value lines)"
	}
	return "a " + goType
}

// knownKeys finds the struct type named goType within Config and returns its
// dotted path and yaml keys.
func knownKeys(goType string) (string, []string) {
	var path string
	var keys []string
	var walk func(t reflect.Type, p string)
	walk = func(t reflect.Type, p string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || keys != nil {
			return
		}
		if t.String() == strings.TrimPrefix(goType, "*") {
			path = p
			for i := range t.NumField() {
				if k := yamlKey(t.Field(i)); k != "" {
					keys = append(keys, k)
				}
			}
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if k := yamlKey(f); k != "" && f.Type != durationT {
				walk(f.Type, strings.TrimPrefix(p+"."+k, "."))
			}
		}
	}
	walk(configType, "")
	return path, keys
}

func yamlKey(f reflect.StructField) string {
	k, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if k == "-" || !f.IsExported() {
		return ""
	}
	return k
}

// closest returns the known key within edit distance 2 of k, if any.
func closest(k string, known []string) string { return suggest.Closest(k, known, 2) }

// walkKeys calls visit for every mapping key (key set, n its value) and
// every list item (key nil, n the item) of the YAML in data, with its
// dotted path (connectors.sources[1].name), parents before children.
func walkKeys(data []byte, visit func(path string, key, n *yaml.Node)) {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := strings.TrimPrefix(path+"."+k.Value, ".")
				visit(p, k, v)
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				visit(p, nil, c)
				walk(c, p)
			}
		}
	}
	walk(&root, "")
}

// keysByLine maps each line holding a value (or a list item) to its dotted
// key path, and to the scalar value there, from the YAML node tree.
func keysByLine(data []byte) (map[int]string, map[int]string) {
	out, values := map[int]string{}, map[int]string{}
	walkKeys(data, func(p string, k, v *yaml.Node) {
		if k == nil { // a list item: a mapping item keeps its first key's path
			if _, ok := out[v.Line]; !ok || v.Kind != yaml.MappingNode {
				out[v.Line] = p
			}
			return
		}
		out[k.Line] = p
		if v.Line != k.Line {
			out[v.Line] = p
		}
		if v.Kind == yaml.ScalarNode {
			values[v.Line] = v.Value
		}
	})
	return out, values
}

// linesByKey maps each dotted key path in data (sections, keys and list
// items: connectors.sources[1].name) to the line of its key.
func linesByKey(data []byte) map[string]int {
	out := map[string]int{}
	walkKeys(data, func(p string, k, v *yaml.Node) {
		if k != nil {
			out[p] = k.Line
		} else {
			out[p] = v.Line
		}
	})
	return out
}

// sortedKeys is used by tests and docs: every dotted key Config accepts.
func sortedKeys() []string {
	var out []string
	var walk func(t reflect.Type, p string)
	walk = func(t reflect.Type, p string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			out = append(out, p)
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			if k := yamlKey(f); k != "" {
				if f.Type == durationT {
					out = append(out, strings.TrimPrefix(p+"."+k, "."))
					continue
				}
				walk(f.Type, strings.TrimPrefix(p+"."+k, "."))
			}
		}
	}
	walk(configType, "")
	slices.Sort(out)
	return out
}
