package integrations

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// mappedEvents is an event source whose records carry their own mapped
// event (Google login activities: no ingest parser).
type mappedEvents struct{}

func (mappedEvents) Poll(ctx context.Context, req connector.Request, cur connector.Cursor, emit func(connector.Record) error) (connector.Cursor, []connector.TenantRun, error) {
	for i := range 3 {
		ev := &event.Event{Timestamp: req.Now.Add(time.Duration(i) * time.Second), Category: "authentication", Action: "login_failure",
			Outcome: event.OutcomeFailure, UserName: "pat@acme.example", Tenant: "acme", Dataset: "google_workspace.login"}
		raw, _ := json.Marshal(map[string]any{"i": i})
		if err := emit(connector.Record{Tenant: "acme", Format: "google.login", Raw: raw, Event: ev}); err != nil {
			return cur, nil, err
		}
	}
	return connector.Cursor{"acme": "x"}, []connector.TenantRun{{Connector: "mapped", Tenant: "acme"}}, nil
}

func TestPollMappedEvents(t *testing.T) {
	dir := t.TempDir()
	reg := connector.NewRegistry(connector.Definition{Spec: connector.Spec{Name: "mapped", Capabilities: []connector.Capability{connector.CapEvents}},
		New: func(func(any) error, connector.Env) (any, error) { return mappedEvents{}, nil }})
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Estate.Paths = []string{dir}
	cfg.Connectors = config.ConnectorsConfig{Sources: []config.SourceConfig{{Type: "mapped"}}}
	var got []store.EventRecord
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	r, err := New(Options{Config: cfg, Registry: reg, Now: func() time.Time { return now },
		Commit: func(ctx context.Context, recs []store.EventRecord) error { got = append(got, recs...); return nil },
		Estate: func() (*estate.Estate, int64) { return &estate.Estate{}, 1 }})
	if err != nil {
		t.Fatal(err)
	}
	r.poll(t.Context(), r.sources[0])
	if len(got) != 3 || got[0].Event.Dataset != "google_workspace.login" || got[0].Event.Outcome != event.OutcomeFailure {
		t.Fatalf("committed %+v", got)
	}
}
