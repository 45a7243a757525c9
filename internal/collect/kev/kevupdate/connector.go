package kevupdate

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
)

// Spec describes the KEV download as a connector, so serve refreshes the
// catalog on a schedule like the other collectors (its runs show on the
// Collectors page). With assess.kev empty, serve's engines read the catalog
// stored under serve's data_dir (the default here) and re-read it when it
// changes.
var Spec = connector.Spec{
	Name:         "kev",
	Title:        "CISA Known Exploited Vulnerabilities",
	Summary:      "the CISA KEV catalog, downloaded with a conditional GET and checked before it replaces the stored one",
	Capabilities: []connector.Capability{connector.CapEvidence},
	Schedule:     24 * time.Hour,
	Config: []connector.Field{
		{Name: "data_dir", Type: "string", Doc: "where the catalog is kept (kev/ under it); default serve's data_dir, where serve's assessments read it when assess.kev is empty"},
		{Name: "url", Type: "string", Default: DefaultURL},
	},
	Calls: []connector.Call{{Method: "GET", Path: DefaultURL + " (If-None-Match / If-Modified-Since)"}},
	Docs:  []string{"https://www.cisa.gov/known-exploited-vulnerabilities-catalog"},
}

// Config is the connector's config section.
type Config struct {
	DataDir string `yaml:"data_dir"`
	URL     string `yaml:"url"`
}

// Definition registers the KEV download.
var Definition = connector.Definition{Spec: Spec, New: connector.Build(func(c Config, env connector.Env) (*source, error) {
	// serve's data directory by default: serve's assessments read the
	// catalog stored there.
	c.DataDir = cmp.Or(c.DataDir, env.DataDir)
	if c.DataDir == "" {
		return nil, errors.New("kev: data_dir is required")
	}
	return &source{u: &Updater{Client: env.HTTP, URL: c.URL, DataDir: c.DataDir, Log: env.Log, Now: env.Now}}, nil
})}

type source struct{ u *Updater }

// Collect downloads the catalog; its facts are matched by assess, so the
// fragment is empty and the one run (the MSP's) counts the entries.
func (s *source) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	run := connector.TenantRun{Connector: "kev", Tenant: estate.MSP, Started: req.Now}
	res, err := s.u.Update(ctx)
	run.Finished = req.Now
	if err != nil {
		run.Errors = append(run.Errors, err.Error())
	} else {
		run.Count("entries", res.Count)
		run.Notes = append(run.Notes, res.Warnings...)
		if res.NotModified {
			run.Notes = append(run.Notes, "not modified since the last download")
		}
	}
	return &connector.Evidence{Fragment: &estate.Estate{}, Tenants: []connector.TenantRun{run}}, nil
}
