package config

import (
	"strings"
	"testing"
)

func TestConnectorsConfig(t *testing.T) {
	doc := `
connectors:
  sources:
    - type: ninjaone
      schedule: 30m
      settings: {region: eu, client_id: abc, client_secret: {env: NINJA_SECRET}}
    - name: ninjaone
      type: datto
  export:
    - type: splunk_hec
      spool_max_bytes: 1048576
      settings: {url: "https://splunk:8088", token: {env: HEC}}
  tickets:
    - type: connectwise
      kinds: [finding, cases]
      min_severity: urgent
`
	c := Default()
	if err := Decode(strings.NewReader(doc), "firebreak.yaml", &c); err != nil {
		t.Fatal(err)
	}
	if c.Connectors.Sources[0].Settings.Line == 0 || c.Connectors.Export[0].SpoolMaxBytes != 1<<20 {
		t.Errorf("decoded %+v", c.Connectors)
	}
	err := c.Validate()
	for _, want := range []string{`connectors.sources[1].name: "ninjaone" is also used`, `connectors.tickets[0].kinds: "cases"`, `min_severity: "urgent"`, "connectors.tickets[0].companies"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validation error lacks %q: %v", want, err)
		}
	}
	bad := Default()
	if err := Decode(strings.NewReader("connectors:\n  sources:\n    - type: x\n      shedule: 1m\n"), "f.yaml", &bad); err == nil {
		t.Error("unknown key accepted")
	}
}
