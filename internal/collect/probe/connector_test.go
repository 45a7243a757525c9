package probe

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// TestConnector: the probes as a registered connector, one run per tenant
// with open ports counted, provenance on every exposure.
func TestConnector(t *testing.T) {
	p := listen(t, func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n")) })
	now := time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)
	inst, err := Definition.New(func(v any) error { return nil }, connector.Env{Concurrency: 4, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	e := &estate.Estate{Assets: []estate.Asset{{ID: "jump", Tenant: "acme", Hostname: "127.0.0.1", InternetPorts: []int{p}}}}
	ev, err := inst.(connector.EvidenceSource).Collect(context.Background(), connector.Request{Estate: e, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Tenants) != 1 || ev.Tenants[0].Tenant != "acme" || ev.Tenants[0].Counts["open"] != 1 || len(ev.Fragment.Exposures) != 1 {
		t.Fatalf("%+v %+v", ev.Tenants, ev.Fragment.Exposures)
	}
	if m := connector.MissingProvenance(ev.Fragment); len(m) != 0 {
		t.Errorf("no provenance: %v", m)
	}
}
