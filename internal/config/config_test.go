package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	err := Decode(strings.NewReader("listen: 127.0.0.1:9000\nbogus: 1\n"), "f.yaml", &c)
	if err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown key: %v", err)
	}
	c = Default()
	if err := Decode(strings.NewReader("listen: 127.0.0.1:9000\nassess:\n  interval: 2h\n"), "f.yaml", &c); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"FIREBREAK_LISTEN": "127.0.0.1:9100", "FIREBREAK_ESTATE": "a,b"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9100" || c.Assess.Interval != 2*time.Hour || len(c.Estate.Paths) != 2 {
		t.Errorf("precedence: %+v", c)
	}
	c.Auth.MaxFailures = 0
	c.Listen = "nope"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "listen") || !strings.Contains(err.Error(), "max_failures") {
		t.Errorf("validate: %v", err)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add("listen: 127.0.0.1:1\n")
	f.Add("auth:\n  session_ttl: 1h\n")
	f.Fuzz(func(t *testing.T, s string) {
		c := Default()
		if Decode(strings.NewReader(s), "f", &c) == nil {
			_ = c.Validate()
		}
	})
}

// A split deployment that cannot work is refused with the reason; one
// process with every role needs nothing.
func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		roles    []string
		db, bus  string
		want     string // "" valid, else a fragment of the error
		hasRoles []string
	}{
		{nil, "", "", "", AllRoles},
		{[]string{"api", "ingest", "detect", "worker"}, "", "", "", AllRoles},
		{[]string{"api"}, "", "", "set database to a PostgreSQL URL", []string{"api"}},
		{[]string{"detect"}, "postgres://db/fb", "", "set bus.url", []string{"detect"}},
		{[]string{"ingest"}, "postgres://db/fb", "", "set bus.url", nil},
		{[]string{"api", "worker"}, "postgres://db/fb", "", "set bus.url", []string{"api", "worker"}},
		{[]string{"worker"}, "postgres://db/fb", "", "", []string{"worker"}},
		{[]string{"detect"}, "postgres://db/fb", "nats://127.0.0.1:4222", "", nil},
		{[]string{"scheduler"}, "postgres://db/fb", "nats://n:4222", `"scheduler": expected some of`, nil},
		{[]string{"api", "api"}, "postgres://db/fb", "", "given twice", nil},
		{[]string{"detect"}, "postgres://db/fb", "http://n:4222", "expected a nats://", nil},
	} {
		c := Default()
		c.Roles, c.Database, c.Bus.URL = tc.roles, tc.db, tc.bus
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("roles %v: %v", tc.roles, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("roles %v db %q bus %q: error %v, want one saying %q", tc.roles, tc.db, tc.bus, err, tc.want)
		}
		for _, r := range tc.hasRoles {
			if !c.HasRole(r) {
				t.Errorf("roles %v: lacks %s", tc.roles, r)
			}
		}
	}
	c := Default()
	if err := c.ApplyEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"FIREBREAK_ROLES": "api,worker", "FIREBREAK_BUS_URL": "nats://n:4222", "FIREBREAK_BUS_SUBJECT": "msp2.events"}[k]
		return v, ok
	}); err != nil || !c.HasRole("worker") || c.HasRole("detect") || c.Bus.URL != "nats://n:4222" || c.Bus.Subject != "msp2.events" {
		t.Errorf("environment: %v %v %q %q", err, c.Roles, c.Bus.URL, c.Bus.Subject)
	}
	for subject, ok := range map[string]bool{"msp2.events": true, "fb": true, "fb.*": false, "fb.>": false, "fb events": false, ".fb": false, "fb.": false} {
		c := Default()
		c.Roles, c.Database, c.Bus.URL, c.Bus.Subject = []string{"detect"}, "postgres://db/fb", "nats://n:4222", subject
		if err := c.Validate(); (err == nil) != ok || (err != nil && !strings.Contains(err.Error(), "bus.subject")) {
			t.Errorf("bus.subject %q: %v", subject, err)
		}
	}
}

