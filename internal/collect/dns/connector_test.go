package dns

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// TestConnector: the DNS checks as a registered connector give the same
// domain checks as Checker.CheckAll, with provenance, one run per tenant,
// and a failing domain reported in its tenant's run only.
func TestConnector(t *testing.T) {
	fs := startServer(t, fixtures)
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	cfg := fmt.Sprintf("resolver: %s\ntimeout: 100ms\n", fs.addr)
	inst, err := Definition.New(func(v any) error { return yaml.Unmarshal([]byte(cfg), v) }, connector.Env{Concurrency: 4, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	e := &estate.Estate{Tenants: []estate.Tenant{{ID: "a", Domains: []string{"good.test"}}, {ID: "b", Domains: []string{"servfail.test"}}}}
	ev, err := inst.(connector.EvidenceSource).Collect(context.Background(), connector.Request{Estate: e, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	direct := (&Checker{Server: fs.addr, Timeout: 100 * time.Millisecond, Concurrency: 4, Now: func() time.Time { return now }}).CheckAll(context.Background(), Targets(e), nil)
	if len(ev.Fragment.DomainChecks) != 2 || (ev.Fragment.DomainChecks[0].SPF == nil) != (direct[0].SPF == nil) || ev.Fragment.DomainChecks[0].SPF == nil {
		t.Fatalf("checks %+v vs %+v", ev.Fragment.DomainChecks, direct)
	}
	if len(ev.Tenants) != 2 || !ev.Tenants[0].OK() || ev.Tenants[1].OK() {
		t.Errorf("runs %+v", ev.Tenants)
	}
	if m := connector.MissingProvenance(ev.Fragment); len(m) != 0 {
		t.Errorf("no provenance: %v", m)
	}
}
