package estate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestEveryFieldRejectsWrongType walks every field of every estate section
// (nested objects included) and writes, one at a time, a value of the wrong
// type where a boolean, number, date, duration, enum or list is meant. Each
// must be an error at that field's file:line:col, naming its path and the
// expected form: nothing is accepted silently.
func TestEveryFieldRejectsWrongType(t *testing.T) {
	d := &decoder{types: newTypeCache()}
	root := reflect.TypeFor[Estate]()
	type probe struct{ yaml, path string }
	var probes []probe
	var walk func(t reflect.Type, yamlPrefix func(string) string, pathPrefix string, depth int)
	walk = func(st reflect.Type, wrap func(string) string, pathPrefix string, depth int) {
		si := d.info(st)
		for _, fi := range si.fields {
			ft := fi.typ
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if si.name == "GDAP" && fi.key == "auto_extend" {
				probes = append(probes, probe{wrap(fi.key + `: "false"`), pathPrefix + fi.key})
				continue
			}
			bad := ""
			switch {
			case ft == typeDate || ft == typeTime:
				bad = `"soon"`
			case ft == typeDuration:
				bad = `"1 year"`
			case ft.Kind() == reflect.Bool:
				bad = `"yes"`
			case ft.Kind() == reflect.Int || ft.Kind() == reflect.Float64:
				bad = `"many"`
			case ft.Kind() == reflect.String && (enumValues[ft] != nil || fi.enum != nil):
				bad = `bogus-value`
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() != reflect.Struct:
				bad = `{not: a list}`
			case ft.Kind() == reflect.Struct && depth < 3:
				key := fi.key
				walk(ft, func(s string) string { return wrap(key + ": {" + s + "}") }, pathPrefix+key+".", depth+1)
				continue
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && depth < 3:
				key := fi.key
				walk(ft.Elem(), func(s string) string { return wrap(key + ": [{" + s + "}]") }, pathPrefix+key+"[0].", depth+1)
				continue
			default:
				continue
			}
			probes = append(probes, probe{wrap(fi.key + ": " + bad), pathPrefix + fi.key})
		}
	}
	for _, fi := range d.info(root).fields {
		ft := fi.typ
		key := fi.key
		switch {
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			walk(ft.Elem(), func(s string) string { return key + ":\n  - {" + s + "}\n" }, key+"[0].", 0)
		case ft.Kind() == reflect.Struct:
			walk(ft, func(s string) string { return key + ": {" + s + "}\n" }, key+".", 0)
		}
	}
	if len(probes) < 60 {
		t.Fatalf("only %d probes: the walk no longer reaches the model", len(probes))
	}
	dir := t.TempDir()
	for i, p := range probes {
		sub := filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(sub, "e.yaml"), []byte(p.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		e, err := Load(sub)
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: accepted (%v)\n%s", p.path, err, p.yaml)
			continue
		}
		if e != nil {
			t.Errorf("%s: an estate was returned with the error (half-loaded)", p.path)
		}
		found := false
		for _, fe := range ve.Errors {
			if strings.HasPrefix(fe.Path, p.path) && fe.Pos.Line > 0 && fe.Pos.Col > 0 && fe.Expected != "" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no error at that field with a position and the expected form; got %v\n%s", p.path, ve.Errors, p.yaml)
		}
	}
	t.Logf("%d fields probed", len(probes))
}
