package estate

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/atomicfile"
)

// Format rewrites one estate YAML document in the canonical form that
// `firebreak estate fmt` writes: two-space indentation, each object's keys
// in the model's order (unknown keys, which Load rejects, are left last),
// and Partner Center's auto-extend durations written as the booleans they
// mean (PT0S → false, P180D → true). Comments, flow style and anchors are
// kept. It does not check the document; callers load it first.
func Format(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		return data, nil // empty file
	}
	f := &formatter{types: newTypeCache()}
	if len(doc.Content) > 0 {
		f.node(doc.Content[0], reflect.TypeFor[Estate]())
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type formatter struct{ types map[reflect.Type]*structInfo }

var typeEstate = reflect.TypeFor[Estate]()

func (f *formatter) info(t reflect.Type) *structInfo {
	d := decoder{types: f.types}
	return d.info(t)
}

// node normalises n, read as a value of type t.
func (f *formatter) node(n *yaml.Node, t reflect.Type) {
	if n == nil || n.Kind == yaml.AliasNode {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t != typeDate && t != typeTime && n.Kind == yaml.MappingNode:
		si := f.info(t)
		type pair struct {
			k, v *yaml.Node
			rank int
		}
		pairs := make([]pair, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			rank := len(si.fields) + i // unknown and merge keys keep their order, last
			if idx, ok := si.byKey[k.Value]; ok && k.Tag != "!!merge" {
				rank = idx
				fi := si.fields[idx]
				if si.name == "GDAP" && k.Value == "auto_extend" {
					autoExtendBool(v)
				} else {
					f.node(v, fi.typ)
				}
			}
			pairs = append(pairs, pair{k, v, rank})
		}
		// A stable insertion sort: objects have a few dozen keys at most.
		// The file's top-level sections keep the author's order.
		for i := 1; i < len(pairs) && t != typeEstate; i++ {
			for j := i; j > 0 && pairs[j].rank < pairs[j-1].rank; j-- {
				pairs[j], pairs[j-1] = pairs[j-1], pairs[j]
			}
		}
		n.Content = n.Content[:0]
		for _, p := range pairs {
			n.Content = append(n.Content, p.k, p.v)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, e := range n.Content {
			f.node(e, t.Elem())
		}
	}
}

// autoExtendBool turns Partner Center's autoExtendDuration into a boolean.
func autoExtendBool(v *yaml.Node) {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!str" || !strings.HasPrefix(v.Value, "P") {
		return
	}
	if b, ok := ParseAutoExtend(v.Value); ok {
		if v.LineComment == "" {
			v.LineComment = "# was " + v.Value
		}
		v.Tag, v.Style = "!!bool", 0
		v.Value = fmt.Sprint(*b)
	}
}

// FormatPath formats every YAML file of the estate at path (a file or a
// directory, as Load reads it) after checking that the estate loads: an
// invalid estate is reported, not rewritten. With write it replaces the
// files that change (atomically); it returns the names of those files.
func FormatPath(path string, write bool) ([]string, error) {
	if _, err := Load(path); err != nil {
		return nil, err
	}
	files, err := estateFiles(path)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, fn := range files {
		switch strings.ToLower(filepath.Ext(fn)) {
		case ".yaml", ".yml":
		default:
			continue // JSON is machine-written; left as it is
		}
		data, err := os.ReadFile(fn)
		if err != nil {
			return changed, fmt.Errorf("formatting %s: %w", fn, err)
		}
		out, err := Format(data)
		if err != nil {
			return changed, fmt.Errorf("formatting %s: %w", fn, err)
		}
		if bytes.Equal(out, data) {
			continue
		}
		changed = append(changed, fn)
		if write {
			st, err := os.Stat(fn)
			if err != nil {
				return changed, err
			}
			if err := atomicfile.WriteBytes(fn, st.Mode().Perm(), out); err != nil {
				return changed, fmt.Errorf("formatting %s: %w", fn, err)
			}
		}
	}
	return changed, nil
}
