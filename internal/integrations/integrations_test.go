package integrations

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/config"
	"github.com/firebreak-msp/firebreak/internal/connector"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/psa"
	"github.com/firebreak-msp/firebreak/internal/rmm"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/store/sqlite"
)

// fakeRMM is an evidence and event source: two tenants, one of them
// already written by hand, and three activity records.
type fakeRMM struct {
	Label   string
	refused bool // credentials refused: a gap and nothing else
}

func (f *fakeRMM) Collect(ctx context.Context, req connector.Request) (*connector.Evidence, error) {
	b := rmm.NewBuilder("fake-rmm", "Fake RMM", "Fake", "rmm.example", "fake", req.Now)
	if f.refused {
		fr := b.Fragment()
		fr.CollectionGap = []estate.Gap{{Tenant: "msp", Evidence: "tenants", Permission: "monitoring", Reason: "HTTP 401 invalid_client"}}
		return &connector.Evidence{Fragment: fr}, nil
	}
	b.Tenant("acme", "Acme")
	b.Tenant("beta", "Beta")
	b.Endpoint("beta", "1", "BETA-PC-1", "workstation")
	return &connector.Evidence{Fragment: b.Fragment(), Tenants: []connector.TenantRun{{Connector: "fake", Tenant: "beta"}}}, nil
}

func (f *fakeRMM) Poll(ctx context.Context, req connector.Request, cur connector.Cursor, emit func(connector.Record) error) (connector.Cursor, []connector.TenantRun, error) {
	n := 0
	if cur["n"] != "" {
		return cur, nil, nil // everything read already
	}
	for i, tenant := range []string{"acme", "beta", "acme"} {
		a := rmm.Audit{TS: req.Now.Add(-time.Duration(i) * time.Minute), Operator: "sam", Action: "script.run", Result: "success", Tenant: tenant, Agent: "PC", Vendor: "fake", ActivityID: "x"}
		if err := emit(a.Record()); err != nil {
			return cur, nil, err
		}
		n++
	}
	return connector.Cursor{"n": "3"}, []connector.TenantRun{{Connector: "fake", Tenant: "msp", Counts: map[string]int{"events": n}}}, nil
}

type fakeSender struct {
	mu   sync.Mutex
	docs []string
}

func (s *fakeSender) SendBatch(ctx context.Context, docs [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range docs {
		s.docs = append(s.docs, string(d))
	}
	return nil
}
func (s *fakeSender) MaxBatch() (int, int, int) { return 1 << 20, 1000, 0 }

type fakePSA struct {
	mu      sync.Mutex
	tickets map[string]*psa.Ticket
}

func (p *fakePSA) Find(ctx context.Context, t *psa.Ticket) (string, error) { return "", nil }
func (p *fakePSA) Create(ctx context.Context, t *psa.Ticket, company string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := *t
	p.tickets[t.Key] = &c
	return t.Key, nil
}
func (p *fakePSA) Update(ctx context.Context, id string, t *psa.Ticket, company string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := *t
	p.tickets[id] = &c
	return nil
}

func node(t *testing.T, s string) yaml.Node {
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatal(err)
	}
	return *n.Content[0]
}

