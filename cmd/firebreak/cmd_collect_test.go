package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/firebreak-msp/firebreak/internal/assess"
	"github.com/firebreak-msp/firebreak/internal/catalog"
	"github.com/firebreak-msp/firebreak/internal/collect/graph/graphtest"
	"github.com/firebreak-msp/firebreak/internal/collect/kev"
	"github.com/firebreak-msp/firebreak/internal/estate"
	"github.com/firebreak-msp/firebreak/internal/trust"
)

var collectNow = time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC)

func testGlobals() (*globalOptions, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &globalOptions{stdout: &out, stderr: &errb, log: slog.New(slog.NewTextHandler(&errb, &slog.HandlerOptions{Level: slog.LevelDebug}))}, &out, &errb
}

func writeEstate(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "estate.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func kevSnapshot(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../internal/collect/kev/testdata/known_exploited_vulnerabilities-2025.08.25.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	return b
}

func TestKevUpdateShowMatch(t *testing.T) {
	body := kevSnapshot(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		w.Write(body)
	}))
	defer srv.Close()
	data := t.TempDir()
	g, out, _ := testGlobals()
	o := kevUpdateOptions{kevOptions: kevOptions{DataDir: data, Format: "table", now: func() time.Time { return collectNow }}, URL: srv.URL, Timeout: 5 * time.Second}
	if err := runKevUpdate(context.Background(), o, g); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "KEV catalog 2025.08.25 stored: 1404 entries") {
		t.Errorf("update output %q", out.String())
	}
	out.Reset()
	if err := runKevUpdate(context.Background(), o, g); err != nil || !strings.Contains(out.String(), "not modified") {
		t.Errorf("second update: %v %q", err, out.String())
	}

	out.Reset()
	so := kevShowOptions{kevOptions: kevOptions{DataDir: data, Format: "json", now: func() time.Time { return collectNow }}, Vendor: "connectwise"}
	if err := runKevShow(context.Background(), so, g); err != nil {
		t.Fatal(err)
	}
	var s kevSummary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil || s.Matching != 2 || s.Count != 1404 || s.FetchedAt.IsZero() {
		t.Errorf("show: %v %+v", err, s)
	}

	dir := writeEstate(t, `provider: {id: msp, name: MSP}
tools:
  - {id: remote-access, kind: remote_access, vendor: ConnectWise, product: ScreenConnect, version: 23.9.7}
  - {id: psa, kind: psa, vendor: HaloPSA, product: HaloPSA}
`)
	out.Reset()
	mo := kevMatchOptions{kevOptions: kevOptions{DataDir: data, Format: "table", now: func() time.Time { return collectNow }}, FailOn: "ransomware"}
	err := runKevMatch(context.Background(), mo, dir, g)
	if !errors.Is(err, ErrFindings) || !strings.Contains(out.String(), "CVE-2024-1709") || !strings.Contains(out.String(), "estate.yaml:3") {
		t.Errorf("match: %v\n%s", err, out.String())
	}
	// Offline from a file.
	f := filepath.Join(t.TempDir(), "kev.json")
	os.WriteFile(f, body, 0o644)
	out.Reset()
	mo = kevMatchOptions{kevOptions: kevOptions{File: f, Format: "json"}, FailOn: "none"}
	if err := runKevMatch(context.Background(), mo, dir, g); err != nil {
		t.Fatal(err)
	}
	var m struct{ Findings []json.RawMessage }
	if json.Unmarshal(out.Bytes(), &m); len(m.Findings) != 2 {
		t.Errorf("json findings %d: %s", len(m.Findings), out.String())
	}
	// assess uses the stored catalog: the ScreenConnect tool fails the KEV control.
	cat, err := kev.LoadStored(data)
	if err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctl, _ := catalog.Load()
	en, err := assess.New(ctl, assess.Options{KEV: cat, Clock: func() time.Time { return collectNow }})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	r := findResult(rep.Results, "FB-UPD-001", "msp")
	if r == nil || r.Status != assess.StatusFail || !strings.Contains(fmt.Sprint(r.Evidence), "CVE-2024-1709") {
		t.Errorf("FB-UPD-001: %+v", r)
	}
}

