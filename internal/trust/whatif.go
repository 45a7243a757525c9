package trust

import (
	"fmt"
	"slices"
	"strings"

	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Op is a what-if operation.
type Op string

const (
	OpCut    Op = "cut"    // remove an edge (revoke a grant, remove a membership, uninstall an agent)
	OpHarden Op = "harden" // change a node's state (MFA, patched, not exposed, disabled)
	OpJIT    Op = "jit"    // make an edge just-in-time (no longer standing)
)

// Change is one what-if change. Target is an edge spec (grant id, edge id
// "kind:from->to", or "from->to") for cut and jit, a node id for harden.
// Value is the new state for harden: mfa:phishing-resistant, mfa:weak,
// mfa:none, patched, internal or disabled.
type Change struct {
	Op     Op     `json:"op"`
	Target string `json:"target"`
	Value  string `json:"value,omitempty"`
}

func (c Change) String() string {
	if c.Op == OpHarden {
		return fmt.Sprintf("harden %s=%s", c.Target, c.Value)
	}
	return string(c.Op) + " " + c.Target
}

// ParseChange parses a flag value: for harden "NODE=VALUE", otherwise the
// edge spec.
func ParseChange(op Op, arg string) (Change, error) {
	arg = strings.TrimSpace(arg)
	switch op {
	case OpCut, OpJIT:
		if arg == "" {
			return Change{}, fmt.Errorf("--%s needs an edge: a grant id, an edge id kind:from->to, or from->to", op)
		}
		return Change{Op: op, Target: arg}, nil
	case OpHarden:
		node, val, ok := strings.Cut(arg, "=")
		if !ok || node == "" || val == "" {
			return Change{}, fmt.Errorf("--harden %q: expected NODE=VALUE, e.g. tech-07=mfa:phishing-resistant", arg)
		}
		if _, err := hardenValue(val); err != nil {
			return Change{}, fmt.Errorf("--harden %q: %w", arg, err)
		}
		return Change{Op: op, Target: node, Value: val}, nil
	}
	return Change{}, fmt.Errorf("unknown what-if operation %q", op)
}

type hardening struct {
	mfa      estate.MFAStrength
	patched  bool
	internal bool
	disabled bool
}

func hardenValue(v string) (hardening, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "mfa:phishing-resistant", "mfa:phishing_resistant", "mfa:fido2":
		return hardening{mfa: estate.MFAPhishingResistant}, nil
	case "mfa:weak", "mfa":
		return hardening{mfa: estate.MFAWeak}, nil
	case "mfa:none":
		return hardening{mfa: estate.MFANone}, nil
	case "patched":
		return hardening{patched: true}, nil
	case "internal", "unexposed":
		return hardening{internal: true}, nil
	case "disabled":
		return hardening{disabled: true}, nil
	}
	return hardening{}, fmt.Errorf("unknown hardening %q: expected mfa:phishing-resistant, mfa:weak, mfa:none, patched, internal or disabled", v)
}

