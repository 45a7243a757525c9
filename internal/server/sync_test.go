package server

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/firebreak-msp/firebreak/internal/auth"
	"github.com/firebreak-msp/firebreak/internal/detect"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/event"
	"github.com/firebreak-msp/firebreak/internal/ingest"
	"github.com/firebreak-msp/firebreak/internal/notify"
	"github.com/firebreak-msp/firebreak/internal/pipeline"
	"github.com/firebreak-msp/firebreak/internal/store"
	"github.com/firebreak-msp/firebreak/internal/worker"
)

// incidentState is what must agree between the engine and the store.
type incidentState struct {
	ID       string
	Rule     string
	Severity string
	Tenants  []string
	First    time.Time
	Last     time.Time
	Count    int
}

func stateOfStored(in *store.Incident) incidentState {
	return incidentState{ID: in.ID, Rule: in.Rule, Severity: in.Severity, Tenants: in.Tenants, First: in.First.UTC(), Last: in.Last.UTC(), Count: in.Count}
}

func stateOfEngine(in *detect.Incident) incidentState {
	return incidentState{ID: in.ID, Rule: in.Rule, Severity: in.Severity, Tenants: in.Tenants, First: in.First.UTC(), Last: in.Last.UTC(), Count: int(in.Count)}
}

// TestStoredIncidentsTrackEngine streams more events than the rules'
// thresholds through the live pipeline over HTTP, in several batches, and
// checks that the incidents the API returns carry the engine's current
// count, tenants and last-seen time (not the state of their first alert),
// and that the in-place updates sent no further notifications.
func TestStoredIncidentsTrackEngine(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.clk.add(time.Hour) // the stream below is in the past, after the seeded events
	tenants := []string{tenantA, tenantB, "charlie-co", "delta-co", "echo-co"}
	e := &estate.Estate{Provider: estate.Provider{ID: "msp", Name: "Test MSP"}}
	for _, id := range tenants {
		e.Tenants = append(e.Tenants, estate.Tenant{ID: id, Name: id, Criticality: estate.CritHigh})
	}
	meta, _, err := f.st.PutSnapshot(ctx, e, "test")
	if err != nil {
		t.Fatal(err)
	}
	f.srv.work.SetEstate(e, meta.ID)
	tc, err := f.srv.createToken(ctx, &auth.Principal{Scope: store.AllTenants()}, tokenRequest{Name: "tok-msp", Permissions: []string{store.PermRead, store.PermIngest}})
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tc.Token}

	// Every delivery to an MSP-wide webhook, by incident id.
	var mu sync.Mutex
	delivered := map[string][]string{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body notify.WebhookBody
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err == nil {
			mu.Lock()
			delivered[body.Alert.ID] = append(delivered[body.Alert.ID], body.Alert.Summary)
			mu.Unlock()
		}
	}))
	defer hook.Close()
	hookCfg, _ := json.Marshal(map[string]any{"url": hook.URL, "secret": "s3cret-s3cret-s3cret"})
	if _, err := f.srv.putTarget(ctx, &auth.Principal{Scope: store.AllTenants()}, targetRequest{Name: "hook", Kind: store.TargetWebhook, Config: hookCfg}); err != nil {
		t.Fatal(err)
	}

	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng)
	det, err := eng.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	f.srv.pipe.SetSyncEvery(50 * time.Millisecond)
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.srv.pipe.Run(pctx, det); close(done) }()
	stopped := false
	stopPipeline := func() {
		if !stopped {
			stopped = true
			stop()
			<-done
		}
	}
	t.Cleanup(stopPipeline)

	// A brute force far past its threshold of 5 against tenant A, and one
	// source failing against the five tenants one after another (the
	// cross-tenant rule opens at 3 and must grow to 5), one request per
	// tenant, so incidents change in place across batches.
	sec := 0
	line := func(tenant, ip, user string) string {
		sec++
		return fmt.Sprintf("Nov 26 12:%02d:%02d srv01.%s.example sshd[42]: Failed password for %s from %s port 50022 ssh2\n", 10+sec/60, sec%60, tenant, user, ip)
	}
	post := func(tenant, body string) {
		t.Helper()
		resp, got := f.client().do("POST", "/api/v1/events?tenant="+tenant, strings.NewReader(body), bearer)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ingest for %s: %d %s", tenant, resp.StatusCode, got)
		}
	}
	var b strings.Builder
	for range 6 {
		b.WriteString(line(tenantA, "198.51.100.7", "root"))
	}
	post(tenantA, b.String())
	for _, tn := range tenants {
		post(tn, line(tn, "203.0.113.9", "admin"))
	}
	for range 3 {
		b.Reset()
		for range 10 {
			b.WriteString(line(tenantA, "198.51.100.7", "root"))
		}
		post(tenantA, b.String())
	}
	// MFA fatigue: five denied pushes open it, more denials update it, an
	// approval escalates it (a second notification), later denials update
	// it again.
	okta := func(n int, typ, result string) string {
		var b strings.Builder
		for range n {
			sec++
			fmt.Fprintf(&b, `{"uuid":"u-%d","published":"2026-11-26T12:%02d:%02d.000Z","eventType":%q,"actor":{"type":"User","alternateId":"carol@charlie-co.example"},"client":{"ipAddress":"198.19.1.2"},"outcome":{"result":%q}}`+"\n",
				sec, 10+sec/60, sec%60, typ, result)
		}
		return b.String()
	}
	post("charlie-co", okta(5, "user.mfa.okta_verify.deny_push", "FAILURE"))
	post("charlie-co", okta(3, "user.mfa.okta_verify.deny_push", "FAILURE"))
	post("charlie-co", okta(1, "user.authentication.auth_via_mfa", "SUCCESS"))
	post("charlie-co", okta(4, "user.mfa.okta_verify.deny_push", "FAILURE"))

	// The engine's state, rebuilt independently from the stored events.
	ref, err := eng.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := f.st.SearchEvents(ctx, store.AllTenants(), store.EventQuery{From: f.clk.now().Add(-pipeline.ReplayWindow), Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(recs, func(a, b store.EventRecord) int {
		return cmp.Or(a.Event.Timestamp.Compare(b.Event.Timestamp), cmp.Compare(a.ID, b.ID))
	})
	for i := range recs {
		ref.Process(&recs[i].Event)
	}
	refEng := pipeline.EngineOf(ref)
	var want []incidentState
	alerts := map[string]int{}
	for _, inc := range refEng.Incidents() {
		want = append(want, stateOfEngine(inc))
		alerts[inc.ID] = inc.Alerts
	}
	name := map[string]string{}
	for _, r := range refEng.Rules() {
		name[r.ID] = r.Name
	}
	var brute, cross, mfa *incidentState
	for i := range want {
		switch name[want[i].Rule] {
		case "ssh_bruteforce":
			brute = &want[i]
		case "cross_tenant_spray":
			cross = &want[i]
		case "mfa_fatigue":
			mfa = &want[i]
		}
	}
	if brute == nil || cross == nil || mfa == nil {
		t.Fatalf("reference engine lacks the brute force, the cross-tenant spray or the MFA fatigue: %+v", want)
	}
	if mfa.Severity != "critical" || mfa.Count <= 8 {
		t.Fatalf("reference: MFA fatigue not escalated and updated: %+v", *mfa)
	}
	if brute.Count <= 5 || len(cross.Tenants) != len(tenants) {
		t.Fatalf("reference: brute force count %d, cross-tenant tenants %v", brute.Count, cross.Tenants)
	}

	// The API converges on the engine's state while the pipeline runs (the
	// periodic sync, not the shutdown flush).
	apiState := func() map[string]incidentState {
		resp, body := f.client().do("GET", "/api/v1/incidents?limit=1000", nil, bearer)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("listing incidents: %d %s", resp.StatusCode, body)
		}
		var list struct {
			Incidents []event.Alert `json:"incidents"` // ECS alert documents
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("decoding incidents: %v: %s", err, body)
		}
		out := map[string]incidentState{}
		for i := range list.Incidents {
			a := &list.Incidents[i]
			out[a.ID] = incidentState{ID: a.ID, Rule: a.RuleID, Severity: a.Severity, Tenants: a.Tenants, First: a.Start.UTC(), Last: a.End.UTC(), Count: int(a.Count)}
		}
		return out
	}
	opts := []gocmp.Option{cmpopts.EquateEmpty()}
	diff := func(got map[string]incidentState) string {
		var d strings.Builder
		for _, w := range want {
			d.WriteString(gocmp.Diff(w, got[w.ID], opts...))
		}
		return d.String()
	}
	var last string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := apiState()
		if last = diff(got); last == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored incidents never matched the engine (-engine +api):\n%s", last)
		}
	}

	// Stopped, the pipeline's own engine and the store agree too.
	stopPipeline()
	var live []incidentState
	for _, inc := range pipeline.EngineOf(det).Incidents() {
		live = append(live, stateOfEngine(inc))
	}
	if d := gocmp.Diff(want, live, opts...); d != "" {
		t.Errorf("live engine differs from the reference (-ref +live):\n%s", d)
	}
	got := apiState()
	if d := diff(got); d != "" {
		t.Errorf("stored incidents after shutdown (-engine +api):\n%s", d)
	}

	// Notifications: one per alert the engine raised (the opening one
	// here), none for the in-place updates that followed.
	f.srv.work.Notifier().Wait(10 * time.Second)
	mu.Lock()
	defer mu.Unlock()
	for _, w := range want {
		if n := len(delivered[w.ID]); n != alerts[w.ID] {
			t.Errorf("incident %s (%s): %d notifications %v, want %d (one per alert)", w.ID, w.Rule, n, delivered[w.ID], alerts[w.ID])
		}
	}
	if n := len(delivered[brute.ID]); n != 1 {
		t.Errorf("brute force with %d events notified %d times, want once", brute.Count, n)
	}
	if n := len(delivered[cross.ID]); n != 1 {
		t.Errorf("cross-tenant spray growing from 3 to %d tenants notified %d times, want once", len(cross.Tenants), n)
	}
	if n := len(delivered[mfa.ID]); n != 2 {
		t.Errorf("MFA fatigue notified %d times %v, want twice (opened, escalated)", n, delivered[mfa.ID])
	}
}