func TestCollectProbeWritesFragment(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := writeEstate(t, fmt.Sprintf(`provider: {id: msp, name: MSP}
tools:
  - {id: jump, kind: jump_host, host: 127.0.0.1, ports: [%d]}
  - {id: range, kind: other, host: 10.0.0.0/8, ports: [22]}
`, port))
	g, out, errb := testGlobals()
	o := collectProbeOptions{collectOptions: collectOptions{Format: "table", Concurrency: 4, Timeout: time.Second, now: func() time.Time { return collectNow }}, ReadTimeout: time.Second}
	if err := runCollectProbe(context.Background(), o, dir, g); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "SSH-2.0-OpenSSH_9.6") || !strings.Contains(errb.String(), "not a single host") {
		t.Errorf("output %s\nstderr %s", out.String(), errb.String())
	}
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatalf("estate with fragment: %v", err)
	}
	if len(e.Exposures) != 1 || !e.Exposures[0].Open || e.Exposures[0].Provenance == nil || !e.Exposures[0].Provenance.CollectedAt.Equal(collectNow) {
		t.Errorf("exposures %+v", e.Exposures)
	}
	// With probe evidence the TLS/exposure control is evaluable (it is
	// not-evaluable without any exposures).
	if r := findResult(assessDir(t, dir), "FB-IC-004", "msp"); r == nil || r.Status == assess.StatusNotEvaluable {
		t.Errorf("FB-IC-004 for msp: %+v", r)
	}
	// A re-run replaces the fragment instead of duplicating it.
	if err := runCollectProbe(context.Background(), o, dir, g); err != nil {
		t.Fatal(err)
	}
	if e, _ := estate.Load(dir); len(e.Exposures) != 1 {
		t.Errorf("after re-run: %d exposures", len(e.Exposures))
	}
	// Dry run: no network, just the plan.
	out.Reset()
	o.DryRun = true
	if err := runCollectProbe(context.Background(), o, dir, g); err != nil || !strings.Contains(out.String(), fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Errorf("dry run: %v %s", err, out.String())
	}
}

func TestCollectDNSWritesFragment(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		txt := map[string]string{"cedar-law.example.": "v=spf1 -all", "_dmarc.cedar-law.example.": "v=DMARC1; p=none; rua=mailto:d@cedar-law.example"}
		if v, ok := txt[r.Question[0].Name]; ok {
			m.Answer = append(m.Answer, &mdns.TXT{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeTXT, Class: mdns.ClassINET}, Txt: []string{v}})
		} else {
			m.Rcode = mdns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	defer srv.Shutdown()
	dir := writeEstate(t, "provider: {id: msp, name: MSP}\ntenants:\n  - {id: cedar-law, name: Cedar Law, domains: [cedar-law.example]}\n")
	g, out, _ := testGlobals()
	o := collectDNSOptions{collectOptions: collectOptions{Format: "json", Concurrency: 2, Timeout: time.Second, now: func() time.Time { return collectNow }},
		Resolver: pc.LocalAddr().String(), Selectors: []string{"selector1"}}
	if err := runCollectDNS(context.Background(), o, dir, g); err != nil {
		t.Fatal(err)
	}
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.DomainChecks) != 1 || e.DomainChecks[0].DMARC == nil || e.DomainChecks[0].DMARC.Policy != "none" || e.DomainChecks[0].SPF.All != "-all" {
		t.Errorf("domain checks %+v\n%s", e.DomainChecks, out.String())
	}
	// The collected DMARC p=none is a failing finding of the assessment.
	r := findResult(assessDir(t, dir), "FB-IC-003", "cedar-law")
	if r == nil || r.Status != assess.StatusFail || len(r.Evidence) == 0 || r.Evidence[0].ID != "cedar-law.example" {
		t.Errorf("FB-IC-003 for cedar-law: %+v", r)
	}
}

func TestCollectGraphNoSecretInOutput(t *testing.T) {
	const secret = "Sup3r~Secret.Value_123"
	tokenCalls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token"):
			tokenCalls++
			r.ParseForm()
			if r.Form.Get("client_secret") != secret {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
				return
			}
			fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3599,"access_token":"tok"}`)
		case r.URL.Path == "/v1.0/tenantRelationships/delegatedAdminRelationships":
			w.WriteHeader(403)
			fmt.Fprint(w, `{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}`)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":"Request_ResourceNotFound","message":"not found"}}`)
		}
	}))
	defer srv.Close()
	env := map[string]string{"FIREBREAK_GRAPH_CLIENT_ID": "app", "FIREBREAK_GRAPH_TENANT_ID": "partner", "FIREBREAK_GRAPH_CLIENT_SECRET": secret}
	g, out, errb := testGlobals()
	o := collectGraphOptions{collectOptions: collectOptions{Format: "table", Concurrency: 2, Timeout: 5 * time.Second, Out: t.TempDir(),
		now: func() time.Time { return collectNow }, getenv: func(k string) string { return env[k] }},
		Authority: srv.URL, GraphURL: srv.URL, NoSignIns: true, MaxAttempts: 2, SignInHours: 24}
	o.DryRun = true
	if err := runCollectGraph(context.Background(), o, g); err != nil {
		t.Fatal(err)
	}
	if tokenCalls != 0 || !strings.Contains(out.String(), "client secret") {
		t.Errorf("dry run made %d calls; output %s", tokenCalls, out.String())
	}
	o.DryRun = false
	err := runCollectGraph(context.Background(), o, g)
	if err == nil || !strings.Contains(err.Error(), "DelegatedAdminRelationship") && !strings.Contains(err.Error(), "Authorization_RequestDenied") {
		t.Errorf("expected the missing GDAP permission to be named, got %v", err)
	}
	env["FIREBREAK_GRAPH_CLIENT_SECRET"] = "wrong-" + secret
	err2 := runCollectGraph(context.Background(), o, g)
	all := out.String() + errb.String() + fmt.Sprint(err) + fmt.Sprint(err2)
	if strings.Contains(all, secret) {
		t.Fatal("the client secret appears in output, logs or errors")
	}
	if err2 == nil || !strings.Contains(err2.Error(), "AADSTS7000215") {
		t.Errorf("wrong secret: %v", err2)
	}
}

