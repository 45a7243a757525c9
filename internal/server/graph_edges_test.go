package server

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/trust"
)

// The explorer drew "846 edges" where `firebreak blast` printed "1016
// edges": the explorer draws the usable standing edges, the CLI counted
// every edge of the graph. Both now take their numbers from
// trust.Graph.CountEdges: the CLI prints all and usable, the explorer
// draws the usable ones and names the rest, and the numbers add up.
func TestExplorerEdgeCountIsTheCLIs(t *testing.T) {
	g := harbourviewGraph(t)
	rep, err := trust.NewReport(g, trust.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, _, edges := explorerView(g, "x", explorerMaxNodes)
	c := d.EdgeCount
	if c != rep.EdgeCount || c.All != rep.Edges || c.All != len(g.Edges) {
		t.Fatalf("explorer counts %+v, the CLI %+v of %d edges", c, rep.EdgeCount, rep.Edges)
	}
	if len(edges) != c.Usable || len(d.Grants) != c.Usable {
		t.Errorf("explorer draws %d links, %d usable", len(edges), c.Usable)
	}
	if c.Usable+c.JIT+c.Cut+c.Disabled+c.Closed != c.All || c.JIT == 0 || c.Closed == 0 || c.Usable == c.All {
		t.Errorf("edge count %+v does not add up to its %d edges, or the example has no unusable ones", c, c.All)
	}
	var cli bytes.Buffer
	if err := trust.WriteTable(&cli, rep); err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(cli.String(), "\n")
	if want := fmt.Sprintf("%d edges, %d usable", c.All, c.Usable); !strings.Contains(head, want) {
		t.Errorf("CLI header %q, want %q", head, want)
	}
	for _, want := range []string{fmt.Sprintf("%d links", c.Usable), fmt.Sprintf("of the %d that firebreak blast counts", c.All),
		fmt.Sprintf("%d just-in-time", c.JIT), fmt.Sprintf("%d ways in that are closed", c.Closed)} {
		if !strings.Contains(d.EdgeNote, want) {
			t.Errorf("explorer note %q lacks %q", d.EdgeNote, want)
		}
	}
	// A view too big to draw whole names the links between the drawn nodes.
	small, _, smallEdges := explorerView(g, "x", 40)
	if !strings.HasPrefix(small.EdgeNote, fmt.Sprintf("%d links: the usable edges between the nodes drawn (%d of the %d", len(smallEdges), c.Usable, c.All)) {
		t.Errorf("bounded view's note: %q", small.EdgeNote)
	}
}
