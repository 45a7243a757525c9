package connector

import (
	"fmt"
	"slices"
	"sort"
)

// Registry holds the connectors a binary knows. It is built once, in one
// place (cmd/firebreak/connectors.go), and passed to whoever needs it;
// there is no package-level registry.
type Registry struct {
	defs map[string]Definition
}

// NewRegistry registers defs; a duplicate or unnamed definition is a
// programming error and panics at start-up.
func NewRegistry(defs ...Definition) *Registry {
	r := &Registry{defs: map[string]Definition{}}
	for _, d := range defs {
		if d.Spec.Name == "" || d.New == nil {
			panic("connector: definition without a name or constructor")
		}
		if _, dup := r.defs[d.Spec.Name]; dup {
			panic(fmt.Sprintf("connector: %q registered twice", d.Spec.Name))
		}
		r.defs[d.Spec.Name] = d
	}
	return r
}

// Lookup returns the definition called name.
func (r *Registry) Lookup(name string) (Definition, bool) {
	d, ok := r.defs[name]
	return d, ok
}

// Names lists the registered connectors, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.defs))
	for n := range r.defs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// With lists the definitions providing c, sorted by name.
func (r *Registry) With(c Capability) []Definition {
	var out []Definition
	for _, n := range r.Names() {
		if d := r.defs[n]; slices.Contains(d.Spec.Capabilities, c) {
			out = append(out, d)
		}
	}
	return out
}
