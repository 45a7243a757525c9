package trust

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/firebreak-msp/firebreak/internal/access"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Priv is an ordered privilege: Read < Operate < Admin < Full. None means no
// control.
type Priv uint8

const (
	None Priv = iota
	Read
	Operate
	Admin
	Full
)

// Privs lists the privileges from lowest to highest.
var Privs = [...]Priv{Read, Operate, Admin, Full}

func (p Priv) String() string {
	switch p {
	case Read:
		return "read"
	case Operate:
		return "operate"
	case Admin:
		return "admin"
	case Full:
		return "full_control"
	}
	return "none"
}

// MarshalText implements encoding.TextMarshaler.
func (p Priv) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads what MarshalText wrote (stored reports are read back
// by the dashboard).
func (p *Priv) UnmarshalText(b []byte) error {
	v, err := ParsePriv(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// PrivOf converts an estate privilege; unknown values are None.
func PrivOf(p estate.Privilege) Priv { return Priv(p.Rank()) }

// ParsePriv parses "read", "operate", "admin", "full_control" (or "full").
func ParsePriv(s string) (Priv, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "read":
		return Read, nil
	case "operate":
		return Operate, nil
	case "admin":
		return Admin, nil
	case "full_control", "full", "full-control":
		return Full, nil
	}
	return None, fmt.Errorf("unknown privilege %q: expected read, operate, admin or full_control", s)
}

// NodeKind classifies nodes.
type NodeKind uint8

const (
	KindOutsider NodeKind = iota
	KindIdentity
	KindGroup
	KindTool
	KindTenant
	KindAsset
	KindVendor
	KindProvider // the MSP itself (id "msp"): its own network and devices
)

var kindNames = [...]string{"outsider", "identity", "group", "tool", "tenant", "asset", "vendor", "provider"}

func (k NodeKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (k NodeKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// OutsiderID is the id of the outsider pseudo-node.
const OutsiderID = "outsider"

// Node is one vertex of the trust graph.
type Node struct {
	ID   string   // estate id ("outsider" for the pseudo-node)
	Kind NodeKind //
	Sub  string   // tool kind, identity kind, asset kind or vendor kind
	Name string   // display name
	Home string   // "msp" or the tenant id the object belongs to
	MFA  estate.MFAStrength
	// Exposed is true for internet-exposed tools and assets.
	Exposed bool
	// KEV lists known-exploited vulnerabilities (CVE ids) present.
	KEV []string
	// Disabled identities do not act: their out-edges are inert.
	Disabled bool
	// Tenant weight inputs (tenants only).
	Criticality estate.Criticality
	Endpoints   int
	Pos         estate.Pos
}

// EdgeKind says where an edge comes from.
type EdgeKind uint8

const (
	EdgeMember EdgeKind = iota // identity → group
	EdgeGrant                  // an estate grant
	EdgeAgent                  // tool → asset (agent)
	EdgeHost                   // asset → tenant, or MSP asset → tool it hosts
	EdgeCred                   // vault → identity (stored credential)
	EdgeSupply                 // vendor → tool (update channel)
	EdgeIdP                    // identity provider → identity
	EdgeRole                   // identity → home tenant or IdP via directory roles
	EdgeGDAP                   // gdap tool → customer tenant
	EdgeAccess                 // GDAP access group → gdap tool
	EdgeBackup                 // backup console → tenant
	EdgeEntry                  // outsider → entry point
	EdgeStaff                  // subcontractor → the guest accounts of its staff, and staff account → subcontractor (it exercises the vendor's access)
)

var edgeKindNames = [...]string{"member", "grant", "agent", "host", "credential", "supply", "idp", "role", "gdap", "access_group", "backup", "entry", "staff"}

func (k EdgeKind) String() string {
	if int(k) < len(edgeKindNames) {
		return edgeKindNames[k]
	}
	return "unknown"
}

// MarshalText implements encoding.TextMarshaler.
func (k EdgeKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Requirement is a condition on the target that must hold for an edge to be
// usable. It is re-checked on every analysis, so hardening a node disables
// the edges that depended on its weakness.
type Requirement uint8

const (
	ReqNone         Requirement = iota // always usable
	ReqNoPRMFA                         // target lacks phishing-resistant MFA (credential replay)
	ReqNoMFA                           // target has no MFA at all (password spraying, console without MFA)
	ReqKEV                             // target has a known-exploited vulnerability
	ReqExposedNoMFA                    // target is internet-exposed and has no MFA
	ReqExposedKEV                      // target is internet-exposed and has a KEV
	ReqExposed                         // target is internet-exposed (remote-login ports)
)

// Edge is "From can control To".
type Edge struct {
	From, To int32
	Priv     Priv
	Kind     EdgeKind
	JIT      bool // just-in-time (excluded from standing queries)
	Cut      bool // removed by a what-if change
	Req      Requirement
	// Grant is the estate grant id for EdgeGrant and EdgeCred edges from grants.
	Grant string
	// Why is a short reason for derived edges (e.g. "GDAP roles: Global Administrator").
	Why string
	Pos estate.Pos
}

// Graph is the trust graph of one estate. It is immutable once built; what-if
// changes produce a new Graph sharing the adjacency.
type Graph struct {
	Nodes []Node
	Edges []Edge
	// Warnings are non-fatal findings made while building (self-loops
	// dropped, expired grants skipped, ambiguous ids).
	Warnings []string
	// MaxTenantShare is the bound suggestions aim for (from estate settings).
	MaxTenantShare float64
	// Access are the derived facts the graph was built from (shared with
	// assess; see internal/access).
	Access *access.Facts

	byID      map[string]int32 // bare id (when unique) and "kind:id"
	ambig     map[string][]string
	tenants   []int32 // node index of each tenant, bit i = tenants[i]
	identity0 int32   // node index of the first identity (estate order)
	tbit      []int32 // node index → tenant bit, -1 otherwise

	// CSR adjacency, shared by derived graphs.
	adj *adjacency
	// effective privileges per CSR slot, computed once per graph.
	effOnce [2]sync.Once
	eff     [2][]Priv
	// the access matrix, computed on first use (Matrix).
	matrixOnce sync.Once
	matrix     *access.Matrix
}

type adjacency struct {
	start []int32 // len nodes+1
	to    []int32 // target per slot
	edge  []int32 // edge index per slot
}

// Lookup resolves an id (bare, or "kind:id") without the suggestions
// NodeIndex computes for a person's typo: for code that resolves many ids.
func (g *Graph) Lookup(id string) (int32, bool) {
	i, ok := g.byID[id]
	return i, ok
}

// NodeIndex resolves an id (bare, or "kind:id" when ambiguous).
func (g *Graph) NodeIndex(id string) (int32, error) {
	if i, ok := g.byID[id]; ok {
		return i, nil
	}
	if c, ok := g.ambig[id]; ok {
		return -1, fmt.Errorf("node %q is ambiguous: use one of %s", id, strings.Join(c, ", "))
	}
	return -1, &UnknownNodeError{ID: id, Suggest: g.similar(id)}
}

// UnknownNodeError is returned for ids that name no node.
type UnknownNodeError struct {
	ID      string
	Suggest []string
}

func (e *UnknownNodeError) Error() string {
	s := fmt.Sprintf("no node %q in the trust graph", e.ID)
	if len(e.Suggest) > 0 {
		s += " (did you mean " + strings.Join(e.Suggest, ", ") + "?)"
	}
	return s
}

func (g *Graph) similar(id string) []string {
	var out []string
	l := strings.ToLower(id)
	for i := range g.Nodes {
		n := &g.Nodes[i]
		if strings.Contains(strings.ToLower(n.ID), l) || (len(l) >= 3 && strings.Contains(l, strings.ToLower(n.ID)) && len(n.ID) >= 3) {
			out = append(out, n.ID)
			if len(out) == 5 {
				break
			}
		}
	}
	return out
}

// Tenants returns the node indexes of the tenants, in estate order.
func (g *Graph) Tenants() []int32 { return g.tenants }

// Outsider returns the index of the outsider pseudo-node (always 0).
func (g *Graph) Outsider() int32 { return 0 }

// EdgeID is a stable, human-readable id for an edge: the grant id for grant
// edges, otherwise "kind:from->to".
func (g *Graph) EdgeID(e int32) string {
	ed := &g.Edges[e]
	if ed.Grant != "" {
		return ed.Grant
	}
	return ed.Kind.String() + ":" + g.Nodes[ed.From].ID + "->" + g.Nodes[ed.To].ID
}

// Usable is the privilege edge e conveys under q and the current node
// states: None when it is cut, just-in-time (unless q includes those), or
// inert (a disabled identity's edge, a credential into a node with
// phishing-resistant MFA, an outsider edge whose condition no longer holds).
// Reaching along edges with Usable ≥ p is the blast radius at p.
func (g *Graph) Usable(e int32, q Query) Priv { return g.usable(e, q.IncludeJIT) }

// usable reports the privilege edge e conveys under the current node states,
// or None when it is inert.
func (g *Graph) usable(e int32, jit bool) Priv {
	ed := &g.Edges[e]
	if ed.JIT && !jit {
		return None
	}
	if ed.Cut {
		return None
	}
	from := &g.Nodes[ed.From]
	if from.Disabled {
		return None
	}
	t := &g.Nodes[ed.To]
	switch ed.Req {
	case ReqNoPRMFA:
		if t.MFA == estate.MFAPhishingResistant {
			return None
		}
	case ReqNoMFA:
		if t.MFA != estate.MFANone || t.Disabled {
			return None
		}
	case ReqKEV:
		if len(t.KEV) == 0 {
			return None
		}
	case ReqExposedNoMFA:
		if !t.Exposed || t.MFA != estate.MFANone {
			return None
		}
	case ReqExposedKEV:
		if !t.Exposed || len(t.KEV) == 0 {
			return None
		}
	case ReqExposed:
		if !t.Exposed {
			return None
		}
	}
	return ed.Priv
}

// effective returns the usable privilege of every edge, in CSR slot order.
// The result is cached; callers must not modify it.
func (g *Graph) effective(jit bool) []Priv {
	k := 0
	if jit {
		k = 1
	}
	g.effOnce[k].Do(func() { g.eff[k] = g.computeEff(jit, nil) })
	return g.eff[k]
}

// computeEff computes the usable privilege of every CSR slot into buf.
func (g *Graph) computeEff(jit bool, buf []Priv) []Priv {
	if cap(buf) < len(g.adj.to) {
		buf = make([]Priv, len(g.adj.to))
	}
	buf = buf[:len(g.adj.to)]
	for s, e := range g.adj.edge {
		buf[s] = g.usable(e, jit)
	}
	return buf
}

// Label is "kind id" for messages.
func (g *Graph) Label(i int32) string {
	n := &g.Nodes[i]
	return n.Kind.String() + " " + n.ID
}

// tenantWeight is the ranking weight of tenant node i: criticality weight ×
// endpoints (at least 1).
func tenantWeight(n *Node) float64 {
	ep := n.Endpoints
	if ep < 1 {
		ep = 1
	}
	return n.Criticality.Weight() * float64(ep)
}

// OutEdges returns the edge indexes leaving node i.
func (g *Graph) OutEdges(i int32) []int32 {
	return g.adj.edge[g.adj.start[i]:g.adj.start[i+1]]
}

// sortedIDs returns node ids sorted, for messages.
func sortedIDs(g *Graph, idx []int32) []string {
	out := make([]string, len(idx))
	for i, x := range idx {
		out[i] = g.Nodes[x].ID
	}
	slices.Sort(out)
	return out
}
