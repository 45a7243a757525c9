package config

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

const example = "../../packaging/firebreak.yaml"

// TestExampleConfig keeps the packaged example true: it decodes strictly and
// validates, every key Config accepts appears in it (set, or shown in a
// commented-out block for optional sections), and every key it sets carries
// a comment.
func TestExampleConfig(t *testing.T) {
	c := Default()
	if err := LoadFile(example, &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("example does not validate: %v", err)
	}
	data, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(n *yaml.Node, path string, comment string)
	walk = func(n *yaml.Node, path, above string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, "")
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := strings.TrimPrefix(path+"."+k.Value, ".")
				set[p] = true
				if strings.TrimSpace(k.HeadComment+k.LineComment+v.LineComment) == "" && !(i == 0 && path == "" && root.Content[0].HeadComment != "") {
					t.Errorf("%s:%d: key %s has no comment", example, k.Line, p)
				}
				walk(v, p, "")
			}
		}
	}
	walk(&root, "", "")
	// Keys shown commented out, with their section: "#   issuer: …" under
	// "# oidc:" in auth.
	commented := map[string]bool{}
	section := ""
	reKey := regexp.MustCompile(`^\s*#(\s*)(?:- )?([a-z_]+):`)
	for _, line := range strings.Split(string(data), "\n") {
		m := reKey.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if len(m[1]) <= 1 {
			section = m[2]
			commented[section] = true
			continue
		}
		commented[section+"."+m[2]] = true
	}
	var missing []string
	for _, k := range sortedKeys() {
		if set[k] {
			continue
		}
		parts := strings.Split(k, ".")
		last2 := strings.Join(parts[max(0, len(parts)-2):], ".")
		if commented[last2] {
			continue
		}
		missing = append(missing, k)
	}
	if d := cmp.Diff(missing, []string(nil)); d != "" {
		t.Errorf("keys Config accepts that the example does not show (-missing +want)\n%s", d)
	}
}

// TestDecodeErrors: an unknown key or a wrong type names the file, the line,
// the key and the expected form.
func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"unknown_top", "listen: 127.0.0.1:1\ndata_dri: /x\n", []string{`f.yaml:2: data_dri: unknown key; did you mean "data_dir"?`}},
		{"unknown_nested", "auth:\n  session_ttl: 1h\n  lockot: 1m\n", []string{`f.yaml:3: auth.lockot: unknown key; did you mean "lockout"?`, "max_failures"}},
		{"duration", "auth:\n  idle_timeout: soon\n", []string{`f.yaml:2: auth.idle_timeout: expected a duration such as 90s, 15m or 12h, got "soon"`}},
		{"integer", "retention:\n  events_days: half a year\n", []string{`f.yaml:2: retention.events_days: expected a whole number, got "half a year"`}},
		{"bool", "tls:\n  disable: perhaps\n", []string{`f.yaml:2: tls.disable: expected true or false, got "perhaps"`}},
		{"list", "estate:\n  paths: /etc/x\n", []string{`f.yaml:2: estate.paths: expected a list of strings`}},
		{"mapping", "tls: yes\n", []string{`f.yaml:1: tls: expected a mapping of keys`}},
		{"two_errors", "listen: x\nfoo: 1\nauth:\n  max_failures: many\n", []string{`f.yaml:2: foo: unknown key`, `f.yaml:4: auth.max_failures: expected a whole number, got "many"`}},
		{"syntax", "auth:\n  lockout: 1m\n   bad: [\n", []string{`f.yaml:3: not valid YAML`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			err := Decode(bytes.NewReader([]byte(tc.yaml)), "f.yaml", &c)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FileError", err)
			}
		})
	}
}