// TestCollectGraphFeedsAssessAndBlast runs `collect graph` against the fake
// Graph into a directory holding only a provider file, then loads it and
// runs assess and the trust graph on it, with no hand-editing.
func TestCollectGraphFeedsAssessAndBlast(t *testing.T) {
	f := graphtest.NewServer(t, []graphtest.Tenant{
		{ID: graphtest.TenantGUID(0), Name: "Cedar Law", Slug: "cedar-law", Users: 40, GlobalAdmin: true},
		{ID: graphtest.TenantGUID(1), Name: "Riverside Clinic", Slug: "riverside-clinic", Users: 10,
			Forbid: map[string]string{"/v1.0/reports/authenticationMethods": "Authorization_RequestDenied"}},
		{ID: graphtest.TenantGUID(2), Name: "Oakfield School", Slug: "oakfield-school", Users: 5, TokenError: "AADSTS700016: Application with identifier 'app' was not found in the directory."},
	})
	dir := writeEstate(t, "provider: {id: msp, name: Harbourview IT Services, domains: [harbourview-it.example]}\n")
	env := map[string]string{"FIREBREAK_GRAPH_CLIENT_ID": "app", "FIREBREAK_GRAPH_TENANT_ID": f.Partner, "FIREBREAK_GRAPH_CLIENT_SECRET": f.Secret}
	g, out, _ := testGlobals()
	o := collectGraphOptions{collectOptions: collectOptions{Format: "table", Concurrency: 4, Timeout: 5 * time.Second,
		now: func() time.Time { return collectNow }, getenv: func(k string) string { return env[k] }},
		Authority: f.Srv.URL, GraphURL: f.Srv.URL, MaxAttempts: 3, SignInHours: 24}
	o.Estate = dir
	err := runCollectGraph(context.Background(), o, g)
	// One tenant has no consent: reported, exit 1, everything else written.
	if err == nil || !strings.Contains(err.Error(), "1 of 4 tenants had errors") || !strings.Contains(out.String(), "AADSTS700016") {
		t.Fatalf("err %v\n%s", err, out.String())
	}
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatalf("collected estate does not load: %v", err)
	}
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	en, err := assess.New(cat, assess.Options{Clock: func() time.Time { return collectNow }})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rep.Results {
		for _, ev := range r.Evidence {
			if r.Status == assess.StatusFail && ev.ID == "gdap-cedar-law" && strings.HasSuffix(ev.Pos.File, "graph.collected.yaml") {
				found = true
			}
		}
	}
	if !found {
		t.Error("no failing result points at the collected Global Administrator GDAP relationship")
	}
	tg, err := trust.Build(e, trust.Options{Now: collectNow})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.BlastFrom("tech0@harbourview-it.example"); err != nil {
		t.Errorf("blast from a collected technician: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "signins", "signins-cedar-law.jsonl")); err != nil || bytes.Count(b, []byte("\n")) != 3 {
		t.Errorf("sign-ins: %v", err)
	}
}

// assessDir runs assess on dir and returns every result.
func assessDir(t *testing.T, dir string) []assess.Result {
	t.Helper()
	e, err := estate.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	en, err := assess.New(cat, assess.Options{Clock: func() time.Time { return collectNow }})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := en.Run(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	return rep.Results
}

func findResult(rs []assess.Result, control, subject string) *assess.Result {
	for i := range rs {
		if rs[i].Control == control && rs[i].Subject == subject {
			return &rs[i]
		}
	}
	return nil
}

// TestKevUpdateFromFile: `kev update --file` (offered by its help, and what
// an air-gapped installation needs) stores a catalog downloaded elsewhere
// through the updater's checks; a bad file is refused naming it.
func TestKevUpdateFromFile(t *testing.T) {
	src := filepath.Join(t.TempDir(), "kev feed.json")
	if err := os.WriteFile(src, kevSnapshot(t), 0o644); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	g, out, _ := testGlobals()
	o := kevUpdateOptions{kevOptions: kevOptions{DataDir: data, File: src, Format: "table", now: func() time.Time { return collectNow }}, Timeout: 5 * time.Second}
	if err := runKevUpdate(context.Background(), o, g); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "KEV catalog 2025.08.25 stored: 1404 entries") {
		t.Errorf("update --file output %q", out.String())
	}
	if c, err := kev.LoadStored(data); err != nil || len(c.Vulns) != 1404 {
		t.Errorf("stored catalog after --file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"bad":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	o.File = bad
	if err := runKevUpdate(context.Background(), o, g); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("update --file of a bad catalog: %v, want an error naming %s", err, bad)
	}
}