func TestRunner(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	estDir := filepath.Join(dir, "estate")
	os.MkdirAll(estDir, 0o755)
	hand := "provider: {id: msp, name: MSP}\ntenants:\n  - id: acme\n    name: Acme Corp\n"
	os.WriteFile(filepath.Join(estDir, "estate.yaml"), []byte(hand), 0o644)
	st, err := sqlite.Open(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sender, backend := &fakeSender{}, &fakePSA{tickets: map[string]*psa.Ticket{}}
	reg := connector.NewRegistry(
		connector.Definition{Spec: connector.Spec{Name: "fake", Capabilities: []connector.Capability{connector.CapEvidence, connector.CapEvents}},
			New: func(decode func(any) error, env connector.Env) (any, error) {
				f := &fakeRMM{}
				return f, decode(f)
			}},
		connector.Definition{Spec: connector.Spec{Name: "siem", Capabilities: []connector.Capability{connector.CapOutbound}},
			New: func(decode func(any) error, env connector.Env) (any, error) { return sender, nil }},
		connector.Definition{Spec: connector.Spec{Name: "psa", Capabilities: []connector.Capability{connector.CapOutbound}},
			New: func(decode func(any) error, env connector.Env) (any, error) { return backend, nil }},
	)
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Estate.Paths = []string{estDir}
	cfg.Connectors = config.ConnectorsConfig{
		Sources: []config.SourceConfig{{Type: "fake", Settings: node(t, "label: x")}},
		Export:  []config.ExportConfig{{Type: "siem", Events: true}},
		Tickets: []config.TicketsConfig{{Type: "psa", Companies: map[string]string{"*": "1"}, Kinds: []string{"finding", "case", "incident"}}},
	}
	var committed int
	est, err := estate.Load(estDir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	r, err := New(Options{Config: cfg, Registry: reg, Store: st, Now: func() time.Time { return now },
		Commit: func(ctx context.Context, recs []store.EventRecord) error {
			committed += len(recs)
			return st.AppendEvents(ctx, recs)
		},
		Estate: func() (*estate.Estate, int64) { return est, 1 }})
	if err != nil {
		t.Fatal(err)
	}
	// Evidence: the fragment lands in the estate directory without the
	// hand-written tenant, and the merged estate loads.
	r.collect(ctx, r.sources[0])
	merged, err := estate.Load(estDir)
	if err != nil {
		t.Fatalf("estate with the fragment: %v", err)
	}
	if len(merged.Tenants) != 2 || len(merged.Assets) != 1 || merged.Tenants[0].Name != "Acme Corp" {
		t.Errorf("merged tenants %+v", merged.Tenants)
	}
	// Running again with the merged estate replaces the fragment, same result.
	est = merged
	r.collect(ctx, r.sources[0])
	if again, err := estate.Load(estDir); err != nil || len(again.Tenants) != 2 {
		t.Fatalf("second collection: %v", err)
	}
	// Credentials refused: the source answers only a gap. The fragment
	// of the last good run stays, so its tenants are not dropped (and
	// their tickets not closed as passing).
	r.sources[0].evidence.(*fakeRMM).refused = true
	r.collect(ctx, r.sources[0])
	if kept, err := estate.Load(estDir); err != nil || len(kept.Tenants) != 2 || len(kept.Assets) != 1 {
		t.Fatalf("after a refused collection: %v %+v", err, kept)
	}
	r.sources[0].evidence.(*fakeRMM).refused = false
	// Events: committed, cursor kept across a new runner.
	r.poll(ctx, r.sources[0])
	r.poll(ctx, r.sources[0])
	if committed != 3 {
		t.Errorf("committed %d events, want 3", committed)
	}
	recs, _ := st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{Limit: 10})
	if len(recs) != 3 || recs[0].Event.Dataset != "rmm.audit" || recs[0].Event.Action != "script.run" {
		t.Errorf("stored %+v", recs)
	}
	// Outbound: a failing control and an incident become SIEM documents
	// and PSA tickets.
	rep := &assess.Report{At: now, Results: []assess.Result{{Control: "MFA-01", Title: "MFA", Subject: "beta", Severity: "high", Status: assess.StatusFail, Message: "no MFA"}}}
	if _, err := st.SaveRun(ctx, 0, "test", rep); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.UpsertIncident(ctx, &store.Incident{ID: "inc1", Tenant: "acme", Rule: "rmm_fanout_operator", Title: "fan-out", Severity: "critical", First: now, Last: now, Count: 6}); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	go r.feed(fctx, r.exports[0])
	go r.exports[0].x.Run(fctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		sender.mu.Lock()
		n := len(sender.docs)
		sender.mu.Unlock()
		if n >= 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	joined := strings.Join(sender.docs, "\n")
	if !strings.Contains(joined, `"dataset":"firebreak.finding"`) || !strings.Contains(joined, `"id":"inc1"`) || !strings.Contains(joined, `"ecs":{"version"`) ||
		strings.Count(joined, `"action":"script.run"`) != 3 {
		t.Errorf("SIEM documents:\n%s", joined)
	}
	r.syncTickets(ctx, r.tickets[0])
	var cases int
	for k := range backend.tickets {
		if strings.HasPrefix(k, "case/") {
			cases++
		}
	}
	if len(backend.tickets) != 3 || backend.tickets["finding/beta/MFA-01"] == nil || backend.tickets["incident/inc1"] == nil || cases != 1 {
		t.Errorf("tickets %v", backend.tickets)
	}
	// The incident is resolved: its ticket and its case's are noted and closed.
	if _, err := st.SetIncidentStatus(ctx, store.AllTenants(), "inc1", store.StatusResolved, "ana"); err != nil {
		t.Fatal(err)
	}
	r.syncTickets(ctx, r.tickets[0])
	for k, tk := range backend.tickets {
		if k != "finding/beta/MFA-01" && (tk.Open || !strings.Contains(tk.Note, "resolved")) {
			t.Errorf("%s after resolving: %+v", k, tk)
		}
	}
	preg := prometheus.NewRegistry()
	preg.MustRegister(r.Collector())
	mfs, err := preg.Gather()
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, want := range []string{"firebreak_export_sent_total", "firebreak_export_spool_dropped_total", "firebreak_psa_outbox_failing", "firebreak_connector_tenant_errors"} {
		if err != nil || !names[want] {
			t.Errorf("metric %s missing (%v)", want, err)
		}
	}
	stat := r.Status(ctx)
	b, _ := json.Marshal(stat)
	if len(stat.Sources) != 1 || len(stat.Export) != 1 || len(stat.Tickets) != 1 || stat.Tickets[0].Last.Closed != 2 {
		t.Errorf("status %s", b)
	}
}

func TestBadConfig(t *testing.T) {
	reg := connector.NewRegistry(Definitions()...)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Estate.Paths = []string{dir}
	for name, cc := range map[string]config.ConnectorsConfig{
		"unknown-type":   {Sources: []config.SourceConfig{{Type: "kaseya"}}},
		"unknown-key":    {Sources: []config.SourceConfig{{Type: "ninjaone", Settings: node(t, "region: eu\nclient_id: x\nclient_secret: {env: X}\nregoin: us")}}},
		"literal-secret": {Export: []config.ExportConfig{{Type: "splunk_hec", Settings: node(t, "url: https://splunk:8088\ntoken: abc")}}},
		"psa-as-siem":    {Export: []config.ExportConfig{{Type: "connectwise"}}},
	} {
		cfg.Connectors = cc
		_, err := New(Options{Config: cfg, Registry: reg, Env: connector.Env{Getenv: func(string) string { return "v" }}})
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), "connectors.") {
			t.Errorf("%s: error does not name the field: %v", name, err)
		}
	}
}

