package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestScreenConnectTrigger posts the trigger body docs/connectors.md tells
// the MSP to configure to /api/v1/events?format=screenconnect and reads it
// back from GET /api/v1/events as ECS.
func TestScreenConnectTrigger(t *testing.T) {
	f := newFixture(t)
	hdr := map[string]string{"Authorization": "Bearer " + f.tokenA, "Content-Type": "application/json"}
	body := `{"ts":"11/26/2026 11:50:00 AM","event":"RanCommand","session":"PC-ALPHA-01","session_id":"6f1d2c3b-0000-4000-8000-000000000001","session_type":"Access","company":"` + tenantA + `","machine":"ALPHA-WS-01","technician":"eve@msp.example","ip":"203.0.113.7","process":"Host","data":"whoami"}`
	resp, got := f.client().do("POST", "/api/v1/events?format=screenconnect", strings.NewReader(body), hdr)
	if resp.StatusCode != http.StatusOK || !strings.Contains(got, `"accepted":1`) {
		t.Fatalf("post: %d %s", resp.StatusCode, got)
	}
	resp, got = f.client().do("GET", "/api/v1/events?user=eve@msp.example", nil, hdr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("search: %d %s", resp.StatusCode, got)
	}
	var out struct {
		Events []struct {
			Event map[string]any `json:"event"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(got), &out); err != nil || len(out.Events) != 1 {
		t.Fatalf("search answer %v: %s", err, got)
	}
	ev := out.Events[0].Event
	b, _ := json.Marshal(ev)
	if strings.Contains(string(b), "quarantine") {
		t.Errorf("event quarantined: %s", b)
	}
	for _, want := range []string{`"ecs":{"version":`, `"@timestamp":"2026-11-26T11:50:00Z"`, `"action":"RanCommand"`, `"dataset":"rmm.screenconnect"`,
		`"name":"eve@msp.example"`, `"host":{"name":"ALPHA-WS-01"}`, `"organization":{"id":"` + tenantA + `"}`, `"ip":"203.0.113.7"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("event lacks %s: %s", want, b)
		}
	}
}
