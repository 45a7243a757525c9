package server

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// The blast page lists the blastShown highest-ranked objects with their
// explanation and links the whole ranking (?show=all), which lists every
// row and no link; a selected node keeps its selection in the link.
func TestBlastPageListsTheTopRanks(t *testing.T) {
	f := newFixture(t)
	eng, err := worker.NewEngines(worker.EngineOptions{Clock: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng) // the explorer link needs the engines' trust graph
	n := blastShown + 15
	b := &store.BlastResult{JSON: json.RawMessage(`{}`)}
	for i := range n {
		b.Ranking = append(b.Ranking, store.BlastRank{Rank: i + 1, Node: fmt.Sprintf("node-%02d", i), Kind: "identity", Score: float64(100 - i),
			TenantCount: 1, Tenants: []string{tenantA}, Privilege: "admin"})
	}
	if err := f.st.SaveBlast(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	a := f.client()
	a.login("analyst1")
	// A ranked row's header cell links the node (after the rank shown on
	// narrow screens).
	rowRE := regexp.MustCompile(`<th scope="row">(?:<span class="narrow-only">[0-9]+\. </span>)?<a href="/blast\?node=`)
	rows := func(page string) int { return len(rowRE.FindAllStringIndex(page, -1)) }
	_, page := a.do("GET", "/blast", nil, nil)
	if got := rows(page); got != blastShown {
		t.Errorf("blast page lists %d ranks, want %d", got, blastShown)
	}
	if !strings.Contains(page, fmt.Sprintf("The %d highest of %d ranked objects", blastShown, n)) || !strings.Contains(page, fmt.Sprintf(`href="/blast?show=all#rank-h">Show all %d</a>`, n)) ||
		!strings.Contains(page, `href="/blast/graph"`) {
		t.Errorf("blast page: want the count, a show-all link and the explorer link")
	}
	if strings.Contains(page, fmt.Sprintf("node=node-%02d", blastShown)) {
		t.Errorf("blast page lists rank %d", blastShown+1)
	}
	_, all := a.do("GET", "/blast?show=all", nil, nil)
	if got := rows(all); got != n || strings.Contains(all, "Show all") {
		t.Errorf("show=all lists %d ranks, want %d and no show-all link", got, n)
	}
	_, sel := a.do("GET", "/blast?node=node-03", nil, nil)
	if !strings.Contains(sel, `href="/blast?node=node-03&amp;show=all#rank-h"`) {
		t.Errorf("with a node selected, show all keeps the node")
	}
}