// Every problem Validate finds in a file names the file and the line of the
// offending key (or of the list item or section when the key itself is
// absent).
func TestValidateNamesFileLine(t *testing.T) {
	doc := `listen: nowhere
database: mysql://x
log_level: loud
log_format: xml
roles: [api, api]
bus: {url: "http://n", partitions: 0, replicas: 9}
tls:
  cert: a.pem
estate:
  poll_interval: 1ms
assess:
  interval: 1s
attest:
  validity: -1h
  remind_before: -1h
ingest:
  max_body_bytes: 10
  max_decompressed_bytes: 5
  max_events_per_request: 0
  max_skew: 1ms
  max_line_bytes: 1
  queue: 0
  syslog: {max_conns_per_peer: 0, idle_timeout: 1ms, udp: "nope"}
  files:
    - tenant: x
retention:
  events_days: 0
auth:
  session_ttl: 1s
  idle_timeout: 1s
  max_failures: 0
  lockout: 1ms
  login_rate_per_minute: 0
  oidc: {issuer: "ftp://x", redirect_url: "https://x/"}
notify:
  allow_networks: [nonsense]
http:
  read_timeout: -1s
connectors:
  sources:
    - type: ninjaone
      schedule: 1s
      poll: 1s
    - type: ninjaone
  export:
    - type: splunk_hec
      spool_max_bytes: -1
  tickets:
    - type: halopsa
      kinds: [ticket]
      min_severity: urgent
`
	c := Default()
	if err := Decode(strings.NewReader(doc), "fb.yaml", &c); err != nil {
		t.Fatal(err)
	}
	err := c.Validate()
	if err == nil {
		t.Fatal("no errors")
	}
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FileError
		if !errors.As(e, &fe) || fe.File != "fb.yaml" || fe.Line == 0 {
			t.Errorf("no file:line: %v", e)
		}
		n++
	}
	for _, want := range []string{
		"fb.yaml:1: listen:", "fb.yaml:5: roles:", "fb.yaml:7: tls:", "fb.yaml:25: ingest.files[0].path: required (path is not set; line 25 is ingest.files[0])",
		"fb.yaml:34: auth.oidc.client_id: required", "fb.yaml:44: connectors.sources[1].name:", "fb.yaml:49: connectors.tickets[0].companies",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	if n < 30 {
		t.Errorf("%d errors, want every bad key reported:\n%v", n, err)
	}
	// A value the file did not set says where it came from instead.
	d := Default()
	d.Listen = "bad"
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "not set in a config file") {
		t.Errorf("default/env value: %v", err)
	}
}

// A value an environment variable or flag set over the file is blamed on
// that source, not on the file's line.
func TestValidateNamesOverride(t *testing.T) {
	c := Default()
	if err := Decode(strings.NewReader("listen: 127.0.0.1:8443\nlog_level: info\n"), "fb.yaml", &c); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"FIREBREAK_LISTEN": "nowhere"}[k]
		return v, ok
	}); err != nil {
		t.Fatal(err)
	}
	c.LogLevel = "loud"
	c.SetBy("log_level", "flag --log-level")
	err := c.Validate()
	for _, want := range []string{`config listen: "nowhere" is not host:port (set by FIREBREAK_LISTEN)`, `config log_level: "loud": expected debug, info, warn or error (set by flag --log-level)`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "fb.yaml:1") {
		t.Errorf("blamed the file's line for the environment's value:\n%v", err)
	}
}

// The PostgreSQL partition span is configuration, bounded and blamed on
// its line.
func TestPartitionDaysValidated(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want string
	}{
		{"retention:\n  partitions_ahead_days: 0\n", "p.yaml:2: retention.partitions_ahead_days: 0: between 1 and 366"},
		{"retention:\n  partitions_ahead_days: 400\n", "p.yaml:2: retention.partitions_ahead_days: 400: between 1 and 366"},
		{"retention:\n  partitions_behind_days: -1\n", "p.yaml:2: retention.partitions_behind_days: -1: between 1 and 366"},
		{"retention:\n  partitions_ahead_days: 30\n  partitions_behind_days: 3\n", ""},
	} {
		c := Default()
		if err := Decode(strings.NewReader("data_dir: /tmp/x\n"+tc.doc), "p.yaml", &c); err != nil {
			t.Fatal(err)
		}
		err := c.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.doc, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), strings.Replace(tc.want, ":2:", ":3:", 1))):
			t.Errorf("%q: got %v, want %q", tc.doc, err, tc.want)
		}
	}
	c := Default()
	env := map[string]string{"FIREBREAK_RETENTION_PARTITIONS_AHEAD_DAYS": "14"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil || c.Retention.PartitionsAheadDays != 14 {
		t.Errorf("env: %v, ahead %d", err, c.Retention.PartitionsAheadDays)
	}
}
