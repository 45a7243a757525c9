package detect

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func compileSigmaSchema(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata/sigma-schema", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(file, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(file)
	if err != nil {
		t.Fatalf("compiling %s: %v", file, err)
	}
	return sch
}

// sigmaDocs decodes the YAML documents of a rule file as JSON values.
func sigmaDocs(t *testing.T, name string, data []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []map[string]any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := inst.(map[string]any)
		out = append(out, m)
	}
}

// TestPackSchema validates every rule of the built-in pack against the
// SigmaHQ JSON schema of its kind (detection, correlation, filter).
func TestPackSchema(t *testing.T) {
	schemas := map[string]*jsonschema.Schema{
		"detection":   compileSigmaSchema(t, "sigma-detection-rule-schema.json"),
		"correlation": compileSigmaSchema(t, "sigma-correlation-rules-schema.json"),
		"filter":      compileSigmaSchema(t, "sigma-filters-schema.json"),
	}
	n := 0
	err := fs.WalkDir(BuiltinFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(BuiltinFS(), p)
		if err != nil {
			return err
		}
		for i, doc := range sigmaDocs(t, p, data) {
			kind := "detection"
			for _, k := range []string{"correlation", "filter"} {
				if _, ok := doc[k]; ok {
					kind = k
				}
			}
			n++
			if err := schemas[kind].Validate(doc); err != nil {
				t.Errorf("%s document %d (%v, %s rule): %v", p, i+1, doc["name"], kind, strings.ReplaceAll(err.Error(), "\n", "\n\t"))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no rule documents")
	}
}

// TestSchemaRejects proves the schemas are in force: the two defects the
// pack had (a correlation without group-by, a rule without logsource).
func TestSchemaRejects(t *testing.T) {
	corr := compileSigmaSchema(t, "sigma-correlation-rules-schema.json")
	det := compileSigmaSchema(t, "sigma-detection-rule-schema.json")
	bad := sigmaDocs(t, "bad", []byte("title: c\ncorrelation: {type: event_count, rules: [a], timespan: 10m, condition: {gte: 5}}\n---\ntitle: d\ndetection: {s: {a: b}, condition: s}\n"))
	if err := corr.Validate(bad[0]); err == nil || !strings.Contains(err.Error(), "group-by") {
		t.Errorf("correlation without group-by: %v, want a group-by error", err)
	}
	if err := det.Validate(bad[1]); err == nil || !strings.Contains(err.Error(), "logsource") {
		t.Errorf("detection without logsource: %v, want a logsource error", err)
	}
}
