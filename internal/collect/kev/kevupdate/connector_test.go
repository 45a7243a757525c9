package kevupdate

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/connector"
)

// TestConnector: the KEV download as a registered connector stores the
// catalog and reports its size; a broken feed is an error in the run,
// not a lost catalog.
func TestConnector(t *testing.T) {
	f := &feed{body: snapshotBytes(t)}
	srv := httptest.NewServer(f)
	defer srv.Close()
	dir := t.TempDir()
	now := time.Date(2025, 9, 1, 12, 0, 0, 0, time.UTC)
	cfg := fmt.Sprintf("data_dir: %s\nurl: %s/kev.json\n", dir, srv.URL)
	inst, err := Definition.New(func(v any) error { return yaml.Unmarshal([]byte(cfg), v) }, connector.Env{HTTP: srv.Client(), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	f.mode.Store("ok")
	ev, err := inst.(connector.EvidenceSource).Collect(context.Background(), connector.Request{Now: now})
	if err != nil || len(ev.Tenants) != 1 || !ev.Tenants[0].OK() || ev.Tenants[0].Counts["entries"] != 1404 {
		t.Fatalf("%v %+v", err, ev.Tenants)
	}
	f.mode.Store("html")
	ev, _ = inst.(connector.EvidenceSource).Collect(context.Background(), connector.Request{Now: now})
	if ev.Tenants[0].OK() {
		t.Errorf("a broken feed reported ok: %+v", ev.Tenants[0])
	}
	if _, err := Definition.New(func(v any) error { return nil }, connector.Env{}); err == nil {
		t.Error("missing data_dir accepted")
	}
}
