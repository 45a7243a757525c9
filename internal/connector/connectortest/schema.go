package connectortest

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
)

// Schemas is an excerpt of a vendor's published API description (an
// OpenAPI spec, a Google discovery document) kept in a connector's
// testdata: schema name → property name → the schema its value follows
// ("" a scalar, "*" a free-form object; a schema holding the property "*"
// takes any property).
type Schemas map[string]map[string]string

// LoadSchemas reads an excerpt file: {"_source": "…", "schemas": {…}}.
func LoadSchemas(path string) (Schemas, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Schemas Schemas `json:"schemas"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc.Schemas, nil
}

// CheckJSON reports every property of v (decoded JSON: a vendor fake's
// answer) that schema typ does not have, recursing into the properties'
// schemas.
func (s Schemas) CheckJSON(report func(string), v any, typ, path string) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			s.CheckJSON(report, e, typ, path+"[]")
		}
	case map[string]any:
		if typ == "" || typ == "*" {
			return
		}
		props, ok := s[typ]
		if !ok {
			report(path + ": schema " + typ + " is not in the excerpt")
			return
		}
		if _, free := props["*"]; free {
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			inner, ok := props[k]
			if !ok {
				report(fmt.Sprintf("%s.%s: not a property of %s in the published description", path, k, typ))
				continue
			}
			s.CheckJSON(report, x[k], inner, path+"."+k)
		}
	}
}

// CheckStruct reports every JSON property a Go type decodes (its json
// tags, recursively) that schema typ does not have.
func (s Schemas) CheckStruct(report func(string), gt reflect.Type, typ, path string) {
	for gt.Kind() == reflect.Pointer || gt.Kind() == reflect.Slice || gt.Kind() == reflect.Map {
		gt = gt.Elem()
	}
	if gt.Kind() != reflect.Struct || typ == "" || typ == "*" {
		return
	}
	props, ok := s[typ]
	if !ok {
		report(path + ": schema " + typ + " is not in the excerpt")
		return
	}
	if _, free := props["*"]; free {
		return
	}
	for i := range gt.NumField() {
		f := gt.Field(i)
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if f.Anonymous {
			s.CheckStruct(report, f.Type, typ, path)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		inner, ok := props[name]
		if !ok {
			report(fmt.Sprintf("%s.%s: %q is not a property of %s in the published description", path, f.Name, name, typ))
			continue
		}
		s.CheckStruct(report, f.Type, inner, path+"."+name)
	}
}
