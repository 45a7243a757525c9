package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The official schemas, kept in testdata (see testdata/README.md for their
// provenance): SARIF 2.1.0 (OASIS, errata 01) and OSCAL 1.1.1 assessment
// results (NIST).
var schemas = map[string]struct{ file, id string }{
	"sarif": {"sarif-schema-2.1.0.json", "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"},
	"oscal": {"oscal_assessment-results_schema-1.1.1.json", "http://csrc.nist.gov/ns/oscal/1.1.1/oscal-ar-schema.json"},
}

func compileSchema(t *testing.T, format string) *jsonschema.Schema {
	t.Helper()
	s := schemas[format]
	f, err := os.Open(filepath.Join("testdata", s.file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", s.file, err)
	}
	if format == "oscal" {
		anchorsToPointers(doc)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(s.id, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(s.id)
	if err != nil {
		t.Fatalf("compiling %s: %v", s.file, err)
	}
	return sch
}

// anchorsToPointers rewrites OSCAL's location-independent references
// ("$ref": "#assembly_x", resolved through a definition's "$id": "#assembly_x")
// into the equivalent JSON pointers ("#/definitions/<key>"). NIST's draft-07
// schema gives some definitions both "$id" and "$ref"; draft 07 ignores every
// sibling of "$ref", so strict validators cannot resolve those anchors. The
// rewrite is done in memory and changes no constraint; the file in testdata
// stays byte-identical to the published one.
func anchorsToPointers(doc any) {
	root, _ := doc.(map[string]any)
	defs, _ := root["definitions"].(map[string]any)
	ptr := map[string]string{}
	for key, d := range defs {
		if m, ok := d.(map[string]any); ok {
			if id, ok := m["$id"].(string); ok && len(id) > 1 && id[0] == '#' {
				ptr[id] = "#/definitions/" + key
			}
		}
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if p, ok := ptr[ref]; ok {
					x["$ref"] = p
				}
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
}

func validateAgainst(t *testing.T, sch *jsonschema.Schema, out []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("output does not match the schema:\n%v", err)
	}
}

func TestSchemaValid(t *testing.T) {
	for _, format := range []string{"sarif", "oscal"} {
		t.Run(format, func(t *testing.T) {
			sch := compileSchema(t, format)
			for _, opts := range []Options{{}, {IncludePassing: true, ToolVersion: "1.2.3"}} {
				validateAgainst(t, sch, render(t, format, opts))
			}
			// An empty report is valid too.
			var buf bytes.Buffer
			empty := fixture()
			empty.Results, empty.Scores = nil, nil
			if err := Write(&buf, format, empty, Options{}); err != nil {
				t.Fatal(err)
			}
			validateAgainst(t, sch, buf.Bytes())
		})
	}
}

// TestSchemaRejects makes sure validation would catch a broken document:
// real output with one field made invalid.
func TestSchemaRejects(t *testing.T) {
	tests := []struct{ format, old, new string }{
		{"sarif", `"kind": "fail"`, `"kind": "failed"`},
		{"sarif", `"version": "2.1.0"`, `"version": "2.2"`},
		{"oscal", `"methods": [`, `"bogus": 1, "methods": [`},
		{"oscal", `"state": "not-satisfied"`, `"state": "unknown"`},
	}
	for _, tt := range tests {
		out := strings.Replace(string(render(t, tt.format, Options{})), tt.old, tt.new, 1)
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if compileSchema(t, tt.format).Validate(inst) == nil {
			t.Errorf("%s schema accepted a document with %s", tt.format, tt.new)
		}
	}
}
