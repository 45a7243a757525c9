package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/firebreak-msp/firebreak/internal/worker"
)

// TestBlastPageGraphLinkNeedsAGraph: before the engines have an estate's
// trust graph (a new install) the blast page does not offer the
// "Interactive trust graph" button, which led to a bare 404; once an
// assessment has run the button is there and the explorer answers.
func TestBlastPageGraphLinkNeedsAGraph(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	c.login("owner1")
	const link = `href="/blast/graph"`
	resp, body := c.do("GET", "/blast", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("blast page before an estate: %d", resp.StatusCode)
	}
	if strings.Contains(body, link) {
		if resp, _ := c.do("GET", "/blast/graph", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("the empty blast page links the trust graph, which answers %d", resp.StatusCode)
		}
	}
	eng, err := worker.NewEngines(worker.EngineOptions{Clock: f.clk.now})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng)
	f.assessNow()
	if _, body := c.do("GET", "/blast", nil, nil); !strings.Contains(body, link) {
		t.Error("after an assessment the blast page does not link the trust graph")
	}
	if resp, _ := c.do("GET", "/blast/graph", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("trust graph after an assessment: %d", resp.StatusCode)
	}
}
