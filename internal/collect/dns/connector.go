package dns

import (
	"context"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Spec describes the DNS checks as a connector (so serve runs them on a
// schedule like the others).
var Spec = connector.Spec{
	Name:         "dns",
	Title:        "DNS email security",
	Summary:      "SPF, DMARC, DKIM, MTA-STS and TLS-RPT of every tenant domain in the estate",
	Capabilities: []connector.Capability{connector.CapEvidence},
	Schedule:     24 * time.Hour,
	Config: []connector.Field{
		{Name: "resolver", Type: "string", Doc: "host:port of the resolver (default: /etc/resolv.conf)"},
		{Name: "timeout", Type: "duration", Default: "3s", Doc: "per query"},
		{Name: "selectors", Type: "list", Doc: "DKIM selectors to try (default: common ones)"},
	},
	Calls: []connector.Call{{Method: "DNS", Path: "TXT _dmarc.<domain>, <domain> (SPF, include: chains), <selector>._domainkey.<domain>, _mta-sts.<domain>, _smtp._tls.<domain>"}},
}

// Config is the connector's config section.
type Config struct {
	Resolver  string        `yaml:"resolver"`
	Timeout   time.Duration `yaml:"timeout"`
	Selectors []string      `yaml:"selectors"`
}

// Definition registers the DNS checks.
var Definition = connector.Definition{Spec: Spec, New: connector.Build(func(c Config, env connector.Env) (*source, error) {
	return &source{c: &Checker{Server: c.Resolver, Timeout: c.Timeout, Selectors: c.Selectors, Concurrency: env.Concurrency, Now: env.Now}}, nil
})}

type source struct{ c *Checker }

// Collect checks every domain of req.Estate; one TenantRun per tenant.
func (s *source) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	if req.Estate == nil {
		return &connector.Evidence{Fragment: &estate.Estate{}}, nil
	}
	checks := s.c.CheckAll(ctx, Targets(req.Estate), nil)
	for i := range checks {
		if checks[i].Provenance == nil {
			checks[i].Provenance = connector.Prov("dns", req.Now)
		}
	}
	runs := connector.Group("dns", checks, req.Now, func(dc estate.DomainCheck) string { return dc.Tenant }, func(dc estate.DomainCheck, r *connector.TenantRun) {
		r.Count("domains", 1)
		if dc.Error != "" {
			r.Errors = append(r.Errors, dc.Domain+": "+dc.Error)
		}
	})
	ev := &connector.Evidence{Fragment: &estate.Estate{DomainChecks: checks}, Tenants: runs}
	return ev, ctx.Err()
}
