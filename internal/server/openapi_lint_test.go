package server

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestOpenAPILint is the OpenAPI document's lint, run in CI with the tests:
// every operation has a unique lowerCamel operationId, every response but
// 204 has a schema (directly or through a shared response), every $ref
// resolves, and every path parameter is declared.
func TestOpenAPILint(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	idRe := regexp.MustCompile(`^[a-z][A-Za-z0-9]+$`)
	seen := map[string]string{}
	paths := doc["paths"].(map[string]any)
	for path, v := range paths {
		for method, ov := range v.(map[string]any) {
			if !strings.Contains("get post put delete patch", method) {
				continue
			}
			op := ov.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			switch {
			case !idRe.MatchString(id):
				t.Errorf("%s: operationId %q is missing or not lowerCamel", where, id)
			case seen[id] != "":
				t.Errorf("%s: operationId %q also used by %s", where, id, seen[id])
			}
			seen[id] = where
			resps, _ := op["responses"].(map[string]any)
			if len(resps) == 0 {
				t.Errorf("%s: no responses", where)
			}
			for code, rv := range resps {
				r := rv.(map[string]any)
				if ref, ok := r["$ref"].(string); ok {
					r = resolve(t, doc, ref).(map[string]any)
				}
				if _, ok := r["content"]; !ok && code != "204" {
					t.Errorf("%s: response %s has no content schema", where, code)
				}
			}
			for _, m := range regexp.MustCompile(`\{(\w+)\}`).FindAllStringSubmatch(path, -1) {
				if !declaresParam(doc, v.(map[string]any), op, m[1]) {
					t.Errorf("%s: path parameter %s not declared", where, m[1])
				}
			}
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				resolve(t, doc, ref)
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	if len(seen) < 30 {
		t.Errorf("only %d operations", len(seen))
	}
}

func declaresParam(doc map[string]any, pathItem, op map[string]any, name string) bool {
	for _, src := range []map[string]any{pathItem, op} {
		ps, _ := src["parameters"].([]any)
		for _, pv := range ps {
			p := pv.(map[string]any)
			if ref, ok := p["$ref"].(string); ok {
				if rp, ok := resolveRef(doc, ref).(map[string]any); ok {
					p = rp
				}
			}
			if p["name"] == name && p["in"] == "path" {
				return true
			}
		}
	}
	return false
}

func resolveRef(doc map[string]any, ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func resolve(t *testing.T, doc map[string]any, ref string) any {
	t.Helper()
	v := resolveRef(doc, ref)
	if v == nil {
		t.Errorf("$ref %s does not resolve", ref)
		return map[string]any{"content": true}
	}
	return v
}

// TestOpenAPIResponsesMatch calls the read endpoints as the owner and
// validates each body against the schema the document gives for its 200
// response, so the schemas say what the server sends.
func TestOpenAPIResponsesMatch(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("owner1")
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatal(err)
	}
	const base = "https://firebreak.invalid/openapi.json"
	comp := jsonschema.NewCompiler()
	raw, _ := jsonschema.UnmarshalJSON(bytes.NewReader(openAPIDoc))
	if err := comp.AddResource(base, raw); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for path, v := range doc["paths"].(map[string]any) {
		op, ok := v.(map[string]any)["get"].(map[string]any)
		if !ok || strings.Contains(path, "{") || path == "/api/v1/estate/diff" || path == "/api/v1/assessments/diff" {
			continue
		}
		r200, _ := op["responses"].(map[string]any)["200"].(map[string]any)
		content, _ := r200["content"].(map[string]any)
		js, _ := content["application/json"].(map[string]any)
		schema, _ := js["schema"].(map[string]any)
		ref, _ := schema["$ref"].(string)
		if ref == "" {
			t.Errorf("GET %s: 200 has no schema reference", path)
			continue
		}
		sch, err := comp.Compile(base + ref)
		if err != nil {
			t.Fatalf("compiling %s: %v", ref, err)
		}
		resp, body := c.do("GET", path, nil, nil)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
			continue
		}
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
		if err != nil {
			t.Errorf("GET %s: not JSON: %v", path, err)
			continue
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("GET %s does not match %s: %v", path, ref, err)
		}
		checked++
	}
	if checked < 15 {
		t.Errorf("only %d endpoints checked", checked)
	}
}
