package trust

import (
	"fmt"
	"io"
	"strconv"
)

// DOTOptions tune WriteDOT.
type DOTOptions struct {
	// From highlights what this node reaches (bold edges on proof paths).
	From       string
	IncludeJIT bool
}

// kindColor is the fill colour of each node kind (shared with the HTML view).
var kindColor = map[NodeKind]string{
	KindOutsider: "#d62728",
	KindIdentity: "#1f77b4",
	KindGroup:    "#9467bd",
	KindTool:     "#ff7f0e",
	KindTenant:   "#2ca02c",
	KindAsset:    "#8c8c8c",
	KindVendor:   "#8c564b",
	KindProvider: "#17becf",
}

var privColor = [...]string{None: "#bbbbbb", Read: "#7fb3d5", Operate: "#f5b041", Admin: "#e67e22", Full: "#c0392b"}

// WriteDOT writes the graph in Graphviz DOT: nodes coloured by kind, edges
// labelled with their privilege, just-in-time edges dashed, inert edges
// (cut, or blocked by MFA or a patched flaw) dotted grey. With From, the
// proof paths from that node are drawn bold.
func WriteDOT(w io.Writer, g *Graph, o DOTOptions) error {
	ew := &errWriter{w: w}
	onPath := map[int32]bool{}
	if o.From != "" {
		i, err := g.NodeIndex(o.From)
		if err != nil {
			return err
		}
		b := g.Blast(i, Query{IncludeJIT: o.IncludeJIT})
		for _, rs := range [][]Reached{b.Tenants, b.Assets, b.Other} {
			for _, r := range rs {
				for _, e := range b.PathOf(r) {
					onPath[e] = true
				}
			}
		}
	}
	ew.printf("digraph trust {\n  rankdir=LR;\n  node [style=filled, fontname=\"Helvetica\", fontsize=10, fontcolor=white];\n  edge [fontname=\"Helvetica\", fontsize=8];\n")
	for i := range g.Nodes {
		n := &g.Nodes[i]
		shape := "box"
		switch n.Kind {
		case KindTenant:
			shape = "doubleoctagon"
		case KindOutsider:
			shape = "octagon"
		case KindIdentity:
			shape = "ellipse"
		case KindAsset:
			shape = "note"
		}
		label := n.ID
		if n.Sub != "" {
			label += "\\n" + n.Sub
		}
		if n.MFA != "" && (n.Kind == KindIdentity || n.Kind == KindTool) {
			label += "\\nmfa " + string(n.MFA)
		}
		if len(n.KEV) > 0 {
			label += "\\nKEV"
		}
		ew.printf("  n%d [label=%s, shape=%s, fillcolor=%q, tooltip=%s];\n", i, strconv.Quote(label), shape, kindColor[n.Kind], strconv.Quote(n.Kind.String()+" "+n.ID))
	}
	for e := range g.Edges {
		ed := &g.Edges[e]
		p := g.usable(int32(e), o.IncludeJIT)
		style := "solid"
		if ed.JIT {
			style = "dashed"
		}
		color := privColor[p]
		if p == None {
			style = "dotted"
		}
		attrs := fmt.Sprintf("label=%s, color=%q, style=%s, tooltip=%s", strconv.Quote(ed.Priv.String()), color, style, strconv.Quote(g.EdgeID(int32(e))+": "+ed.Why))
		if onPath[int32(e)] {
			attrs += ", penwidth=3"
		}
		ew.printf("  n%d -> n%d [%s];\n", ed.From, ed.To, attrs)
	}
	ew.printf("}\n")
	return ew.err
}
