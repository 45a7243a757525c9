package config

import (
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
		v, ok := map[string]string{"FIREBREAK_ROLES": "api,worker", "FIREBREAK_BUS_URL": "nats://n:4222"}[k]
		return v, ok
	}); err != nil || !c.HasRole("worker") || c.HasRole("detect") || c.Bus.URL != "nats://n:4222" {
		t.Errorf("environment: %v %v %q", err, c.Roles, c.Bus.URL)
	}
}