// EdgesFor resolves an edge spec: a grant id, an edge id (kind:from->to as
// printed by EdgeID), from->to (every edge between the two nodes), or
// node->* (every standing grant, membership and role of the node), or
// *->node (every standing grant to the node).
func (g *Graph) EdgesFor(spec string) ([]int32, error) {
	spec = strings.TrimSpace(spec)
	var out []int32
	for i := range g.Edges {
		if g.Edges[i].Grant == spec {
			out = append(out, int32(i))
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	if to, ok := strings.CutPrefix(spec, "*->"); ok {
		ti, err := g.NodeIndex(strings.TrimSpace(to))
		if err != nil {
			return nil, fmt.Errorf("edge %q: %w", spec, err)
		}
		for e := range g.Edges {
			if ed := &g.Edges[e]; ed.To == ti && ed.Kind == EdgeGrant && g.jitable(ed) {
				out = append(out, int32(e))
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no standing grant to %s", g.Label(ti))
		}
		return out, nil
	}
	if from, ok := strings.CutSuffix(spec, "->*"); ok {
		fi, err := g.NodeIndex(strings.TrimSpace(from))
		if err != nil {
			return nil, fmt.Errorf("edge %q: %w", spec, err)
		}
		for _, e := range g.OutEdges(fi) {
			if g.jitable(&g.Edges[e]) {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s has no standing grant, membership or role", g.Label(fi))
		}
		return out, nil
	}
	if from, to, ok := strings.Cut(spec, "->"); ok {
		kind := ""
		if k, rest, ok := strings.Cut(from, ":"); ok {
			if _, known := edgeKindByName(k); known {
				kind, from = k, rest
			}
		}
		fi, err := g.NodeIndex(strings.TrimSpace(from))
		if err != nil {
			return nil, fmt.Errorf("edge %q: %w", spec, err)
		}
		ti, err := g.NodeIndex(strings.TrimSpace(to))
		if err != nil {
			return nil, fmt.Errorf("edge %q: %w", spec, err)
		}
		for _, e := range g.OutEdges(fi) {
			ed := &g.Edges[e]
			if ed.To == ti && (kind == "" || ed.Kind.String() == kind) {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no edge from %s to %s", g.Label(fi), g.Label(ti))
		}
		return out, nil
	}
	return nil, fmt.Errorf("no edge %q: expected a grant id, kind:from->to or from->to", spec)
}

// ObjectsOf names the estate objects change c alters, the ids a finding's
// evidence names: the node a hardening changes; for a cut or just-in-time
// change, each edge EdgesFor resolves — its grant id, or for a membership
// or role (no grant) the member or holder it starts from. An edge spec that
// resolves to nothing names nothing.
func (g *Graph) ObjectsOf(c Change) []string {
	if c.Op == OpHarden {
		if i, err := g.NodeIndex(c.Target); err == nil {
			return []string{g.Nodes[i].ID}
		}
		return nil
	}
	es, err := g.EdgesFor(c.Target)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range es {
		id := g.Edges[e].Grant
		if id == "" {
			id = g.Nodes[g.Edges[e].From].ID
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func edgeKindByName(s string) (EdgeKind, bool) {
	for i, n := range edgeKindNames {
		if n == s {
			return EdgeKind(i), true
		}
	}
	return 0, false
}

// With returns a copy of the graph with the changes applied. The receiver is
// not modified.
func (g *Graph) With(changes ...Change) (*Graph, error) {
	h := &Graph{
		Nodes:          slices.Clone(g.Nodes),
		Edges:          slices.Clone(g.Edges),
		Warnings:       g.Warnings,
		MaxTenantShare: g.MaxTenantShare,
		byID:           g.byID,
		ambig:          g.ambig,
		tenants:        g.tenants,
		identity0:      g.identity0,
		Access:         g.Access,
		tbit:           g.tbit,
		adj:            g.adj,
	}
	for _, c := range changes {
		if err := h.apply(c); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// apply mutates h in place; only for graphs owned by the caller (With, the
// suggestion search).
func (h *Graph) apply(c Change) error {
	switch c.Op {
	case OpCut, OpJIT:
		es, err := h.EdgesFor(c.Target)
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		for _, e := range es {
			if c.Op == OpCut {
				h.Edges[e].Cut = true
			} else {
				h.Edges[e].JIT = true
			}
		}
	case OpHarden:
		i, err := h.NodeIndex(c.Target)
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		hv, err := hardenValue(c.Value)
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		n := &h.Nodes[i]
		switch {
		case hv.patched:
			n.KEV = nil
		case hv.internal:
			n.Exposed = false
		case hv.disabled:
			if n.Kind != KindIdentity {
				return fmt.Errorf("%s: only identities can be disabled, %s is a %s", c, n.ID, n.Kind)
			}
			n.Disabled = true
		default:
			if n.Kind != KindIdentity && n.Kind != KindTool {
				return fmt.Errorf("%s: MFA applies to identities and tools, %s is a %s", c, n.ID, n.Kind)
			}
			n.MFA = hv.mfa
		}
	default:
		return fmt.Errorf("unknown what-if operation %q", c.Op)
	}
	return nil
}

// Delta is one node's blast radius before and after a set of changes.
type Delta struct {
	Before, After Rank
}

// Changed reports whether the tenant counts at ≥ admin or at any privilege
// moved.
func (d Delta) Changed() bool {
	return d.Before.AtAdmin() != d.After.AtAdmin() || d.Before.AtAny() != d.After.AtAny()
}

// Compare lists the outsider, then every node whose reach changed (largest
// drop at ≥ admin first), then the top n nodes before the change that did
// not move.
func Compare(before, after *Ranking, n int) []Delta {
	seen := map[int32]bool{0: true}
	out := []Delta{{Before: before.Outsider, After: after.Outsider}}
	var changed, same []Delta
	for _, r := range before.Ranks {
		d := Delta{Before: r, After: after.Of(r.Node)}
		seen[r.Node] = true
		if d.Changed() {
			changed = append(changed, d)
		}
	}
	for _, r := range after.Ranks {
		if !seen[r.Node] {
			seen[r.Node] = true
			changed = append(changed, Delta{Before: before.Of(r.Node), After: r})
		}
	}
	for k, r := range before.Ranks {
		if k == n {
			break
		}
		if d := (Delta{Before: r, After: after.Of(r.Node)}); !d.Changed() {
			same = append(same, d)
		}
	}
	slices.SortStableFunc(changed, func(a, b Delta) int {
		da, db := a.Before.AtAdmin()-a.After.AtAdmin(), b.Before.AtAdmin()-b.After.AtAdmin()
		if da != db {
			return db - da
		}
		if da, db := a.Before.AtAny()-a.After.AtAny(), b.Before.AtAny()-b.After.AtAny(); da != db {
			return db - da
		}
		return compareRank(&a.Before, &b.Before)
	})
	out = append(out, changed...)
	return append(out, same...)
}
