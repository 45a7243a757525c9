package server

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// Generic JSON without a mapping file is refused with the reason (a mapping
// file is needed) and counted in firebreak_ingest_rejected_total, not
// answered "unreadable body" and left out of the metrics.
func TestGenericJSONRefusalSaysWhy(t *testing.T) {
	f := newFixture(t)
	before := needsMapping(f)
	body := `{"@timestamp":"2026-01-02T03:04:05Z","message":"x"}` + "\n"
	resp, got := f.client().do("POST", "/api/v1/events", strings.NewReader(body), map[string]string{"Authorization": "Bearer " + f.tokenA})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "mapping file") || strings.Contains(got, "unreadable") {
		t.Errorf("generic JSON: %d %s; want 400 naming the mapping file", resp.StatusCode, got)
	}
	if strings.Contains(got, "request:") || strings.Contains(got, "/") && strings.Contains(got, ".go") {
		t.Errorf("refusal leaks internals: %s", got)
	}
	if n := needsMapping(f) - before; n != 1 {
		t.Errorf("needs_mapping refusals counted %v, want 1", n)
	}
}

func needsMapping(f *fixture) float64 {
	var m dto.Metric
	if err := f.srv.metrics.IngestRejected.WithLabelValues("needs_mapping").Write(&m); err != nil {
		f.t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
