package integrations

import (
	"context"
	"encoding/json"
	"strings"
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

// TestIdentitySpecsNamePermissions: what `firebreak collect NAME --help`
// and --dry-run print for the identity platforms names every permission
// their calls need, each call's permission is one of them, and the help
// text lists each by name.
func TestIdentitySpecsNamePermissions(t *testing.T) {
	for _, d := range Definitions() {
		s := d.Spec
		if s.Name != "graph" && s.Name != "okta" && s.Name != "google" {
			continue
		}
		if len(s.Permissions) == 0 || len(s.Calls) == 0 {
			t.Errorf("%s: %d permissions, %d calls", s.Name, len(s.Permissions), len(s.Calls))
		}
		names := map[string]bool{}
		help := s.Help()
		for _, p := range s.Permissions {
			names[p.Name] = true
			if !strings.Contains(help, p.Name) {
				t.Errorf("%s --help does not name %s", s.Name, p.Name)
			}
		}
		for _, c := range s.Calls {
			if c.Permission != "" && !names[c.Permission] {
				t.Errorf("%s: call %s %s needs %q, which the permissions list leaves out", s.Name, c.Method, c.Path, c.Permission)
			}
		}
	}
}
