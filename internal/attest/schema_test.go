package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// reference compiles the statement schema with a general JSON Schema
// validator (test only: its package init compiles every metaschema).
func reference(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	const url = "https://github.com/firebreak-msp/firebreak/attestation/posture/v1.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSchemaAgrees: validateSchema accepts and refuses the same statements
// as a general JSON Schema validator, over a sample statement and every
// mutation of one of its values (removed, replaced by a value of another
// type or an edge value, an extra member).
func TestSchemaAgrees(t *testing.T) {
	ref := reference(t)
	st := sample()
	st.Predicate.Contract = &ContractFacts{ID: "msa-1", Present: []string{"a"}}
	body, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var base any
	if err := json.Unmarshal(body, &base); err != nil {
		t.Fatal(err)
	}
	values := []any{nil, true, false, "", "x", "tenant:", "tenant:a", strings.Repeat("0", 64), strings.Repeat("ab", 32),
		"pass", "attested", "great", "2026-12-01T09:00:00Z", "2026-12-01t09:00:00z", "2026-12-01T09:00:00.5+01:00",
		"2026-12-01 09:00:00Z", "2026-13-01T09:00:00Z", "2026-12-31T23:59:60Z", "2026-12-01T09:00:00",
		StatementType, PredicateType, 0, 1, -1, 1.5, 100, 100.5, 2.0, 1e3, []any{}, []any{"x"},
		map[string]any{}, map[string]any{"id": "x"}}
	agree := func(name string, doc any) {
		t.Helper()
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		want := ref.Validate(inst) == nil
		got := validateSchema(b)
		if (got == nil) != want {
			t.Errorf("%s: validateSchema %v, reference valid=%v\n%s", name, got, want, b)
		}
	}
	agree("sample", base)
	n := 0
	var walk func(path string, v any, set func(any))
	walk = func(path string, v any, set func(any)) {
		for _, nv := range values {
			set(nv)
			agree(fmt.Sprintf("%s=%v", path, nv), base)
			n++
		}
		set(v)
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				kv := x[k]
				delete(x, k)
				agree(path+"/"+k+" removed", base)
				x[k] = kv
				walk(path+"/"+k, kv, func(nv any) { x[k] = nv })
			}
			x["extra"] = 1
			agree(path+"/extra added", base)
			delete(x, "extra")
		case []any:
			for i := range x {
				walk(fmt.Sprintf("%s/%d", path, i), x[i], func(nv any) { x[i] = nv })
			}
		}
	}
	walk("", base, func(nv any) { base = nv })
	if n < 1000 {
		t.Errorf("%d mutations, want the whole statement covered", n)
	}
}

// A schema keyword the validator does not implement is an error, not
// ignored: an edit to the schema cannot pass unchecked.
func TestSchemaUnknownKeyword(t *testing.T) {
	for _, doc := range []string{
		`{"type": "object", "patternProperties": {"^x": {}}}`,
		`{"properties": {"a": {"oneOf": [{}]}}}`,
		`{"additionalProperties": {"type": "string"}}`,
		`{"format": "email"}`,
	} {
		if _, err := compileSchema([]byte(doc)); err == nil {
			t.Errorf("%s compiled", doc)
		}
	}
	if _, err := compileSchema(schemaJSON); err != nil {
		t.Errorf("posture-v1.schema.json: %v", err)
	}
}
