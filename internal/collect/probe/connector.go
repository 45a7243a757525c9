package probe

import (
	"context"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Spec describes the exposure probes as a connector (so serve runs them on
// a schedule like the others).
var Spec = connector.Spec{
	Name:         "probe",
	Title:        "Exposure probes",
	Summary:      "TCP/TLS exposure of the hosts and ports listed in the estate (never a range scan)",
	Capabilities: []connector.Capability{connector.CapEvidence},
	Schedule:     24 * time.Hour,
	Config: []connector.Field{
		{Name: "connect_timeout", Type: "duration", Default: "5s"},
		{Name: "read_timeout", Type: "duration", Default: "3s"},
	},
	Calls: []connector.Call{{Method: "TCP", Path: "host:port of each tool (host, ports) and asset (hostname, internet_ports); TLS handshake and an HTTP HEAD where it speaks them"}},
}

// Config is the connector's config section.
type Config struct {
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	ReadTimeout    time.Duration `yaml:"read_timeout"`
}

// Definition registers the probes.
var Definition = connector.Definition{Spec: Spec, New: connector.Build(func(c Config, env connector.Env) (*source, error) {
	return &source{p: &Prober{ConnectTimeout: c.ConnectTimeout, ReadTimeout: c.ReadTimeout, Concurrency: env.Concurrency, Now: env.Now}}, nil
})}

type source struct{ p *Prober }

// Collect probes every host:port of req.Estate; one TenantRun per tenant
// (targets the estate names badly are notes).
func (s *source) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	if req.Estate == nil {
		return &connector.Evidence{Fragment: &estate.Estate{}}, nil
	}
	ts, probs := Targets(req.Estate)
	xs := s.p.ProbeAll(ctx, ts, nil)
	for i := range xs {
		if xs[i].Provenance == nil {
			xs[i].Provenance = connector.Prov("probe", req.Now)
		}
	}
	runs := connector.Group("probe", xs, req.Now, func(x estate.Exposure) string { return x.Tenant }, func(x estate.Exposure, r *connector.TenantRun) {
		r.Count("targets", 1)
		if x.Open {
			r.Count("open", 1)
		}
	})
	ev := &connector.Evidence{Fragment: &estate.Estate{Exposures: xs}, Tenants: runs}
	if len(probs) > 0 && len(ev.Tenants) > 0 {
		ev.Tenants[0].Notes = append(ev.Tenants[0].Notes, probs...)
	}
	return ev, ctx.Err()
}