// TestDemoIncidentsMatchTruth ingests the example logs as firebreak demo
// does and checks every cross-tenant attack's stored incident lists all the
// tenants the generator's truth file names (not those at its first alert).
func TestDemoIncidentsMatchTruth(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	root := filepath.Join("..", "..", "examples", "harbourview")
	e, err := estate.Load(root)
	if err != nil {
		t.Fatal(err)
	}
	meta, _, err := f.st.PutSnapshot(ctx, e, "test")
	if err != nil {
		t.Fatal(err)
	}
	f.srv.work.SetEstate(e, meta.ID)
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng)
	logDir := filepath.Join(root, "logs")
	mapping, err := ingest.LoadMapping(filepath.Join(logDir, "rmm-mapping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, d := range ents {
		n := d.Name()
		if d.IsDir() || strings.HasSuffix(n, ".md") || strings.HasSuffix(n, ".yaml") {
			continue
		}
		files = append(files, filepath.Join(logDir, n))
	}
	if _, err := f.srv.node.IngestFiles(ctx, files, mapping); err != nil {
		t.Fatal(err)
	}
	incs, err := f.st.ListIncidents(ctx, store.AllTenants(), store.IncidentFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}

	type truth struct {
		Kind     string   `json:"kind"`
		Attacker bool     `json:"attacker"`
		SourceIP string   `json:"source_ip"`
		User     string   `json:"user"`
		Tenants  []string `json:"tenants"`
	}
	truths, _ := filepath.Glob(filepath.Join(logDir, "truth", "*.jsonl"))
	checked := 0
	for _, path := range truths {
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var tr truth
			if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if !tr.Attacker || len(tr.Tenants) < 3 {
				continue
			}
			// The incident keyed by the attack's operator (RMM fan-out) or
			// source address (cross-tenant spray).
			keyRule := map[string]struct{ field, value string }{
				"rmm_fanout":         {"user.name", tr.User},
				"cross_tenant_spray": {"source.ip", tr.SourceIP},
			}[tr.Kind]
			if keyRule.field == "" {
				continue
			}
			var found *store.Incident
			for i := range incs {
				if len(incs[i].Tenants) > 1 && incs[i].Key[keyRule.field] == keyRule.value {
					if found == nil || len(incs[i].Tenants) > len(found.Tenants) {
						found = &incs[i]
					}
				}
			}
			if found == nil {
				t.Errorf("%s %s=%s: no cross-tenant incident stored", tr.Kind, keyRule.field, keyRule.value)
				continue
			}
			want := slices.Sorted(slices.Values(tr.Tenants))
			if d := gocmp.Diff(want, found.Tenants); d != "" {
				t.Errorf("%s %s (%s): stored tenants differ from the truth file (-truth +stored):\n%s", tr.Kind, keyRule.value, found.Title, d)
			}
			checked++
		}
		fh.Close()
	}
	if checked < 2 {
		t.Errorf("checked %d cross-tenant attacks from the truth files, want the RMM fan-out and the sprays", checked)
	}
}

