package pipeline

import (
	"embed"
	"io/fs"
	"time"

	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/store"
)

// Wrap adapts a detection engine to the pipeline's Detector.
func Wrap(e *detect.Engine) Detector { return &detector{e: e} }

// detector adapts detect.Engine to the pipeline's Detector.
type detector struct{ e *detect.Engine }

func (d *detector) Process(ev *event.Event) []store.Incident { return convertAlerts(d.e.Process(ev)) }

func (d *detector) Flush() []store.Incident { return convertAlerts(d.e.Flush()) }

func (d *detector) Horizon() time.Time { return d.e.Horizon() }

// Updated returns the incidents the engine opened or changed in place
// (count, last seen, tenants, severity) since the previous call.
func (d *detector) Updated() []store.Incident {
	up := d.e.TakeUpdated()
	if len(up) == 0 {
		return nil
	}
	out := make([]store.Incident, 0, len(up))
	for i := range up {
		out = append(out, convertIncident(&up[i]))
	}
	return out
}

func convertAlerts(as []detect.Alert) []store.Incident {
	if len(as) == 0 {
		return nil
	}
	out := make([]store.Incident, 0, len(as))
	for _, a := range as {
		out = append(out, convertIncident(&a.Incident))
	}
	return out
}

func convertIncident(in *detect.Incident) store.Incident {
	return store.Incident{
		ID: in.ID, Tenant: in.Tenant, Tenants: in.Tenants, Rule: in.Rule, Title: in.Title, Severity: in.Severity,
		Status: store.StatusOpen, First: in.First, Last: in.Last, Count: int(in.Count), Level: detect.LevelRank(in.Level),
		Techniques: in.Techniques, Key: in.Key,
		Detail: mustJSON(map[string]any{"rule_name": in.RuleName, "level": in.Level, "samples": in.Samples, "values": in.Values,
			"distinct": in.Distinct, "field": in.Field, "escalations": in.Escalations, "lists": in.Lists, "single": in.Single}),
	}
}

//go:embed rules/*.yml
var rulesFS embed.FS

// AuthRules are the Sigma rules for firebreak's own sign-in events.
func AuthRules() fs.FS {
	sub, err := fs.Sub(rulesFS, "rules")
	if err != nil {
		panic(err) // embedded at build time
	}
	return sub
}

// EngineOf returns the detection engine behind d (nil when d is not one
// Wrap made), for tests that compare stored incidents with the engine's.
func EngineOf(d Detector) *detect.Engine {
	if w, ok := d.(*detector); ok {
		return w.e
	}
	return nil
}
