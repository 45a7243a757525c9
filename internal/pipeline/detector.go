package pipeline

import (
	"embed"
	"encoding/json"
	"hash/maphash"
	"io/fs"
	"sync"
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

// AdvanceTo releases events held for reordering up to t minus the
// lateness, keeping windows open (back-fill passes that continue).
func (d *detector) AdvanceTo(t time.Time) []store.Incident { return convertAlerts(d.e.AdvanceTo(t)) }

// Lateness is the engine's reordering window.
func (d *detector) Lateness() time.Duration { return d.e.Lateness() }

// Window is the longest correlation timespan of the loaded rules plus the
// engine's lateness: how far back a restart must replay stored events for
// every window open before it to keep counting.
func (d *detector) Window() time.Duration {
	var w time.Duration
	for _, r := range d.e.Rules() {
		if r.Correlation != nil {
			w = max(w, r.Correlation.Timespan)
		}
	}
	if w == 0 {
		return 0
	}
	return w + d.e.Lateness()
}

// Updated returns the incidents the engine opened or changed in place
// (count, last seen, tenants, severity) since the previous call.
func (d *detector) Updated() []store.Incident {
	up := d.e.TakeUpdated()
	if len(up) == 0 {
		return nil
	}
	out := make([]store.Incident, 0, len(up))
	for i := range up {
		out = append(out, Stored(&up[i]))
	}
	return out
}

func convertAlerts(as []detect.Alert) []store.Incident {
	if len(as) == 0 {
		return nil
	}
	out := make([]store.Incident, 0, len(as))
	for _, a := range as {
		out = append(out, Stored(&a.Incident))
	}
	return out
}

// Stored is the one conversion of a detected incident into the store: the
// summary the store indexes (tenants, rule, severity, times, count, key) in
// its columns, and the detector's incident itself as the detail. Detection
// reads it back; nothing else encodes or decodes incident details.
func Stored(in *detect.Incident) store.Incident {
	return store.Incident{
		ID: in.ID, Tenant: in.Tenant, Tenants: in.Tenants, Rule: in.Rule, Title: in.Title, Severity: in.Severity,
		Status: store.StatusOpen, First: in.First, Last: in.Last, Count: int(in.Count), Level: detect.LevelRank(in.Level),
		Techniques: in.Techniques, Key: in.Key,
		Detail: mustJSON(in),
	}
}

// Detection is the detector's incident behind a stored one: the detail
// (rule name, level, samples, values, lists, escalations, single) with the
// store's columns, which the workflow and the sync keep current, over it.
// Details written before Stored kept the same keys and read the same.
// Incidents firebreak raises itself (drift, clock skew) have no samples.
func Detection(in *store.Incident) *detect.Incident {
	return fromRow(in, decodeDetail(in.Detail))
}

// judgementOf is the incident of detail with only its self_recovery
// judgement (Pattern) decoded, for Pending and Attack on every incident
// write: the samples, values and lists are not needed there.
func judgementOf(detail json.RawMessage) *detect.Incident {
	var j struct {
		Pattern string `json:"pattern"`
	}
	if len(detail) > 0 {
		_ = json.Unmarshal(detail, &j) // a detail of another shape leaves it empty
	}
	return &detect.Incident{Pattern: j.Pattern}
}

func decodeDetail(detail json.RawMessage) *detect.Incident {
	d := &detect.Incident{}
	if len(detail) > 0 {
		_ = json.Unmarshal(detail, d) // a detail of another shape leaves the fields zero
	}
	return d
}

// DetectionCache is Detection for pages that list many incidents on every
// request: it remembers each incident's decoded detail by id and the
// detail's bytes (a hash and the length), so only an incident whose detail
// changed since the last call is decoded again. The incidents it returns
// share the decoded slices (samples, values, lists): callers must not
// modify them. Safe for concurrent use; the zero value is ready.
type DetectionCache struct {
	mu   sync.Mutex
	seed maphash.Seed
	m    map[string]cachedDetail
}

type cachedDetail struct {
	sum     uint64
	n       int
	updated time.Time // the row's version (store.Incident.Updated) when last seen
	d       *detect.Incident
}

// detectionCacheMax bounds the cache; past it, it starts again empty.
const detectionCacheMax = 50_000

// Detection is pipeline.Detection(in), from the cache when in's detail
// was decoded before.
func (c *DetectionCache) Detection(in *store.Incident) *detect.Incident {
	if len(in.Detail) == 0 {
		return fromRow(in, &detect.Incident{})
	}
	c.mu.Lock()
	if c.m == nil {
		c.seed = maphash.MakeSeed()
		c.m = map[string]cachedDetail{}
	}
	seed := c.seed
	e, ok := c.m[in.ID]
	c.mu.Unlock()
	sum := maphash.Bytes(seed, in.Detail)
	if !ok || e.sum != sum || e.n != len(in.Detail) || !e.updated.Equal(in.Updated) {
		if !ok || e.sum != sum || e.n != len(in.Detail) {
			e = cachedDetail{sum: sum, n: len(in.Detail), d: decodeDetail(in.Detail)}
		}
		e.updated = in.Updated
		c.mu.Lock()
		if len(c.m) >= detectionCacheMax {
			c.m = map[string]cachedDetail{}
		}
		c.m[in.ID] = e
		c.mu.Unlock()
	}
	d := *e.d // the row's columns go on a copy; the decoded detail stays as stored
	return fromRow(in, &d)
}

// Brief is Detection(in) for a row listed without its detail
// (store.IncidentFilter.Brief): the detail decoded when the incident was
// last seen with the same Updated (its version: every write increases
// it). ok is false when the cache holds no detail of that version (or
// the incident's detail was empty: those are not kept); then the caller
// reads the row whole and calls Detection.
func (c *DetectionCache) Brief(in *store.Incident) (d *detect.Incident, ok bool) {
	c.mu.Lock()
	e, ok := c.m[in.ID]
	c.mu.Unlock()
	if !ok || in.Updated.IsZero() || !e.updated.Equal(in.Updated) {
		return nil, false
	}
	x := *e.d
	return fromRow(in, &x), true
}

// fromRow puts the store's columns, which the workflow and the sync keep
// current, over a decoded detail.
func fromRow(in *store.Incident, d *detect.Incident) *detect.Incident {
	d.ID, d.Rule, d.Title, d.Severity, d.Tenant, d.Tenants = in.ID, in.Rule, in.Title, in.Severity, in.Tenant, in.Tenants
	d.Key, d.First, d.Last, d.Count, d.Techniques = in.Key, in.First, in.Last, int64(in.Count), in.Techniques
	if d.Key == nil {
		d.Key = map[string]string{}
	}
	return d
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