// TestSettingsErrorsNameTheConfigLine checks that a bad key or value in a
// connector's settings is reported at its line in the config file (not a
// line of a re-encoded copy) with the expected form.
func TestSettingsErrorsNameTheConfigLine(t *testing.T) {
	const file = "estate: {}\nconnectors:\n  sources:\n    - type: ninjaone\n      settings:\n        region: eu\n        client_id: x\n        client_secret: {env: X}\n        tenants: {a: [1]}\n        regoin: us\n"
	var doc struct {
		Connectors struct {
			Sources []struct {
				Settings yaml.Node `yaml:"settings"`
			} `yaml:"sources"`
		} `yaml:"connectors"`
	}
	if err := yaml.Unmarshal([]byte(file), &doc); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Region       string              `yaml:"region"`
		ClientID     string              `yaml:"client_id"`
		ClientSecret connector.SecretRef `yaml:"client_secret"`
		Tenants      map[string]string   `yaml:"tenants"`
	}
	err := decoder("connectors.sources[0].settings", doc.Connectors.Sources[0].Settings)(&v)
	want := "connectors.sources[0].settings.regoin (line 10 of the config): unknown key (expected one of: client_id, client_secret, region, tenants)"
	if err == nil || err.Error() != want {
		t.Errorf("unknown key: got %v, want %s", err, want)
	}
	doc.Connectors.Sources[0].Settings.Content = doc.Connectors.Sources[0].Settings.Content[:8]
	err = decoder("connectors.sources[0].settings", doc.Connectors.Sources[0].Settings)(&v)
	want = "connectors.sources[0].settings (line 9 of the config): expected a string, got a list"
	if err == nil || err.Error() != want {
		t.Errorf("wrong type: got %v, want %s", err, want)
	}
}

// TestRemediationTickets: with kinds [remediation] the remediation queue's
// steps reach the PSA through the outbox; a step the next assessment no
// longer lists (its path is cut) closes its ticket.
func TestRemediationTickets(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	backend := &fakePSA{tickets: map[string]*psa.Ticket{}}
	reg := connector.NewRegistry(connector.Definition{Spec: connector.Spec{Name: "psa", Capabilities: []connector.Capability{connector.CapOutbound}},
		New: func(decode func(any) error, env connector.Env) (any, error) { return backend, nil }})
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Connectors = config.ConnectorsConfig{Tickets: []config.TicketsConfig{{Type: "psa", Companies: map[string]string{"msp": "1"}, Kinds: []string{"remediation"}}}}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	r, err := New(Options{Config: cfg, Registry: reg, Store: st, Now: func() time.Time { return now },
		Estate: func() (*estate.Estate, int64) { return &estate.Estate{}, 1 }})
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.SaveRun(ctx, 0, "test", &assess.Report{At: now})
	if err != nil {
		t.Fatal(err)
	}
	step := store.Remediation{Key: "k1", Rank: 1, Action: "Remove standing Global Administrator from tech1", Tenants: []string{"acme"}, Gain: 3,
		Proof: "tech1 → acme", Controls: []string{"FB-PRIV-001"}}
	if err := st.SyncRemediation(ctx, run.ID, []store.Remediation{step}, nil, now); err != nil {
		t.Fatal(err)
	}
	r.syncTickets(ctx, r.tickets[0])
	tk := backend.tickets["remediation/k1"]
	if len(backend.tickets) != 1 || tk == nil || !tk.Open || tk.Tenant != "msp" || !strings.Contains(tk.Details, "FB-PRIV-001") {
		t.Fatalf("tickets %+v", backend.tickets)
	}
	run2, err := st.SaveRun(ctx, 0, "test", &assess.Report{At: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SyncRemediation(ctx, run2.ID, nil, nil, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	r.syncTickets(ctx, r.tickets[0])
	if tk := backend.tickets["remediation/k1"]; tk == nil || tk.Open || !strings.Contains(tk.Note, "the step is done") {
		t.Fatalf("after the step was done: %+v", tk)
	}
}
