package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/ingest"
)

// loadPlaceholders reads a YAML mapping of placeholder name to a value or a
// list of values.
func loadPlaceholders(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading placeholders: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string][]string{}
	if len(root.Content) == 0 {
		return out, nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping of placeholder name to values", path, m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		switch v.Kind {
		case yaml.ScalarNode:
			out[k.Value] = []string{v.Value}
		case yaml.SequenceNode:
			for _, c := range v.Content {
				if c.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("%s:%d: placeholder %s: want values", path, c.Line, k.Value)
				}
				out[k.Value] = append(out[k.Value], c.Value)
			}
		default:
			return nil, fmt.Errorf("%s:%d: placeholder %s: want a value or a list of values", path, v.Line, k.Value)
		}
	}
	return out, nil
}

// mappingSource describes the events a generic JSON mapping produces, so
// rules on its dataset are checked against its fields.
func mappingSource(m *ingest.Mapping) detect.Source {
	ds := m.Dataset
	if ds == "" {
		ds = "generic"
	}
	s := detect.Source{Name: "mapping " + ds, Datasets: []string{ds}, Produces: slices.Clone(m.Fields)}
	if m.Category != "" {
		s.Categories = append(s.Categories, m.Category)
	}
	for _, c := range m.ActionCategories {
		s.Categories = append(s.Categories, c)
	}
	for f, v := range map[string]string{"user.domain": m.UserDomain, "source.port": m.SourcePort, "host.name": m.Host} {
		if v != "" {
			s.Produces = append(s.Produces, f)
		}
	}
	return s
}

// reportRuleWarnings logs what keeps loaded rules from matching. The
// built-in pack's own warnings (its RMM rules without a --mapping) are
// debug-level; those of --rules are warnings.
func reportRuleWarnings(g *globalOptions, eng *detect.Engine, o detectOptions) {
	for _, w := range eng.Warnings() {
		user := false
		for _, d := range o.rulesDirs {
			if strings.HasPrefix(w.File, d) {
				user = true
			}
		}
		if user {
			g.log.Warn("rule cannot match as written", "warning", w.String())
		} else {
			g.log.Debug("built-in rule cannot match with the loaded sources", "warning", w.String())
		}
	}
}
