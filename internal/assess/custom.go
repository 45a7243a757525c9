package assess

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// CustomControl is a control a user's policy (a --policy DIR) declares,
// found by reading the Rego without evaluating it.
type CustomControl struct {
	ID string
	// Title, Severity, Heading and Remediation are the metadata the policy
	// gives as constants: keys of the object literal that holds
	// "control": ID, or of a constant object rule of the same package the
	// rule refers to (the `meta := {...}` of examples/policies). Metadata a
	// policy computes from its input is known only when it is evaluated,
	// and is empty here.
	Title       string
	Severity    string
	Heading     int
	Remediation string
	// Package is the Rego package, e.g. "firebreak.checks.acme".
	Package string
	// File and Line locate the first "control": ID literal.
	File string
	Line int
}

// CustomControls lists the controls declared in the policy dirs' .rego
// files (files ending _test.rego are skipped, as in New): every object
// literal with a constant string "control" key, in id order. An id given
// only as a function argument (lib.result("ID", ...)) is not found.
func CustomControls(dirs []string) ([]CustomControl, error) {
	byID := map[string]*CustomControl{}
	err := eachPolicyFile(dirs, func(p string, src []byte) error {
		m, err := ast.ParseModuleWithOpts(p, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return &PolicyError{Msg: fmt.Sprintf("parsing policy %s", formatRegoErr(err))}
		}
		declaredControls(m, p, byID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]CustomControl, 0, len(byID))
	for _, c := range byID {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b CustomControl) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// declaredControls adds module m's control literals to byID.
func declaredControls(m *ast.Module, file string, byID map[string]*CustomControl) {
	pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
	// Constant object rules (meta := {...}) by name.
	consts := map[string]ast.Object{}
	for _, r := range m.Rules {
		h := r.Head
		if len(h.Args) > 0 || h.Key != nil || h.Value == nil || len(h.Reference) != 1 || !h.Value.IsGround() {
			continue
		}
		if obj, ok := h.Value.Value.(ast.Object); ok {
			consts[h.Name.String()] = obj
		}
	}
	for _, r := range m.Rules {
		// The constant objects this rule mentions, in order.
		var refs []ast.Object
		ast.WalkTerms(r, func(t *ast.Term) bool {
			var name string
			switch v := t.Value.(type) {
			case ast.Var:
				name = string(v)
			case ast.Ref:
				if len(v) == 1 {
					name = v[0].Value.String()
				}
			}
			if obj, ok := consts[name]; ok && name != "" {
				refs = append(refs, obj)
			}
			return false
		})
		ast.WalkTerms(r, func(t *ast.Term) bool {
			obj, ok := t.Value.(ast.Object)
			if !ok {
				return false
			}
			idt := obj.Get(ast.StringTerm("control"))
			if idt == nil {
				return false
			}
			id, ok := idt.Value.(ast.String)
			if !ok || id == "" {
				return false
			}
			c := byID[string(id)]
			if c == nil {
				c = &CustomControl{ID: string(id), Package: pkg, File: file}
				if t.Location != nil {
					c.Line = t.Location.Row
				}
				byID[string(id)] = c
			}
			c.fill(obj)
			for _, o := range refs {
				c.fill(o)
			}
			return false
		})
	}
}

// fill sets the metadata still empty from obj's constant keys.
func (c *CustomControl) fill(obj ast.Object) {
	str := func(key string, dst *string) {
		if *dst != "" {
			return
		}
		if t := obj.Get(ast.StringTerm(key)); t != nil {
			if s, ok := t.Value.(ast.String); ok {
				*dst = string(s)
			}
		}
	}
	str("title", &c.Title)
	str("severity", &c.Severity)
	str("remediation", &c.Remediation)
	if c.Heading == 0 {
		if t := obj.Get(ast.StringTerm("heading")); t != nil {
			if n, ok := t.Value.(ast.Number); ok {
				if h, ok := n.Int(); ok {
					c.Heading = h
				}
			}
		}
	}
}

// deniedBuiltins are the Rego built-ins policies may not call: they reach
// the network (http.send, net.lookup_ip_addr), expose the process's
// environment and configuration (opa.runtime), or are random. The pure
// net.cidr_* functions stay: they only compute on their arguments.
var deniedBuiltins = map[string]bool{
	"http.send":          true,
	"net.lookup_ip_addr": true,
	"opa.runtime":        true,
	"rand.intn":          true,
	"uuid.rfc4122":       true,
}

// policyCapabilities is the capability set every policy, embedded or from
// a --policy dir, is compiled with: OPA's own for this version less the
// denied built-ins and every other non-deterministic one except
// time.now_ns, which Run pins to the injected clock (rego.EvalTime), and
// with no host allowed for network access. A policy that calls a denied
// built-in fails to compile with an error naming its file and line.
func policyCapabilities() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool {
		return deniedBuiltins[b.Name] || (b.Nondeterministic && b.Name != "time.now_ns")
	})
	caps.AllowNet = []string{}
	return caps
}