// TestRestartKeepsStoredHistory checks that a restart, which rebuilds
// detection from the replay window only, never moves a stored incident's
// count, severity or tenants backwards.
func TestRestartKeepsStoredHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	eng, err := worker.NewEngines(worker.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f.srv.setEngines(eng)
	var body strings.Builder
	for i := range 40 {
		fmt.Fprintf(&body, "Nov 26 11:%02d:%02d srv01.alpha-co.example sshd[42]: Failed password for root from 198.51.100.7 port 50022 ssh2\n", 50+i/60, i%60)
	}
	resp, got := f.client().do("POST", "/api/v1/events", strings.NewReader(body.String()), map[string]string{"Authorization": "Bearer " + f.tokenA})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d %s", resp.StatusCode, got)
	}
	det, err := eng.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.pipe.Replay(ctx, det); err != nil {
		t.Fatal(err)
	}
	var brute *detect.Incident
	for _, inc := range pipeline.EngineOf(det).Incidents() {
		if inc.RuleName == "ssh_bruteforce" {
			brute = inc
		}
	}
	if brute == nil {
		t.Fatal("no brute force detected")
	}
	stored, err := f.st.GetIncident(ctx, store.AllTenants(), brute.ID)
	if err != nil || stored.Count != int(brute.Count) {
		t.Fatalf("after the first run: stored %+v (%v), engine count %d", stored, err, brute.Count)
	}
	// What the store knew from before the replay window (older events of
	// the same attacker, an escalation, another tenant).
	older := *stored
	older.Count, older.Severity, older.Tenants = 1000, "critical", []string{tenantA, tenantB}
	if _, _, err := f.st.UpsertIncident(ctx, &older); err != nil {
		t.Fatal(err)
	}
	// Restart: a new pipeline and engine rebuilt from the stored events.
	f.srv.setEngines(eng)
	det, err = eng.NewDetector()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.pipe.Replay(ctx, det); err != nil {
		t.Fatal(err)
	}
	after, err := f.st.GetIncident(ctx, store.AllTenants(), brute.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := incidentState{ID: brute.ID, Rule: brute.Rule, Severity: "critical", Tenants: []string{tenantA, tenantB},
		First: stored.First.UTC(), Last: stored.Last.UTC(), Count: 1000}
	if d := gocmp.Diff(want, stateOfStored(after)); d != "" {
		t.Errorf("stored incident after restart (-want +got):\n%s", d)
	}
}
